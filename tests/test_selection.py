"""The analyst's selection: pilots by id or name, provinces by any name, outputs as JSON / Excel CSV / GeoPackage."""

from __future__ import annotations

import json
import os
import pickle
import sqlite3

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from atlas.cli import cli
from atlas.cli.options import OptionValueError
from atlas.errors import AtlasError, ConfigError, RegistryError
from atlas.export import REPRODUCIBLE_DATE, records_json, write_frame
from atlas.paths import geodata_dir
from atlas.regions import names
from atlas.regions.registry import load_registry, select_pilots


@pytest.fixture(scope="module")
def pilots():
    return load_registry().pilots


@pytest.fixture(scope="module")
def provinces():
    return names.load_provinces_table()


def _run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


# --------------------------------------------------------------------------- pilots by name


@pytest.mark.parametrize("query", ["P3-16", "p3-16", "P316", "三明", "三明市", "sanming", "Sanming", "SANMING",
                                   "San Ming", "Sānmíng", " sanming "])
def test_every_form_of_sanming_selects_p3_16(pilots, query):
    assert names.resolve_pilots(pilots, [query]) == ["P3-16"]
    assert select_pilots(pilots, ids=[query])["pilot_id"].tolist() == ["P3-16"]


@pytest.mark.parametrize("query, pilot", [
    ("思茅", "P3-34"), ("思茅区", "P3-34"), ("普洱市思茅区", "P3-34"),   # compound name: the district alone too
    ("阿拉尔", "P3-45"), ("Aral", "P3-45"),                              # 第一师阿拉尔市, "Aral (First Division, XPCC)"
    ("Suzhou", "P2-10"), ("Suzhou (Jiangsu)", "P2-10"),                # the qualifier may be left out
    ("Huai'an", "P2-11"), ("huaian", "P2-11"), ("Jilin City", "P2-08"), ("jilinshi", "P2-08"),
    ("长阳", "P3-23"), ("Changyang Tujia Autonomous County", "P3-23"),
])
def test_names_and_qualifiers(pilots, query, pilot):
    assert names.resolve_pilots(pilots, [query]) == [pilot]


def test_order_kept_and_repeats_dropped(pilots):
    assert names.resolve_pilots(pilots, ["深圳", "P3-16", "Shenzhen"]) == ["P1-08", "P3-16"]


def test_no_name_is_shared_by_two_pilots(pilots):
    # every compare form of the 87 pilots' ids and names points at one pilot
    shared = {k: v for k, v in names.pilot_index(pilots).items() if len(v) > 1}
    assert shared == {}


def test_ambiguous_name_is_one_error_listing_both():
    # 苏州 (Jiangsu) and 宿州 (Anhui) are both "Suzhou" in pinyin
    two = pd.DataFrame({"pilot_id": ["X-01", "X-02"], "name_zh": ["苏州市", "宿州市"],
                        "name_en": ["Suzhou (Jiangsu)", "Suzhou (Anhui)"], "pinyin": ["suzhou", "suzhou"]})
    with pytest.raises(RegistryError, match="names several pilots") as info:
        names.resolve_pilots(two, ["suzhou"])
    assert "X-01 苏州市" in str(info.value) and "X-02 宿州市" in str(info.value)
    assert names.resolve_pilots(two, ["宿州"]) == ["X-02"]


def test_unknown_name_lists_close_matches(pilots):
    with pytest.raises(RegistryError) as info:
        names.resolve_pilots(pilots, ["Sanmin", "P9-99"])
    text = str(info.value)
    assert "'Sanmin' is not a pilot id or name; 'P9-99' is not a pilot id or name" in text
    assert "did you mean P3-16 三明市 Sanming" in text and text.count("Expected") == 1


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_case_spaces_and_tones_never_matter(pilots, data):
    row = pilots.iloc[data.draw(st.integers(0, len(pilots) - 1))]
    name = data.draw(st.sampled_from([row["name_en"], row["pinyin"], row["pilot_id"]]))
    flips = data.draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    varied = "".join(c.upper() if f else c.lower() for c, f in zip(name, flips))
    cut = data.draw(st.integers(0, len(varied)))
    varied = varied[:cut] + data.draw(st.sampled_from(["", " ", "  ", "\u0301"])) + varied[cut:]
    assert names.resolve_pilots(pilots, [varied]) == [row["pilot_id"]]


# --------------------------------------------------------------------------- provinces


