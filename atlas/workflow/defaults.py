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


def run_in_memory(selection: dict, *, forest: LayerConfig | None = None, loss: LayerConfig | None = None,
                  factors: Path | None = None, draws: int | None = None, seed: int | None = None):
    """The default run's steps for a pilot selection, in a temporary folder, nothing written (no tables,
    no site, so no evaluation of designation either): what ``atlas sinks`` and ``atlas targets`` print is
    then exactly what a build computes.

    Returns
    -------
    RunReport
        Its ``tables`` hold the run's ``sinks``, ``ledger`` and ``targets`` frames.
    """
    import tempfile

    from atlas.workflow.runner import run

    with tempfile.TemporaryDirectory(prefix="atlas-") as tmp:
        config = dataclasses.replace(default_config(out=tmp), regions=selection, forest=forest, loss=loss,
                                     factors=factors, formats=(), publish_site=False, provinces=False,
                                     **({"draws": draws} if draws is not None else {}),
                                     **({"seed": seed} if seed is not None else {}))
        return run(config)
