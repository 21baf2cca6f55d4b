"""`atlas run CONFIG.toml`: validation, reuse of finished steps, resume after a kill,
byte-identical outputs, dask clusters."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from affine import Affine
from click.testing import CliRunner
from conftest import SMALL_RUN, outputs

from atlas.cli import cli
from atlas.workflow.config import load_config
from atlas.errors import ConfigError
from atlas.publish.site import external_resources
from atlas.workflow.runner import run

ROOT = Path(__file__).resolve().parents[1]


def write_config(folder: Path, text: str, name: str = "run.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- validation

@pytest.mark.parametrize("text, where", [
    ("[forrest]\npaths = []\n", "[forrest]"),
    ("[regions]\nbatch = [4]\n", "[regions].batch"),
    ("[regions]\nbatches = [1]\n", "[regions].batches"),
    ("[sinks]\ndraws = 'many'\n", "[sinks].draws"),
    ("[sinks]\ndraws = true\n", "[sinks].draws"),
    ("[forest]\npaths = ['nothing_*.tif']\n", "[forest].paths[0]"),
    ("[forest]\nproduct = 'hansen'\n", "[forest].paths"),
    ("[compensation]\nscheme = 'baseline'\n", "[compensation].baseline"),
    ("[compensation]\nprice = -1\n", "[compensation].price"),
    ("[outputs]\nformats = ['xlsx']\n", "[outputs].formats"),
    ("[site]\ntiles = 'google'\n", "[site].tiles"),
    ("[regions]\nfile = 'r.gpkg'\n", "[regions].file"),
    ("[sinks\n", "not valid"),
])
def test_config_errors_point_at_the_key(tmp_path, text, where):
    with pytest.raises(ConfigError) as err:
        load_config(write_config(tmp_path, text))
    assert where in str(err.value) and "run.toml" in str(err.value)


def test_cli_reports_config_error_in_one_line(tmp_path):
    path = write_config(tmp_path, "[regions]\nbatch = [9]\n")
    res = CliRunner().invoke(cli, ["run", str(path)])
    assert res.exit_code == 2 and "[regions].batch" in res.output and "Traceback" not in res.output


def test_example_configs_are_valid(monkeypatch, tmp_path):
    # the examples that need downloads resolve their globs against ATLAS_CACHE
    cache = tmp_path / "cache"
    for rel in ["hansen/GFC-2024-v1.12/Hansen_GFC-2024-v1.12_treecover2000_30N_110E.tif",
                "hansen/GFC-2024-v1.12/Hansen_GFC-2024-v1.12_lossyear_30N_110E.tif",
                "edgar/v8.0/v8.0_FT2022_GHG_CO2_2022_TOTALS_emi.nc",
                "worldcover/v200/2021/ESA_WorldCover_10m_2021_v200_N21E114_Map.tif"]:
        (cache / rel).parent.mkdir(parents=True, exist_ok=True)
        (cache / rel).touch()
    monkeypatch.setenv("ATLAS_CACHE", str(cache))
    configs = sorted((ROOT / "scripts" / "configs").glob("*.toml"))
    assert len(configs) == 3
    for path in configs:
        config = load_config(path)
        assert config.out.name.startswith("run-")
    batch1 = load_config(ROOT / "scripts" / "configs" / "hansen_edgar_batch1.toml")
    assert batch1.regions["batch"] == [1] and batch1.forest.product == "hansen" and batch1.scheme == "balance"


# ---------------------------------------------------------------- runs

def test_rerun_reuses_every_step_and_changes_rebuild_only_what_depends_on_them(small_run, tmp_path):
    # the embedded class map is calibrated to the provinces' inventory areas, so the province zonal step
    # and the calibration run too; the evaluation of designation comes with the registry's CEADs series
    assert small_run.computed == ["regions", "zonal_forest", "zonal_forest_provinces", "forest",
                                  "forest_provinces", "sinks_provinces", "mainland_totals", "sinks", "compensation",
                                  "targets", "evaluation_effects", "emissions_trajectories", "tables", "site"]
    before = small_run.reference
    assert {"data/sinks_pilots.csv", "data/sinks_pilots.gpkg", "data/sinks_pilots.parquet", "index.html",
            "pilots/P1-08.html"} <= set(before)
    path = small_run.copy_to(tmp_path / "small")
    config = load_config(path)
    sinks = pd.read_csv(config.out / "data" / "sinks_pilots.csv").set_index("pilot_id")
    assert sorted(sinks.index) == ["P1-08", "P1-09", "P2-25"]
    national = (config.out / "national.html").read_text(encoding="utf-8")
    assert external_resources(national) == []

    second = run(config)
    assert second.computed == []
    assert outputs(config.out) == before

    # a new price changes the ledger and what shows it, not the zonal statistics or sinks
    repriced = SMALL_RUN.replace("price = 50", "price = 80")
    third = run(load_config(write_config(path.parent, repriced)))
    assert third.computed == ["compensation", "tables", "site"]
    ledger = pd.read_csv(config.out / "data" / "compensation_pilots.csv")
    assert np.allclose(ledger["payment_cny_per_yr"], ledger["net_sink_tco2_per_yr"].clip(lower=0) * 80)

    # a deleted or edited output is rewritten even though nothing upstream changed
    (config.out / "data" / "sinks_pilots.csv").write_text("tampered", encoding="utf-8")
    fourth = run(load_config(write_config(path.parent, repriced)))
    assert fourth.computed == ["tables"]
    assert (config.out / "data" / "sinks_pilots.csv").read_text(encoding="utf-8").startswith("pilot_id")


def test_mosaic_runs_on_a_local_cluster_and_matches_threads(tif, tmp_path):
    # two tiles of 1000 t CO2 per 0.5° cell: 110-115°E and 115-120°E, 20-30°N
    for x0 in (110, 115):
        tif(f"tile_{x0}.tif", np.full((20, 10), 1000.0, dtype=np.float32), Affine(0.5, 0, x0, 0, -0.5, 30))
    text = """
