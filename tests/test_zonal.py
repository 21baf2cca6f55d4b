"""The zonal engine on hand-worked tiny rasters."""

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st

from atlas.rasters.cellarea import band_cell_areas, geographic_row_areas
from atlas.errors import BoundaryError, CRSMismatchError, GridError, UnitsError
from atlas.rasters.layer import ArraySource, LayerSpec
from atlas.zonal import zonal_stats

AMOUNT = LayerSpec("emissions", "amount", "t CO2/cell/yr")
ONE_DEG = Affine(1, 0, 0, 0, -1, 3)  # 3×3 one-degree cells, 0-3°E, 0-3°N


def regions(**geoms):
    return gpd.GeoDataFrame({"pilot_id": list(geoms)}, geometry=list(geoms.values()), crs=4326)


def grid_3x3(values=None, **kw):
    values = np.arange(1, 10, dtype=float).reshape(3, 3) if values is None else values
    return ArraySource(values, ONE_DEG, 4326, block_shape=(2, 2), **kw)


def test_partial_cells_per_cell_amount():
    # Values 1..9 row by row; square 0.5-2.5°. In the planar reading corners 1, 3, 7, 9 are a
    # quarter in, edges half in, the centre whole: 0.25·20 + 0.5·20 + 5 = 20 t CO2 (the old
    # assertion). On the ellipsoid the share of a cell is its share of the cell's *area*: of the
    # top row (2-3°N) the part 2-2.5°N holds (Z(2.5)-Z(2))/(Z(3)-Z(2)) = 0.500 0927, of the
    # bottom row (0-1°N) the part 0.5-1°N holds (Z(1)-Z(0.5))/(Z(1)-Z(0)) = 0.499 9815
    # (Z: zone area from the equator). Columns are cut at half a degree of longitude: 0.5.
    from atlas.rasters.cellarea import zone_area
    z = zone_area(np.array([0, 0.5, 1, 2, 2.5, 3.0]))
    top, bottom = (z[4] - z[3]) / (z[5] - z[3]), (z[2] - z[1]) / (z[2] - z[0])
    expected = top * (0.5 * 1 + 2 + 0.5 * 3) + (0.5 * 4 + 5 + 0.5 * 6) + bottom * (0.5 * 7 + 8 + 0.5 * 9)
    assert top > 0.5 > bottom
    out = zonal_stats(regions(sq=shapely.box(0.5, 0.5, 2.5, 2.5)), grid_3x3(), AMOUNT, workers=1)
    assert out.loc[0, "emissions_tco2_per_yr"] == pytest.approx(expected, rel=1e-12)
    assert out.loc[0, "emissions_tco2_per_yr"] != pytest.approx(20.0, rel=1e-6)
    assert out.loc[0, "status"] == "ok"


def test_nested_and_overlapping_regions_are_independent():
    # "province" = whole grid (sum 45); "city" = the centre cell (5) inside it; an overlapping
    # strip over the right column (3 + 6 + 9 = 18). Each is summed on its own.
    r = regions(province=shapely.box(0, 0, 3, 3), city=shapely.box(1, 1, 2, 2), strip=shapely.box(2, 0, 3, 3))
    out = zonal_stats(r, grid_3x3(), AMOUNT, workers=1).set_index("pilot_id")
    assert out["emissions_tco2_per_yr"].to_dict() == pytest.approx({"province": 45, "city": 5, "strip": 18})


def test_geodesic_cell_areas_at_two_latitudes():
    # One 1°×1° cell at the equator and one at 60°N; ellipsoidal band areas
    # (WGS84): 12,308.46 km² and 6,123.14 km² (pyproj.Geod on a densified outline agrees to 1e-11),
    # about half the equator cell (cos 60.5° = 0.49), not
    # equal as "degrees squared" would make them.
    eq = band_cell_areas(np.array([1.0, 0.0]), 1.0)[0]
    north = band_cell_areas(np.array([61.0, 60.0]), 1.0)[0]
    assert eq / 1e6 == pytest.approx(12308.46, rel=1e-5)
    assert north / 1e6 == pytest.approx(6123.1409, rel=1e-7)
    ones = ArraySource(np.ones((1, 1)), Affine(1, 0, 0, 0, -1, 61), 4326)
    out = zonal_stats(regions(a=shapely.box(0, 60, 1, 61)), ones, LayerSpec("cover", "fraction", "fraction"),
                      workers=1)
    assert out.loc[0, "cover_ha"] == pytest.approx(north / 1e4, rel=1e-12)


