"""Raster units read by cf-units: hand-worked conversions, species, product conventions."""

import logging

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine
from hypothesis import given
from hypothesis import strategies as st

from atlas.errors import UnitsError
from atlas.rasters import open_layer
from atlas.rasters.layer import ArraySource, LayerSpec
from atlas.rasters.units import CO2_PER_C, QuantityKind, parse_unit
from atlas.zonal import zonal_stats

KM2 = 1e6  # m²


@pytest.mark.parametrize("text, kind, factor", [
    # per-cell amounts → t CO2 per year
    ("t CO2/cell/yr", "amount", 1.0),
    ("kg CO2/cell/yr", "amount", 1e-3),
    ("t C/cell/yr", "amount", 44 / 12),
    # 1 t C per month = 12 t C per year (a month is a twelfth of the Julian year) = 12 × 44/12 = 44 t CO2
    ("t C/cell/month", "amount", 44.0),
    ("tC/cell/month", "amount", 44.0),
    ("kt CO2/cell/yr", "amount", 1e3),  # kilotonne, not UDUNITS' knot
    ("Mt CO2/cell/yr", "amount", 1e6),
    ("Tonnes CO2 per cell per year", "amount", 1.0),
    # flux densities: factor × m² of cell → t CO2 per year
    # 1 kg m-2 s-1 over 1 m² = 31 557 600 kg per Julian year (365.25 × 86 400 s) = 31 557.6 t
    ("kg CO2 m-2 s-1", "flux_density", 31_557.6),
    ("kg C m-2 s-1", "flux_density", 31_557.6 * 44 / 12),
    ("kg CO2 m**-2 s**-1", "flux_density", 31_557.6),
    # 1 mol CO2 = 44.009 g: 31 557 600 mol × 44.009 g = 1 388 818.4 g... ×1e-6 t/g
    ("mol CO2 m-2 s-1", "flux_density", 31_557_600 * 44.009e-6),
    ("mol m-2 s-1", "flux_density", 31_557_600 * 44.009e-6),  # a mole of C is a mole of CO2
    # 1 g C m-2 d-1 → 365.25 g C per m² and year → ×1e-6 t/g × 44/12
    ("g C m-2 d-1", "flux_density", 365.25e-6 * 44 / 12),
    # 1 Mg C ha-1 yr-1 = 1 t C per 10 000 m² and year
    ("Mg C ha-1 yr-1", "flux_density", 1e-4 * 44 / 12),
    ("t CO2/ha/yr", "flux_density", 1e-4),
    ("persons/cell", "amount", 1.0),
    ("persons/km2", "flux_density", 1e-6),
    ("percent", "fraction", 1e-6),  # 1 % of 1 m² = 0.01 m² = 1e-6 ha
])
def test_hand_worked_factors(text, kind, factor):
    unit = parse_unit(text)
    assert unit.kind.value == kind
    assert unit.factor == pytest.approx(factor, rel=1e-12)


def test_one_gram_carbon_per_day_over_a_square_kilometre():
    # 1 g C m-2 d-1 over a 1 km² cell = 1e6 g C/d × 365.25 d = 3.6525e8 g C/yr = 365.25 t C/yr
    # × 44/12 = 1339.25 t CO2/yr.
    assert parse_unit("g C m-2 d-1").factor * KM2 == pytest.approx(1339.25, rel=1e-12)


def test_carbon_conversion_is_said():
    unit = parse_unit("t C/cell/month")
    assert unit.from_carbon and "×44/12" in unit.conversion and "×12" in unit.conversion
    assert not parse_unit("t CO2/cell/yr").from_carbon
    assert "44/12" not in parse_unit("kg CO2 m-2 s-1").conversion


@pytest.mark.parametrize("text", ["kg m-2 s-1", "t/cell/yr", "Mg ha-1 yr-1", "kg/m2/s"])
def test_mass_without_species_refused(text):
    with pytest.raises(UnitsError, match=r"not of what \(carbon or CO2\).*CO2.* or .* C"):
        parse_unit(text)


