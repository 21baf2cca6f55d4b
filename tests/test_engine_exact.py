"""Exact on the ellipsoid: a raster of ones gives back every outline's ellipsoidal area.

The reference is :func:`atlas.zonal.ellipsoidal_areas_m2` (edges straight in lon/lat, the
closed-form zone area), checked here against hand-worked band areas; the engine must agree
with it on geographic grids (to rounding), on Web Mercator and on UTM (to 1e-6), where the
planar fractions of exactextract's method are off by up to 1e-3.
"""

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS, Geod, Transformer

from atlas.errors import GridError, RasterReadError, UnitsError
from atlas.rasters.cellarea import areal_scale, band_cell_areas, zone_area
from atlas.rasters.layer import ArraySource, Grid, LayerSpec, RasterSource
from atlas.zonal import ellipsoidal_areas_m2, split_antimeridian, zonal_stats

ONES = LayerSpec("c", "fraction", "fraction")


def ones(transform, crs, shape):
    """A raster of ones of any size without allocating it (a broadcast view)."""
    src = ArraySource(np.ones((1, 1), np.uint8), transform, crs)
    src.array = np.broadcast_to(np.ones((1, 1), np.uint8), shape)
    src.grid = Grid(shape[1], shape[0], transform, CRS.from_user_input(crs), (256, 256))
    return src


def frame(**geoms):
    return gpd.GeoDataFrame({"pilot_id": list(geoms)}, geometry=list(geoms.values()), crs=4326)


def relative_error(out):
    return (out["c_ha"] / out["region_area_ha"] - 1).abs()


@pytest.fixture(scope="module")
def pilots():
    from atlas.regions import boundaries, registry

    b = boundaries.load_pilot_boundaries(registry.load_registry())
    return b[b.pilot_id.isin(["P3-45", "P1-01", "P2-03", "P3-26", "P1-08"])].reset_index(drop=True)


def test_outline_area_of_a_lonlat_box_is_the_band_area():
    # A box 110-112°E, 30-31.5°N: its edges are parallels and meridians, so its area is
    # 2/360 of the zone between 30° and 31.5°N: band_cell_areas([31.5, 30], 2) = 31 845.9 km².
    box = gpd.GeoSeries([shapely.box(110, 30, 112, 31.5)], crs=4326)
    expected = band_cell_areas(np.array([31.5, 30.0]), 2.0)[0]
    assert ellipsoidal_areas_m2(box)[0] == pytest.approx(expected, rel=1e-13)
    assert expected / 1e6 == pytest.approx(31845.95, rel=1e-6)
    # pyproj.Geod joins the same corners by geodesics, which bulge poleward: a different polygon.
    geodesic = abs(Geod(ellps="WGS84").geometry_area_perimeter(shapely.box(110, 30, 112, 31.5))[0])
    assert abs(geodesic / expected - 1) > 1e-5


@pytest.mark.parametrize("res", [0.5, 0.05])
def test_ones_raster_reproduces_pilot_areas_on_geographic_grids(pilots, res):
    src = ones(Affine(res, 0, 70, 0, -res, 55), 4326, (round(55 / res), round(70 / res)))
    out = zonal_stats(pilots, src, ONES, workers=1)
    assert relative_error(out).max() < 1e-9
    assert (out["status"] == "ok").all()
    # The planar reading (exactextract's) is off by far more on the coarse grid, and says
    # "partly outside raster" of outlines wholly inside.
    planar = zonal_stats(pilots, src, ONES, workers=1, exact=False)
    if res == 0.5:
        assert relative_error(planar).max() > 1e-4


def test_ones_raster_on_one_km_geographic_grid(pilots):
    res = 1 / 120  # ODIAC's 30″ grid
    src = ones(Affine(res, 0, 79, 0, -res, 54), 4326, (round(51 / res), round(51 / res)))
    assert relative_error(zonal_stats(pilots, src, ONES)).max() < 1e-9


def test_ones_raster_on_web_mercator(pilots):
    # pyproj's areal scale for EPSG:3857 is the sphere's; the true one on WGS84 differs by
    # about 0.5 % at these latitudes. Rows of a Mercator grid are parallels, so the engine
    # uses exact band areas; the outline edges (straight in lon/lat) are densified to 0.005°.
    to_merc = Transformer.from_crs(4326, 3857, always_xy=True)
    x0, y0 = to_merc.transform(70, 0)
    x1, y1 = to_merc.transform(140, 60)
    src = ones(Affine(1000, 0, x0, 0, -1000, y1), 3857, (int((y1 - y0) / 1000), int((x1 - x0) / 1000)))
    assert relative_error(zonal_stats(pilots, src, ONES)).max() < 1e-6
    import pyproj

    spherical = pyproj.Proj(3857).get_factors(115, 30).areal_scale
    ours = areal_scale(CRS.from_epsg(3857), *to_merc.transform(115, 30))
    assert abs(spherical / ours - 1) > 3e-3


def test_ones_raster_on_utm(pilots):
    src = ones(Affine(1000, 0, -700_000, 0, -1000, 6_200_000), 32650, (4300, 2400))
    sel = pilots[pilots.pilot_id.isin(["P1-08", "P3-26", "P1-01"])]
    out = zonal_stats(sel, src, ONES)
    assert relative_error(out).max() < 1e-6
    assert (out["status"] == "ok").all()


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), res=st.sampled_from([1.0, 0.5, 0.25]))
def test_ones_raster_reproduces_random_polygons(seed, res):
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, 8, (20, 2)) + [100, 20 + 40 * rng.uniform()]
    geom = shapely.concave_hull(shapely.MultiPoint(pts), ratio=0.5)
    if geom.geom_type != "Polygon" or geom.area == 0:
        return
    src = ones(Affine(res, 0, 90, 0, -res, 75), 4326, (round(70 / res), round(30 / res)))
    out = zonal_stats(frame(a=geom), src, ONES, workers=1)
    assert relative_error(out)[0] < 1e-11


