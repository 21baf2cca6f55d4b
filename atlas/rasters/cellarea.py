"""Cell areas in square metres on the WGS84 ellipsoid, for geographic and projected grids.

Three kinds of grid, told apart by :func:`grid_geometry`:

``geographic``
    cells bounded by parallels and meridians; a row's cells have the exact area of their
    band of the ellipsoid (:func:`band_cell_areas`: the closed-form zone area, no degrees
    squared, no sphere).
``cylindrical``
    projected grids whose rows are parallels and whose columns are meridians (Web
    Mercator EPSG:3857, World Mercator, plate carrée, equal-area cylindrical): the same
    band areas, at the latitudes the inverse projection gives to the row edges.
``projected``
    any other projection (UTM, Albers, Lambert…): the planar cell area times the exact
    local areal factor of the projection *on the ellipsoid* (:func:`true_area_factor`: the
    ellipsoidal area element times the Jacobian of the inverse projection, by central
    differences). pyproj's ``get_factors`` is not used for areas: for Web Mercator it returns
    the spherical factor, 0.47 % off at 30°N. Equal-area projections have factor 1.

All areas are on WGS84 whatever the CRS's own datum (CGCS2000 and WGS84 coordinates
agree to centimetres), so they agree with the region areas of :mod:`atlas.zonal.ellipsoid`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from affine import Affine
from pyproj import CRS, Transformer

from atlas.errors import GridError

WGS84_A = 6378137.0
WGS84_F = 1 / 298.257223563
_E2 = WGS84_F * (2 - WGS84_F)
_E = np.sqrt(_E2)
_B2 = WGS84_A**2 * (1 - _E2)


def zone_area(lat_deg: np.ndarray) -> np.ndarray:
    """Area (m²) of the WGS84 ellipsoid between the equator and ``lat_deg``, all longitudes.

    The closed form of ∫ 2π a²(1−e²) cos φ / (1 − e² sin² φ)² dφ (signed: negative south).
    """
    s = np.sin(np.radians(lat_deg))
    return np.pi * _B2 * (s / (1 - _E2 * s * s) + np.arctanh(_E * s) / _E)



def zone_area_second_derivative(lat_deg: np.ndarray) -> np.ndarray:
    """Second derivative of :func:`zone_area` in latitude (m² per radian²).

    zone_area' = 2π b² cos φ / (1 − e² sin² φ)², so zone_area" = 2π b² s (4e²c² − w) / w³ with
    s = sin φ, c = cos φ, w = 1 − e² s².
    """
    phi = np.radians(lat_deg)
    s, c = np.sin(phi), np.cos(phi)
    w = 1 - _E2 * s * s
    return 2 * np.pi * _B2 * s * (4 * _E2 * c * c - w) / w**3


def area_density(lat_rad: np.ndarray) -> np.ndarray:
    """Ellipsoidal area per radian of longitude and radian of latitude (m²): dA = k(φ) dλ dφ."""
    s = np.sin(lat_rad)
    return _B2 * np.cos(lat_rad) / (1 - _E2 * s * s) ** 2


def band_cell_areas(lat_edges: np.ndarray, dlon_deg: float) -> np.ndarray:
    """Areas (m²) of cells spanning ``dlon_deg`` of longitude between consecutive latitude edges.

    Parameters
    ----------
    lat_edges : array of float
        Latitudes (degrees) of row edges, ``n + 1`` values in raster order.
    dlon_deg : float
        Cell width in degrees of longitude.
    """
    zone = zone_area(np.clip(np.asarray(lat_edges, dtype=float), -90.0, 90.0))
    return np.abs(np.diff(zone)) * abs(dlon_deg) / 360.0


def geographic_row_areas(transform: Affine, height: int, row0: int = 0) -> np.ndarray:
    """Per-row cell areas (m²) of rows ``row0 … row0 + height − 1`` of a geographic grid."""
    if transform.b != 0 or transform.d != 0:
        raise GridError(f"Rotated geographic grid (transform {tuple(transform)[:6]})",
                        "a grid aligned with meridians and parallels",
                        "warp it first, e.g. `gdalwarp -t_srs EPSG:4326 in.tif out.tif`")
    lat_edges = transform.f + transform.e * np.arange(row0, row0 + height + 1)
    if lat_edges.min() < -90 - 1e-6 or lat_edges.max() > 90 + 1e-6:
        raise GridError(f"Latitudes run from {lat_edges.min():.4f} to {lat_edges.max():.4f}",
                        "latitudes within ±90°", "check the raster's geotransform and CRS")
    return band_cell_areas(lat_edges, transform.a)


@functools.lru_cache(maxsize=32)
def _to_lonlat(crs_wkt: str) -> Transformer:
    crs = CRS.from_wkt(crs_wkt)
    return Transformer.from_crs(crs, crs.geodetic_crs or CRS.from_epsg(4326), always_xy=True)


def to_lonlat(crs: CRS, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude (degrees, the CRS's own geodetic datum) of projected points."""
    return _to_lonlat(crs.to_wkt()).transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))