def test_refusal_names_both_spellings():
    with pytest.raises(UnitsError) as err:
        parse_unit("kg m-2 s-1")
    assert "'kg CO2 m-2 s-1' or 'kg C m-2 s-1'" in str(err.value)


@pytest.mark.parametrize("text, match", [
    ("t C", "a mass without a time"),          # a stock, not a rate
    ("kg CO2 m-2", "a mass without a time"),
    ("t C/cell", "a mass without a time|per cell but not"),
    ("m s-1", "Unknown unit"),
    ("kg CO2 C m-2 s-1", "two species"),
    ("persons/m", "not per cell or per area"),
])
def test_other_refusals(text, match):
    with pytest.raises(UnitsError, match=match):
        parse_unit(text)


def test_kind_mismatch_refused():
    with pytest.raises(UnitsError, match="is a flux_density, but the layer is declared amount"):
        parse_unit("kg CO2 m-2 s-1", QuantityKind.AMOUNT)


PREFIXES = {"g": 1e-6, "kg": 1e-3, "t": 1.0, "Mg": 1.0, "Gg": 1e3, "Tg": 1e6}
TIMES = {"s": 86400 * 365.25, "d": 365.25, "day": 365.25, "month": 12.0, "yr": 1.0, "year": 1.0}
AREAS = {"m-2": 1.0, "km-2": 1e-6, "ha-1": 1e-4}


@given(st.sampled_from(sorted(PREFIXES)), st.sampled_from(sorted(TIMES)), st.sampled_from(sorted(AREAS)))
def test_flux_factor_is_product_of_parts(mass, time, area):
    # Invariant: a flux factor is (t per mass unit) × (time units per year) × (m² per area unit)⁻¹,
    # and carbon is CO2 × 44/12 exactly, whatever the spelling.
    co2 = parse_unit(f"{mass} CO2 {area} {time}-1")
    c = parse_unit(f"{mass} C/{area.replace('-1', '').replace('-2', '2')}/{time}")
    expected = PREFIXES[mass] * TIMES[time] * AREAS[area]
    assert co2.factor == pytest.approx(expected, rel=1e-12)
    assert c.factor == pytest.approx(expected * CO2_PER_C, rel=1e-12)


def one_region(geom):
    return gpd.GeoDataFrame({"pilot_id": ["r"]}, geometry=[geom], crs=4326)


def test_zonal_table_and_log_say_the_carbon_conversion(caplog):
    # 2 × 2 cells of 1 t C per cell per month: 4 × 12 × 44/12 = 176 t CO2 per year.
    src = ArraySource(np.ones((2, 2)), Affine(0.5, 0, 100, 0, -0.5, 30), 4326)
    spec = LayerSpec("fossil", "amount", "t C/cell/month")
    with caplog.at_level(logging.INFO, logger="atlas.zonal.engine"):
        out = zonal_stats(one_region(shapely.box(100, 29, 101, 30)), src, spec, workers=1)
    assert out.loc[0, "fossil_tco2_per_yr"] == pytest.approx(176.0, rel=1e-12)
    assert "×44/12" in out.attrs["conversions"]["fossil_tco2_per_yr"]
    assert any("×44/12" in r.getMessage() for r in caplog.records)


def write_netcdf(path, var, units, values):
    from scipy.io import netcdf_file
    with netcdf_file(path, "w") as nc:
        nc.createDimension("lat", 2)
        nc.createDimension("lon", 2)
        for name, vals, unit, std in (("lat", [30.05, 30.15], b"degrees_north", b"latitude"),
                                      ("lon", [110.05, 110.15], b"degrees_east", b"longitude")):
            v = nc.createVariable(name, "f8", (name,))
            v[:], v.units, v.standard_name = vals, unit, std
        v = nc.createVariable(var, "f4", ("lat", "lon"))
        v[:] = values
        v.units = units.encode()
        nc.Conventions = b"CF-1.6"
    return path


