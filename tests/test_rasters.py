"""Product adapters on small files with the products' real names and formats."""

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine

from atlas.errors import GridError, RasterReadError, UnitsError
from atlas.rasters import detect_product, open_layer
from atlas.rasters.units import CO2_PER_C, parse_unit
from atlas.zonal import zonal_stats


def one_region(geom):
    return gpd.GeoDataFrame({"pilot_id": ["r"]}, geometry=[geom], crs=4326)


@pytest.mark.parametrize("text, slug", [
    ("kg CO2 m-2 s-1", "kgco2_m2_s"), ("kg CO2 m⁻² s⁻¹", "kgco2_m2_s"), ("kg CO2/m2/s", "kgco2_m2_s"),
    ("mol CO2 m-2 s-1", "molco2_m2_s"), ("t C per cell per year", "tc_per_cell_yr"), ("%", "pct"),
])
def test_unit_spellings(text, slug):
    # Spellings of one unit give one slug (the suffix of mean columns).
    assert parse_unit(text).slug == slug


def test_unknown_unit():
    with pytest.raises(UnitsError, match="Unknown unit"):
        parse_unit("furlongs per fortnight")
    with pytest.raises(UnitsError, match="Unknown unit"):
        parse_unit("bananas/cell/yr")


def hansen_tile(tif, layer, values, year=2023):
    # A stand-in for a 10°×10° tile named by its upper-left corner 30N_110E: 20-30°N, 110-120°E.
    n = values.shape[0]
    return tif(f"Hansen_GFC-{year}-v1.11_{layer}_30N_110E.tif", values, Affine(10 / n, 0, 110, 0, -10 / n, 30))


def test_hansen_treecover_threshold(tif):
    cover = np.array([[0, 20], [30, 90]], dtype=np.uint8)
    path = hansen_tile(tif, "treecover2000", cover)
    assert detect_product(path) == "hansen"
    readers, spec = open_layer(path)
    assert spec.threshold == 30 and spec.kind.value == "fraction"
    out = zonal_stats(one_region(shapely.box(110, 20, 120, 30)), readers, spec, workers=1)
    from atlas.rasters.cellarea import geographic_row_areas
    rows = geographic_row_areas(readers[0].grid.transform, 2) / 1e4
    # Cells ≥ 30 %: 30 and 90 in the lower row → the whole lower row counts as forest.
    assert out.loc[0, "treecover2000_ge30pct_ha"] == pytest.approx(2 * rows[1], rel=1e-12)
    assert out.loc[0, "treecover2000_ha"] == pytest.approx(0.2 * rows[0] + 1.2 * rows[1], rel=1e-12)


def test_hansen_lossyear_and_mosaic(tif):
    a = hansen_tile(tif, "lossyear", np.array([[0, 1], [23, 0]], dtype=np.uint8))
    b = tif("Hansen_GFC-2023-v1.11_lossyear_30N_120E.tif", np.array([[5, 5], [0, 0]], dtype=np.uint8),
            Affine(5, 0, 120, 0, -5, 30))
    readers, spec = open_layer([a, b])
    assert spec.classes[23] == "loss in 2023"
    out = zonal_stats(one_region(shapely.box(110, 20, 130, 30)), readers, spec, workers=1)
    rows = readers[0].grid.transform
    from atlas.rasters.cellarea import geographic_row_areas
    ha = geographic_row_areas(rows, 2) / 1e4
    assert out.loc[0, "forest_loss_ha"] == pytest.approx(3 * ha[0] + ha[1], rel=1e-12)
    assert out.loc[0, "inside_raster_share"] == pytest.approx(1, abs=1e-3)


def test_hansen_name_must_match_georeferencing(tif):
    path = tif("Hansen_GFC-2023-v1.11_treecover2000_40N_110E.tif", np.zeros((2, 2), np.uint8),
               Affine(5, 0, 110, 0, -5, 30))
    with pytest.raises(GridError, match="named for the corner"):
        open_layer(path)


def test_worldcover_tree_cover(tif):
    codes = np.array([[10, 10, 40], [0, 95, 80], [10, 30, 50]], dtype=np.uint8)
    path = tif("ESA_WorldCover_10m_2021_v200_N30E117_Map.tif", codes, Affine(1, 0, 117, 0, -1, 33))
    readers, spec = open_layer(path)
    out = zonal_stats(one_region(shapely.box(117, 30, 120, 33)), readers, spec, workers=1)
    from atlas.rasters.cellarea import geographic_row_areas
    ha = geographic_row_areas(readers[0].grid.transform, 3) / 1e4
    assert out.loc[0, "forest_ha"] == pytest.approx(2 * ha[0] + ha[2], rel=1e-12)
    assert out.loc[0, "mangroves_ha"] == pytest.approx(ha[1], rel=1e-12)
    assert out.loc[0, "valid_share"] < 1  # code 0 is no data


