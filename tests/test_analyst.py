"""What a GIS analyst needs from the command line and a run (issue 16, item 3): their regions'
attributes kept, one layer of a multi-layer file chosen by name, CSV for Excel everywhere, sinks
for their own forest layer and outlines, and a site for their own outlines."""

from __future__ import annotations

import html
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from affine import Affine
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from atlas.cli import cli
from atlas.cli.options import OptionValueError, with_attributes
from atlas.errors import BoundaryError, ConfigError
from atlas.regions import registry
from atlas.regions.boundaries import read_regions
from atlas.regions.names import resolve_province
from atlas.workflow.config import load_config
from atlas.workflow.regions_site import page_keys
from atlas.workflow.runner import run

BOM = b"\xef\xbb\xbf"
HOSTILE = "<script>window.pwned=1</script>{{ 7*7 }}"


def invoke(*args):
    """The command as a user runs it (one error path: exit status 2 and one line)."""
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def two_layers(tmp_path) -> Path:
    """A GeoPackage with the analyst's counties and, beside them, another layer."""
    path = tmp_path / "work.gpkg"
    counties = gpd.GeoDataFrame({"code": ["A", "B"], "name": ["甲县", "乙县"], "pop": [10, 20]},
                                geometry=[shapely.box(113, 22, 114, 23), shapely.box(114, 22, 115, 23)], crs=4326)
    counties.to_file(path, layer="counties")
    counties.head(1).to_file(path, layer="roads_buffer")
    return path


@pytest.fixture
def ones(tif) -> Path:
    """1 t per 1° cell over 110-120°E, 20-30°N: a region's sum is its number of whole cells."""
    return tif("ones.tif", np.ones((10, 10), np.float32), Affine(1.0, 0, 110, 0, -1.0, 30))


# ---------------------------------------------------------------- layers of multi-layer files

def test_multi_layer_file_needs_a_layer_and_the_error_names_them(two_layers):
    with pytest.raises(BoundaryError) as err:
        read_regions(two_layers, "code")
    assert str(err.value) == (f"found 2 layers in {two_layers} (counties, roads_buffer). Expected one layer. "
                              "Fix: pass --layer NAME.")
    assert read_regions(two_layers, "code", layer="counties")["code"].tolist() == ["A", "B"]
    assert len(read_regions(two_layers, "code", layer="roads_buffer")) == 1
    with pytest.raises(BoundaryError, match="no layer 'rivers'.*counties, roads_buffer"):
        read_regions(two_layers, "code", layer="rivers")


def test_zonal_multi_layer_without_layer_is_one_line(two_layers, ones):
    res = invoke("zonal", ones, "--kind", "amount", "--units", "t CO2/cell/yr", "--regions", two_layers,
                 "--id-column", "code")
    assert res.exit_code == 2
    assert res.output.strip() == (f"atlas: error: found 2 layers in {two_layers} (counties, roads_buffer). "
                                  "Expected one layer. Fix: pass --layer NAME.")


# ---------------------------------------------------------------- attributes kept

def test_zonal_keeps_every_attribute_of_the_regions_by_default(two_layers, ones, tmp_path):
    out = tmp_path / "z.csv"
    res = invoke("zonal", ones, "--kind", "amount", "--units", "t CO2/cell/yr", "--regions", two_layers,
                 "--layer", "counties", "--id-column", "code", "-o", out)
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out)
    assert list(table.columns[:3]) == ["code", "name", "pop"]            # attributes next to the id
    assert table["name"].tolist() == ["甲县", "乙县"] and table["pop"].tolist() == [10, 20]
    # each 1°×1° box is one whole cell of 1 t
    assert table["value_tco2_per_yr"].tolist() == pytest.approx([1.0, 1.0])


def test_zonal_keep_columns_chosen_none_unknown(two_layers, ones, tmp_path):
    base = ["zonal", ones, "--kind", "amount", "--units", "t CO2/cell/yr", "--regions", two_layers,
            "--layer", "counties", "--id-column", "code"]
    res = invoke(*base, "--keep-columns", "pop", "-o", tmp_path / "a.csv")
    assert res.exit_code == 0, res.output
    columns = pd.read_csv(tmp_path / "a.csv").columns
    assert list(columns[:2]) == ["code", "pop"] and "name" not in columns
    res = invoke(*base, "--keep-columns", "none", "-o", tmp_path / "b.csv")
    assert {"name", "pop"}.isdisjoint(pd.read_csv(tmp_path / "b.csv").columns)
    res = invoke(*base, "--keep-columns", "pop,nope")
    assert res.exit_code == 2 and "--keep-columns pop,nope names nope" in res.output and "name, pop" in res.output


