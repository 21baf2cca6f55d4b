"""GCJ-02 ("Mars coordinates") <-> WGS84 conversion, vectorised with numpy.

Chinese web-map providers (AMap/高德, Tencent, …) publish coordinates in GCJ-02, a
WGS84 datum with a deliberate, smoothly varying offset of a few hundred metres. The
offset formula below is the well-known public one (reconstructed and published by
many open-source projects since ~2010); its constants are facts:

* the Krasovsky 1940 ellipsoid, semi-major axis ``a = 6378245.0`` m and squared
  eccentricity ``ee = 0.00669342162296594323``;
* the two polynomial/trigonometric series in ``x = lon - 105`` and ``y = lat - 35``
  (see :func:`_offset_lat_raw` and :func:`_offset_lon_raw`).

Forward (WGS84 → GCJ-02) is closed form. The inverse (GCJ-02 → WGS84) has no closed
form; it is solved here by fixed-point iteration ``w ← w + (g − F(w))`` until the
forward image of the estimate is within :data:`INVERSE_TOLERANCE_DEG` (1e-9°, well
below the 1e-7° required; about 0.1 mm) of the GCJ-02 input.

Outside-China rule
------------------
The offset is applied only to points inside the rectangle
``72.004 <= lon <= 137.8347`` and ``0.8293 <= lat <= 55.8271`` (degrees, both bounds
inclusive), the bounding box conventionally used with this formula. Points outside it
are returned unchanged by both directions. The box is a rectangle, so it also covers
neighbouring countries (Mongolia, the Koreas, part of Japan and South-East Asia); it
is meant for data that is known to be GCJ-02, not for deciding which data is.

Non-finite input (NaN, ±inf) raises :class:`~atlas.errors.DatumError` (a ``ValueError``).
"""

from __future__ import annotations

import logging
from typing import Any, Callable

import numpy as np
import numpy.typing as npt
import shapely

from atlas.errors import DatumError

log = logging.getLogger(__name__)

KRASOVSKY_A: float = 6378245.0
"""Semi-major axis of the Krasovsky 1940 ellipsoid in metres, as used by GCJ-02."""

KRASOVSKY_EE: float = 0.00669342162296594323
"""Squared first eccentricity of the Krasovsky 1940 ellipsoid, as used by GCJ-02."""

CHINA_BBOX: tuple[float, float, float, float] = (72.004, 0.8293, 137.8347, 55.8271)
"""(lon_min, lat_min, lon_max, lat_max), inclusive: where the offset is applied."""

INVERSE_TOLERANCE_DEG: float = 1e-9
"""Convergence threshold of the inverse, in degrees, on both axes."""

INVERSE_MAX_ITER: int = 50
"""Iteration cap of the inverse; convergence normally takes 3–5 iterations."""

FloatArray = npt.NDArray[np.float64]


