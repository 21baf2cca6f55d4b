"""ESA WorldCover 10 m land cover (3°×3° tiles, e.g. ``ESA_WorldCover_10m_2021_v200_N30E117_Map.tif``).

Tiles are named by their lower-left corner. Class codes from the WorldCover product
user manual (Zanaga et al. 2022, doi:10.5281/zenodo.7254221); 0 is no data.
"""

from __future__ import annotations

import re
from pathlib import Path

from atlas.rasters.layer import LayerSpec, RasterSource

NAME = re.compile(r"ESA_WorldCover_10m_(?P<year>\d{4})_v(?P<version>\d+)_(?P<ns>[NS])(?P<lat>\d{2})"
                  r"(?P<ew>[EW])(?P<lon>\d{3})_Map\.tif$", re.IGNORECASE)

CLASSES = {10: "tree cover", 20: "shrubland", 30: "grassland", 40: "cropland", 50: "built-up",
           60: "bare / sparse vegetation", 70: "snow and ice", 80: "permanent water bodies",
           90: "herbaceous wetland", 95: "mangroves", 100: "moss and lichen"}

SPEC = LayerSpec("worldcover", "classes", "class", classes=CLASSES, nodata=0,
                 groups={"forest": (10,), "mangroves": (95,), "shrubland": (20,)},
                 caveat="forest = WorldCover class 10 (tree cover ≥ 10 % canopy, 10 m)")


def is_worldcover(path: str | Path) -> bool:
    """True if the file name follows the WorldCover tile convention."""
    return NAME.search(Path(path).name) is not None


def open_tiles(paths: list[str | Path]):
    """Open WorldCover tiles as a mosaic."""
    return [RasterSource(p) for p in paths], SPEC