def _unit(crs: CRS) -> float:
    return crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0


def true_area_factor(crs: CRS, x: np.ndarray, y: np.ndarray, step: float) -> np.ndarray:
    """Ellipsoidal m² per planar m² of the projection at ``x``, ``y`` (CRS units).

    ``k(φ) · |∂(λ, φ)/∂(x, y)|`` by central differences of the inverse projection with
    ``step`` (CRS units; the truncation error is of order (step / 6400 km)²).
    """
    shape = np.shape(x)
    x = np.atleast_1d(np.asarray(x, dtype=float)).ravel()
    y = np.atleast_1d(np.asarray(y, dtype=float)).ravel()
    xs = np.concatenate([x + step, x - step, x, x])
    ys = np.concatenate([y, y, y + step, y - step])
    lon, lat = to_lonlat(crs, xs, ys)
    lon, lat = np.radians(np.asarray(lon)), np.radians(np.asarray(lat))
    n = x.size
    dlon = lon.reshape(4, n)
    dlat = lat.reshape(4, n)
    lon_x = np.angle(np.exp(1j * (dlon[0] - dlon[1]))) / (2 * step)  # wrapped across ±180°
    lon_y = np.angle(np.exp(1j * (dlon[2] - dlon[3]))) / (2 * step)
    lat_x = (dlat[0] - dlat[1]) / (2 * step)
    lat_y = (dlat[2] - dlat[3]) / (2 * step)
    phi = 0.25 * dlat.sum(axis=0)
    unit = _unit(crs)
    return (area_density(phi) * np.abs(lon_x * lat_y - lon_y * lat_x) / (unit * unit)).reshape(shape)


