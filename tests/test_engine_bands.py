"""Every band in one pass: stacks of bands, series of files, NetCDF time axes, statistics."""

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine

from atlas.errors import GridError, UnitsError
from atlas.rasters import open_layer, parse_bands
from atlas.rasters.filemeta import decode_cf_times
from atlas.rasters.layer import ArraySource, LayerSpec
from atlas.zonal import zonal_stats

T = Affine(0.5, 0, 100, 0, -0.5, 40)  # 0.5° cells from 100°E, 40°N
FLUX = LayerSpec("e", "flux_density", "kg CO2 m-2 s-1")


def regions():
    return gpd.GeoDataFrame({"pilot_id": ["a", "b"]}, geometry=[
        shapely.Point(105, 35).buffer(3.3), shapely.box(101.2, 30.3, 108.9, 38.1)], crs=4326)


@pytest.fixture
def twelve(tif):
    data = np.random.default_rng(5).uniform(0, 1e-9, (12, 24, 30)).astype("float32")
    data[3, 5, 7] = -9999.0  # one nodata cell in April only
    return data, tif("series.tif", data, T, nodata=-9999.0)


def test_band_all_equals_twelve_single_band_calls(twelve):
    data, path = twelve
    readers, spec = open_layer(path, kind="flux_density", units="kg CO2 m-2 s-1", bands="all", name="e")
    stacked = zonal_stats(regions(), readers, spec, workers=1)
    assert len(stacked) == 24 and list(stacked["band"].iloc[:12]) == [str(b) for b in range(1, 13)]
    for b in (1, 4, 12):
        r1, s1 = open_layer(path, kind="flux_density", units="kg CO2 m-2 s-1", band=b, name="e")
        single = zonal_stats(regions(), r1, s1, workers=1).set_index("pilot_id")
        rows = stacked[stacked["band"] == str(b)].set_index("pilot_id")
        for col in ("e_tco2_per_yr", "valid_area_ha", "e_mean_kgco2_m2_s"):
            np.testing.assert_allclose(rows[col], single[col], rtol=1e-13)
    april = stacked[stacked["band"] == "4"].set_index("pilot_id")
    march = stacked[stacked["band"] == "3"].set_index("pilot_id")
    assert (april["valid_area_ha"] <= march["valid_area_ha"]).all()  # the nodata cell is excluded in April only


def test_series_of_files_equals_the_stack(tif, twelve):
    data, path = twelve
    files = [tif(f"m{m:02d}.tif", data[m], T, nodata=-9999.0) for m in range(3)]
    series, spec = open_layer(files, kind="flux_density", units="kg CO2 m-2 s-1", series=True, name="e")
    stack, _ = open_layer(path, kind="flux_density", units="kg CO2 m-2 s-1", bands="1-3", name="e")
    a = zonal_stats(regions(), series, spec, workers=1)
    b = zonal_stats(regions(), stack, spec, workers=1)
    assert list(a["band"].iloc[:3]) == ["m00", "m01", "m02"]
    np.testing.assert_array_equal(a["e_tco2_per_yr"], b["e_tco2_per_yr"])


def test_series_on_another_grid_refused(tif):
    a = tif("a.tif", np.ones((4, 4), np.float32), T)
    b = tif("b.tif", np.ones((4, 4), np.float32), Affine(0.25, 0, 100, 0, -0.25, 40))
    with pytest.raises(GridError, match="b.tif is on another grid"):
        open_layer([a, b], kind="amount", units="t CO2/cell/yr", series=True)


def test_threads_and_serial_agree_on_a_stack():
    cube = np.random.default_rng(2).uniform(0, 5, (4, 60, 70))
    src = ArraySource(cube, T, 4326, block_shape=(16, 16))
    spec = LayerSpec("v", "amount", "t CO2/cell/yr")
    assert zonal_stats(regions(), src, spec, workers=1).equals(zonal_stats(regions(), src, spec, workers=3))


def test_parse_bands():
    assert parse_bands("1-3,7") == (1, 2, 3, 7)
    assert parse_bands("ALL") == "all"
    with pytest.raises(UnitsError, match="cannot be read"):
        parse_bands("jan-dec")


def test_cf_time_units_decoded():
    assert decode_cf_times([0, 31, 59.5], "days since 2000-01-01") == ["2000-01-01", "2000-02-01",
                                                                       "2000-02-29T12:00:00"]
    assert decode_cf_times([24], "hours since 1990-06-30 00:00:00") == ["1990-07-01"]