def test_equatorward_half_of_a_cell_holds_more_than_half_its_area():
    # One cell 60-61°N: the southern half (60-60.5°) is wider than the northern half, so an
    # outline over it holds (Z(60.5) − Z(60)) / (Z(61) − Z(60)) = 0.50383 of the cell, not 0.5
    # (to first order 0.5 + Δφ·tan φ / 8 = 0.5 + 0.01745 · 1.732 / 8 = 0.50378).
    z = zone_area(np.array([60.0, 60.5, 61.0]))
    share = (z[1] - z[0]) / (z[2] - z[0])
    src = ArraySource(np.ones((1, 1)), Affine(1, 0, 0, 0, -1, 61), 4326)
    out = zonal_stats(frame(s=shapely.box(0, 60, 1, 60.5)), src, ONES, workers=1)
    cell_ha = band_cell_areas(np.array([61.0, 60.0]), 1.0)[0] / 1e4
    assert share == pytest.approx(0.50383, abs=1e-5)
    assert out.loc[0, "c_ha"] == pytest.approx(share * cell_ha, rel=1e-12)


def test_antimeridian_outline_is_split_not_read_as_358_degrees():
    # A 2° × 2° box from 179°E to 179°W (vertices given as a user would in GeoJSON without
    # splitting): read naively it spans 358°. Split, it is two 1° boxes: 2/360 of the zone 10-12°N.
    crossing = shapely.Polygon([(179, 10), (-179, 10), (-179, 12), (179, 12)])
    parts = split_antimeridian(crossing)
    assert parts.geom_type == "MultiPolygon" and shapely.box(179, 10, 180, 12).equals(parts.geoms[1])
    expected = band_cell_areas(np.array([12.0, 10.0]), 2.0)[0]
    src = ones(Affine(1, 0, -180, 0, -1, 90), 4326, (180, 360))
    out = zonal_stats(frame(x=crossing), src, ONES, workers=1)
    assert out.loc[0, "region_area_ha"] * 1e4 == pytest.approx(expected, rel=1e-12)
    assert out.loc[0, "c_ha"] * 1e4 == pytest.approx(expected, rel=1e-12)


def test_overlapping_tiles_refused_with_their_names(tif):
    a = tif("a.tif", np.ones((4, 4), np.float32), Affine(1, 0, 100, 0, -1, 30))
    b = tif("b.tif", np.ones((4, 4), np.float32), Affine(1, 0, 102, 0, -1, 30))  # overlaps a by 2 columns
    readers = [RasterSource(a), RasterSource(b)]
    with pytest.raises(GridError, match=r"a\.tif and b\.tif .*overlap"):
        zonal_stats(frame(r=shapely.box(100, 27, 105, 29)), readers, ONES, workers=1)


def test_identical_tile_given_twice_counted_once(tif, tmp_path):
    a = tif("a.tif", np.full((4, 4), 0.5, np.float32), Affine(1, 0, 100, 0, -1, 30))
    copy = tmp_path / "copy_of_a.tif"
    copy.write_bytes(a.read_bytes())
    region = frame(r=shapely.box(100, 26, 104, 30))
    once = zonal_stats(region, RasterSource(a), ONES, workers=1)
    twice = zonal_stats(region, [RasterSource(a), RasterSource(copy)], ONES, workers=1)
    assert twice.loc[0, "c_ha"] == once.loc[0, "c_ha"]
    assert "copy_of_a.tif is the same file as a.tif" in twice.attrs["notes"][0]


def test_fraction_out_of_range_refused_with_count_and_range():
    cover = np.array([[10, -5], [120, 50]], dtype=np.float32)  # two cells outside 0-100 %
    src = ArraySource(cover, Affine(1, 0, 0, 0, -1, 2), 4326)
    with pytest.raises(UnitsError, match=r"2 valid cells outside 0…100 .*from -5 to 120"):
        zonal_stats(frame(a=shapely.box(0, 0, 2, 2)), src, LayerSpec("tc", "fraction", "percent"), workers=1)


def test_vrt_with_missing_source_names_the_file(tif, tmp_path):
    a = tif("present.tif", np.ones((2, 2), np.float32), Affine(1, 0, 0, 0, -1, 2))
    vrt = tmp_path / "mosaic.vrt"
    source = ('<SimpleSource><SourceFilename relativeToVRT="1">{}</SourceFilename><SourceBand>1</SourceBand>'
              '<DstRect xOff="{}" yOff="0" xSize="2" ySize="2"/></SimpleSource>')
    vrt.write_text(
        '<VRTDataset rasterXSize="4" rasterYSize="2"><SRS>EPSG:4326</SRS>'
        '<GeoTransform>0, 1, 0, 2, 0, -1</GeoTransform><VRTRasterBand dataType="Float32" band="1">'
        + source.format(a.name, 0) + source.format("gone.tif", 2) + "</VRTRasterBand></VRTDataset>")
    with pytest.raises(RasterReadError, match=r"gone\.tif"):
        RasterSource(vrt)
