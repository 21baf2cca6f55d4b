"""ESA WorldCover 10 m land cover (3°×3° tiles, e.g. ``ESA_WorldCover_10m_2021_v200_N30E117_Map.tif``).

Tiles are named by their lower-left corner. Class codes from the WorldCover product
user manual (Zanaga et al. 2022, doi:10.5281/zenodo.7254221); 0 is no data.
"""

from __future__ import annotations

import re
from pathlib import Path

from atlas.rasters.layer import LayerSpec, RasterSource

# ---- the publisher's catalogue (shared by the adapter below and by ``atlas fetch``)
# Map tiles live at <HOST>/<release>/<year>/map/ESA_WorldCover_10m_<year>_<release>_N21E114_Map.tif (land tiles
# only); the tile index GRID_PATH is the one used by the Product User Manual's download example
# (https://esa-worldcover.org/en/data-access, https://esa-worldcover.s3.amazonaws.com/readme.html).
# No checksums are published.
TITLE = "ESA WorldCover"
HOST = "https://esa-worldcover.s3.eu-central-1.amazonaws.com"
RELEASES = {"v100": 2020, "v200": 2021}  # release -> year of the map
DEFAULT_RELEASE = "v200"
TILE_SIZE = 3  # degrees; tiles are aligned on multiples of 3° and named by their lower-left corner
GRID_PATH = "v100/2020/esa_worldcover_2020_grid.geojson"
GRID_TILE_KEY = "ll_tile"  # property of each grid feature holding its tile label
NAME = re.compile(r"ESA_WorldCover_10m_(?P<year>\d{4})_v(?P<version>\d+)_(?P<ns>[NS])(?P<lat>\d{2})"
                  r"(?P<ew>[EW])(?P<lon>\d{3})_Map\.tif$", re.IGNORECASE)


def tile_label(bottom: int, left: int) -> str:
    """``N21E114`` style label of the tile whose lower-left corner is (``left``, ``bottom``) degrees."""
    return f"{'N' if bottom >= 0 else 'S'}{abs(bottom):02d}{'E' if left >= 0 else 'W'}{abs(left):03d}"


def file_name(release: str, tile: str) -> str:
    """The publisher's name of one map tile, e.g. ``ESA_WorldCover_10m_2021_v200_N21E114_Map.tif``."""
    return f"ESA_WorldCover_10m_{RELEASES[release]}_{release}_{tile}_Map.tif"


def remote_path(release: str, tile: str) -> str:
    """Path of one map tile below :data:`HOST`."""
    return f"{release}/{RELEASES[release]}/map/{file_name(release, tile)}"

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