[run]
out = "{out}"
[regions]
ids = ["P1-08", "P1-09", "P2-25"]
[emissions]
paths = ["tile_*.tif"]
kind = "amount"
units = "t CO2/cell/yr"
[sinks]
draws = 200
[compute]
{compute}
"""
    # one worker process: that the runner starts a LocalCluster and gets the same bytes is what this checks;
    # tasks spread over two worker processes are tests/test_distributed.py's
    cluster = run(load_config(write_config(tmp_path, text.format(out="cluster", compute="scheduler = 'local'\ncluster_workers = 1"),
                                           "c.toml")))
    assert cluster.compute.startswith("LocalCluster")
    threads = run(load_config(write_config(tmp_path, text.format(out="threads", compute="scheduler = 'threads'"),
                                           "t.toml")))
    assert threads.compute == "threads"
    a = (tmp_path / "cluster" / "data" / "emissions_raster_pilots.csv").read_bytes()
    b = (tmp_path / "threads" / "data" / "emissions_raster_pilots.csv").read_bytes()
    assert a == b
    shenzhen = pd.read_csv(tmp_path / "cluster" / "data" / "emissions_raster_pilots.csv").set_index("pilot_id")
    assert shenzhen.loc["P1-08", "value_tco2_per_yr"] == pytest.approx(752, rel=0.01)  # see test_cli


def test_scheduler_address_is_used(tif, tmp_path):
    from distributed import LocalCluster

    tif("e.tif", np.full((20, 20), 10.0, dtype=np.float32), Affine(0.5, 0, 110, 0, -0.5, 30))
    path = write_config(tmp_path, """
