"""What to tell the user after a fetch: sizes, counts, and the ``atlas zonal`` lines that use the files."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from atlas.errors import UnitsError
from atlas.rasters import hansen, odiac

if TYPE_CHECKING:
    from atlas.fetch.fetcher import FetchedFile


def human_size(n: int) -> str:
    """Bytes as ``13.3 MiB``."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def _hansen_layer_has_adapter(layer: str) -> bool:
    try:
        hansen.spec_for(layer, 2001)
    except UnitsError:
        return False
    return True


def zonal_commands(fetched: Sequence[FetchedFile], region_args: Sequence[str] = ()) -> list[str]:
    """Command lines that feed the fetched rasters to ``atlas zonal``.

    One line per Hansen layer (the adapter takes one layer per run) or per product;
    twelve ODIAC months must first be stacked into one 12-band VRT.
    """
    groups: dict[str, list[Path]] = {}
    for f in fetched:
        if f.remote.kind in ("index", "md5"):
            continue
        key = f.remote.product
        if key == "hansen":
            meta = hansen.parse_name(f.remote.name)
            key = f"hansen:{meta['layer'] if meta else '?'}"
        groups.setdefault(key, []).extend(f.usable)
    lines = []
    for key, paths in groups.items():
        if key.startswith("hansen:") and not _hansen_layer_has_adapter(key[7:]):
            lines.append(f"# Hansen '{key[7:]}' tiles are Landsat reference composites; "
                         "atlas zonal has no adapter for them")
            continue
        if key == "odiac" and len(paths) == 12:
            meta = odiac.parse_name(paths[0])
            name = odiac.year_stack_name(meta["release"], meta["year"]) if meta else "odiac_year.vrt"
            vrt = paths[0].with_name(name)
            lines.append("# stack the twelve months into one 12-band raster first (the year is their sum):")
            lines.append(shlex.join(["gdalbuildvrt", "-separate", str(vrt), *map(str, paths)]))
            paths = [vrt]
        if key == "odiac":  # one month per run (annualised x12), or the 12-band stack
            lines.extend(shlex.join(["atlas", "zonal", str(p), *region_args]) for p in paths)
            continue
        lines.append(shlex.join(["atlas", "zonal", *map(str, paths), *region_args]))
    return lines


@dataclass
class FetchSummary:
    """Counts of a fetch, for messages."""

    downloaded: int = 0
    cached: int = 0
    files: list[FetchedFile] = field(default_factory=list)


def summarize(fetched: Sequence[FetchedFile]) -> FetchSummary:
    """How many files were downloaded and how many were already cached (checksum lists excluded)."""
    data = [f for f in fetched if f.remote.kind != "md5"]
    return FetchSummary(sum(f.downloaded for f in data), sum(not f.downloaded for f in data), list(data))
