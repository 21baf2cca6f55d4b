"""Tests for atlas.datum: GCJ-02 <-> WGS84 conversion of coordinates and geometries."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import affinity

from atlas.regions.datum import (
    CHINA_BBOX,
    gcj02_to_wgs84,
    gcj02_to_wgs84_geometry,
    in_china_bbox,
    wgs84_to_gcj02,
    wgs84_to_gcj02_geometry,
)

LON_MIN, LAT_MIN, LON_MAX, LAT_MAX = CHINA_BBOX


def metres_between(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Small-distance approximation on a 6,378,137 m sphere (ample for sub-metre checks)."""
    r = 6378137.0
    lat_mid = np.radians((np.asarray(lat1) + np.asarray(lat2)) / 2)
    dx = np.radians(np.asarray(lon2) - np.asarray(lon1)) * r * np.cos(lat_mid)
    dy = np.radians(np.asarray(lat2) - np.asarray(lat1)) * r
    return np.hypot(dx, dy)


# --------------------------------------------------------------------------- worked points
#
# Hand evaluation of the published formula (a = 6378245.0, ee = 0.00669342162296594323),
# with x = lon - 105 and y = lat - 35.
#
# Beijing, WGS84 (116.4, 39.9): x = 11.4, y = 4.9
#   latitude series  = -51.436722 (polynomial -100 + 2x + 3y + 0.2y² + 0.1xy + 0.2√|x|)
#                      + 20.517890 (sin 6πx, sin 2πx terms) - 20.240986 (sin πy, sin πy/3)
#                      + 207.000239 (sin πy/12, sin πy/30)            = 155.840422
#   longitude series = 340.119639 (300 + x + 2y + 0.1x² + 0.1xy + 0.1√|x|) + 20.517890
#                      - 28.355027 (sin πx, sin πx/3) + 201.598744 (sin πx/12, sin πx/30)
#                                                                     = 533.881246
#   W² = 1 - ee·sin²(39.9°) = 0.997245940603, W = 0.998622020889
#   dlat = 155.840422 · 180 / (π · a(1-ee)/W³)        = 0.0014035298°  (≈ 156 m north)
#   dlon = 533.881246 · 180 / (π · a·cos(39.9°)/W)    = 0.0062427849°  (≈ 533 m east)
#   GCJ-02 = (116.4062427849, 39.9014035298)
#
# Shanghai, WGS84 (121.5, 31.2): x = 16.5, y = -3.8
#   latitude series  = -80.969596 + 0.0 (sin 6πx = sin 2πx = 0 at x = 16.5) + 27.654332
#                      - 172.128186                                   = -225.443450
#   longitude series = 330.261202 + 0.0 - 13.333333 + 105.149715      = 422.077583
#   W² = 0.998203807038, W = 0.999101499868
#   dlat = -0.0020333146° (≈ 226 m south), dlon = 0.0044286589° (≈ 422 m east)
#   GCJ-02 = (121.5044286589, 31.1979666854)
WORKED = [
    ((116.4, 39.9), (116.4062427849, 39.9014035298)),
    ((121.5, 31.2), (121.5044286589, 31.1979666854)),
    ((113.9, 22.5), (113.9048638953, 22.4969450315)),  # Shenzhen: ≈ 500 m east, 339 m south
]


@pytest.mark.parametrize(("wgs", "gcj"), WORKED)
def test_forward_matches_hand_evaluation(wgs, gcj):
    lon, lat = wgs84_to_gcj02(*wgs)
    assert lon == pytest.approx(gcj[0], abs=5e-10)
    assert lat == pytest.approx(gcj[1], abs=5e-10)


@pytest.mark.parametrize(("wgs", "gcj"), WORKED)
def test_inverse_recovers_worked_points(wgs, gcj):
    lon, lat = gcj02_to_wgs84(*gcj)
    assert abs(lon - wgs[0]) < 1e-7 and abs(lat - wgs[1]) < 1e-7
    assert metres_between(lon, lat, *wgs) < 0.05