def areal_scale(crs: CRS, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Planar area per ellipsoidal area (the areal scale factor) at projected ``x``, ``y``."""
    x = np.asarray(x, dtype=float)
    return 1.0 / true_area_factor(crs, x, np.asarray(y, dtype=float), 1.0 / _unit(crs))


@dataclass(frozen=True)
class GridGeometry:
    """How a grid's cells sit on the ellipsoid (see the module docstring).

    Attributes
    ----------
    kind : str
        ``geographic``, ``cylindrical``, ``equal_area`` or ``projected``.
    cell_area : float or None
        m² per cell for ``equal_area`` grids.
    """

    kind: str
    cell_area: float | None = None

    @property
    def by_row(self) -> bool:
        """Whether cell areas (and the shape of the area density in a cell) depend on the row only."""
        return self.kind in ("geographic", "cylindrical")


def grid_geometry(crs: CRS, transform: Affine, width: int, height: int) -> GridGeometry:
    """Classify a grid (see the module docstring); refuses CRSs neither geographic nor projected."""
    if crs.is_geographic:
        return GridGeometry("geographic")
    if not crs.is_projected:
        raise GridError(f"CRS {crs.to_string()} is neither geographic nor projected",
                        "a geographic or projected CRS")
    cols, rows = np.meshgrid(np.linspace(0, width, 5), np.linspace(0, height, 5))
    xs, ys = transform @ (cols.ravel(), rows.ravel())
    step = 0.25 * min(abs(transform.a), abs(transform.e))
    factor = true_area_factor(crs, np.asarray(xs), np.asarray(ys), step)
    if np.all(np.isfinite(factor)) and np.allclose(factor, 1.0, rtol=0, atol=1e-8):
        unit = _unit(crs)
        return GridGeometry("equal_area", abs(transform.a * transform.e) * unit * unit)
    lon, lat = to_lonlat(crs, np.asarray(xs), np.asarray(ys))
    lon, lat = np.asarray(lon).reshape(5, 5), np.asarray(lat).reshape(5, 5)
    if np.ptp(lat, axis=1).max() < 1e-9 and np.ptp(lon, axis=0).max() < 1e-9:
        return GridGeometry("cylindrical")
    return GridGeometry("projected")


def row_edge_latitudes(crs: CRS, transform: Affine, rows: np.ndarray) -> np.ndarray:
    """Latitudes (degrees) at fractional row coordinates of a geographic or cylindrical grid."""
    rows = np.asarray(rows, dtype=float)
    if crs.is_geographic:
        return transform.f + transform.e * rows
    x, y = transform @ (np.full(rows.shape, 0.5), rows)
    return np.asarray(to_lonlat(crs, x, y)[1])


def cell_width_deg(crs: CRS, transform: Affine) -> float:
    """Longitude span (degrees) of one cell of a geographic or cylindrical grid."""
    if crs.is_geographic:
        return abs(transform.a)
    x, y = transform @ (np.array([0.0, 1.0]), np.array([0.5, 0.5]))
    lon = np.asarray(to_lonlat(crs, x, y)[0])
    return float(abs((lon[1] - lon[0] + 180.0) % 360.0 - 180.0))


def row_areas(crs: CRS, transform: Affine, row0: int, height: int) -> np.ndarray:
    """Cell areas (m²) of rows ``row0 … row0 + height − 1`` of a geographic or cylindrical grid."""
    if crs.is_geographic:
        return geographic_row_areas(transform, height, row0)
    lat = row_edge_latitudes(crs, transform, np.arange(row0, row0 + height + 1))
    return band_cell_areas(lat, cell_width_deg(crs, transform))


def _cheb_nodes(n: int, lo: float, hi: float) -> np.ndarray:
    k = np.arange(n)
    return 0.5 * (lo + hi) + 0.5 * (hi - lo) * np.cos((2 * k + 1) * np.pi / (2 * n))


#: Chebyshev nodes per axis of the lattice on which the areal factor of a window is fitted.
_LATTICE = 9


def projected_cell_areas(crs: CRS, transform: Affine, window: tuple[int, int, int, int]) -> np.ndarray:
    """Ellipsoidal cell areas (m²) over a window of a projected grid, ``(h, w)`` array.

    The planar area ``|det(transform)|`` times the true areal factor at each cell centre.
    The factor, a smooth function, is evaluated on a 9 × 9 Chebyshev lattice over the window
    and interpolated (tensor Chebyshev series; error far below 1e-9 over a block of a few
    hundred km), instead of transforming every cell centre.
    """
    unit = _unit(crs)
    planar = abs(transform.a * transform.e - transform.b * transform.d) * unit * unit
    row0, col0, h, w = window
    n = _LATTICE
    ru = _cheb_nodes(n, row0, row0 + h)
    cu = _cheb_nodes(n, col0, col0 + w)
    cc, rr = np.meshgrid(cu, ru)
    xs, ys = transform @ (cc.ravel(), rr.ravel())
    step = 0.125 * min(abs(transform.a), abs(transform.e))
    factor = true_area_factor(crs, np.asarray(xs), np.asarray(ys), step).reshape(n, n)
    from numpy.polynomial import chebyshev as C

    def scaled(v, lo, hi):
        return (2 * v - (lo + hi)) / (hi - lo)

    vr = C.chebvander(scaled(ru, row0, row0 + h), n - 1)
    vc = C.chebvander(scaled(cu, col0, col0 + w), n - 1)
    coef = np.linalg.solve(vr, np.linalg.solve(vc, factor.T).T)
    er = C.chebvander(scaled(np.arange(row0, row0 + h) + 0.5, row0, row0 + h), n - 1)
    ec = C.chebvander(scaled(np.arange(col0, col0 + w) + 0.5, col0, col0 + w), n - 1)
    return planar * (er @ coef @ ec.T)
