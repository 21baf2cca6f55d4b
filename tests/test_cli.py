"""The `atlas` command through click's CliRunner."""

import json
import shutil

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from affine import Affine
from click.testing import CliRunner

from atlas.cli import cli


@pytest.fixture
def run():
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return invoke


def test_regions_batch3_csv_lists_45(run):
    res = run("regions", "--batch", 3, "--format", "csv")
    assert res.exit_code == 0
    table = pd.read_csv(pd.io.common.StringIO(res.output))
    assert len(table) == 45
    assert {"pilot_id", "adcode", "outline_area_km2", "land_area_km2"} <= set(table.columns)


def test_regions_all_87_with_outlines(run, tmp_path):
    out = tmp_path / "all.gpkg"
    res = run("regions", "--format", "gpkg", "-o", out)
    assert res.exit_code == 0, res.output
    frame = gpd.read_file(out)
    assert len(frame) == 87 and frame.geometry.is_valid.all() and not frame.geometry.is_empty.any()


def test_regions_geojson_and_province_filter(run):
    res = run("regions", "--province", "广东", "--format", "geojson")
    data = json.loads(res.output)
    names = {f["properties"]["name_zh"] for f in data["features"]}
    assert {"广东省", "深圳市", "广州市", "中山市"} <= names


def test_existing_output_needs_overwrite(run, tmp_path):
    out = tmp_path / "b1.csv"
    out.write_text("keep me", encoding="utf-8")
    res = CliRunner().invoke(cli, ["regions", "--batch", "1", "--format", "csv", "-o", str(out)])
    assert res.exit_code == 2 and "already exists" in res.output and "--overwrite" in res.output
    assert out.read_text(encoding="utf-8") == "keep me"
    assert run("regions", "--batch", 1, "--format", "csv", "-o", out, "--overwrite").exit_code == 0
    assert len(pd.read_csv(out)) == 13


def test_unknown_batch_is_a_usage_error():
    res = CliRunner().invoke(cli, ["regions", "--batch", "4"])
    assert res.exit_code == 2 and "4" in res.output


def test_gpkg_to_stdout_refused():
    res = CliRunner().invoke(cli, ["regions", "--format", "gpkg"])
    assert res.exit_code == 2 and "-o FILE.gpkg" in res.output


def south_china(tif, name, values, **kw):
    """A raster over 20-30°N, 110-120°E (Shenzhen, Xiamen, Nanchang… lie inside)."""
    n = values.shape[-1]
    return tif(name, values, Affine(10 / n, 0, 110, 0, -10 / n, 30), **kw)


@pytest.mark.parametrize("name, dtype, extra, column", [
    ("Hansen_GFC-2023-v1.11_treecover2000_30N_110E.tif", np.uint8, [], "treecover2000_ge30pct_ha"),
    ("Hansen_GFC-2023-v1.11_lossyear_30N_110E.tif", np.uint8, [], "forest_loss_ha"),
    ("MCD12C1.A2019001.006.tif", np.uint8, [], "forest_ha"),
    ("odiac2022_1km_excl_intl_2101.tif", np.float32, [], "emissions_tco2_per_yr"),
    ("generic.tif", np.float32, ["--kind", "flux_density", "--units", "kg CO2 m-2 s-1"], "value_tco2_per_yr"),
])
def test_zonal_on_product_fixtures(run, tif, tmp_path, name, dtype, extra, column):
    rng = np.random.default_rng(0)
    values = rng.integers(1, 6, (40, 40)).astype(dtype)
    if "treecover" in name:
        values = values * 20  # 20-100 % canopy: most cells pass the 30 % threshold
    path = south_china(tif, name, values)
    out = tmp_path / "out.csv"
    res = run("zonal", path, "--id", "P1-08", "--id", "P1-09", "--id", "P1-11", *extra, "-o", out, "--workers", 1)
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out)
    assert list(table["pilot_id"]) == ["P1-08", "P1-09", "P1-11"]
    assert (table[column] > 0).all() and (table["status"] == "ok").all()