def test_vectorised_shapes_and_scalars():
    lon = np.array([[116.4, 121.5], [113.9, 2.35]])
    lat = np.array([[39.9, 31.2], [22.5, 48.85]])
    out_lon, out_lat = wgs84_to_gcj02(lon, lat)
    assert out_lon.shape == out_lat.shape == (2, 2)
    assert out_lon.dtype == np.float64
    assert out_lon[0, 0] == pytest.approx(WORKED[0][1][0], abs=5e-10)
    # element-wise equals one-at-a-time
    single = wgs84_to_gcj02(121.5, 31.2)
    assert out_lon[0, 1] == single[0] and out_lat[0, 1] == single[1]
    # broadcasting a scalar latitude
    b_lon, b_lat = wgs84_to_gcj02([110.0, 111.0, 112.0], 30.0)
    assert b_lon.shape == b_lat.shape == (3,)
    s_lon, s_lat = gcj02_to_wgs84(116.4, 39.9)
    assert np.ndim(s_lon) == 0 and np.ndim(s_lat) == 0


def test_inverse_is_batch_independent():
    """A point's result must not depend on the other points converted with it."""
    rng = np.random.default_rng(1)
    lon = rng.uniform(75, 134, 500)
    lat = rng.uniform(5, 53, 500)
    all_lon, all_lat = gcj02_to_wgs84(lon, lat)
    for i in (0, 17, 499):
        one_lon, one_lat = gcj02_to_wgs84(lon[i], lat[i])
        assert one_lon == all_lon[i] and one_lat == all_lat[i]


# --------------------------------------------------------------------------- round trip


def test_round_trip_grid_across_china():
    lon, lat = np.meshgrid(np.arange(73.5, 135.01, 0.25), np.arange(18.0, 53.51, 0.25))
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    shift = metres_between(lon, lat, g_lon, g_lat)
    assert shift.min() > 10 and shift.max() < 1500  # the offset is really applied
    w_lon, w_lat = gcj02_to_wgs84(g_lon, g_lat)
    assert np.abs(w_lon - lon).max() < 1e-7
    assert np.abs(w_lat - lat).max() < 1e-7
    assert metres_between(lon, lat, w_lon, w_lat).max() < 1.0


@settings(max_examples=300, deadline=None)
@given(lon=st.floats(LON_MIN + 0.01, LON_MAX - 0.01), lat=st.floats(LAT_MIN + 0.01, LAT_MAX - 0.01))
def test_round_trip_property(lon, lat):
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    w_lon, w_lat = gcj02_to_wgs84(g_lon, g_lat)
    assert abs(w_lon - lon) < 1e-7 and abs(w_lat - lat) < 1e-7
    assert metres_between(lon, lat, w_lon, w_lat) < 1.0


@settings(max_examples=200, deadline=None)
@given(lon=st.floats(LON_MIN + 0.01, LON_MAX - 0.01), lat=st.floats(LAT_MIN + 0.01, LAT_MAX - 0.01))
def test_inverse_then_forward_property(lon, lat):
    w_lon, w_lat = gcj02_to_wgs84(lon, lat)
    g_lon, g_lat = wgs84_to_gcj02(w_lon, w_lat)
    assert abs(g_lon - lon) < 1e-7 and abs(g_lat - lat) < 1e-7


# --------------------------------------------------------------------------- outside China


@pytest.mark.parametrize("point", [(2.3522, 48.8566), (139.6917, 35.6895), (151.2093, -33.8688),
                                   (-74.006, 40.7128), (100.0, 0.5), (60.0, 40.0)])
def test_points_outside_box_unchanged(point):
    assert not in_china_bbox(*point)
    for func in (wgs84_to_gcj02, gcj02_to_wgs84):
        lon, lat = func(*point)
        assert lon == point[0] and lat == point[1]


def test_box_rule_is_inclusive():
    assert in_china_bbox(LON_MIN, LAT_MIN) and in_china_bbox(LON_MAX, LAT_MAX)
    assert not in_china_bbox(LON_MIN - 1e-9, 30.0)
    inside = wgs84_to_gcj02(LON_MIN, 30.0)
    assert inside[0] != LON_MIN


@settings(max_examples=200, deadline=None)
@given(lon=st.floats(-180, 180), lat=st.floats(-90, 90))
def test_forward_is_identity_outside_box(lon, lat):
    if in_china_bbox(lon, lat):
        return
    out = wgs84_to_gcj02(lon, lat)
    assert out[0] == lon and out[1] == lat


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("func", [wgs84_to_gcj02, gcj02_to_wgs84])
def test_non_finite_rejected(func, bad):
    with pytest.raises(ValueError, match="non-finite"):
        func(bad, 30.0)
    with pytest.raises(ValueError, match="non-finite"):
        func(np.array([116.0, 117.0]), np.array([39.0, bad]))