[run]
out = "out"
[regions]
ids = ["P1-08"]
[emissions]
paths = ["e.tif"]
kind = "amount"
units = "t CO2/cell/yr"
[sinks]
draws = 200
""")
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        res = CliRunner().invoke(cli, ["run", str(path), "--scheduler", cluster.scheduler_address],
                                 catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert cluster.scheduler_address in res.output


def test_own_outlines_in_gbk_with_generic_layers(tif, tmp_path):
    """Regions from the user's file (GBK attributes), emissions from a generic raster."""
    import geopandas as gpd
    from shapely.geometry import box

    regions = gpd.GeoDataFrame({"code": ["A", "B"], "名称": ["甲区", "乙区"]},
                               geometry=[box(113.0, 22.5, 114.0, 23.5), box(114.0, 22.5, 115.0, 23.5)],
                               crs="EPSG:4326")
    regions.to_file(tmp_path / "mine.shp", encoding="gbk")
    (tmp_path / "mine.cpg").unlink(missing_ok=True)   # no declared encoding, as in many Chinese shapefiles
    tif("e.tif", np.full((20, 20), 100.0, dtype=np.float32), Affine(0.5, 0, 110, 0, -0.5, 30))
    path = write_config(tmp_path, """
[run]
out = "out"
[regions]
file = "mine.shp"
id_column = "code"
encoding = "gbk"
[emissions]
paths = ["e.tif"]
kind = "amount"
units = "t CO2/cell/yr"
[sinks]
draws = 300
[compensation]
scheme = "balance"
[outputs]
formats = ["csv", "parquet"]
""")
    report = run(load_config(path))
    assert "site" not in [s.name for s in report.steps]
    emissions = pd.read_csv(tmp_path / "out" / "data" / "emissions_raster_regions.csv").set_index("code")
    # each 1° box holds exactly 4 whole 0.5° cells of 100 t
    assert emissions["value_tco2_per_yr"].to_dict() == pytest.approx({"A": 400.0, "B": 400.0})
    sinks = pd.read_parquet(tmp_path / "out" / "data" / "sinks_regions.parquet")
    assert set(sinks["code"]) == {"A", "B"} and (sinks["climate_domain"] == "subtropical").all()
    ledger = pd.read_csv(tmp_path / "out" / "data" / "compensation_regions.csv")
    assert abs(ledger["transfer_cny_per_yr"].sum()) < 1e-6


def test_hansen_forest_run_draws_canopy_cover(tif, tmp_path):
    """A Hansen-named cover tile: forest by threshold, and the site draws it with the cover spec."""
    cover = np.zeros((400, 400), dtype=np.uint8)
    cover[200:, :] = 60                                  # 20-25°N: 60 % canopy everywhere
    tif("Hansen_GFC-2024-v1.12_treecover2000_30N_110E.tif", cover, Affine(0.025, 0, 110, 0, -0.025, 30))
    path = write_config(tmp_path, """
[run]
out = "out"
[regions]
ids = ["P1-08"]
[forest]
paths = ["Hansen_GFC-2024-v1.12_treecover2000_*.tif"]
threshold = 30
year = 2000
[sinks]
draws = 200
[site]
publish = true
""")
    run(load_config(path))
    forest = pd.read_csv(tmp_path / "out" / "data" / "forest_pilots.csv").set_index("pilot_id")
    # all of Shenzhen lies south of 25°N, so its whole outline counts as ≥ 30 % cover (cell-area sums and
    # the geodesic outline area are computed differently and agree to about 1e-7)
    assert forest.loc["P1-08", "forest_ha"] == pytest.approx(forest.loc["P1-08", "region_area_ha"], rel=1e-6)
    page = (tmp_path / "out" / "pilots" / "P1-08.html").read_text(encoding="utf-8")
    assert '"id":"tree_cover_raster"' in page and '"id":"forest_raster"' not in page
    # [forest].year lets targets be judged; Shenzhen has no forest-coverage target, so only its own
    # targets are listed and none is judged
    tracked = pd.read_csv(tmp_path / "out" / "data" / "targets_tracking.csv")
    assert set(tracked["pilot_id"]) == {"P1-08"} and tracked["measured_value"].isna().all()


