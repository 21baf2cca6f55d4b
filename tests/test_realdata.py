"""Real rasters over China from ../shared/realdata (skipped when that folder is absent)."""

import pandas as pd
import pytest

from atlas.regions.boundaries import load_provinces
from atlas.rasters import open_layer
from atlas.rasters.units import CO2_PER_C
from atlas.zonal import zonal_stats

pytestmark = pytest.mark.realdata

NOT_MAINLAND = {710000, 810000, 820000}  # Taiwan, Hong Kong, Macao


@pytest.fixture(scope="module")
def mainland():
    provinces = load_provinces()
    return provinces[~provinces["adcode"].astype(int).isin(NOT_MAINLAND)]


def test_cdiac_2013_fossil_co2_over_mainland(realdata, mainland):
    # CDIAC NDP-058 v2016, tonnes C per 1° cell per year; PROVENANCE.md reports 2683 Tg C
    # inside mainland province polygons. Expect 2.6-2.8 Pg C.
    readers, spec = open_layer(realdata / "cdiac_gridcar" / "cdiac_gridcar_2013_china.tif", kind="amount",
                               units="t C/cell/yr", name="fossil")
    out = zonal_stats(mainland, readers, spec, id_column="adcode")
    pg_c = out["fossil_tco2_per_yr"].sum() / CO2_PER_C / 1e9
    assert 2.6 <= pg_c <= 2.8
    beijing = out.set_index("adcode").loc[110000, "fossil_tco2_per_yr"] / CO2_PER_C / 1e6
    assert 15 < beijing < 40  # Tg C; PROVENANCE.md: 25.2 with other outlines


def test_gpw_2000_population_over_mainland(realdata, mainland):
    readers, spec = open_layer(realdata / "gpw_v4_pop_2000" / "gpw_v4_population_count_rev11_2000_30min_china.tif",
                               kind="amount", units="persons/cell", name="population")
    out = zonal_stats(mainland, readers, spec, id_column="adcode")
    assert 1.1e9 <= out["population_persons"].sum() <= 1.3e9
    # The grid stops at 17°N and Hainan's outline reaches far into the South China Sea (reefs and
    # shoals), so Hainan has a lower valid share; every other province is almost whole.
    assert (out["valid_share"] > 0.8).all()
    assert (out.loc[out["adcode"].astype(int) != 460000, "valid_share"] > 0.95).all()


def test_carbontracker_fossil_flux_density(realdata, mainland):
    # Band 3 = fossil_flux_imp in mol CO2 m-2 s-1: integrated with geodesic cell areas and a
    # Julian year. PROVENANCE.md: +1881 Tg C/yr over mainland polygons.
    readers, spec = open_layer(realdata / "carbontracker_ct2016" / "ct2016_flux1x1_2001-2015mean_china.tif",
                               kind="flux_density", units="mol CO2 m-2 s-1", name="fossil", band=3)
    out = zonal_stats(mainland, readers, spec, id_column="adcode")
    tg_c = out["fossil_tco2_per_yr"].sum() / CO2_PER_C / 1e6
    assert 1700 < tg_c < 2100


def test_build_with_cdiac_emissions(realdata, tmp_path):
    """The published site with raster-derived emissions from a real emissions grid (Guangdong alone:
    each pilot's sum is independent of the others, so one pilot runs the same path)."""
    from atlas.publish.site import external_resources
    from atlas.workflow.config import load_config
    from atlas.workflow.runner import run

    grid = (realdata / "cdiac_gridcar" / "cdiac_gridcar_2013_china.tif").as_posix()
    (tmp_path / "run.toml").write_text(f"""
[run]
out = "out"
[regions]
ids = ["P1-01"]
[emissions]
paths = ["{grid}"]
kind = "amount"
units = "t C/cell/yr"
[site]
publish = true
""", encoding="utf-8")
    run(load_config(tmp_path / "run.toml"))
    out = tmp_path / "out"
    raster = pd.read_csv(out / "data" / "emissions_raster_pilots.csv").set_index("pilot_id")
    raster = raster["value_tco2_per_yr"]
    # Guangdong reported 501 Mt CO2 for 2010 (seed Table 1: 4.8 t × 104.41 M people); CDIAC's
    # 1° grid for 2013 should land in the same few hundred Mt.
    assert 250e6 < raster["P1-01"] < 1000e6
    national = (out / "national.html").read_text(encoding="utf-8")
    assert '"id":"emissions_density"' in national and external_resources(national) == []
