"""Areas on the WGS84 ellipsoid: of cell pieces, of whole outlines, and outlines made whole.

What "exact" means here. A region's value sums, over the pieces into which grid lines cut
it, each cell's value times the piece's area *on the ellipsoid*, for pieces whose outline
edges are straight lines in the raster's coordinates and whose cell edges are parallels
and meridians. The area density of the ellipsoid depends on latitude only, so inside a row
of a geographic (or cylindrical, e.g. Web Mercator) grid a strip of a cell's full height
holds a share of the cell's area equal to its share of the width, and only the piece that
bounds a covered area from above needs more than planar geometry: the share of the cell
between the piece and the cell's lower edge is ``mean over the piece of F(y)``, where
``F(y) = ∫_y^1 g / ∫_0^1 g`` and ``g`` is the area density in the row's coordinate
``y ∈ [0, 1]``. :func:`row_profiles` gives, per row, ``F`` as a polynomial of degree 5 in
``y`` (``g`` interpolated at Chebyshev nodes: for 1° cells the error is about 1e-12 of a
cell, smaller for finer cells), and :func:`mean_below` averages it over a straight piece
exactly (the piece's ``y`` is linear in its ``u``). Planar coverage (exactextract) uses
``F(y) = 1 − y``, which puts too much weight on the equatorward side of every boundary
cell: a raster of ones over 阿拉尔 on a 0.5° grid gives 0.9985 of its outline's area.

Outline areas use the same definition: edges straight in longitude/latitude, area by
Green's theorem ``A = −∮ Z(φ) dλ`` with ``Z`` the zone area from the equator (exact closed
form); along an edge ``φ`` is linear in ``λ``, so each edge adds ``−Δλ`` times the mean of ``Z``
over its latitudes: the midpoint rule with its second-order term for edges spanning up to 0.01°
of latitude, 4-point Gauss–Legendre over parts of at most 0.25° for the others (error < 1e-14).
pyproj's ``Geod`` measures geodesic edges, which bulge poleward of the edges a raster grid sees;
that is a different polygon.
"""

from __future__ import annotations

import numpy as np
import shapely
from pyproj import CRS
from shapely import affinity

from atlas.rasters.cellarea import area_density, row_edge_latitudes, zone_area, zone_area_second_derivative

_GL4_T, _GL4_W = np.polynomial.legendre.leggauss(4)
_GL4_T = 0.5 * (_GL4_T + 1.0)
_GL4_W = 0.5 * _GL4_W
#: Long edges are integrated by Gauss–Legendre over parts of at most this many degrees of latitude.
MAX_EDGE_DEG = 0.25
#: Edges spanning at most this many degrees of latitude are integrated by the midpoint rule
#: with its second-order term (:func:`_mean_zone_area`).
SHORT_EDGE_DEG = 0.01
#: Outlines are cut to edges of at most this many degrees (or 500 m) before they are
#: transformed to another CRS, so that their edges stay the lines the user drew.
DENSIFY_DEG = 0.005
DENSIFY_M = 500.0


