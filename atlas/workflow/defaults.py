"""The packaged default config (``default.toml``) and ``atlas build``'s overrides of it."""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path

from atlas.workflow.config import LayerConfig, RunConfig, parse_config

DEFAULT_CONFIG = "default.toml"


def default_config_text() -> str:
    """The packaged default configuration, as TOML text."""
    return resources.files("atlas.workflow").joinpath(DEFAULT_CONFIG).read_text(encoding="utf-8")


def default_config(out: str | Path | None = None, tiles: str | None = None, emissions: LayerConfig | None = None,
                   workers: int | None = None) -> RunConfig:
    """The default run, read as if its text were a file in the working folder, with overrides.

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
    config = parse_config(default_config_text(), Path.cwd().resolve() / "<config text>")
    changes: dict = {}
    if out is not None:
        changes["out"] = Path(out).resolve()
    if tiles is not None:
        changes["tiles"] = tiles
    if emissions is not None:
        changes["emissions"] = emissions
    if workers is not None:
        changes["workers"] = workers
    return dataclasses.replace(config, **changes) if changes else config


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

    layer = None
    if emissions:
        layer = LayerConfig(paths=tuple(Path(p).resolve() for p in emissions), product=emissions_product,
                            kind=emissions_kind, units=emissions_units)
    return run(default_config(out=out, tiles=tiles, emissions=layer, workers=workers), progress=progress)


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