def test_province_table_matches_the_boundary_layer(provinces):
    layer = pyogrio.read_dataframe(geodata_dir() / "boundaries.gpkg", layer="provinces", read_geometry=False)
    assert len(provinces) == 34
    assert dict(zip(provinces["adcode"], provinces["name_zh"])) == dict(zip(layer["adcode"], layer["name_zh"]))
    assert {k: v for k, v in names.province_index(provinces).items() if len(v) > 1} == {}


def test_every_name_of_every_province_resolves(provinces):
    for row in provinces.itertuples(index=False):
        for value in (row.adcode, row.adcode // 10000, row.name_zh, row.short_zh, row.name_en, row.pinyin,
                      row.name_en.upper(), *row.other_names.split(";")):
            assert names.resolve_province(value) == row.adcode, value


@pytest.mark.parametrize("value, adcode", [
    ("广东省", 440000), ("广东", 440000), ("Guangdong", 440000), ("Guangdong Province", 440000), ("粤", 440000),
    ("440000", 440000), ("44", 440000), (44, 440000),
    ("Inner Mongolia", 150000), ("内蒙古", 150000), ("Nei Mongol", 150000),
    ("Tibet", 540000), ("Xizang", 540000), ("Xīzàng", 540000),
    ("Hong Kong", 810000), ("香港", 810000), ("Macau", 820000), ("Macao", 820000),
    ("Shaanxi", 610000), ("Shanxi", 140000),   # 陕西 and 山西 stay apart
    ("Guangxi Zhuang Autonomous Region", 450000),
])
def test_province_names(value, adcode):
    assert names.resolve_province(value) == adcode


@pytest.mark.parametrize("value, message", [
    ("Atlantis", "'Atlantis' is not a province-level unit"),
    ("440300", "440300 is not a province adcode (it lies in 广东省 Guangdong, 440000)"),
    ("99", "99 is not a province adcode"),
    ("Guangdon", "did you mean 广东省 Guangdong"),
])
def test_province_errors(value, message):
    with pytest.raises(RegistryError) as info:
        names.resolve_province(value)
    assert message in str(info.value)


def test_select_by_any_province(pilots):
    assert select_pilots(pilots, province="Tibet")["name_zh"].tolist() == ["拉萨市"]
    inner = select_pilots(pilots, province="Inner Mongolia")["name_zh"]
    assert sorted(inner) == sorted(select_pilots(pilots, province="15")["name_zh"]) == ["乌海市", "呼伦贝尔市"]
    assert select_pilots(pilots, province="Hong Kong").empty  # a real province, without pilots


# --------------------------------------------------------------------------- the command line


def test_cli_selects_by_name():
    res = _run("regions", "--id", "三明", "--id", "shenzhen", "--format", "csv")
    assert res.exit_code == 0, res.output
    assert pd.read_csv(pd.io.common.StringIO(res.stdout))["pilot_id"].tolist() == ["P1-08", "P3-16"]
    res = _run("regions", "--province", "Xizang", "--format", "csv")
    assert res.exit_code == 0 and "拉萨市" in res.stdout


@pytest.mark.parametrize("args, line", [
    (["--batch", "9"], "atlas: error: --batch 9 is not a batch. Expected 1 (2010), 2 (2012) or 3 (2017). Fix: "),
    (["--year", "2011"], "atlas: error: --year 2011 is not a year of designation. Expected 2010 (batch 1), "),
    (["--level", "town"], "atlas: error: --level town is not a level. Expected province, prefecture or county."),
    (["--id", "Sanmin"], "atlas: error: --id 'Sanmin' is not a pilot id or name. Expected "),
    (["--province", "Atlantis"], "atlas: error: --province 'Atlantis' is not a province-level unit of China."),
    (["--province", "香港"], "atlas: error: 香港特别行政区 Hong Kong (--province 810000) has no national low-carbon"),
    (["--batch", "1", "--level", "county"], "atlas: error: No pilot matches --batch 1 --level county."),
])
def test_bad_values_are_one_line(args, line):
    res = _run("regions", *args)
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(line), res.stderr
    assert lines[0].count("Expected") == 1 and lines[0].count("Fix:") == 1


def test_option_error_is_an_atlas_error_and_pickles():
    err = OptionValueError("--batch 9 is not a batch", "1, 2 or 3", "give 1, 2 or 3")
    assert isinstance(err, AtlasError) and isinstance(err, ValueError)
    assert str(err) == err.format_message() == "--batch 9 is not a batch. Expected 1, 2 or 3. Fix: give 1, 2 or 3."
    assert str(pickle.loads(pickle.dumps(err))) == str(err)


# --------------------------------------------------------------------------- outputs