def test_flux_density_integrates_area_and_time():
    # 1 kg CO2 m-2 s-1 over one equatorial 1° cell: 12,308.46 km² × 1e6 m²/km² × 31,557,600 s
    # / 1000 kg/t = 3.884e17 t CO2 per year.
    src = ArraySource(np.ones((1, 1)), Affine(1, 0, 0, 0, -1, 1), 4326)
    out = zonal_stats(regions(a=shapely.box(0, 0, 1, 1)), src, LayerSpec("e", "flux_density", "kg m-2 s-1"
                                                                         .replace("kg", "kg CO2")), workers=1)
    area = band_cell_areas(np.array([1.0, 0.0]), 1.0)[0]
    assert out.loc[0, "e_tco2_per_yr"] == pytest.approx(area * 31_557_600 / 1000, rel=1e-12)


def test_nodata_excluded_and_reported():
    values = np.arange(1, 10, dtype=float).reshape(3, 3)
    values[0, 0] = -9999  # top-left cell
    out = zonal_stats(regions(all=shapely.box(0, 0, 3, 3)), grid_3x3(values, nodata=-9999), AMOUNT, workers=1)
    assert out.loc[0, "emissions_tco2_per_yr"] == pytest.approx(44)  # 45 − 1
    rows = geographic_row_areas(ONE_DEG, 3)
    # The outline area is measured on a densified outline (0.01° steps): agreement to ~1e-9.
    assert out.loc[0, "valid_share"] == pytest.approx(1 - rows[0] / (3 * rows.sum()), rel=1e-7)


def test_all_nodata_window():
    out = zonal_stats(regions(a=shapely.box(0, 0, 1, 1)), grid_3x3(np.full((3, 3), -1.0), nodata=-1.0), AMOUNT,
                      workers=1)
    assert out.loc[0, "status"] == "no valid data"
    assert np.isnan(out.loc[0, "emissions_tco2_per_yr"])


def test_region_partly_and_wholly_outside():
    r = regions(half=shapely.box(2, 0, 4, 3), away=shapely.box(50, 50, 51, 51))
    out = zonal_stats(r, grid_3x3(), AMOUNT, workers=1).set_index("pilot_id")
    assert out.loc["half", "emissions_tco2_per_yr"] == pytest.approx(18)
    assert out.loc["half", "inside_raster_share"] == pytest.approx(0.5, rel=1e-3)
    assert out.loc["half", "status"] == "partly outside raster"
    assert out.loc["away", "status"] == "outside raster"
    assert out.loc["away", "inside_raster_share"] == 0


def test_projected_raster_with_geographic_outlines():
    # A 4×4 raster of 100 km cells in an equal-area projection (EPSG:6933, cylindrical equal
    # area): each cell is exactly 1e10 m² = 1e6 ha. A lon/lat outline is transformed to the
    # raster's CRS; the raster is not resampled.
    from pyproj import Transformer
    t = Affine(100_000, 0, 0, 0, -100_000, 400_000)
    src = ArraySource(np.ones((4, 4)), t, 6933)
    to_ll = Transformer.from_crs(6933, 4326, always_xy=True)
    x0, y0 = to_ll.transform(100_000, 100_000)
    x1, y1 = to_ll.transform(300_000, 300_000)
    out = zonal_stats(regions(a=shapely.box(x0, y0, x1, y1)), src, LayerSpec("c", "fraction", "fraction"),
                      workers=1)
    # Straight lon/lat edges become very slightly curved in the projection: 4 cells ≈ 4e6 ha.
    assert out.loc[0, "c_ha"] == pytest.approx(4e6, rel=1e-4)


def test_class_areas_with_groups():
    codes = np.array([[1, 1, 8], [2, 0, 8], [5, 255, 12]], dtype=np.uint8)
    src = ArraySource(codes, ONE_DEG, 4326, nodata=255)
    spec = LayerSpec("igbp", "classes", "class", groups={"forest": (1, 2, 3, 4, 5), "woody_savanna": (8,)})
    out = zonal_stats(regions(all=shapely.box(0, 0, 3, 3)), src, spec, workers=1)
    rows = geographic_row_areas(ONE_DEG, 3) / 1e4  # ha per cell in each row
    assert out.loc[0, "forest_ha"] == pytest.approx(2 * rows[0] + rows[1] + rows[2], rel=1e-12)
    assert out.loc[0, "woody_savanna_ha"] == pytest.approx(rows[0] + rows[1], rel=1e-12)
    assert out.loc[0, "class_12_ha"] == pytest.approx(rows[2], rel=1e-12)
    assert "class_255_ha" not in out


def test_threshold_counts_cells_at_or_above():
    cover = np.array([[10, 30], [50, 0]], dtype=np.uint8)
    src = ArraySource(cover, Affine(1, 0, 0, 0, -1, 2), 4326)
    out = zonal_stats(regions(a=shapely.box(0, 0, 2, 2)), src, LayerSpec("tc", "fraction", "percent", threshold=30),
                      workers=1)
    rows = geographic_row_areas(Affine(1, 0, 0, 0, -1, 2), 2) / 1e4
    assert out.loc[0, "tc_ge30pct_ha"] == pytest.approx(rows[0] + rows[1], rel=1e-12)  # 30 and 50
    assert out.loc[0, "tc_ha"] == pytest.approx(0.4 * rows[0] + 0.5 * rows[1], rel=1e-12)


