"""The pilot registry: counts, seed values, validation."""

import shutil

import pandas as pd
import pytest

from atlas.errors import RegistryError
from atlas.paths import geodata_dir
from atlas.regions.registry import join_stats, load_registry, select_pilots

SEED = geodata_dir().parent.parent / "shared" / "seed" / "000_8d9a7435b6f80dcc.txt"


@pytest.fixture(scope="module")
def reg():
    return load_registry()


def test_counts_per_batch(reg):
    assert reg.pilots.groupby("batch").size().to_dict() == {1: 13, 2: 29, 3: 45}
    assert len(reg.pilots) == 87
    assert reg.pilots["pilot_id"].is_unique and reg.pilots["adcode"].is_unique


def test_batch_documents_and_years(reg):
    docs = reg.pilots.groupby("batch")["document"].unique().to_dict()
    assert list(docs[1]) == ["发改气候[2010]1587号"]
    assert list(docs[2]) == ["发改气候[2012]3760号"]
    assert list(docs[3]) == ["发改气候〔2017〕66号"]


@pytest.mark.parametrize("name, adcode", [
    ("吉林市", 220200), ("思茅区", 530802), ("昌吉市", 652301), ("和田市", 653201), ("伊宁市", 654002),
    ("阿拉尔市", 659002),
])
def test_name_clashes_resolved_by_adcode(reg, name, adcode):
    row = reg.pilots[reg.pilots["adcode"] == adcode]
    assert len(row) == 1 and name in row["name_zh"].iloc[0]


def test_levels(reg):
    levels = reg.pilots.set_index("adcode")["level"]
    assert levels[440000] == "province" and levels[120000] == "province"  # 广东, 天津 (municipality)
    assert levels[130600] == "prefecture"  # 保定
    assert levels[530802] == "county"  # 思茅区


@pytest.mark.parametrize("pilot, column, printed", [
    ("P1-08", "population_10k", 1037),     # Table 1: 深圳 1037 万人
    ("P1-08", "gdp_per_capita_yuan", 92382),
    ("P1-13", "co2_per_capita_t", 4.9),    # Table 1: 保定 4.9 t CO2/人
    ("P1-05", "gdp_100m_yuan", 7224),      # Table 1: 云南 7224 亿元
])
def test_table1_spot_checks(reg, pilot, column, printed):
    row = reg.stats_2010[(reg.stats_2010["pilot_id"] == pilot) & (reg.stats_2010["source_table"] == "Table 1")]
    assert row[column].iloc[0] == printed


def test_table2_blank_rows_stay_blank(reg):
    t2 = reg.stats_2010[reg.stats_2010["source_table"] == "Table 2"].set_index("name_as_printed")
    for name in ("呼伦贝尔", "淮安", "池州", "南平", "广元", "延安"):
        assert t2.loc[name, ["population_10k", "gdp_100m_yuan", "co2_per_capita_t"]].isna().all()
    assert t2.loc["金昌", "co2_per_capita_t"] == 25.1


@pytest.mark.skipif(not SEED.is_file(), reason="seed text absent")
def test_stats_rows_appear_in_seed_text(reg):
    text = SEED.read_text(encoding="utf-8")
    for _, row in reg.stats_2010.dropna(subset=["population_10k"]).iterrows():
        printed = f"{row['name_as_printed']}\t{row['population_10k']:g}\t{row['gdp_100m_yuan']:g}"
        assert printed in text, printed


def test_targets_controlled_and_ranges(reg):
    assert set(reg.targets["indicator"]) <= set(reg.indicators["indicator"])
    nanchang = reg.targets[(reg.targets["pilot_id"] == "P1-11") & (reg.targets["target_year"] == 2020)
                           & (reg.targets["indicator"] == "carbon_intensity_reduction_vs_2010")]
    assert (nanchang["value_low"].iloc[0], nanchang["value_high"].iloc[0]) == (25, 28)  # Table 4: 25-28


def test_crosscheck_records_hangzhou_disagreement(reg):
    hz = reg.crosscheck[(reg.crosscheck["pilot_id"] == "P1-10") & (reg.crosscheck["status"] == "disagree")]
    assert len(hz) >= 1


def test_select_filters(reg):
    assert len(select_pilots(reg.pilots, batch=3)) == 45
    assert set(select_pilots(reg.pilots, province="广东")["name_zh"]) >= {"广东省", "深圳市"}
    assert len(select_pilots(reg.pilots, year=2012, level="province")) == 3  # 北京, 上海, 海南
    with pytest.raises(RegistryError, match="Unknown batch"):
        select_pilots(reg.pilots, batch=4)
    with pytest.raises(RegistryError, match="not a province-level unit"):
        select_pilots(reg.pilots, province="Atlantis")


def test_join_stats_keeps_every_pilot(reg):
    joined = join_stats(reg.pilots, reg.stats_2010)
    assert len(joined) == 87
    assert joined.set_index("pilot_id").loc["P1-01", "population_10k"] == 10441


@pytest.fixture
def copy(tmp_path):
    dst = tmp_path / "geodata"
    shutil.copytree(geodata_dir(), dst, ignore=shutil.ignore_patterns("*.gpkg", "*.tif"))
    return dst


@pytest.mark.parametrize("table, row, column, value, match", [
    ("pilots.csv", 1, "pilot_id", "P1-01", "Duplicate pilot_id"),
    ("targets.csv", 0, "indicator", "happiness_index", "happiness_index"),
    ("pilots.csv", 5, "adcode", "990000", "Invalid adcode"),
    ("pilots.csv", 3, "batch", "4", "Unknown batch"),
])
def test_broken_tables_rejected(copy, table, row, column, value, match):
    df = pd.read_csv(copy / table, dtype=str, keep_default_na=False)
    df.loc[row, column] = value
    df.to_csv(copy / table, index=False)
    with pytest.raises(RegistryError, match=match):
        load_registry(copy)


def test_gbk_file_gets_clear_error(copy):
    text = (copy / "pilots.csv").read_text(encoding="utf-8")
    (copy / "pilots.csv").write_bytes(text.encode("gbk", errors="replace"))
    with pytest.raises(RegistryError, match="not valid UTF-8"):
        load_registry(copy)
