"""Cell areas in square metres for geographic and projected grids.

Geographic grids use the exact area of a band of the WGS84 ellipsoid between two
parallels (no degrees squared, no spherical approximation). Projected grids use the
planar cell area divided by the projection's areal scale factor, which is exactly 1
for equal-area projections (Albers, sinusoidal, Lambert azimuthal equal-area).
"""

from __future__ import annotations

import numpy as np
from affine import Affine
from pyproj import CRS, Proj

from atlas.errors import GridError

WGS84_A = 6378137.0
WGS84_F = 1 / 298.257223563
_E2 = WGS84_F * (2 - WGS84_F)
_E = np.sqrt(_E2)
_B2 = WGS84_A**2 * (1 - _E2)


def _zone_area(lat_deg: np.ndarray) -> np.ndarray:
    """Area (m²) of the WGS84 ellipsoid between the equator and ``lat_deg``, all longitudes."""
    s = np.sin(np.radians(lat_deg))
    return np.pi * _B2 * (s / (1 - _E2 * s * s) + np.arctanh(_E * s) / _E)


def band_cell_areas(lat_edges: np.ndarray, dlon_deg: float) -> np.ndarray:
    """Areas (m²) of cells spanning ``dlon_deg`` of longitude between consecutive latitude edges.

    Parameters
    ----------
    lat_edges : array of float
        Latitudes (degrees) of row edges, ``n + 1`` values in raster order.
    dlon_deg : float
        Cell width in degrees of longitude.
    """
    zone = _zone_area(np.clip(np.asarray(lat_edges, dtype=float), -90.0, 90.0))
    return np.abs(np.diff(zone)) * abs(dlon_deg) / 360.0


def geographic_row_areas(transform: Affine, height: int) -> np.ndarray:
    """Per-row cell areas (m²) of a north-up or south-up geographic grid."""
    if transform.b != 0 or transform.d != 0:
        raise GridError(f"Rotated geographic grid (transform {tuple(transform)[:6]})",
                        "a grid aligned with meridians and parallels",
                        "warp it first, e.g. `gdalwarp -t_srs EPSG:4326 in.tif out.tif`")
    lat_edges = transform.f + transform.e * np.arange(height + 1)
    if lat_edges.min() < -90 - 1e-6 or lat_edges.max() > 90 + 1e-6:
        raise GridError(f"Latitudes run from {lat_edges.min():.4f} to {lat_edges.max():.4f}",
                        "latitudes within ±90°", "check the raster's geotransform and CRS")
    return band_cell_areas(lat_edges, transform.a)


def areal_scale(crs: CRS, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Areal scale factor of a projection at projected coordinates ``x``, ``y``."""
    proj = Proj(crs)
    lon, lat = proj(np.asarray(x, dtype=float), np.asarray(y, dtype=float), inverse=True)
    return np.asarray(proj.get_factors(lon, lat, errcheck=False).areal_scale, dtype=float)


def is_equal_area(crs: CRS, sample_xy: np.ndarray) -> bool:
    """True if the projection keeps areas (areal scale 1 at the sample points)."""
    scale = areal_scale(crs, sample_xy[:, 0], sample_xy[:, 1])
    return bool(np.all(np.isfinite(scale)) and np.allclose(scale, 1.0, rtol=0, atol=1e-9))


def projected_cell_areas(crs: CRS, transform: Affine, window: tuple[int, int, int, int]) -> np.ndarray:
    """Ellipsoidal cell areas (m²) over a window of a projected grid, ``(h, w)`` array.

    The planar area ``|det(transform)|`` (in the CRS's linear unit squared, converted to
    metres) is divided by the areal scale factor at each cell centre.
    """
    unit = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    planar = abs(transform.a * transform.e - transform.b * transform.d) * unit * unit
    row0, col0, h, w = window
    cols, rows = np.meshgrid(np.arange(col0, col0 + w) + 0.5, np.arange(row0, row0 + h) + 0.5)
    xs, ys = transform @ (cols.ravel(), rows.ravel())
    scale = areal_scale(crs, xs, ys).reshape(h, w)
    return planar / scale