def test_non_broadcasting_rejected():
    with pytest.raises(ValueError):
        wgs84_to_gcj02(np.zeros(3), np.zeros(4))


def test_geometry_with_nan_rejected():
    with np.errstate(invalid="ignore"):
        line = shapely.linestrings([[116.0, 39.0], [np.nan, 40.0]])
    with pytest.raises(ValueError):
        gcj02_to_wgs84_geometry(line)


# --------------------------------------------------------------------------- geometries


def _ring_polygon() -> shapely.Polygon:
    outer = shapely.Point(116.4, 39.9).buffer(0.2, quad_segs=32)
    hole = shapely.Point(116.45, 39.9).buffer(0.05, quad_segs=16)
    return shapely.Polygon(outer.exterior.coords, [hole.exterior.coords])


def test_geometry_conversion_matches_point_conversion():
    poly = _ring_polygon()
    out = gcj02_to_wgs84_geometry(poly)
    assert isinstance(out, shapely.Polygon)
    assert out.is_valid and not out.is_empty
    assert len(out.interiors) == 1
    src = shapely.get_coordinates(poly)
    exp_lon, exp_lat = gcj02_to_wgs84(src[:, 0], src[:, 1])
    np.testing.assert_array_equal(shapely.get_coordinates(out), np.column_stack([exp_lon, exp_lat]))
    back = wgs84_to_gcj02_geometry(out)
    assert shapely.hausdorff_distance(back, poly) < 1e-7


def test_geoseries_conversion_keeps_index_crs_and_missing():
    series = gpd.GeoSeries([_ring_polygon(), None, shapely.Point(2.35, 48.85)],
                           index=["a", "b", "c"], crs="EPSG:4326", name="geometry")
    out = gcj02_to_wgs84_geometry(series)
    assert isinstance(out, gpd.GeoSeries)
    assert list(out.index) == ["a", "b", "c"] and out.crs == series.crs
    assert out.iloc[1] is None
    assert out.iloc[2].equals(series.iloc[2])  # outside the box: unchanged
    assert out.iloc[0].is_valid
    # Beijing GCJ-02 -> WGS84 moves west (about 530 m) and south (about 150 m)
    assert out.iloc[0].centroid.x < series.iloc[0].centroid.x
    assert out.iloc[0].centroid.y < series.iloc[0].centroid.y


def test_shared_edges_stay_identical():
    """Neighbours converted separately still share their border vertex for vertex."""
    left = shapely.Polygon([(116.0, 39.0), (116.5, 39.0), (116.5, 39.5), (116.0, 39.5)])
    right = shapely.Polygon([(116.5, 39.0), (117.0, 39.0), (117.0, 39.5), (116.5, 39.5)])
    a = gcj02_to_wgs84_geometry(left)
    b = gcj02_to_wgs84_geometry(right)
    assert bool(shapely.coverage_is_valid(np.array([a, b], dtype=object)))
    shared = shapely.intersection(a, b)
    assert shared.geom_type == "LineString" and shared.length > 0.4
    assert shapely.area(shapely.intersection(a, b)) == 0.0


@settings(max_examples=100, deadline=None)
@given(
    lon=st.floats(75.0, 134.0), lat=st.floats(5.0, 53.0),
    radius=st.floats(1e-4, 0.5), segs=st.integers(1, 16), skew=st.floats(0.1, 1.0),
)
def test_geometry_conversion_preserves_validity(lon, lat, radius, segs, skew):
    poly = affinity.scale(shapely.Point(lon, lat).buffer(radius, quad_segs=segs), 1.0, skew)
    assert poly.is_valid
    multi = shapely.MultiPolygon([poly, affinity.translate(poly, 3 * radius, 0)])
    for geom in (poly, multi):
        out = gcj02_to_wgs84_geometry(geom)
        assert out.is_valid and not out.is_empty
        assert out.geom_type == geom.geom_type
        assert shapely.get_num_coordinates(out) == shapely.get_num_coordinates(geom)