def test_threaded_equals_serial_bitwise():
    rng = np.random.default_rng(3)
    src = ArraySource(rng.uniform(0, 100, (60, 80)), Affine(0.05, 0, 100, 0, -0.05, 40), 4326, block_shape=(7, 9))
    r = regions(a=shapely.Point(101, 39).buffer(0.8), b=shapely.Point(102.5, 38.5).buffer(1.0))
    serial = zonal_stats(r, src, AMOUNT, workers=1)
    threaded = zonal_stats(r, src, AMOUNT, workers=4)
    assert serial.equals(threaded)


@settings(max_examples=25, deadline=None)
@given(cut=st.floats(0.05, 0.95), seed=st.integers(0, 1000))
def test_splitting_a_region_conserves_its_sums(cut, seed):
    rng = np.random.default_rng(seed)
    src = ArraySource(rng.uniform(0, 10, (20, 20)), Affine(0.1, 0, 110, 0, -0.1, 32), 4326, block_shape=(6, 6))
    whole = shapely.Point(111, 31).buffer(0.7)
    x = 110.3 + cut * 1.4
    left = whole.intersection(shapely.box(100, 0, x, 90))
    right = whole.intersection(shapely.box(x, 0, 120, 90))
    out = zonal_stats(regions(whole=whole, left=left, right=right), src, AMOUNT, workers=1).set_index("pilot_id")
    col = "emissions_tco2_per_yr"
    assert out.loc["left", col] + out.loc["right", col] == pytest.approx(out.loc["whole", col], rel=1e-9)
    assert out.loc["left", "covered_area_ha"] + out.loc["right", "covered_area_ha"] == pytest.approx(
        out.loc["whole", "covered_area_ha"], rel=1e-9)


def test_unknown_kind_refused():
    with pytest.raises(UnitsError, match="unknown quantity kind"):
        LayerSpec("x", "mass", "t")


def test_mismatched_units_refused():
    with pytest.raises(UnitsError, match="is a flux_density, but the layer is declared amount"):
        LayerSpec("x", "amount", "kg CO2 m-2 s-1")


def test_rotated_grid_refused():
    with pytest.raises(GridError, match="rotated"):
        ArraySource(np.ones((2, 2)), Affine(1, 0.1, 0, 0.1, -1, 2), 4326)


@pytest.mark.parametrize("workers", [1, 2])  # checked before the work, or beside it on threads
def test_invalid_or_empty_regions_refused(workers):
    bow = shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
    with pytest.raises(BoundaryError, match="Invalid outlines for regions \\['bow'\\]"):
        zonal_stats(regions(bow=bow), grid_3x3(), AMOUNT, workers=workers)
    with pytest.raises(BoundaryError, match="Empty"):
        zonal_stats(regions(e=shapely.Polygon()), grid_3x3(), AMOUNT)


def test_regions_without_crs_refused():
    r = gpd.GeoDataFrame({"pilot_id": ["a"]}, geometry=[shapely.box(0, 0, 1, 1)])
    with pytest.raises(CRSMismatchError, match="no CRS"):
        zonal_stats(r, grid_3x3(), AMOUNT)


def test_utm_raster_uses_true_cell_areas():
    # UTM is conformal, not equal-area: a 1 km cell near the zone's edge holds more or less
    # than 1 km² on the ellipsoid. The engine divides by the areal scale factor k² from pyproj.
    from atlas.rasters.cellarea import areal_scale
    t = Affine(1000, 0, 200_000, 0, -1000, 3_500_000)  # EPSG:32650, 300 km west of the meridian
    src = ArraySource(np.ones((2, 2)), t, 32650)
    from pyproj import Transformer
    to_ll = Transformer.from_crs(32650, 4326, always_xy=True)
    corners = [to_ll.transform(x, y) for x, y in [(200_000, 3_498_000), (202_000, 3_498_000),
                                                  (202_000, 3_500_000), (200_000, 3_500_000)]]
    out = zonal_stats(regions(a=shapely.Polygon(corners)), src, LayerSpec("c", "fraction", "fraction"), workers=1)
    k2 = areal_scale(src.grid.crs, np.array([201_000.0]), np.array([3_499_000.0]))[0]
    assert k2 > 1.0005  # far from the central meridian the map enlarges areas
    assert out.loc[0, "c_ha"] == pytest.approx(4 * 100 / k2, rel=1e-4)
