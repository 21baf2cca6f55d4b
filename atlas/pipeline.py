"""The default job behind ``atlas build``: everything from the embedded data, no network.

Each step is a function that takes what it needs and writes its outputs atomically
into the output folder; :func:`build` runs them in order and returns a summary.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import boundaries, registry
from .export import write_frame

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


@dataclass
class BuildResult:
    """What :func:`build` wrote and the headline figures it found."""

    out_dir: Path
    files: list[Path] = field(default_factory=list)
    summary: dict[str, object] = field(default_factory=dict)


def publish_registry(reg: registry.Registry, out_dir: Path, result: BuildResult) -> None:
    """Write the registry tables (with areas and 2010 statistics) into ``out_dir/data``."""
    data = out_dir / "data"
    pilots = boundaries.load_pilot_boundaries(reg)
    table = registry.join_stats(boundaries.area_table(pilots), reg.stats_2010)
    result.files.append(write_frame(table, data / "pilots.csv", overwrite=True))
    result.files.append(write_frame(registry.join_targets(reg.pilots, reg.targets),
                                    data / "targets.csv", overwrite=True))
    result.files.append(write_frame(pilots, data / "pilots.gpkg", overwrite=True, layer="pilots"))
    display = boundaries.load_pilot_boundaries(reg, display=True)
    result.files.append(write_frame(display, data / "pilots.geojson", overwrite=True))
    provinces = boundaries.load_provinces(display=True)
    result.files.append(write_frame(provinces, data / "provinces.geojson", overwrite=True))
    counts = reg.pilots.groupby("batch").size().to_dict()
    result.summary["pilots_per_batch"] = {int(k): int(v) for k, v in counts.items()}
    result.summary["pilots_total"] = int(len(reg.pilots))


def build(out_dir: str | Path, progress: Progress | None = None) -> BuildResult:
    """Run the default job on the embedded data and publish it into ``out_dir``.

    Parameters
    ----------
    out_dir : path
        Output folder (created if needed). Files the build owns are replaced atomically.
    progress : callable, optional
        Called with a short label before each step (the CLI shows it).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = BuildResult(out)
    say = progress or (lambda label: None)
    say("registry and boundaries")
    reg = registry.load_registry()
    publish_registry(reg, out, result)
    return result
