"""A forestry department's sub-compartment (小班) inventory (atlas.carbon.subcompartments)."""

from __future__ import annotations

import pandas as pd
import pytest

from atlas.carbon import subcompartments as sub
from atlas.carbon.stock_change import CONVERSION_PARAMETERS
from atlas.errors import ConfigError

ALIASES = pd.DataFrame({"name": ["杉木", "马尾松", "湿地松"], "group": ["杉木", "松类", "松类"]})


def _params():
    rows = []
    for group in ("杉木", "松类"):
        for name, value in zip(CONVERSION_PARAMETERS, (0.5, 1.5, 0.25, 0.5)):
            rows.append({"group": group, "parameter": name, "value": value, "low": value, "high": value})
    return pd.DataFrame(rows)


def test_column_mapping():
    assert sub.parse_column_mapping("优势树种=species, 面积=area_ha") == {"优势树种": "species", "面积": "area_ha"}
    with pytest.raises(ConfigError, match="no '='"):
        sub.parse_column_mapping("优势树种")
    with pytest.raises(ConfigError, match="unknown name"):
        sub.parse_column_mapping("优势树种=tree")


def test_rows_that_cannot_be_used_are_reported_with_their_ids():
    raw = pd.DataFrame({"小班号": ["a", "b", "c", "d"], "优势树种": ["杉木", "马尾松林", "银杏", "湿地松"],
                        "面积": [10, 20, 5, 8], "蓄积": [1000, 1500, 100, None], "区": ["X", "X", "X", "X"]})
    rows = sub.normalise(raw, sub.parse_column_mapping("小班号=id,优势树种=species,面积=area_ha,蓄积=stock_m3,区=region"),
                         "xb.csv")
    groups = sub.assign_groups(rows, ALIASES)
    assert groups.tolist()[:2] == ["杉木", "松类"]          # 马尾松林 contains 马尾松
    used, rejected = sub.usable_rows(rows, groups)
    assert used["id"].tolist() == ["a", "b"]
    assert rejected.set_index("id")["reason"].to_dict() == {"c": "unknown species group: 银杏",
                                                            "d": "missing or negative stock"}


def test_sinks_per_region():
    used = pd.DataFrame({"id": ["a", "b"], "region": ["X", "X"], "group": ["杉木", "松类"],
                         "stock_m3": [1000.0, 3000.0], "area_ha": [10.0, 30.0]})
    rates = pd.DataFrame({"gross_growth_rate": [0.05], "consumption_rate": [0.01]}, index=["X"])
    out = sub.subcompartment_sinks(used, rates, _params(), draws=200)
    # 4,000 m³ × (0.05 − 0.01) × 0.5 × 1.5 × 1.25 × 0.5 × 44/12 = 4000 × 0.04 × 1.71875 = 275 t CO2/yr
    assert out.loc["X", "net_sink_tco2_per_yr_central"] == pytest.approx(275.0)
    assert out.loc["X", "forest_ha"] == 40.0 and out.loc["X", "subcompartments"] == 2


def test_missing_mapped_column_is_named():
    with pytest.raises(ConfigError, match="蓄积"):
        sub.normalise(pd.DataFrame({"a": [1]}), {"蓄积": "stock_m3"}, "xb.csv")


def test_cli_inventory_in_gbk_reports_unused_rows_and_feeds_compensate(tmp_path):
    """A department's sub-compartments for 三明 (P3-16) in a GBK CSV with local column names."""
    from click.testing import CliRunner

    from atlas.cli import cli

    pd.DataFrame({"小班号": ["A1", "A2", "A3", "A4"], "优势树种": ["杉木", "马尾松", "毛竹", "杉木"],
                  "面积": [12.5, 8.0, 5.0, 3.0], "蓄积": [1500, 900, 300, None], "县": ["三明市"] * 4}
                 ).to_csv(tmp_path / "xb.csv", index=False, encoding="gbk")
    out = tmp_path / "sinks.csv"
    res = CliRunner().invoke(cli, ["sinks", "--inventory", str(tmp_path / "xb.csv"), "--encoding", "gbk",
                                   "--columns", "小班号=id,优势树种=species,面积=area_ha,蓄积=stock_m3,县=region",
                                   "--id", "三明", "--draws", "300", "-o", str(out)])
    assert res.exit_code == 0, res.output
    rejected = pd.read_csv(tmp_path / "sinks.rejected.csv").set_index("id")["reason"].to_dict()
    assert rejected == {"A3": "unknown species group: 毛竹", "A4": "missing or negative stock"}
    table = pd.read_csv(out).set_index("pilot_id")
    # A1 + A2: 2,400 m³ of stock on 20.5 ha, grown at Fujian's net inventory rate, a sink
    assert table.loc["P3-16", "stock_m3"] == 2400 and table.loc["P3-16", "forest_ha"] == 20.5
    assert 0 < table.loc["P3-16", "sink_tco2_per_yr_low"] < table.loc["P3-16", "sink_tco2_per_yr_high"]
    ledger = CliRunner().invoke(cli, ["compensate", str(out), "--price", "100"])
    assert ledger.exit_code == 0, ledger.output