def test_forest_year_shows_the_raster_share_beside_coverage_targets(tif, tmp_path):
    # 南昌 (P1-11, 28.2-29.1°N) declared forest-coverage targets; 60 % canopy over the whole tile
    # puts its whole outline in forest. The share divides by land area (lakes excluded), so the
    # synthetic share is above 100 % (108.7 %). It is shown as a remote-sensing estimate and never
    # decides a verdict: those come from official statistics only.
    tif("Hansen_GFC-2024-v1.12_treecover2000_30N_110E.tif", np.full((400, 400), 60, dtype=np.uint8),
        Affine(0.025, 0, 110, 0, -0.025, 30))
    path = write_config(tmp_path, """
[run]
out = "out"
[regions]
ids = ["P1-11"]
[forest]
paths = ["Hansen_GFC-2024-v1.12_treecover2000_30N_110E.tif"]
year = 2000
[sinks]
draws = 200
""")
    run(load_config(path))
    tracked = pd.read_csv(tmp_path / "out" / "data" / "targets_tracking.csv")
    judged = tracked[tracked["status"] != "baseline (not a target)"]
    forest_rows = judged[judged["indicator"] == "forest_coverage"]
    assert not forest_rows.empty and (forest_rows["remote_sensing_year"] == 2000).all()
    assert (forest_rows["remote_sensing_value"] > 99.9).all()
    assert forest_rows["remote_sensing_note"].str.contains("not comparable").all()
    assert set(forest_rows["status"]) <= {"met", "not met", "pending", "not measurable"}
    assert not (forest_rows["measured_value"] > 99.9).any()   # the raster share is never the measurement


def test_an_in_memory_run_writes_nothing_and_gives_the_runs_sinks(small_run):
    """What `atlas sinks` and `atlas targets` compute: the run's steps up to the targets, no tables, no
    site and so no evaluation of designation (the slowest step to start), and the same sinks as a run."""
    from atlas.workflow.defaults import run_in_memory

    report = run_in_memory({"ids": ["P1-08", "P1-09", "P2-25"]}, draws=500)
    names = [s.name for s in report.steps]
    assert names[-1] == "targets" and not {"evaluation_effects", "tables", "site"} & set(names)
    assert not report.out.exists()  # the temporary folder is gone
    ran = pd.read_parquet(small_run.folder / "out" / "data" / "sinks_pilots.parquet").set_index("pilot_id")
    ours = report.tables["sinks"]
    for column in ("forest_ha", "sink_tco2_per_yr_low", "sink_tco2_per_yr_central", "sink_tco2_per_yr_high"):
        pd.testing.assert_series_equal(ours[column], ran.loc[ours.index, column], check_names=False)


def test_build_is_a_run_of_the_printed_config_and_resumes(built_site, tmp_path, monkeypatch):
    """`atlas build` (the session's `built_site`) and `atlas run "$(atlas build --print-config)" --out B`
    write the same bytes; `atlas build --out A` over a copy of it finds every step done."""
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    text = runner.invoke(cli, ["build", "--print-config"]).output
    assert "[outputs]" in text and "provinces = true" in text
    ran = runner.invoke(cli, ["run", text, "--out", "B"], catch_exceptions=False)
    assert ran.exit_code == 0, ran.output
    a, b = outputs(built_site), outputs(tmp_path / "B")
    assert len(a) > 100 and a == b
    shutil.copytree(built_site, tmp_path / "A")
    again = runner.invoke(cli, ["build", "--out", "A"], catch_exceptions=False)
    assert again.exit_code == 0, again.output
    assert "0 computed" in again.output and outputs(tmp_path / "A") == a