def test_zonal_json_and_excel_outputs(two_layers, ones, tmp_path):
    base = ["zonal", ones, "--kind", "amount", "--units", "t CO2/cell/yr", "--regions", two_layers,
            "--layer", "counties", "--id-column", "code"]
    assert invoke(*base, "-o", tmp_path / "z.json").exit_code == 0
    records = pd.read_json(tmp_path / "z.json")
    assert records["name"].tolist() == ["甲县", "乙县"]
    assert invoke(*base, "-o", tmp_path / "z.geojson").exit_code == 0
    assert gpd.read_file(tmp_path / "z.geojson")["pop"].tolist() == [10, 20]
    assert invoke(*base, "--excel", "-o", tmp_path / "z.csv").exit_code == 0
    raw = (tmp_path / "z.csv").read_bytes()
    assert raw.startswith(BOM + b"code,name,pop") and b"\r\n" in raw
    res = CliRunner().invoke(cli, [str(a) for a in base + ["--excel"]])
    assert res.stdout_bytes.startswith(BOM)


def test_attribute_named_like_a_result_is_kept_apart():
    table = pd.DataFrame({"id": ["a", "b"], "sum": [1.0, 2.0]})
    regions = pd.DataFrame({"id": ["b", "a"], "sum": [7, 8], "kind": ["x", "y"]})
    out, notes = with_attributes(table, regions, "id", None)
    assert out.columns.tolist() == ["id", "sum_attr", "kind", "sum"]
    assert out["sum_attr"].tolist() == [8, 7] and out["sum"].tolist() == [1.0, 2.0] and len(notes) == 1
    with pytest.raises(OptionValueError, match="names nope"):
        with_attributes(table, regions, "id", "nope")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=1, max_size=12), st.permutations(range(6)))
def test_keeping_attributes_never_reorders_or_drops_result_rows(ids, order):
    """Rows (several per region for a band stack) keep their order and values; each gets its region's attribute."""
    table = pd.DataFrame({"id": ids, "value": np.arange(len(ids), dtype=float)})
    regions = pd.DataFrame({"id": list(order), "label": [f"r{i}" for i in order]})
    out, _ = with_attributes(table, regions, "id", "all")
    assert out["id"].tolist() == ids and out["value"].tolist() == table["value"].tolist()
    assert out["label"].tolist() == [f"r{i}" for i in ids]


# ---------------------------------------------------------------- --excel on every CSV writer

def test_excel_on_targets_and_evaluate(tmp_path):
    res = invoke("targets", "--id", "深圳", "--excel", "-o", tmp_path / "t.csv")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "t.csv").read_bytes().startswith(BOM)
    assert set(pd.read_csv(tmp_path / "t.csv", encoding="utf-8-sig")["pilot_id"]) == {"P1-08"}
    res = invoke("evaluate", "--excel", "-o", tmp_path / "e.csv", "--trajectories", tmp_path / "tr.csv")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "e.csv").read_bytes().startswith(BOM) and (tmp_path / "tr.csv").read_bytes().startswith(BOM)
    assert not invoke("evaluate", "-o", tmp_path / "plain.csv").exit_code
    assert not (tmp_path / "plain.csv").read_bytes().startswith(BOM)


# ---------------------------------------------------------------- sinks: own forest layer and outlines

@pytest.fixture
def cover(tif) -> Path:
    """Canopy cover in percent: 60 % west of 115°E, 10 % east of it (0.5° cells, 20-30°N)."""
    array = np.full((20, 20), 60, np.uint8)
    array[:, 10:] = 10
    return tif("cover.tif", array, Affine(0.5, 0, 110, 0, -0.5, 30))


@pytest.fixture
def gbk_regions(tmp_path) -> Path:
    """Two regions in a GBK shapefile without .cpg: A (113-114°E, all 60 %), B (115-116°E, all 10 %)."""
    path = tmp_path / "mine.shp"
    gpd.GeoDataFrame({"code": ["A", "B"], "名称": [HOSTILE, "乙区"]},
                     geometry=[shapely.box(113, 22.5, 114, 23.5), shapely.box(115, 22.5, 116, 23.5)],
                     crs=4326).to_file(path, encoding="gbk")
    (tmp_path / "mine.cpg").unlink(missing_ok=True)
    return path