def test_modis_mcd12c1(tif):
    codes = np.array([[1, 8], [0, 255]], dtype=np.uint8)
    path = tif("MCD12C1.A2019001.006.tif", codes, Affine(0.05, 0, 100, 0, -0.05, 30), nodata=255)
    readers, spec = open_layer(path)
    assert detect_product(path) == "modis" and spec.classes[0] == "water"
    assert "undercount" in spec.caveat
    out = zonal_stats(one_region(shapely.box(100, 29.9, 100.1, 30)), readers, spec, workers=1)
    assert out.loc[0, "forest_ha"] > 0 and out.loc[0, "woody_savanna_ha"] > 0


def test_modis_hdf4_refused_with_way_out(tmp_path):
    path = tmp_path / "MCD12Q1.A2019001.h28v05.006.hdf"
    path.write_bytes(b"\x0e\x03\x13\x01")
    with pytest.raises(RasterReadError, match="HDF4"):
        open_layer(path)


def write_netcdf(path, var, units, values, lat, lon):
    from scipy.io import netcdf_file
    with netcdf_file(path, "w") as nc:
        nc.createDimension("lat", len(lat))
        nc.createDimension("lon", len(lon))
        la = nc.createVariable("lat", "f8", ("lat",))
        la[:] = lat
        la.units = b"degrees_north"
        la.standard_name = b"latitude"
        lo = nc.createVariable("lon", "f8", ("lon",))
        lo[:] = lon
        lo.units = b"degrees_east"
        lo.standard_name = b"longitude"
        v = nc.createVariable(var, "f4", ("lat", "lon"))
        v[:] = values
        v.units = units.encode()
        nc.Conventions = b"CF-1.6"
    return path


def test_edgar_v8_tonnes_per_cell(tmp_path):
    # 0.1° grid, latitude ascending as in EDGAR files; 2 × 2 cells of 1, 2, 3, 4 t CO2.
    lat = np.array([30.05, 30.15])
    lon = np.array([110.05, 110.15])
    path = write_netcdf(tmp_path / "EDGAR_2024_GHG_CO2_2022_TOTALS_emi.nc", "emissions", "Tonnes",
                        np.array([[1, 2], [3, 4]], dtype="f4"), lat, lon)
    readers, spec = open_layer(path)
    assert spec.kind.value == "amount"
    out = zonal_stats(one_region(shapely.box(110, 30, 110.2, 30.2)), readers, spec, workers=1)
    assert out.loc[0, "emissions_tco2_per_yr"] == pytest.approx(10, rel=1e-6)


def test_edgar_flux_file(tmp_path):
    lat, lon = np.array([0.05, 0.15]), np.array([0.05, 0.15])
    path = write_netcdf(tmp_path / "v50_CO2_excl_short-cycle_org_C_2015_TOTALS.0.1x0.1_EDGAR.nc", "emi_co2",
                        "kg m-2 s-1", np.full((2, 2), 1e-9, dtype="f4"), lat, lon)
    readers, spec = open_layer(path, product="edgar")
    assert spec.kind.value == "flux_density"
    out = zonal_stats(one_region(shapely.box(0, 0, 0.1, 0.1)), readers, spec, workers=1)
    from atlas.rasters.cellarea import band_cell_areas
    area = band_cell_areas(np.array([0.1, 0.0]), 0.1)[0]
    assert out.loc[0, "emissions_tco2_per_yr"] == pytest.approx(np.float32(1e-9) * area * 31_557_600 / 1e3,
                                                               rel=1e-6)


def test_odiac_month_and_year(tif):
    month = tif("odiac2022_1km_excl_intl_2101.tif", np.full((2, 2), 3.0), Affine(0.5, 0, 100, 0, -0.5, 30))
    readers, spec = open_layer(month)
    out = zonal_stats(one_region(shapely.box(100, 29, 101, 30)), readers, spec, workers=1)
    # 4 cells × 3 t C per month × 12 months × 44/12 = 528 t CO2 per year.
    assert out.loc[0, "emissions_tco2_per_yr"] == pytest.approx(4 * 3 * 12 * CO2_PER_C)
    year = tif("odiac2022_1km_excl_intl_21.tif", np.stack([np.full((2, 2), 1.0 + m) for m in range(12)]),
               Affine(0.5, 0, 100, 0, -0.5, 30))
    readers, spec = open_layer(year)
    out = zonal_stats(one_region(shapely.box(100, 29, 101, 30)), readers, spec, workers=1)
    # Bands hold 1..12 t C: 78 t C per cell per year, 4 cells, × 44/12.
    assert out.loc[0, "emissions_tco2_per_yr"] == pytest.approx(4 * 78 * CO2_PER_C)


