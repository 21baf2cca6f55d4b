"""The packaged default config (``default.toml``) and ``atlas build``'s overrides of it."""

from __future__ import annotations

import dataclasses
import glob
import json
import re
from importlib import resources
from pathlib import Path

from atlas.errors import ConfigError
from atlas.workflow.config import LayerConfig, RunConfig, parse_config

DEFAULT_CONFIG = "default.toml"


def _toml_string(text: str) -> str:
    # a JSON string is a valid TOML basic string (the same escapes), so json writes it
    return json.dumps(text, ensure_ascii=False)


def _set_line(text: str, key: str, value: str) -> str:
    """``key = …`` of the packaged file set to ``value`` (the line's comment dropped)."""
    out, n = re.subn(rf"^{key} = .*$", f"{key} = {value}", text, count=1, flags=re.M)
    if n != 1:
        raise ConfigError(f"The packaged {DEFAULT_CONFIG} has no '{key} =' line", f"a {key} line to override",
                          "reinstall atlas (the packaged default config was edited)")
    return out


def default_config_text(out: str | Path | None = None, tiles: str | None = None,
                        emissions: LayerConfig | None = None, workers: int | None = None) -> str:
    """The packaged default configuration as TOML text, with ``atlas build``'s overrides written in.

    ``atlas build --print-config`` prints it, and :func:`default_config` parses it, so a build
    and ``atlas run`` of what it prints are the same job. Parameters as :func:`default_config`;
    of an emissions layer only ``paths``, ``product``, ``kind`` and ``units`` are written (what
    ``atlas build`` can set).
    """
    text = resources.files("atlas.workflow").joinpath(DEFAULT_CONFIG).read_text(encoding="utf-8")
    if out is not None:
        text = _set_line(text, "out", _toml_string(str(out)))
    if tiles is not None:
        text = _set_line(text, "tiles", _toml_string(tiles))
    if emissions is not None:
        lines = ["", "[emissions]        # given on the command line",
                 "paths = [" + ", ".join(_toml_string(glob.escape(str(path))) for path in emissions.paths) + "]"]
        lines += [f"{key} = {_toml_string(value)}" for key, value in
                  (("product", emissions.product), ("kind", emissions.kind), ("units", emissions.units)) if value]
        text = text.rstrip("\n") + "\n" + "\n".join(lines) + "\n"
    if workers is not None:
        text = text.rstrip("\n") + f"\n\n[compute]          # given on the command line\nworkers = {int(workers)}\n"
    return text


def default_config(out: str | Path | None = None, tiles: str | None = None, emissions: LayerConfig | None = None,
                   workers: int | None = None) -> RunConfig:
    """The default run with overrides: :func:`default_config_text` parsed as if it were a file in
    the working folder.

    Parameters
    ----------
    out : path, optional
        Output folder (default: the config's ``maps``).
    tiles : str, optional
        Basemap of the site.
    emissions : LayerConfig, optional
        An emissions layer (replaces the reported 2010 emissions in offset ratios).
    workers : int, optional
        Threads of the zonal engine.
    """
    return parse_config(default_config_text(out, tiles, emissions, workers), Path.cwd().resolve() / "<config text>")


def build(out: str | Path = "maps", *, tiles: str | None = None, emissions: tuple[str | Path, ...] = (),
          emissions_product: str | None = None, emissions_kind: str | None = None,
          emissions_units: str | None = None, workers: int | None = None, progress=None):
    """``atlas build`` from Python: run the default config into ``out`` and return the
    :class:`~atlas.workflow.runner.RunReport` (summary, files, steps).

    Parameters
    ----------
    out : path
        Output folder.
    tiles : str, optional
        Basemap of the site (``none``, ``osm``, ``amap``).
    emissions : paths, optional
        An emissions raster (or the tiles of a mosaic), read with the product adapter or
        the kind and units given.
    progress : callable, optional
        Called with (step name, reused) after each step.
    """
    from atlas.workflow.runner import run

    layer = emissions_layer(emissions, emissions_product, emissions_kind, emissions_units)
    return run(default_config(out=out, tiles=tiles, emissions=layer, workers=workers), progress=progress)


def emissions_layer(paths: tuple[str | Path, ...], product: str | None = None, kind: str | None = None,
                    units: str | None = None) -> LayerConfig | None:
    """``atlas build --emissions`` as a layer (absolute paths), or None without files."""
    if not paths:
        return None
    return LayerConfig(paths=tuple(Path(p).resolve() for p in paths), product=product, kind=kind, units=units)


def run_in_memory(selection: dict | None = None, *, regions=None, id_column: str = "pilot_id",
                  forest: LayerConfig | None = None, loss: LayerConfig | None = None,
                  factors: Path | None = None, draws: int | None = None, seed: int | None = None):
    """The default run's steps for a pilot selection, or for the user's own outlines, in a temporary
    folder with nothing written (no tables, no site, so no evaluation of designation either): what
    ``atlas sinks`` and ``atlas targets`` print is then exactly what a build computes.

    Parameters
    ----------
    selection : dict, optional
        A ``[regions]`` selection of registry pilots (e.g. ``{"ids": [...]}``).
    regions : GeoDataFrame, optional
        The user's outlines instead, already read and checked, with ``id_column``. They reach the
        run as a one-layer GeoPackage in the temporary folder (UTF-8: no encoding or layer to pass).
    forest, loss, factors, draws, seed
        Overrides of the default run's settings (None keeps the default).

    Returns
    -------
    RunReport
        Its ``tables`` hold the run's ``sinks``, ``ledger`` and ``targets`` frames.
    """
    import tempfile

    from atlas.export import write_frame
    from atlas.workflow.runner import run

    changes = {key: value for key, value in {"draws": draws, "seed": seed}.items() if value is not None}
    with tempfile.TemporaryDirectory(prefix="atlas-") as tmp:
        if regions is not None:
            path = write_frame(regions, Path(tmp) / "regions.gpkg", layer="regions")
            changes.update(regions={}, regions_file=path, id_column=id_column, encoding=None)
        else:
            changes.update(regions=selection or {})
        config = dataclasses.replace(default_config(out=Path(tmp) / "out"), forest=forest, loss=loss,
                                     factors=factors, formats=(), publish_site=False, provinces=False, **changes)
        return run(config)