# --------------------------------------------------------------------------- cell pieces
def _power_fit(nodes: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Power-basis coefficients (lowest first) of the polynomial through ``values`` at ``nodes``."""
    vander = np.vander(nodes, len(nodes), increasing=True)
    return np.linalg.solve(vander, values.T).T


def _cheb01(n: int) -> np.ndarray:
    k = np.arange(n)
    return 0.5 - 0.5 * np.cos((2 * k + 1) * np.pi / (2 * n))


def row_profiles(crs: CRS, transform, height: int) -> np.ndarray:
    """Per-row coefficients (``height × 6``, lowest power first) of ``F(y)`` (see the module docstring).

    Geographic grids: ``g`` (the area density, linear map from ``y`` to latitude) is
    interpolated at 5 Chebyshev nodes and integrated. Cylindrical projected grids:
    ``F`` itself is interpolated at 6 nodes from zone areas at the nodes' latitudes.
    """
    rows = np.arange(height, dtype=float)[:, None]
    if crs.is_geographic:
        y = _cheb01(5)
        lat = np.radians(transform.f + transform.e * (rows + y[None, :]))
        g = _power_fit(y, area_density(lat))  # (height, 5)
        anti = np.zeros((height, 6))
        anti[:, 1:] = g / np.arange(1, 6)
        total = anti.sum(axis=1, keepdims=True)
        coef = -anti / total
        coef[:, 0] = 1.0
        return coef
    y = _cheb01(6)
    lat = row_edge_latitudes(crs, transform, (rows + np.concatenate([[0.0, 1.0], y])[None, :]).ravel())
    z = zone_area(lat).reshape(height, 8)
    f = (z[:, 2:] - z[:, 1:2]) / (z[:, 0:1] - z[:, 1:2])
    return _power_fit(y, f)


def mean_below(coef: np.ndarray, ya: np.ndarray, yb: np.ndarray) -> np.ndarray:
    """Mean of ``F`` (quintic, coefficients per piece) over the straight piece from ``ya`` to ``yb``.

    For a polynomial of degree ≤ 5 the mean over ``[m − h, m + h]`` is exactly
    ``F(m) + F''(m) h²/6 + F''''(m) h⁴/120``.
    """
    m = 0.5 * (ya + yb)
    h2 = (0.5 * (yb - ya)) ** 2
    c0, c1, c2, c3, c4, c5 = (coef[:, k] for k in range(6))
    f = c0 + m * (c1 + m * (c2 + m * (c3 + m * (c4 + m * c5))))
    f2 = 2 * c2 + m * (6 * c3 + m * (12 * c4 + m * 20 * c5))
    f4 = 24 * c4 + 120 * c5 * m
    return f + h2 * (f2 / 6 + h2 * f4 / 120)


# --------------------------------------------------------------------------- outlines
def _wrap(dlon: np.ndarray) -> np.ndarray:
    return (dlon + 180.0) % 360.0 - 180.0


def _unwrapped_polygon(poly: shapely.Polygon) -> shapely.Polygon:
    """The polygon with each ring's longitudes made continuous (no jump of more than 180°)."""
    rings = []
    ref = None
    for ring in (poly.exterior, *poly.interiors):
        xy = shapely.get_coordinates(ring)
        lon = xy[0, 0] + np.concatenate([[0.0], np.cumsum(_wrap(np.diff(xy[:, 0])))])
        if ref is None:
            ref = lon.mean()
        else:  # holes next to their exterior
            lon = lon + 360.0 * np.round((ref - lon.mean()) / 360.0)
        rings.append(np.column_stack([lon, xy[:, 1]]))
    return shapely.Polygon(rings[0], rings[1:])


def crosses_antimeridian(geom: shapely.Geometry) -> bool:
    """Whether a lon/lat outline has an edge jumping more than 180° or longitudes beyond ±180°."""
    xy = shapely.get_coordinates(shapely.get_rings(shapely.get_parts(geom)))
    if xy.size == 0:
        return False
    return bool(np.abs(np.diff(xy[:, 0])).max(initial=0) > 180.0 or np.abs(xy[:, 0]).max() > 180.0)


def split_antimeridian(geom: shapely.Geometry) -> shapely.Geometry:
    """Split a lon/lat (Multi)Polygon at ±180° (RFC 7946 §3.1.9); others are returned as they are.

    An edge from 179°E to 179°W is read as the 2° step across the antimeridian, not the
    358° one the other way; the outline is then cut into parts within [−180°, 180°].
    """
    if geom is None or geom.is_empty or not crosses_antimeridian(geom):
        return geom
    world = shapely.box(-180.0, -90.0, 180.0, 90.0)
    parts = []
    for poly in shapely.get_parts(geom):
        whole = _unwrapped_polygon(poly)
        for shift in (-360.0, 0.0, 360.0):
            piece = shapely.intersection(affinity.translate(whole, shift), world)
            parts.extend(p for p in shapely.get_parts(piece) if p.geom_type == "Polygon" and p.area > 0)
    return shapely.MultiPolygon(parts) if len(parts) != 1 else parts[0]


def densify(geoms: np.ndarray, crs: CRS) -> np.ndarray:
    """Cut edges to at most :data:`DENSIFY_DEG` (geographic) or :data:`DENSIFY_M` (projected)."""
    if crs.is_geographic:
        return shapely.segmentize(geoms, DENSIFY_DEG)
    unit = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return shapely.segmentize(geoms, DENSIFY_M / unit)


def to_lonlat(geoms, crs: CRS):
    """Outlines (a GeoSeries) in EPSG:4326, densified first when they come from another CRS."""
    import geopandas as gpd

    if crs.is_geographic and crs.equals(CRS.from_epsg(4326)):
        return geoms
    dense = gpd.GeoSeries(densify(np.asarray(geoms.values, dtype=object), crs), index=geoms.index, crs=crs)
    return dense.to_crs(4326)


def lonlat_areas_m2(geoms: np.ndarray) -> np.ndarray:
    """Ellipsoidal area (m²) of lon/lat outlines with edges straight in longitude/latitude.

    Antimeridian-crossing outlines are split first. Vectorised over all rings.
    """
    geoms = np.asarray([split_antimeridian(g) for g in geoms], dtype=object)
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    exterior = np.ones(len(rings), dtype=bool)
    exterior[1:] = ring_part[1:] != ring_part[:-1]
    xy, ring_of = shapely.get_coordinates(rings, return_index=True)
    same = ring_of[1:] == ring_of[:-1]
    a, b, edge_ring = xy[:-1][same], xy[1:][same], ring_of[1:][same]
    # Green: A = −∮ Z(φ) dλ / 2π over all longitudes → per edge −Δλ · mean Z / 360 (degrees).
    n_rings = len(rings)
    lat_ref = np.zeros(n_rings)
    counts = np.bincount(edge_ring, minlength=n_rings)
    np.divide(np.bincount(edge_ring, weights=a[:, 1], minlength=n_rings), counts, out=lat_ref, where=counts > 0)
    z_ref = zone_area(lat_ref)[edge_ring]
    mean_z = _mean_zone_area(a[:, 1], b[:, 1]) - z_ref
    ring_area = np.abs(np.bincount(edge_ring, weights=-(b[:, 0] - a[:, 0]) * mean_z, minlength=n_rings)) / 360.0
    signed = np.where(exterior, ring_area, -ring_area)
    return np.bincount(part_of[ring_part], weights=signed, minlength=len(geoms))


def _mean_zone_area(lat_a: np.ndarray, lat_b: np.ndarray) -> np.ndarray:
    """Mean of ``zone_area`` along edges whose latitude runs linearly from ``lat_a`` to ``lat_b``.

    Edges spanning at most :data:`SHORT_EDGE_DEG` of latitude (almost all of a detailed
    outline's) take the midpoint rule with its second-order term, Z(m) + Z''(m) h²/24; what it
    leaves out, Z⁽⁴⁾(m) h⁴/1920 with h under 1.8e-4 rad, is below 1e-3 m² per edge. The others take
    4-point Gauss–Legendre. One zone area per short edge instead of four: that was most of the
    time the areas of detailed outlines took.
    """
    h = lat_b - lat_a
    short = np.abs(h) <= SHORT_EDGE_DEG
    out = np.empty(h.shape)
    mid = 0.5 * (lat_a[short] + lat_b[short])
    out[short] = zone_area(mid) + zone_area_second_derivative(mid) * np.radians(h[short]) ** 2 / 24.0
    # longer edges: composite Gauss–Legendre over n equal parts of at most MAX_EDGE_DEG of latitude
    long_a, long_h = lat_a[~short], h[~short]
    n = np.maximum(np.ceil(np.abs(long_h) / MAX_EDGE_DEG), 1).astype(np.int64)
    edge = np.repeat(np.arange(long_h.size), n)
    part = np.arange(edge.size) - np.repeat(np.cumsum(n) - n, n)
    step = (long_h / n)[edge]
    nodes = long_a[edge, None] + step[:, None] * (part[:, None] + _GL4_T[None, :])
    out[~short] = np.bincount(edge, weights=zone_area(nodes) @ _GL4_W, minlength=long_h.size) / n
    return out


def ellipsoidal_areas_m2(geoms) -> np.ndarray:
    """Area (m²) of each outline of a GeoSeries on the WGS84 ellipsoid, edges straight in lon/lat.

    The engine's own definition (see the module docstring): a raster of ones reproduces it.
    Outlines in a projected CRS are densified (500 m) before they are taken to lon/lat.
    """
    lonlat = to_lonlat(geoms, geoms.crs)
    return lonlat_areas_m2(np.asarray(lonlat.values, dtype=object))