@pytest.mark.parametrize("units, kind, total", [
    ("Tonnes", "amount", 10.0),               # v8: t CO2 per cell per year
    ("kg/yr", "amount", 10.0e-3),             # a mass per year per cell, CO2 by the product
    ("Mg CO2", "amount", 10.0),
])
def test_edgar_units_read(tmp_path, units, kind, total):
    path = write_netcdf(tmp_path / "EDGAR_2024_GHG_CO2_2022_TOTALS_emi.nc", "emissions", units,
                        np.array([[1, 2], [3, 4]], dtype="f4"))
    readers, spec = open_layer(path)
    assert spec.kind.value == kind and spec.unit.species == "CO2"
    out = zonal_stats(one_region(shapely.box(110, 30, 110.2, 30.2)), readers, spec, workers=1)
    assert out.loc[0, "emissions_tco2_per_yr"] == pytest.approx(total, rel=1e-6)


@pytest.mark.parametrize("units, said", [
    ("kg C m-2 s-1", "C mass"), ("mol m-2 s-1", "mol"), ("Tonnes m-2", "mass without a time"),
    ("", "no units attribute"), ("degC", "Unknown unit"),
])
def test_edgar_other_units_refused(tmp_path, units, said):
    path = write_netcdf(tmp_path / "EDGAR_2024_GHG_CO2_2022_TOTALS_emi.nc", "emissions", units,
                        np.ones((2, 2), dtype="f4"))
    with pytest.raises(UnitsError, match=said) as err:
        open_layer(path)
    if units:
        assert repr(units) in str(err.value)  # the units found are named


def odiac_with_units(tif, units):
    import rasterio
    path = tif("odiac2022_1km_excl_intl_2101.tif", np.full((2, 2), 3.0), Affine(0.5, 0, 100, 0, -0.5, 30))
    with rasterio.open(path, "r+") as ds:
        ds.update_tags(units=units)
    return path


@pytest.mark.parametrize("units", ["t C/cell/month", "tonne C", "Mg C cell-1 month-1"])
def test_odiac_units_tag_accepted(tif, units):
    readers, spec = open_layer(odiac_with_units(tif, units))
    out = zonal_stats(one_region(shapely.box(100, 29, 101, 30)), readers, spec, workers=1)
    # 4 cells × 3 t C per month × 12 × 44/12 = 528 t CO2 per year.
    assert out.loc[0, "emissions_tco2_per_yr"] == pytest.approx(528.0, rel=1e-12)


@pytest.mark.parametrize("units", ["t CO2/cell/month", "t C/cell/yr", "kg C m-2 s-1", "metres"])
def test_odiac_other_units_refused(tif, units):
    with pytest.raises(UnitsError, match="ODIAC's 't C/cell/month'") as err:
        open_layer(odiac_with_units(tif, units))
    assert repr(units) in str(err.value)


def test_odiac_series_keeps_the_nodata_and_name_given(tif):
    # two monthly files read as a series: 3 and 5 t C per cell, one cell of the second month marked
    # -1 (the nodata given). 4 cells × 3 × 12 × 44/12 = 528 t CO2/yr; the second month's 3 valid
    # cells × 5 × 12 × 44/12 = 660. (The series path used to drop --nodata and --name.)
    a = tif("odiac2022_1km_excl_intl_2101.tif", np.full((2, 2), 3.0), Affine(0.5, 0, 100, 0, -0.5, 30))
    b = tif("odiac2022_1km_excl_intl_2102.tif", np.array([[5.0, 5.0], [5.0, -1.0]]), Affine(0.5, 0, 100, 0, -0.5, 30))
    readers, spec = open_layer([a, b], series=True, nodata=-1.0, name="fossil")
    assert spec.nodata == -1.0 and spec.name == "fossil" and spec.caveat == "ODIAC: each month apart, annualised ×12"
    out = zonal_stats(one_region(shapely.box(100, 29, 101, 30)), readers, spec, workers=1)
    assert out["fossil_tco2_per_yr"].tolist() == pytest.approx([528.0, 660.0], rel=1e-12)