def test_sinks_for_own_cover_layer_and_outlines(cover, gbk_regions, tmp_path):
    out = tmp_path / "s.csv"
    res = invoke("sinks", cover, "--kind", "fraction", "--units", "percent", "--threshold", 30, "--regions",
                 gbk_regions, "--id-column", "code", "--encoding", "gbk", "--draws", 200, "--excel", "-o", out)
    assert res.exit_code == 0, res.output
    assert out.read_bytes().startswith(BOM)
    table = pd.read_csv(out, encoding="utf-8-sig").set_index("code")
    # A lies wholly in 60 % cover (≥ 30 %: all forest), B wholly in 10 % (none)
    assert table.loc["A", "forest_ha"] == pytest.approx(table.loc["A", "land_area_ha"], rel=1e-9)
    assert table.loc["B", "forest_ha"] == 0.0
    assert table.loc["A", "sink_tco2_per_yr_central"] > 0 == table.loc["B", "sink_tco2_per_yr_central"]


def test_sinks_own_outlines_from_a_multi_layer_file(cover, two_layers, tmp_path):
    res = invoke("sinks", cover, "--kind", "fraction", "--units", "percent", "--threshold", 30,
                 "--regions", two_layers, "--id-column", "code", "--draws", 200)
    assert res.exit_code == 2 and "found 2 layers" in res.output and "--layer NAME" in res.output
    res = invoke("sinks", cover, "--kind", "fraction", "--units", "percent", "--threshold", 30,
                 "--regions", two_layers, "--layer", "counties", "--id-column", "code", "--draws", 200,
                 "-o", tmp_path / "s.gpkg")
    assert res.exit_code == 0, res.output
    layer = gpd.read_file(tmp_path / "s.gpkg")
    assert layer["code"].tolist() == ["A", "B"] and layer.geometry.notna().all()


def test_sinks_refuses_mixed_or_incomplete_options(cover, gbk_regions):
    res = invoke("sinks", "--kind", "fraction", "--units", "percent")
    assert res.exit_code == 2 and "without a FOREST raster" in res.output
    res = invoke("sinks", cover, "--kind", "classes", "--units", "class", "--regions", gbk_regions,
                 "--id-column", "code")
    assert res.exit_code == 2 and "--forest-classes" in res.output
    res = invoke("sinks", "--regions", gbk_regions, "--id-column", "code", "--batch", 1)
    assert res.exit_code == 2 and "--regions given together with --batch" in res.output
    # zonal refuses the same mixture (it used to drop the selection without a word)
    res = invoke("zonal", cover, "--kind", "fraction", "--units", "percent", "--regions", gbk_regions,
                 "--id-column", "code", "--province", "广东")
    assert res.exit_code == 2 and "--regions given together with --province" in res.output
    res = invoke("sinks", cover, "--kind", "classes", "--units", "class", "--forest-classes", "1,x")
    assert res.exit_code == 2 and "--forest-classes 1,x is not a list of class codes" in res.output


def test_sinks_for_own_class_coded_forest(tif, gbk_regions, tmp_path):
    codes = np.full((20, 20), 7, np.uint8)
    codes[:, :10] = 2                                       # class 2 (forest) west of 115°E
    path = tif("lc.tif", codes, Affine(0.5, 0, 110, 0, -0.5, 30))
    res = invoke("sinks", path, "--kind", "classes", "--units", "class", "--forest-classes", "2",
                 "--regions", gbk_regions, "--id-column", "code", "--encoding", "gbk", "--draws", 200,
                 "-o", tmp_path / "s.csv")
    assert res.exit_code == 0, res.output
    table = pd.read_csv(tmp_path / "s.csv").set_index("code")
    assert table.loc["A", "forest_ha"] == pytest.approx(table.loc["A", "land_area_ha"], rel=1e-9)
    assert table.loc["B", "forest_ha"] == 0.0


def test_sinks_and_targets_select_pilots_by_name(tmp_path):
    res = invoke("sinks", "--id", "深圳", "--id", "Sanming", "--draws", 200, "-o", tmp_path / "s.csv")
    assert res.exit_code == 0, res.output
    assert set(pd.read_csv(tmp_path / "s.csv")["pilot_id"]) == {"P1-08", "P3-16"}
    res = invoke("targets", "--province", "Guangdong", "--level", "prefecture", "-o", tmp_path / "t.csv")
    assert res.exit_code == 0, res.output
    reg = registry.load_registry()
    cities = registry.select_pilots(reg.pilots, province=resolve_province("广东"), level=["prefecture"])["pilot_id"]
    assert set(pd.read_csv(tmp_path / "t.csv")["pilot_id"]) == set(cities) & set(reg.targets["pilot_id"])
    res = invoke("targets", "--id", "Atlantis")
    assert res.exit_code == 2 and "--id" in res.output


# ---------------------------------------------------------------- run config