def test_generic_needs_kind_and_units(tif):
    path = tif("my_emissions.tif", np.ones((2, 2)), Affine(1, 0, 0, 0, -1, 2))
    with pytest.raises(UnitsError, match="never guesses"):
        open_layer(path)
    readers, spec = open_layer(path, kind="amount", units="t CO2/cell/yr", name="emissions")
    assert spec.name == "emissions"


def test_corrupt_raster(tmp_path):
    path = tmp_path / "broken.tif"
    path.write_bytes(b"II*\x00garbage" * 10)
    with pytest.raises(RasterReadError, match="Cannot open raster"):
        open_layer(path, kind="amount", units="t CO2/cell/yr")


def test_truncated_raster_block(tmp_path, tif):
    # A valid header whose compressed block data is cut off: the error names the block.
    import rasterio
    big = np.random.default_rng(0).integers(0, 255, (512, 512), dtype=np.uint8)
    path = tmp_path / "cut.tif"
    with rasterio.open(path, "w", driver="GTiff", width=512, height=512, count=1, dtype="uint8",
                       crs="EPSG:4326", transform=Affine(0.01, 0, 100, 0, -0.01, 30), tiled=True,
                       blockxsize=256, blockysize=256, compress="deflate") as ds:
        ds.write(big, 1)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    readers, spec = open_layer(path, kind="amount", units="t CO2/cell/yr")
    with pytest.raises(RasterReadError):
        zonal_stats(one_region(shapely.box(100, 25, 105, 30)), readers, spec, workers=1)


def test_raster_without_crs(tmp_path):
    import rasterio
    path = tmp_path / "nocrs.tif"
    with rasterio.open(path, "w", driver="GTiff", width=2, height=2, count=1, dtype="uint8",
                       transform=Affine(1, 0, 0, 0, -1, 2)) as ds:
        ds.write(np.ones((1, 2, 2), np.uint8))
    with pytest.raises(GridError, match="no coordinate reference system"):
        open_layer(path, kind="amount", units="t CO2/cell/yr")


def test_a_threshold_of_zero_is_kept(tif):
    # threshold 0 used to become the default 30 (`threshold or 30`): every cell with any canopy then counts
    from affine import Affine

    path = tif("Hansen_GFC-2024-v1.12_treecover2000_30N_110E.tif", np.full((4, 4), 5, dtype=np.uint8),
               Affine(0.025, 0, 110, 0, -0.025, 30))
    _, spec = open_layer([path], threshold=0)
    assert spec.threshold == 0


def test_a_damaged_block_is_named_in_one_error(tmp_path):
    # a tiled, DEFLATE-compressed 64 × 64 file whose last tile's bytes are overwritten: reading
    # that block (row 32, column 32) fails with the file and the window named, for every read path
    import rasterio

    from atlas.rasters.layer import RasterSource

    path = tmp_path / "damaged.tif"
    values = np.random.default_rng(0).random((64, 64)).astype("float32")
    with rasterio.open(path, "w", driver="GTiff", width=64, height=64, count=1, dtype="float32", crs="EPSG:4326",
                       transform=Affine(0.1, 0, 100, 0, -0.1, 30), tiled=True, blockxsize=32, blockysize=32,
                       compress="deflate") as ds:
        ds.write(values, 1)
        offset = int(ds.get_tag_item("BLOCK_OFFSET_1_1", "TIFF", bidx=1))
    raw = bytearray(path.read_bytes())
    raw[offset:offset + 64] = b"\xff" * 64
    path.write_bytes(bytes(raw))
    reader = RasterSource(path)
    assert reader.read((0, 0, 32, 32)).shape == (32, 32)  # the intact tile still reads
    for read in (lambda: reader.read((32, 32, 32, 32)), lambda: reader.read_stack((32, 32, 32, 32)),
                 lambda: reader.read_sampled((32, 32, 32, 32), (8, 8))):
        with pytest.raises(RasterReadError, match=r"damaged.tif: (block|window) at row 32, column 32 cannot be decoded"):
            read()