def test_netcdf_time_axis_gives_a_time_column(tmp_path):
    from scipy.io import netcdf_file

    path = tmp_path / "flux_monthly.nc"
    with netcdf_file(path, "w") as nc:
        nc.createDimension("time", 3)
        nc.createDimension("lat", 4)
        nc.createDimension("lon", 4)
        t = nc.createVariable("time", "f8", ("time",))
        t[:] = [14.5, 45.0, 74.5]
        t.units = b"days since 2021-01-01 00:00:00"
        t.calendar = b"standard"
        la = nc.createVariable("lat", "f8", ("lat",))
        la[:] = [30.25, 30.75, 31.25, 31.75]
        la.units = b"degrees_north"
        la.standard_name = b"latitude"
        lo = nc.createVariable("lon", "f8", ("lon",))
        lo[:] = [110.25, 110.75, 111.25, 111.75]
        lo.units = b"degrees_east"
        lo.standard_name = b"longitude"
        v = nc.createVariable("flux", "f4", ("time", "lat", "lon"))
        v[:] = np.stack([np.full((4, 4), m + 1.0, "f4") for m in range(3)])
        v.units = b"t CO2/cell/yr"
        v.grid_mapping = b"crs"
        gm = nc.createVariable("crs", "i4", ())
        gm.grid_mapping_name = b"latitude_longitude"
        gm.semi_major_axis = 6378137.0
        gm.inverse_flattening = 298.257223563
        nc.Conventions = b"CF-1.6"
    readers, spec = open_layer(path, kind="amount", units="t CO2/cell/yr", bands="all")
    region = gpd.GeoDataFrame({"pilot_id": ["r"]}, geometry=[shapely.box(110, 30, 112, 32)], crs=4326)
    out = zonal_stats(region, readers, spec, workers=1)
    assert list(out["time"]) == ["2021-01-15T12:00:00", "2021-02-15", "2021-03-16T12:00:00"]
    # 16 cells of 1, 2, 3 t CO2 each.
    np.testing.assert_allclose(out["value_tco2_per_yr"], [16, 32, 48], rtol=1e-12)


def test_stats_hand_worked():
    # Cells 1, 2 / 3, 4 (1° cells at the equator); the region covers the left column whole and
    # the right column's cells half (by area): shares c = 1, ½, 1, ½ (the cut is a meridian).
    src = ArraySource(np.array([[1.0, 2.0], [3.0, 4.0]]), Affine(1, 0, 0, 0, -1, 1), 4326)
    region = gpd.GeoDataFrame({"pilot_id": ["r"]}, geometry=[shapely.box(0, -1, 1.5, 1)], crs=4326)
    out = zonal_stats(region, src, LayerSpec("v", "amount", "t CO2/cell/yr"), workers=1,
                      stats="count,sum,mean,std,min,max,median,p90,majority").iloc[0]
    assert out["v_count"] == pytest.approx(3.0)
    assert out["v_sum"] == pytest.approx(1 + 1 + 3 + 2)  # 1 + ½·2 + 3 + ½·4
    assert out["v_mean"] == pytest.approx(7 / 3)
    assert out["v_std"] == pytest.approx(np.sqrt((1 + 0.5 * 4 + 9 + 0.5 * 16) / 3 - (7 / 3) ** 2))
    assert (out["v_min"], out["v_max"]) == (1.0, 4.0)
    # Sorted 1 (c 1), 2 (½), 3 (1), 4 (½): cumulative 1, 1.5, 2.5, 3; half of 3 is reached at 2.
    assert out["v_median"] == 2.0 and out["v_p90"] == 4.0
    assert out["v_majority"] == 1.0  # 1 and 3 tie at c = 1: the smaller


def test_unknown_statistic_refused():
    src = ArraySource(np.ones((2, 2)), Affine(1, 0, 0, 0, -1, 1), 4326)
    region = gpd.GeoDataFrame({"pilot_id": ["r"]}, geometry=[shapely.box(0, -1, 1, 1)], crs=4326)
    with pytest.raises(UnitsError, match="Unknown statistics"):
        zonal_stats(region, src, LayerSpec("v", "amount", "t CO2/cell/yr"), stats="mode")


def test_mean_equals_exactextract(tif):
    # exactextract's mean is Σ c·v / Σ c with planar c; with every boundary on a meridian or
    # a cell edge the planar and ellipsoidal shares coincide, so the means must agree exactly.
    exactextract = pytest.importorskip("exactextract")
    values = np.random.default_rng(9).uniform(0, 100, (20, 20)).astype("float64")
    path = tif("values.tif", values, Affine(0.1, 0, 110, 0, -0.1, 32))
    region = gpd.GeoDataFrame({"pilot_id": ["r"]}, geometry=[shapely.box(110.25, 30.5, 111.35, 31.8)], crs=4326)
    readers, spec = open_layer(path, kind="amount", units="t CO2/cell/yr")
    ours = zonal_stats(region, readers, spec, workers=1, stats="mean").loc[0, "value_mean"]
    theirs = exactextract.exact_extract(str(path), region, "mean", output="pandas")["mean"].iloc[0]
    assert ours == pytest.approx(theirs, rel=1e-12)
    # With an edge across cells along a parallel the shares differ a little (ellipsoid vs plane).
    tilted = gpd.GeoDataFrame({"pilot_id": ["t"]}, geometry=[shapely.Polygon(
        [(110.23, 30.41), (111.77, 30.58), (111.52, 31.93)])], crs=4326)
    ours = zonal_stats(tilted, readers, spec, workers=1, stats="mean").loc[0, "value_mean"]
    theirs = exactextract.exact_extract(str(path), tilted, "mean", output="pandas")["mean"].iloc[0]
    assert ours == pytest.approx(theirs, rel=1e-4)