def test_zonal_worldcover_fixture(run, tif, tmp_path):
    # A 3° tile named by its lower-left corner N21E113 covers 21-24°N, 113-116°E (Shenzhen).
    codes = np.full((30, 30), 10, np.uint8)
    path = tif("ESA_WorldCover_10m_2021_v200_N21E113_Map.tif", codes, Affine(0.1, 0, 113, 0, -0.1, 24))
    out = tmp_path / "wc.parquet"
    res = run("zonal", path, "--id", "P1-08", "-o", out)
    assert res.exit_code == 0, res.output
    table = gpd.read_parquet(out)
    # All tree cover: forest ≈ Shenzhen's land inside the tile, and at most the outline.
    assert 0 < table.loc[0, "forest_ha"] <= table.loc[0, "region_area_ha"] * (1 + 1e-9)


def test_zonal_generic_without_kind_fails_cleanly(tif):
    path = south_china(tif, "mystery.tif", np.ones((4, 4), np.float32))
    res = CliRunner().invoke(cli, ["zonal", str(path), "--id", "P1-08"])
    assert res.exit_code == 2 and "--kind and --units" in res.output


def test_zonal_own_regions_in_gbk_shapefile(run, tif, tmp_path):
    path = south_china(tif, "pop.tif", np.full((10, 10), 2.0, np.float32))
    shp = tmp_path / "mine.shp"
    gpd.GeoDataFrame({"code": ["a"], "name": ["深圳市"]}, geometry=[shapely.box(113, 22, 115, 23)],
                     crs=4326).to_file(shp, encoding="gbk")
    (tmp_path / "mine.cpg").unlink()
    res = run("zonal", path, "--kind", "amount", "--units", "persons/cell", "--regions", shp, "--id-column", "code",
              "--encoding", "gbk")
    assert res.exit_code == 0, res.output
    # 2 persons in each 1° cell; the box covers 2 whole cells.
    assert "a," in res.output and ",4.0," in res.output


def test_build_publishes_registry_and_forest(run, built_site, tmp_path):
    # a copy of the session's default build: the command finds every step done and prints the summary
    shutil.copytree(built_site, tmp_path / "site")
    res = run("build", "--out", tmp_path / "site")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output[res.output.index("{"):res.output.rindex("}") + 1])
    assert summary["pilots_per_batch"] == {"1": 13, "2": 29, "3": 45}
    forest = pd.read_csv(tmp_path / "site" / "data" / "forest_pilots.csv")
    assert len(forest) == 87 and (forest["status"] == "ok").sum() >= 80
    # MODIS majority-class forest over the mainland: about 0.96 million km² (geodata/README.md) ...
    assert 850_000 < summary["forest_mainland_km2_raster"] < 1_050_000
    # ... calibrated to the provinces' 9th-inventory areas, which add up to 2.41 million km² (NBS table;
    # 9.5 % above the national estimate of 2.20 million km², see tests/test_official.py)
    assert summary["forest_mainland_km2"] == pytest.approx(2_414_531, rel=0.002)
    # the inventory method's mainland total holds Yang et al.'s 154.8 Tg C/yr (2009-2018) in its interval
    inventory = summary["mainland_sink_pg_c_per_yr"]["inventory"]
    assert inventory["low"] <= 0.1548 <= inventory["high"]
    # a pilot page whose sink is the inventory method lists what it rests on: 深圳 applies Guangdong's
    # net sink per hectare of forest (NFI7 30,183 → NFI9 46,755 万m³, NBS province table) to its own area
    page = (tmp_path / "site" / "pilots" / "P1-08.html").read_text(encoding="utf-8")
    assert "Inventory method: what the sink on this page rests on" in page
    assert "30,183 万m³" in page and "46,755 万m³" in page and "applied to the pilot" in page
    sinks = pd.read_csv(tmp_path / "site" / "data" / "sinks_pilots.csv").set_index("pilot_id")
    assert sinks.loc["P3-16", "inventory_period"] == "own stock figures (2016–2020)"  # 三明's own two figures


