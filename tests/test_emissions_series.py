"""The shipped CEADs emission series (geodata/) and, with ../shared/realdata, their match to CEADs."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
GEODATA = ROOT / "geodata"
CEADS = Path(__file__).resolve().parents[1].parent / "shared" / "realdata" / "ceads"
CITY_FILE = "The_Emission_Inventories_for_290_Chinese_Cities_from_1997_to_2019.xlsx"


@pytest.fixture(scope="module")
def names() -> pd.DataFrame:
    return pd.read_csv(GEODATA / "ceads_city_names.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def ceads() -> pd.DataFrame:
    return pd.read_csv(GEODATA / "emissions_series_ceads.csv", dtype={"adcode": str})


@pytest.fixture(scope="module")
def pilot_series() -> pd.DataFrame:
    return pd.read_csv(GEODATA / "emissions_series_pilots.csv", dtype={"adcode": str})


@pytest.fixture(scope="module")
def pilots() -> pd.DataFrame:
    return pd.read_csv(GEODATA / "pilots.csv", dtype={"adcode": str})


def test_name_table_complete_and_unique(names):
    assert list(names.columns) == ["ceads_name", "adcode", "name_zh", "province_zh", "match_note"]
    assert len(names) == 290
    assert names["ceads_name"].is_unique and names["adcode"].is_unique
    assert names["adcode"].str.fullmatch(r"\d{6}").all()
    assert (names["match_note"] != "").all()
    special = names.set_index("ceads_name")
    assert special.at["湖北襄阳", "adcode"] == "420600" and "襄樊" in special.at["湖北襄阳", "match_note"]
    assert special.at["安徽巢湖", "adcode"] == "341400" and "2011" in special.at["安徽巢湖", "match_note"]
    assert special.at["山东莱芜", "adcode"] == "371200" and "济南" in special.at["山东莱芜", "match_note"]


def test_pilot_names_agree_with_registry(names, pilots):
    both = names.merge(pilots, on="adcode", suffixes=("_ceads", "_registry"))
    assert len(both) >= 60
    assert (both["name_zh_ceads"] == both["name_zh_registry"]).all()


def test_ceads_series_shape(ceads, names):
    assert list(ceads.columns) == ["adcode", "level", "name_zh", "year", "emissions_tco2", "source"]
    assert set(ceads["level"]) == {"city", "province"}
    assert ceads["year"].between(1997, 2019).all()
    assert not ceads.duplicated(["adcode", "level", "year"]).any()
    counts = ceads.groupby("level")["adcode"].nunique()
    assert counts["city"] == 290 and counts["province"] == 30
    assert set(ceads.loc[ceads["level"] == "city", "adcode"]) == set(names["adcode"])
    assert (ceads.groupby(["level", "adcode"]).size() == 23).all()  # blanks kept as empty cells
    assert ceads.loc[ceads["level"] == "province", "emissions_tco2"].notna().all()
    assert (ceads["emissions_tco2"].dropna() > 0).all()
    assert ceads["source"].str.contains("CEADs").all()


def test_pilot_series_consistent(pilot_series, pilots, ceads):
    assert list(pilot_series.columns) == ["pilot_id", "adcode", "year", "emissions_tco2", "source"]
    assert not pilot_series.duplicated(["pilot_id", "year"]).any()
    assert pilot_series["year"].between(1997, 2019).all()
    assert set(pilot_series["pilot_id"]) <= set(pilots["pilot_id"])
    years = pilot_series.dropna(subset=["emissions_tco2"]).groupby("pilot_id").size()
    assert (years >= 15).sum() >= 40
    registry = pilots.set_index("pilot_id")["adcode"]
    assert (pilot_series["adcode"] == pilot_series["pilot_id"].map(registry)).all()
    # province pilots are complete; municipalities say which file was used
    prov = pilot_series[pilot_series["pilot_id"].map(pilots.set_index("pilot_id")["level"]) == "province"]
    assert prov.groupby("pilot_id")["emissions_tco2"].count().eq(23).all()
    muni = prov[prov["adcode"].isin({"110000", "120000", "310000", "500000"})]
    assert muni["pilot_id"].nunique() == 4 and muni["source"].str.contains("municipality").all()
    # values are the CEADs rows they came from
    city = ceads[ceads["level"] == "city"].set_index(["adcode", "year"])["emissions_tco2"]
    cities = pilot_series[pilot_series["source"].str.contains("city inventory")]
    looked_up = city.reindex(pd.MultiIndex.from_frame(cities[["adcode", "year"]])).to_numpy()
    assert np.array_equal(looked_up, cities["emissions_tco2"].to_numpy(), equal_nan=True)


def test_not_covered_partition(pilot_series, pilots):
    missing = pd.read_csv(GEODATA / "emissions_pilots_not_covered.csv")
    assert list(missing.columns) == ["pilot_id", "name_zh", "level", "reason"]
    assert set(missing["pilot_id"]).isdisjoint(pilot_series["pilot_id"])
    assert set(missing["pilot_id"]) | set(pilot_series["pilot_id"]) == set(pilots["pilot_id"])
    assert missing["reason"].str.len().gt(10).all()
    assert {"P3-35", "P3-45", "P3-34"} <= set(missing["pilot_id"])  # Lhasa, XPCC, 思茅区


def test_documented():
    text = (GEODATA / "EMISSIONS_SERIES.md").read_text(encoding="utf-8")
    for needle in ("Shan", "doi:10.1016/j.scib.2022.08.024", "Scope 1 Total", "ceads_city_names.csv",
                   "emissions_pilots_not_covered.csv", "tonnes"):
        assert needle in text


# --------------------------------------------------------------------------- real data

def _norm(value: object) -> str:
    return re.sub(r"[^a-z0-9]", "", str(value).lower())


@pytest.mark.realdata
def test_shipped_values_equal_ceads(ceads, pilot_series, names):
    if not CEADS.is_dir():
        pytest.skip("../shared/realdata/ceads is absent")
    matrix = pd.read_excel(CEADS / CITY_FILE, sheet_name="emission matrix")
    long = matrix.melt(id_vars="city", var_name="year", value_name="mt")
    long["year"] = long["year"].astype(float).astype(int)
    long = long[long["year"].between(1997, 2019)]
    long["adcode"] = long["city"].map(names.set_index("ceads_name")["adcode"])
    assert long["adcode"].notna().all()
    shipped = ceads[ceads["level"] == "city"].merge(long, on=["adcode", "year"], how="outer", validate="1:1")
    assert len(shipped) == 290 * 23
    assert np.array_equal(shipped["emissions_tco2"].to_numpy(), shipped["mt"].to_numpy() * 1e6, equal_nan=True)

    # provinces: row 4 ('Total Consumption' / 'TotalEmissions') x column W ('Scope 1 Total')
    prov = ceads[ceads["level"] == "province"].set_index(["name_zh", "year"])["emissions_tco2"]
    for year in (1997, 2010, 2017, 2019):
        book = pd.ExcelFile(CEADS / f"provinces_{year}.xlsx")
        for sheet, name in (("Beijing", "北京市"), ("Guangdong", "广东省"), ("Xinjiang", "新疆维吾尔自治区")):
            frame = pd.read_excel(book, sheet_name=f"{sheet}{year}", header=None)
            assert _norm(frame.iat[0, 22]) == "scope1total"
            assert _norm(frame.iat[3, 0]) in ("totalconsumption", "totalemissions")
            assert prov[(name, year)] == float(frame.iat[3, 22]) * 1e6

    # PROVENANCE spot checks
    city = ceads[ceads["level"] == "city"].set_index(["name_zh", "year"])["emissions_tco2"]
    assert round(city[("北京市", 2019)] / 1e6, 2) == 88.16
    assert round(city[("深圳市", 2010)] / 1e6, 2) == 37.09
    assert round(city[("合肥市", 2019)] / 1e6, 2) == 39.79
    by_pilot = pilot_series.set_index(["pilot_id", "year"])["emissions_tco2"]
    assert round(by_pilot[("P2-01", 2019)] / 1e6, 2) == 88.16   # 北京 from the city file
    assert round(by_pilot[("P1-08", 2010)] / 1e6, 2) == 37.09   # 深圳
    assert round(by_pilot[("P3-11", 2019)] / 1e6, 2) == 39.79   # 合肥