def _as_finite_arrays(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Broadcast ``lon`` and ``lat`` to float64 arrays and reject non-finite values.

    Parameters
    ----------
    lon, lat : array_like
        Longitudes and latitudes in degrees; any shapes that broadcast together.

    Returns
    -------
    tuple of numpy.ndarray
        Two float64 arrays of the broadcast shape (copies, safe to modify).

    Raises
    ------
    DatumError
        If the inputs do not broadcast or contain NaN or infinity.
    """
    try:
        lon_a, lat_a = np.broadcast_arrays(np.asarray(lon, dtype=np.float64),
                                           np.asarray(lat, dtype=np.float64))
    except ValueError as exc:
        raise DatumError(f"lon and lat do not broadcast together ({exc})",
                         "arrays of the same or broadcastable shapes") from exc
    for name, arr in (("lon", lon_a), ("lat", lat_a)):
        bad = ~np.isfinite(arr)
        if bad.any():
            first = float(arr[bad].flat[0])
            raise DatumError(f"{name} has {int(bad.sum())} non-finite value(s) (first: {first})",
                             "finite degrees", "drop or fill missing coordinates before converting")
    return lon_a.copy(), lat_a.copy()


def in_china_bbox(lon: npt.ArrayLike, lat: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Return True where a point lies inside :data:`CHINA_BBOX` (bounds inclusive).

    Parameters
    ----------
    lon, lat : array_like
        Degrees; must be finite.

    Returns
    -------
    numpy.ndarray of bool
    """
    lon_a, lat_a = _as_finite_arrays(lon, lat)
    lon_min, lat_min, lon_max, lat_max = CHINA_BBOX
    return (lon_a >= lon_min) & (lon_a <= lon_max) & (lat_a >= lat_min) & (lat_a <= lat_max)


def _offset_lat_raw(x: FloatArray, y: FloatArray) -> FloatArray:
    """Latitude series of the GCJ-02 formula, in the formula's raw (metre-like) units."""
    pi = np.pi
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    ret += (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    return ret


def _offset_lon_raw(x: FloatArray, y: FloatArray) -> FloatArray:
    """Longitude series of the GCJ-02 formula, in the formula's raw (metre-like) units."""
    pi = np.pi
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    ret += (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    return ret


def _offset_deg(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 offset (d_lon, d_lat) in degrees at WGS84 points, ignoring the box rule.

    The raw series are scaled to degrees with the Krasovsky radii of curvature:
    the meridional radius ``a (1 - ee) / W^3`` for latitude and the parallel radius
    ``a cos(lat) / W`` for longitude, where ``W = sqrt(1 - ee sin^2 lat)``.
    """
    x = lon - 105.0
    y = lat - 35.0
    rad_lat = np.deg2rad(lat)
    w2 = 1.0 - KRASOVSKY_EE * np.sin(rad_lat) ** 2
    w = np.sqrt(w2)
    d_lat = _offset_lat_raw(x, y) * 180.0 / ((KRASOVSKY_A * (1.0 - KRASOVSKY_EE)) / (w2 * w) * np.pi)
    d_lon = _offset_lon_raw(x, y) * 180.0 / (KRASOVSKY_A / w * np.cos(rad_lat) * np.pi)
    return d_lon, d_lat


def _forward_unchecked(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Forward transform on already validated float64 arrays (box rule applied)."""
    inside = ((lon >= CHINA_BBOX[0]) & (lon <= CHINA_BBOX[2])
              & (lat >= CHINA_BBOX[1]) & (lat <= CHINA_BBOX[3]))
    d_lon, d_lat = _offset_deg(lon, lat)
    return np.where(inside, lon + d_lon, lon), np.where(inside, lat + d_lat, lat)


def wgs84_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert WGS84 longitudes/latitudes to GCJ-02.

    Parameters
    ----------
    lon, lat : array_like
        WGS84 degrees, any broadcastable shapes (scalars allowed).

    Returns
    -------
    tuple of numpy.ndarray
        GCJ-02 ``(lon, lat)`` in degrees, float64, of the broadcast shape. Points
        outside :data:`CHINA_BBOX` are returned unchanged.

    Raises
    ------
    DatumError
        If any coordinate is NaN or infinite.
    """
    lon_a, lat_a = _as_finite_arrays(lon, lat)
    return _forward_unchecked(lon_a, lat_a)


def gcj02_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert GCJ-02 longitudes/latitudes to WGS84 by fixed-point iteration.

    Starting from ``w = g``, each step sets ``w ← w + (g − F(w))`` where ``F`` is
    :func:`wgs84_to_gcj02`; the offset changes slowly in space, so the map is a strong
    contraction and 3–5 steps reach :data:`INVERSE_TOLERANCE_DEG`. Each point stops on
    its own residual, so its result is bit-identical whatever else is converted in the
    same call (shared polygon vertices converted separately stay identical).

    Parameters
    ----------
    lon, lat : array_like
        GCJ-02 degrees, any broadcastable shapes (scalars allowed).

    Returns
    -------
    tuple of numpy.ndarray
        WGS84 ``(lon, lat)`` in degrees, float64, of the broadcast shape. Points outside
        :data:`CHINA_BBOX` are returned unchanged.

    Raises
    ------
    DatumError
        If any coordinate is NaN or infinite.
    """
    g_lon, g_lat = _as_finite_arrays(lon, lat)
    w_lon, w_lat = g_lon.ravel().copy(), g_lat.ravel().copy()
    flat_lon, flat_lat = g_lon.ravel(), g_lat.ravel()
    # Each point stops on its own residual, so its result does not depend on which other
    # points are converted in the same call: shared vertices of neighbouring polygons
    # converted separately stay bit-identical (coverages stay edge-matched).
    active = np.arange(flat_lon.size)
    for step in range(1, INVERSE_MAX_ITER + 1):
        f_lon, f_lat = _forward_unchecked(w_lon[active], w_lat[active])
        r_lon, r_lat = flat_lon[active] - f_lon, flat_lat[active] - f_lat
        moving = (np.abs(r_lon) >= INVERSE_TOLERANCE_DEG) | (np.abs(r_lat) >= INVERSE_TOLERANCE_DEG)
        active, r_lon, r_lat = active[moving], r_lon[moving], r_lat[moving]
        if active.size == 0:
            log.debug("gcj02_to_wgs84 converged after %d evaluation(s)", step)
            break
        w_lon[active] += r_lon
        w_lat[active] += r_lat
    else:  # pragma: no cover - not reached for finite input inside or outside the box
        log.warning("gcj02_to_wgs84: %d point(s) not converged to %.0e deg after %d iterations "
                    "(points straddling the box edge?)", active.size, INVERSE_TOLERANCE_DEG,
                    INVERSE_MAX_ITER)
    return w_lon.reshape(g_lon.shape), w_lat.reshape(g_lat.shape)


def _coords_callable(
    func: Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]],
) -> Callable[[FloatArray], FloatArray]:
    """Wrap a ``(lon, lat) -> (lon, lat)`` function as an ``(N, 2) -> (N, 2)`` callable."""

    def apply(coords: FloatArray) -> FloatArray:
        if coords.shape[0] == 0:
            return coords
        out_lon, out_lat = func(coords[:, 0], coords[:, 1])
        return np.column_stack([out_lon, out_lat])

    return apply


def _transform_geometries(geoms: Any, func: Callable[[FloatArray, FloatArray],
                                                     tuple[FloatArray, FloatArray]]) -> Any:
    """Apply a coordinate function to a geometry, an array of geometries or a GeoSeries.

    All coordinates of all geometries go through ``func`` in one vectorised call
    (``shapely.transform``); z values, if any, are dropped. A GeoSeries keeps its index,
    name and CRS; a single geometry stays a single geometry.
    """
    wrapped = _coords_callable(func)
    try:  # geopandas is optional for this module
        import geopandas as gpd
    except ImportError:  # pragma: no cover
        gpd = None
    if gpd is not None and isinstance(geoms, gpd.GeoSeries):
        values = shapely.transform(np.asarray(geoms.values, dtype=object), wrapped)
        return gpd.GeoSeries(values, index=geoms.index, crs=geoms.crs, name=geoms.name)
    if isinstance(geoms, shapely.Geometry):
        return shapely.transform(geoms, wrapped)
    return shapely.transform(np.asarray(geoms, dtype=object), wrapped)


def gcj02_to_wgs84_geometry(geoms: Any) -> Any:
    """Convert shapely 2 geometries (or a GeoSeries) from GCJ-02 to WGS84.

    Parameters
    ----------
    geoms : shapely.Geometry, array_like of shapely.Geometry, or geopandas.GeoSeries
        Geometries in GCJ-02 degrees. None/missing entries pass through.

    Returns
    -------
    same kind as ``geoms``
        Converted geometries. The shift is smooth and at most a few hundred metres, so
        a valid polygon normally stays valid; vertices closer together than the
        convergence tolerance could in principle touch, so callers that need OGC
        validity should check ``shapely.is_valid`` and repair with ``make_valid``.

    Raises
    ------
    DatumError
        If any coordinate is NaN or infinite.
    """
    return _transform_geometries(geoms, gcj02_to_wgs84)


def wgs84_to_gcj02_geometry(geoms: Any) -> Any:
    """Convert shapely 2 geometries (or a GeoSeries) from WGS84 to GCJ-02.

    Parameters
    ----------
    geoms : shapely.Geometry, array_like of shapely.Geometry, or geopandas.GeoSeries
        Geometries in WGS84 degrees.

    Returns
    -------
    same kind as ``geoms``

    Raises
    ------
    DatumError
        If any coordinate is NaN or infinite.
    """
    return _transform_geometries(geoms, wgs84_to_gcj02)