@pytest.fixture
def table():
    # 0.1 + 0.2 = 0.30000000000000004 must survive (pandas' to_json would round it to 0.3)
    return pd.DataFrame({"pilot_id": ["P3-16", "P1-08"], "name_zh": ["三明市", "深圳市"],
                         "value": [0.1 + 0.2, np.nan], "count": pd.array([3, None], dtype="Int64")})


def test_json_is_utf8_records(table, tmp_path):
    out = write_frame(table, tmp_path / "t.json")
    raw = out.read_bytes()
    assert "三明市".encode() in raw and b"\\u" not in raw
    assert json.loads(raw) == [{"pilot_id": "P3-16", "name_zh": "三明市", "value": 0.30000000000000004, "count": 3},
                               {"pilot_id": "P1-08", "name_zh": "深圳市", "value": None, "count": None}]
    assert records_json(table.iloc[:0]) == "[\n]\n"


def test_json_with_geometries_is_geojson(table, tmp_path):
    geo = gpd.GeoDataFrame(table, geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 1, 2, 2)], crs=4326)
    data = json.loads(write_frame(geo, tmp_path / "t.json").read_text(encoding="utf-8"))
    assert data["type"] == "FeatureCollection" and data["features"][0]["properties"]["name_zh"] == "三明市"
    with pytest.raises(ConfigError, match="write .json"):
        write_frame(table, tmp_path / "t.geojson")


def test_excel_csv_has_a_bom(table, tmp_path):
    out = write_frame(table, tmp_path / "t.csv", excel=True)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf" + b"pilot_id,name_zh") and b"\r\n" in raw
    back = pd.read_csv(out, encoding="utf-8-sig")
    assert back["name_zh"].tolist() == ["三明市", "深圳市"]
    plain = write_frame(table, tmp_path / "p.csv").read_bytes()
    assert plain.startswith(b"pilot_id") and b"\r" not in plain
    with pytest.raises(ConfigError, match="--excel"):
        write_frame(table, tmp_path / "t.gpkg", excel=True)


def test_cli_json_geojson_and_excel_outputs(tmp_path):
    assert _run("regions", "--id", "三明", "-o", tmp_path / "a.json").exit_code == 0
    assert json.loads((tmp_path / "a.json").read_text(encoding="utf-8"))[0]["pilot_id"] == "P3-16"
    assert _run("regions", "--id", "三明", "-o", tmp_path / "a.geojson").exit_code == 0
    assert gpd.read_file(tmp_path / "a.geojson")["name_zh"].tolist() == ["三明市"]
    res = _run("regions", "--id", "三明", "--excel", "-o", tmp_path / "a.csv")
    assert res.exit_code == 0 and (tmp_path / "a.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    res = _run("regions", "--id", "三明", "--format", "csv", "--excel")
    assert res.stdout_bytes.startswith(b"\xef\xbb\xbf")


def _last_change(path) -> str:
    with sqlite3.connect(path) as db:
        return db.execute("select last_change from gpkg_contents").fetchone()[0]


def test_geopackage_is_reproducible_without_touching_the_environment(table, tmp_path, monkeypatch):
    monkeypatch.delenv("OGR_CURRENT_DATE", raising=False)
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    before = dict(os.environ)
    geo = gpd.GeoDataFrame(table, geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 1, 2, 2)], crs=4326)
    a = write_frame(geo, tmp_path / "a.gpkg", layer="t")
    b = write_frame(geo, tmp_path / "b.gpkg", layer="t")
    assert a.read_bytes() == b.read_bytes()
    assert _last_change(a) == REPRODUCIBLE_DATE
    assert dict(os.environ) == before and pyogrio.get_gdal_config_option("OGR_CURRENT_DATE") is None
    c = write_frame(table, tmp_path / "c.gpkg", layer="t")  # attribute-only table
    assert _last_change(c) == REPRODUCIBLE_DATE and write_frame(table, tmp_path / "d.gpkg", layer="t").read_bytes() \
        == c.read_bytes()


def test_geopackage_date_follows_the_users_environment(table, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "86400")  # 1970-01-02
    assert _last_change(write_frame(table, tmp_path / "e.gpkg")) == "1970-01-02T00:00:00.000Z"
    monkeypatch.setenv("OGR_CURRENT_DATE", "2020-01-01T00:00:00.000Z")
    assert _last_change(write_frame(table, tmp_path / "f.gpkg")) == "2020-01-01T00:00:00.000Z"
    assert pyogrio.get_gdal_config_option("OGR_CURRENT_DATE") == "2020-01-01T00:00:00.000Z"  # the environment's