def test_print_config_writes_the_builds_options_in(tif, tmp_path, monkeypatch):
    """`atlas build --print-config` with options prints the job that build runs: `atlas run` of the
    printed text is the same RunConfig (so the same step keys and files); a file name with glob
    characters stays that one file."""
    import dataclasses

    from atlas.workflow.defaults import default_config, emissions_layer

    monkeypatch.chdir(tmp_path)
    (tmp_path / "odd[1]").mkdir()
    emissions = tif("odd[1]/e m.tif", np.full((4, 4), 10.0, dtype=np.float32), Affine(0.5, 0, 110, 0, -0.5, 30))
    options = ["--out", "site", "--tiles", "amap", "--emissions", str(emissions), "--emissions-kind", "amount",
               "--emissions-units", "t CO2/cell/yr", "--workers", "2"]
    res = CliRunner().invoke(cli, ["build", "--print-config", *options])
    assert res.exit_code == 0, res.output
    assert 'out = "site"' in res.output and 'tiles = "amap"' in res.output and "[emissions]" in res.output
    printed = load_config(write_config(tmp_path, res.output))
    built = default_config(out="site", tiles="amap", workers=2,
                           emissions=emissions_layer((emissions,), None, "amount", "t CO2/cell/yr"))
    assert dataclasses.replace(printed, path=built.path) == built
    assert printed.emissions.paths == (emissions.resolve(),) and printed.workers == 2
    plain = CliRunner().invoke(cli, ["build", "--print-config"]).output
    assert 'tiles = "none"' in plain and "[emissions]" not in plain


def test_emissions_stack_in_one_pass_and_the_band_used_is_stated(tif, tmp_path):
    # two bands over 20-30°N, 110-120°E: 1000 and 2000 t CO2 per 0.5° cell; Shenzhen gets ~752 t of the
    # first (see test_cli) and twice that of the second, which the offset ratio uses (no time axis: the last)
    stack = np.stack([np.full((20, 20), 1000.0, dtype=np.float32), np.full((20, 20), 2000.0, dtype=np.float32)])
    tif("stack.tif", stack, Affine(0.5, 0, 110, 0, -0.5, 30))
    path = write_config(tmp_path, """
[run]
out = "out"
[regions]
ids = ["P1-08"]
[emissions]
paths = ["stack.tif"]
kind = "amount"
units = "t CO2/cell/yr"
bands = "all"
[sinks]
draws = 200
""")
    run(load_config(path))
    long = pd.read_csv(tmp_path / "out" / "data" / "emissions_raster_pilots.csv")
    assert sorted(long["band"]) == [1, 2]
    by_band = long.set_index("band")["value_tco2_per_yr"]
    assert by_band[2] == pytest.approx(2 * by_band[1]) and by_band[1] == pytest.approx(752, rel=0.01)
    sinks = pd.read_csv(tmp_path / "out" / "data" / "sinks_pilots.csv").set_index("pilot_id")
    assert sinks.loc["P1-08", "emissions_tco2_per_yr"] == pytest.approx(by_band[2])
    assert sinks.loc["P1-08", "emissions_source"].endswith("band 2")


def test_loss_layer_gives_loss_by_year_and_around_designation(tif, tmp_path):
    # a Hansen lossyear tile whose every cell was lost in 2015 (class 15): all of Shenzhen (P1-08, designated
    # 2010) counts as lost in 2015 and in no other year, so before 2010 nothing, from 2010 on its area / 15 yr
    tif("Hansen_GFC-2024-v1.12_lossyear_30N_110E.tif", np.full((400, 400), 15, dtype=np.uint8),
        Affine(0.025, 0, 110, 0, -0.025, 30))
    path = write_config(tmp_path, """
[run]
out = "out"
[regions]
ids = ["P1-08"]
[loss]
paths = ["Hansen_GFC-2024-v1.12_lossyear_30N_110E.tif"]
[sinks]
draws = 200
""")
    run(load_config(path))
    data = tmp_path / "out" / "data"
    by_year = pd.read_csv(data / "forest_loss_by_year_pilots.csv").set_index("year")["loss_ha"]
    assert list(by_year.index) == list(range(2001, 2025))
    assert by_year[2015] > 0 and by_year.drop(2015).eq(0).all()
    around = pd.read_csv(data / "forest_loss_designation_pilots.csv").set_index("pilot_id")
    assert around.loc["P1-08", "designation_year"] == 2010 and around.loc["P1-08", "loss_ha_per_yr_before"] == 0
    assert around.loc["P1-08", "loss_ha_per_yr_after"] == pytest.approx(by_year[2015] / 15)
    sinks = pd.read_csv(data / "sinks_pilots.csv").set_index("pilot_id")
    assert sinks.loc["P1-08", "tier1_gross_loss_tco2_per_yr_central"] > 0      # assessed, so not empty


