"""Carbon intensity on real GDP and verdicts on intensity targets (atlas.carbon.intensity),
and checks on the shipped GDP file geodata/gdp_constant_prices.csv."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from atlas.carbon.intensity import (INTENSITY_COLUMN, SCOPE_CAVEAT, chain_real_gdp, intensity_series,
                                    judge_intensity_targets)

GEODATA = Path(__file__).resolve().parents[1] / "geodata"
GDP_FILE = GEODATA / "gdp_constant_prices.csv"
TARGET_COLUMNS = ["target_id", "pilot_id", "indicator", "base_year", "target_year", "value_low", "value_high",
                  "unit", "note"]


def _targets(rows):
    return pd.DataFrame(rows, columns=TARGET_COLUMNS)


def _emissions(rows):
    return pd.DataFrame(rows, columns=["pilot_id", "year", "emissions_tco2"])


def _gdp(rows):
    return pd.DataFrame(rows, columns=["pilot_id", "year", "gdp_real_100m_yuan_2005"])


# Pilot A: emissions 100 → 80 t, real GDP 10 → 12 亿元 between 2010 and 2015.
#   I(2010) = 100 / (10 × 10^4 万元) = 0.001     t/万元
#   I(2015) =  80 / (12 × 10^4 万元) = 0.000667  t/万元
#   the ratio I(2015)/I(2010) = (80/12)/(100/10) = 6.667/10 = 0.6667 → reduction 33.33 %
EMISSIONS_A = _emissions([("A", 2010, 100.0), ("A", 2015, 80.0)])
GDP_A = _gdp([("A", 2010, 10.0), ("A", 2015, 12.0)])


def test_intensity_is_emissions_over_real_gdp_in_ten_thousand_yuan():
    out = intensity_series(EMISSIONS_A, GDP_A)
    assert list(out.columns) == ["pilot_id", "year", "emissions_tco2", "gdp_real_100m_yuan_2005", INTENSITY_COLUMN]
    assert INTENSITY_COLUMN == "intensity_tco2_per_10k_yuan_2005"
    # 100 t / 10 亿元 = 100 t / 100 000 万元 = 0.001 t/万元 (10 t per 亿元 ÷ 10^4)
    assert out.loc[out.year == 2010, INTENSITY_COLUMN].item() == pytest.approx(0.001)
    # 80 t / 12 亿元 = 80 / 120 000 = 6.667e-4 t/万元
    assert out.loc[out.year == 2015, INTENSITY_COLUMN].item() == pytest.approx(80 / 120_000)
    # t per 亿元 would be 10 → 6.667; per 万元 it is 10^4 times smaller
    per_100m = out["emissions_tco2"] / out["gdp_real_100m_yuan_2005"]
    assert np.allclose(per_100m, [10.0, 80 / 12])
    assert np.allclose(out[INTENSITY_COLUMN] * 1e4, per_100m)


def test_intensity_keeps_only_years_with_both_emissions_and_gdp():
    emissions = _emissions([("A", 2009, 90.0), ("A", 2010, 100.0), ("B", 2010, 5.0)])
    gdp = _gdp([("A", 2010, 10.0), ("A", 2011, 11.0)])
    out = intensity_series(emissions, gdp)
    assert out[["pilot_id", "year"]].values.tolist() == [["A", 2010]]


def test_intensity_rejects_repeated_years_and_non_positive_gdp():
    with pytest.raises(ValueError):
        intensity_series(_emissions([("A", 2010, 1.0), ("A", 2010, 2.0)]), GDP_A)
    with pytest.raises(ValueError):
        intensity_series(EMISSIONS_A, _gdp([("A", 2010, 0.0), ("A", 2015, 12.0)]))
    with pytest.raises(ValueError):
        intensity_series(EMISSIONS_A.drop(columns="emissions_tco2"), GDP_A)


def test_reduction_of_a_third_meets_a_17_percent_target():
    intensity = intensity_series(EMISSIONS_A, GDP_A)
    targets = _targets([("T1", "A", "carbon_intensity_reduction_vs_2010", 2010, 2015, 17, 17, "%", "")])
    out = judge_intensity_targets(targets, intensity, latest_year=2019)
    row = out.iloc[0]
    # 1 − 6.667/10 = 0.3333 → 33.33 % ≥ 17 %
    assert row["measured_value"] == pytest.approx(100 / 3)
    assert row["measured_unit"] == "%"
    assert row["measured_year"] == 2015
    assert row["status"] == "met"
    assert "I(2010)=0.0010" in row["measured_source"]


def test_reduction_below_the_goal_is_not_met_and_the_goal_is_the_lower_bound():
    # A2: emissions 100 → 95, GDP 10 → 11: I 10 → 8.636 (per 亿元), reduction 1 − 8.636/10 = 13.64 %
    intensity = intensity_series(_emissions([("A2", 2010, 100.0), ("A2", 2015, 95.0)]),
                                 _gdp([("A2", 2010, 10.0), ("A2", 2015, 11.0)]))
    targets = _targets([
        ("T1", "A2", "carbon_intensity_reduction_vs_2010", 2010, 2015, 17, 17, "%", ""),   # 13.64 < 17
        ("T2", "A2", "carbon_intensity_reduction_vs_2010", 2010, 2015, 13, 28, "%", ""),   # 13.64 ≥ 13 (low end)
    ])
    out = judge_intensity_targets(targets, intensity, latest_year=2019)
    assert out["measured_value"].tolist() == pytest.approx([(1 - (95 / 11) / 10) * 100] * 2)
    assert out["measured_value"].iloc[0] == pytest.approx(13.636, abs=1e-3)
    assert out["status"].tolist() == ["not met", "met"]
    assert "lower bound" in out["caveat"].iloc[1]


def test_target_year_after_the_data_is_pending_with_the_latest_reduction_as_progress():
    # B: 2005 → 2019; emissions 100 → 150, GDP 10 → 30:
    #   I(2005) = 100/10 = 10, I(2019) = 150/30 = 5 (per 亿元) → reduction 1 − 5/10 = 50 % by 2019
    intensity = intensity_series(_emissions([("B", 2005, 100.0), ("B", 2015, 120.0), ("B", 2019, 150.0)]),
                                 _gdp([("B", 2005, 10.0), ("B", 2015, 20.0), ("B", 2019, 30.0)]))
    targets = _targets([("T1", "B", "carbon_intensity_reduction_vs_2005", 2005, 2020, 45, 45, "%", "")])
    out = judge_intensity_targets(targets, intensity, latest_year=2019)
    row = out.iloc[0]
    assert row["status"] == "pending"
    assert row["measured_value"] == pytest.approx(50.0)
    assert row["measured_year"] == 2019
    assert "progress" in row["caveat"]


def test_years_after_latest_year_are_ignored():
    # the same B series cut at 2015: I(2015) = 120/20 = 6 → reduction 1 − 6/10 = 40 %, year 2015
    intensity = intensity_series(_emissions([("B", 2005, 100.0), ("B", 2015, 120.0), ("B", 2019, 150.0)]),
                                 _gdp([("B", 2005, 10.0), ("B", 2015, 20.0), ("B", 2019, 30.0)]))
    targets = _targets([
        ("T1", "B", "carbon_intensity_reduction_vs_2005", 2005, 2019, 45, 45, "%", ""),
        ("T2", "B", "carbon_intensity_reduction_vs_2005", 2005, 2015, 35, 35, "%", ""),
    ])
    out = judge_intensity_targets(targets, intensity, latest_year=2015)
    assert out["status"].tolist() == ["pending", "met"]
    assert out["measured_value"].tolist() == pytest.approx([40.0, 40.0])
    assert out["measured_year"].tolist() == [2015, 2015]


def test_missing_base_year_is_not_measurable():
    # C has data from 2008 only: a 2005-based target cannot be measured; D has no data at all
    intensity = intensity_series(_emissions([("C", 2008, 50.0), ("C", 2015, 40.0)]),
                                 _gdp([("C", 2008, 5.0), ("C", 2015, 8.0)]))
    targets = _targets([
        ("T1", "C", "carbon_intensity_reduction_vs_2005", 2005, 2015, 35, 35, "%", ""),
        ("T2", "D", "carbon_intensity_reduction_vs_2010", 2010, 2015, 17, 17, "%", ""),
    ])
    out = judge_intensity_targets(targets, intensity, latest_year=2019)
    assert out["status"].tolist() == ["not measurable", "not measurable"]
    assert out["measured_value"].isna().all()
    assert out["measured_unit"].tolist() == ["", ""]
    assert out["measured_year"].isna().all()
    assert "base year" in out["caveat"].iloc[0]
    assert "no year with both emissions and real GDP" in out["caveat"].iloc[1]


def test_only_carbon_intensity_targets_are_judged_and_every_caveat_names_the_scope():
    intensity = intensity_series(EMISSIONS_A, GDP_A)
    targets = _targets([
        ("T0", "A", "energy_intensity_reduction_vs_2010", 2010, 2015, 16, 16, "%", ""),
        ("T1", "A", "carbon_intensity_reduction_vs_2010", 2010, 2015, 17, 17, "%", ""),
        ("T2", "A", "forest_coverage", None, 2015, 40, 40, "%", ""),
        ("T3", "", "carbon_intensity_reduction_vs_2010", 2010, 2015, 17, 17, "%", "national column, not a pilot"),
        ("T4", None, "carbon_intensity_reduction_vs_2005", 2005, 2020, 40, 45, "%", "national column, not a pilot"),
    ])
    out = judge_intensity_targets(targets, intensity, latest_year=2019)
    assert out["target_id"].tolist() == ["T1"]
    for col in ["measured_value", "measured_unit", "measured_year", "measured_source", "status", "caveat"]:
        assert col in out.columns
    caveat = out["caveat"].iloc[0]
    assert SCOPE_CAVEAT in caveat
    assert "cement" in caveat and "水泥" in caveat and "energy balances" in caveat
    assert "GDP" in caveat and "vintage" in caveat


def test_status_value_rows_are_not_judged():
    intensity = intensity_series(EMISSIONS_A, GDP_A)
    targets = _targets([("T1", "A", "carbon_intensity_reduction_vs_2010", 2010, 2015, 17, 17, "%",
                         "status value (2015 column), not a target")])
    out = judge_intensity_targets(targets, intensity, latest_year=2019)
    assert out["status"].iloc[0] == "baseline (not a target)"


# ---- the shipped GDP file -------------------------------------------------------------------

@pytest.fixture(scope="module")
def shipped_gdp():
    return pd.read_csv(GDP_FILE, dtype={"adcode": str, "pilot_id": str})


def test_gdp_file_covers_2005_to_2019_for_every_province_level_pilot(shipped_gdp):
    pilots = pd.read_csv(GEODATA / "pilots.csv", dtype=str)
    provinces = pilots[pilots["level"] == "province"]
    assert len(provinces) == 10
    raw = GDP_FILE.read_bytes()
    assert b"\r\n" not in raw and not raw.startswith(b"\xef\xbb\xbf")
    assert list(shipped_gdp.columns) == [
        "adcode", "pilot_id", "name_zh", "year", "gdp_nominal_100m_yuan", "gdp_index_prev_year",
        "gdp_real_100m_yuan_2005", "gdp_real_base_year", "source_document", "publisher", "source_year",
        "url_or_page", "status"]
    assert not shipped_gdp.duplicated(["pilot_id", "year"]).any()
    for _, p in provinces.iterrows():
        rows = shipped_gdp[shipped_gdp["pilot_id"] == p["pilot_id"]]
        assert sorted(rows["year"]) == list(range(2005, 2020)), p["name_zh"]
        assert (rows["adcode"] == p["adcode"]).all() and (rows["name_zh"] == p["name_zh"]).all()
        assert rows[["gdp_nominal_100m_yuan", "gdp_index_prev_year", "gdp_real_100m_yuan_2005"]].notna().all().all()
    assert set(shipped_gdp["status"]) <= {"verified", "secondary"}
    assert (shipped_gdp["gdp_real_base_year"] == 2005).all()
    assert shipped_gdp["source_document"].str.len().gt(0).all()
    assert shipped_gdp["url_or_page"].str.len().gt(0).all()


def test_gdp_index_values_are_plausible(shipped_gdp):
    assert shipped_gdp["gdp_index_prev_year"].between(100, 120).all()
    assert (shipped_gdp["gdp_nominal_100m_yuan"] > 0).all()


def test_real_gdp_is_chained_from_2005_nominal_with_the_index(shipped_gdp):
    # real(2005) = nominal(2005); real(t) = real(t−1) × index(t)/100
    expected = chain_real_gdp(shipped_gdp)
    assert np.allclose(shipped_gdp["gdp_real_100m_yuan_2005"], expected, rtol=0, atol=0.01)
    base = shipped_gdp[shipped_gdp["year"] == 2005]
    assert np.allclose(base["gdp_real_100m_yuan_2005"], base["gdp_nominal_100m_yuan"])
    # hand check, Beijing 2005 → 2006: 7149.8 × 112.8/100 = 8064.97
    bj = shipped_gdp[shipped_gdp["pilot_id"] == "P2-01"].set_index("year")
    assert bj.loc[2006, "gdp_real_100m_yuan_2005"] == pytest.approx(7149.8 * 1.128, abs=0.01)
    # the implied deflator (nominal/real) of 2019 is above that of 2005 for every province
    last = shipped_gdp[shipped_gdp["year"] == 2019]
    assert (last["gdp_nominal_100m_yuan"] > last["gdp_real_100m_yuan_2005"]).all()


def test_chain_real_gdp_never_bridges_a_gap():
    gdp = pd.DataFrame({"pilot_id": ["X"] * 4, "year": [2005, 2006, 2008, 2009],
                        "gdp_nominal_100m_yuan": [100.0, 120.0, 150.0, 160.0],
                        "gdp_index_prev_year": [110.0, 110.0, 110.0, 110.0]})
    real = chain_real_gdp(gdp)
    # 2005: 100; 2006: 100 × 1.1 = 110; 2007 missing → 2008 and later unknown
    assert real.iloc[:2].tolist() == pytest.approx([100.0, 110.0])
    assert real.iloc[2:].isna().all()
