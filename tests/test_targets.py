"""Target verdicts only on comparable measures (atlas.carbon.targets)."""

from __future__ import annotations

import pandas as pd
import pytest

from atlas.carbon.targets import track_targets

TARGET_COLUMNS = ["target_id", "pilot_id", "indicator", "base_year", "target_year", "value_low", "value_high",
                  "unit", "note"]


def _targets(rows):
    return pd.DataFrame(rows, columns=TARGET_COLUMNS)


def _official(rows):
    cols = ["region_level", "adcode", "pilot_id", "indicator", "value", "year", "source_document", "publisher",
            "source_year"]
    return pd.DataFrame(rows, columns=cols)


PILOTS = pd.DataFrame({"pilot_id": ["P1", "P2", "PROV"], "level": ["prefecture", "prefecture", "province"],
                       "adcode": [350400, 130600, 530000]})
OFFICIAL = _official([
    # P1: coverage 76.8 % in 2015 and 78.1 % in 2020 (a city bulletin)
    ("prefecture", 350400, "P1", "forest_coverage", 76.8, 2015, "bulletin", "city", 2016),
    ("prefecture", 350400, "P1", "forest_coverage", 78.1, 2020, "bulletin", "city", 2021),
    # P2: only a 2015 figure
    ("prefecture", 130600, "P2", "forest_coverage", 30.0, 2015, "bulletin", "city", 2016),
    # the province of PROV: inventory stock, 万立方米
    ("province", 530000, "", "forest_stock", 169309.2, 2013, "NFI8", "SFA", 2014),
    ("province", 530000, "", "forest_stock", 197265.8, 2018, "NFI9", "SFA", 2019),
])


def test_coverage_targets_are_judged_on_the_first_official_figure_at_or_after_the_target_year():
    targets = _targets([
        ("T1", "P1", "forest_coverage", None, 2015, 78.0, 78.0, "%", ""),   # 76.8 < 78 in 2015: not met
        ("T2", "P1", "forest_coverage", None, 2018, 78.0, 78.0, "%", ""),   # first figure ≥ 2018 is 2020: met
        ("T3", "P2", "forest_coverage", None, 2020, 35.0, 35.0, "%", ""),   # no figure for 2020 yet: pending
        ("T4", "P2", "tree_coverage", None, 2020, 35.0, 35.0, "%", ""),     # no official counterpart
    ])
    out = track_targets(targets, OFFICIAL, PILOTS, remote_sensing_pct=pd.Series({"P1": 42.0, "P2": 0.5}),
                        remote_sensing_year=2019, remote_sensing_source="MODIS")
    status = out.set_index("target_id")["status"].to_dict()
    assert status == {"T1": "not met", "T2": "met", "T3": "pending", "T4": "not measurable"}
    t = out.set_index("target_id")
    assert t.loc["T1", "measured_value"] == 76.8 and t.loc["T1", "measured_year"] == 2015
    assert t.loc["T2", "measured_year"] == 2020 and "2020" in t.loc["T2", "caveat"]
    # pending shows the latest official figure as progress, with its year
    assert t.loc["T3", "measured_value"] == 30.0 and t.loc["T3", "measured_year"] == 2015
    # the raster share is shown beside coverage targets and never decides them
    assert t.loc["T1", "remote_sensing_value"] == 42.0 and "not comparable" in t.loc["T1", "remote_sensing_note"]
    assert str(out["measured_year"].dtype) == "Int64"


def test_stock_targets_of_province_pilots_use_the_province_inventory_in_their_units():
    targets = _targets([
        ("S1", "PROV", "forest_stock", None, 2015, 17.0, 17.0, "亿立方米", ""),
        ("S2", "PROV", "forest_stock", None, 2020, 18.3, 18.3, "亿立方米", ""),
        ("S3", "PROV", "forest_stock", None, 2010, 15.0, 15.0, "亿立方米", "status value (2010 column), not a target"),
    ])
    t = track_targets(targets, OFFICIAL, PILOTS).set_index("target_id")
    # 197,265.8 万立方米 = 19.73 亿立方米 (NFI9, 2018) ≥ 17: met for 2015
    assert t.loc["S1", "status"] == "met" and t.loc["S1", "measured_value"] == pytest.approx(19.72658)
    assert t.loc["S2", "status"] == "pending"          # no official figure for 2020 or later
    assert t.loc["S3", "status"] == "baseline (not a target)"


def test_increases_need_base_and_target_year_figures():
    targets = _targets([("I1", "PROV", "forest_stock_increase", 2013, 2018, 20000, 20000, "万立方米", "")])
    t = track_targets(targets, OFFICIAL, PILOTS).set_index("target_id")
    # 197,265.8 − 169,309.2 = 27,956.6 万立方米 ≥ 20,000
    assert t.loc["I1", "measured_value"] == pytest.approx(27956.6) and t.loc["I1", "status"] == "met"


def test_without_official_statistics_nothing_is_judged():
    targets = _targets([("T1", "P1", "forest_coverage", None, 2015, 78.0, 78.0, "%", "")])
    out = track_targets(targets, None, PILOTS, remote_sensing_pct=pd.Series({"P1": 99.0}), remote_sensing_year=2019)
    assert out["status"].tolist() == ["not measurable"]


def test_carbon_intensity_targets_of_province_pilots_are_judged_on_ceads_and_real_gdp():
    """The shipped CEADs series and NBS real GDP judge the province-level intensity targets
    (geodata/GDP.md: 天津 cut its intensity by 30.5 % over 2010-2015 against a 19 % target)."""
    from atlas.regions import registry
    from atlas.workflow import steps

    reg = registry.load_registry()
    ids = reg.pilots["pilot_id"]
    forest = pd.DataFrame({"forest_ha": 10.0, "land_area_ha": 100.0}, index=ids)
    tracked = steps.track(reg, ids, forest, 2019, "test", steps.official_statistics())
    intensity = tracked[tracked["indicator"].str.startswith("carbon_intensity")]
    tianjin = intensity[(intensity["pilot_id"] == "P1-06") & (intensity["target_year"] == 2015)].iloc[0]
    assert tianjin["status"] == "met" and tianjin["measured_value"] == pytest.approx(30.5, abs=0.1)
    assert tianjin["measured_year"] == 2015
    # targets for 2020 lie after the last CEADs year (2019): pending, with 2019 as progress
    later = intensity[(intensity["pilot_id"] == "P1-06") & (intensity["target_year"] == 2020)].iloc[0]
    assert later["status"] == "pending" and later["measured_year"] == 2019
    assert set(intensity["status"]) <= {"met", "not met", "pending", "not measurable", "baseline (not a target)"}


def test_a_pilot_without_targets_gives_an_empty_table():
    out = track_targets(_targets([]), OFFICIAL, PILOTS)
    assert out.empty and {"status", "measured_value", "caveat"} <= set(out.columns)