def test_department_inventory_in_a_run(tmp_path):
    """[sinks].inventory: the department's sub-compartments replace the inventory estimate of their pilot."""
    pd.DataFrame({"小班号": ["A1", "A2", "A3"], "优势树种": ["杉木", "马尾松", "银杏"], "面积": [12.5, 8.0, 1.0],
                  "蓄积": [1500, 900, 50], "县": ["三明市"] * 3}).to_csv(tmp_path / "xb.csv", index=False,
                                                                         encoding="gbk")
    path = write_config(tmp_path, """
[run]
out = "out"
[regions]
ids = ["P3-16", "P3-17"]
[sinks]
draws = 300
inventory = "xb.csv"
inventory_columns = "小班号=id,优势树种=species,面积=area_ha,蓄积=stock_m3,县=region"
inventory_encoding = "gbk"
""")
    run(load_config(path))
    sinks = pd.read_csv(tmp_path / "out" / "data" / "sinks_pilots.csv").set_index("pilot_id")
    assert sinks.loc["P3-16", "inventory_period"] == "sub-compartment inventory of the department"
    assert sinks.loc["P3-17", "inventory_period"] != "sub-compartment inventory of the department"
    # 2,400 m³ of usable stock: a sink of hundreds of tonnes, not the city-wide millions
    assert 0 < sinks.loc["P3-16", "sink_tco2_per_yr_central"] < 1e4
    rejected = pd.read_csv(tmp_path / "out" / "data" / "inventory_rejected_pilots.csv")
    assert rejected["id"].tolist() == ["A3"]


def test_land_cover_series_gives_forest_per_year(tif, tmp_path):
    # two years of a Hansen-style cover stack over 20-30°N: 60 % canopy in band 1 everywhere, 0 in band 2's
    # northern half; with the threshold of 30 % all of Shenzhen (south of 25°N) is forest in both years
    first = np.full((400, 400), 60, dtype=np.uint8)
    second = first.copy()
    second[:200, :] = 0
    tif("cover.tif", np.stack([first, second]), Affine(0.025, 0, 110, 0, -0.025, 30))
    path = write_config(tmp_path, """
[run]
out = "out"
[regions]
ids = ["P1-08", "P1-11"]
[forest]
paths = ["cover.tif"]
kind = "fraction"
units = "percent"
threshold = 30
bands = "all"
[sinks]
draws = 200
""")
    run(load_config(path))
    by_year = pd.read_csv(tmp_path / "out" / "data" / "forest_by_year_pilots.csv")
    shenzhen = by_year[by_year["pilot_id"] == "P1-08"].set_index("band")["forest_ha"]
    assert shenzhen[1] == pytest.approx(shenzhen[2]) and shenzhen[1] > 0
    nanchang = by_year[by_year["pilot_id"] == "P1-11"].set_index("band")["forest_ha"]   # 28-29°N: north half
    assert nanchang[1] > 0 and nanchang[2] == 0
    sinks = pd.read_csv(tmp_path / "out" / "data" / "sinks_pilots.csv").set_index("pilot_id")
    assert sinks.loc["P1-11", "forest_ha"] == 0            # the sinks use the last band (no year given)