def test_sinks_compensate_targets(run, tmp_path):
    sinks = tmp_path / "sinks.csv"
    res = run("sinks", "--id", "P1-05", "--id", "P1-08", "--id", "P2-09", "--draws", 500, "-o", sinks)
    assert res.exit_code == 0, res.output
    table = pd.read_csv(sinks).set_index("pilot_id")
    assert (table["sink_tco2_per_yr_low"] <= table["sink_tco2_per_yr_central"]).all()
    assert table.loc["P2-09", "climate_domain"] == "boreal"  # 大兴安岭地区
    ledger = tmp_path / "ledger.csv"
    res = run("compensate", sinks, "--scheme", "balance", "--price", 50, "-o", ledger)
    assert res.exit_code == 0, res.output
    assert abs(pd.read_csv(ledger)["transfer_cny_per_yr"].sum()) < 1e-3
    res = CliRunner().invoke(cli, ["compensate", str(sinks), "--price", "-5"])
    assert res.exit_code == 2 and "price" in res.output
    res = run("targets", "-o", tmp_path / "t.csv")
    assert res.exit_code == 0
    tracked = pd.read_csv(tmp_path / "t.csv")
    assert set(tracked["status"]) <= {"met", "not met", "pending", "not measurable", "baseline (not a target)"}
    assert tracked.loc[tracked["indicator"] == "forest_coverage", "remote_sensing_value"].notna().all()


def test_build_with_emissions_raster_and_gcj02_basemap(run, built_site, tif, tmp_path):
    # 1000 t CO2 in every 0.5° cell of 20-30°N, 110-120°E. Shenzhen's outline (2,136 km²,
    # geodata/README.md) lies across the 22.5°N row edge where a 0.5° cell is about
    # 51.4 km × 55.3 km ≈ 2,842 km², so its raster emissions are about 1000 × 2136 / 2842 ≈ 752 t.
    emissions = south_china(tif, "emissions.tif", np.full((20, 20), 1000.0, dtype=np.float32))
    # over a copy of the default build: the options change what depends on emissions and the basemap,
    # and the forest, calibration and evaluation steps are taken from the earlier build
    site = tmp_path / "site"
    shutil.copytree(built_site, site)
    res = run("build", "--out", site, "--tiles", "amap", "--emissions", emissions,
              "--emissions-kind", "amount", "--emissions-units", "t CO2/cell/yr")
    assert res.exit_code == 0, res.output
    computed = res.output[res.output.index("computed (") + len("computed ("):].split(")")[0].split(", ")
    assert computed == ["zonal_emissions", "sinks", "compensation", "tables", "site"]
    per_pilot = pd.read_csv(site / "data" / "emissions_raster_pilots.csv").set_index("pilot_id")
    assert per_pilot.loc["P1-08", "value_tco2_per_yr"] == pytest.approx(752, rel=0.01)
    sinks = pd.read_csv(site / "data" / "sinks_pilots.csv").set_index("pilot_id")
    assert sinks.loc["P1-08", "emissions_source"].startswith("raster")
    assert sinks.loc["P1-08", "emissions_tco2_per_yr"] == per_pilot.loc["P1-08", "value_tco2_per_yr"]
    assert pd.isna(sinks.loc["P1-02", "emissions_tco2_per_yr"])   # Liaoning: outside the raster
    national = (site / "national.html").read_text(encoding="utf-8")
    assert '"id":"emissions_raster"' in national and '"id":"emissions_density"' in national
    assert "autonavi" in national and "GCJ-02" in national


def test_build_refuses_unknown_basemap_and_non_co2_emissions(tif, tmp_path):
    res = CliRunner().invoke(cli, ["build", "--out", str(tmp_path), "--tiles", "google"])
    assert res.exit_code == 2 and "google" in res.output
    people = south_china(tif, "people.tif", np.ones((4, 4), dtype=np.float32))
    res = CliRunner().invoke(cli, ["build", "--out", str(tmp_path / "s"), "--emissions", str(people),
                                   "--emissions-kind", "amount", "--emissions-units", "persons/cell"])
    assert res.exit_code == 2 and "not CO2 per year" in res.output


def test_regions_output_format_follows_the_extension(run, tmp_path):
    # no --format: the extension decides (before, -o x.gpkg without --format wrote CSV text into it)
    out = tmp_path / "gd.gpkg"
    assert run("regions", "--province", "Guangdong", "-o", out).exit_code == 0
    frame = gpd.read_file(out)
    assert {"广东省", "深圳市", "广州市", "中山市"} <= set(frame["name_zh"]) and frame.geometry.notna().all()
    assert run("regions", "--province", "44", "-o", tmp_path / "gd.json").exit_code == 0
    records = json.loads((tmp_path / "gd.json").read_text(encoding="utf-8"))
    assert sorted(r["pilot_id"] for r in records) == sorted(frame["pilot_id"])