def _config(folder: Path, text: str) -> Path:
    path = folder / "run.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_config_regions_layer_and_name_column_are_checked(two_layers, tmp_path):
    with pytest.raises(ConfigError, match=r"found 2 layers.*set \[regions\].layer in run.toml to NAME"):
        load_config(_config(tmp_path, '[regions]\nfile = "work.gpkg"\nid_column = "code"\n'))
    with pytest.raises(ConfigError, match=r"\[regions\].name_column is 'title'.*code, name, pop"):
        load_config(_config(tmp_path, '[regions]\nfile = "work.gpkg"\nlayer = "counties"\nid_column = "code"\n'
                                      'name_column = "title"\n'))
    with pytest.raises(ConfigError, match=r"\[regions\].layer is given without \[regions\].file"):
        load_config(_config(tmp_path, '[regions]\nlayer = "counties"\n'))
    cfg = load_config(_config(tmp_path, '[regions]\nfile = "work.gpkg"\nlayer = "counties"\nid_column = "code"\n'
                                        'name_column = "name"\n[outputs]\nexcel = true\n[site]\npublish = true\n'))
    assert (cfg.regions_layer, cfg.name_column, cfg.excel, cfg.publish_site) == ("counties", "name", True, True)


@pytest.fixture(scope="module")
def regions_site(tmp_path_factory) -> Path:
    """A run on a GBK shapefile whose first region has a hostile name, publishing a site."""
    folder = tmp_path_factory.mktemp("regions_site")
    gpd.GeoDataFrame({"code": ["A", "../x"], "名称": [HOSTILE, "乙区"]},
                     geometry=[shapely.box(113, 22.5, 114, 23.5), shapely.box(114, 22.5, 115, 23.5)],
                     crs=4326).to_file(folder / "mine.shp", encoding="gbk")
    (folder / "mine.cpg").unlink(missing_ok=True)
    run(load_config(_config(folder, '[run]\nout = "out"\n[regions]\nfile = "mine.shp"\nid_column = "code"\n'
                                    'encoding = "gbk"\nname_column = "名称"\n[sinks]\ndraws = 200\n'
                                    '[outputs]\nexcel = true\n[site]\npublish = true\n')))
    return folder / "out"


def test_run_csvs_for_excel(regions_site):
    for name in ("regions.csv", "sinks_regions.csv", "compensation_regions.csv"):
        assert (regions_site / "data" / name).read_bytes().startswith(BOM), name
    names = pd.read_csv(regions_site / "data" / "regions.csv", encoding="utf-8-sig")["名称"]
    assert names.tolist() == [HOSTILE, "乙区"]


def test_site_of_own_regions_escapes_names_and_files(regions_site):
    pages = sorted(p.relative_to(regions_site).as_posix() for p in regions_site.rglob("*.html"))
    # the id '../x' is no file name: its page is region-2, inside the site
    assert pages == ["index.html", "pilots/A.html", "pilots/region-2.html", "regions.html"]
    for page in pages:
        text = (regions_site / page).read_text(encoding="utf-8")
        assert "<script>window.pwned" not in text and "window.pwned=1</script>49" not in text
    index = (regions_site / "index.html").read_text(encoding="utf-8")
    assert html.escape(HOSTILE, quote=False) in index             # shown as text, braces untouched
    overview = (regions_site / "regions.html").read_text(encoding="utf-8")
    assert "\\u003cscript\\u003ewindow.pwned=1" in overview          # JSON block cannot close its element


def _text(path: Path) -> str:
    body = path.read_text(encoding="utf-8")
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.DOTALL)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


def test_region_page_shows_sinks_and_no_registry_facts(regions_site):
    page = _text(regions_site / "pilots" / "A.html")
    assert "编号 ID A" in page and "级别 Level —" in page and "所在省份 Province —" in page
    assert "IPCC Tier 1" in page and "碳汇补偿 Compensation" in page
    assert not re.search(r"第[一二三]批|Batch [123]|批准文件", page)
    sinks = pd.read_csv(regions_site / "data" / "sinks_regions.csv", encoding="utf-8-sig").set_index("code")
    assert f"{sinks.loc['A', 'sink_tco2_per_yr_central'] / 1e3:,.0f} kt" in page


def test_region_page_has_no_targets_section(regions_site):
    assert "目标与实测 Targets and measurements" not in _text(regions_site / "pilots" / "A.html")


def test_page_keys_are_safe_and_unique():
    keys = page_keys(["A", "a", "../x", "P1-08", "名称", "A b", "region-2"])
    assert keys == {"A": "A", "a": "region-2", "../x": "region-3", "P1-08": "P1-08", "名称": "region-5",
                    "A b": "region-6", "region-2": "region-7"}
