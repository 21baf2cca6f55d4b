"""China's inventory method: stock change from growing stock (atlas.carbon.stock_change)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atlas.carbon import stock_change as sc
from atlas.carbon.sinks import summarise_total
from atlas.errors import FactorError


def _params(svd=(0.4, 0.5, 0.6), bef=(1.3, 1.5, 1.7), r=(0.2, 0.25, 0.3), cf=(0.45, 0.5, 0.55), group="all"):
    rows = []
    for name, (low, value, high) in zip(sc.CONVERSION_PARAMETERS, (svd, bef, r, cf)):
        rows.append({"group": group, "parameter": name, "value": value, "low": low, "high": high})
    return pd.DataFrame(rows)


def test_golden_case():
    # 1,000,000 m³ of stock growing 5 %/yr and consumed 2 %/yr; SVD 0.5, BEF 1.5, R 0.25, CF 0.5:
    # t CO2 per m³ = 0.5 × 1.5 × 1.25 × 0.5 × 44/12 = 1.71875
    # removals = 1e6 × 0.05 × 1.71875 = 85,937.5; losses = 1e6 × 0.02 × 1.71875 = 34,375; net = 51,562.5
    regions = pd.DataFrame({"stock_m3": [1e6], "gross_growth_rate": [0.05], "consumption_rate": [0.02],
                            "forest_ha": [10_000.0]}, index=["X"])
    out = sc.stock_change_sinks(regions, _params(), draws=2000)
    assert out.loc["X", "gross_removal_tco2_per_yr_central"] == pytest.approx(85_937.5)
    assert out.loc["X", "gross_loss_tco2_per_yr_central"] == pytest.approx(34_375.0)
    assert out.loc["X", "net_sink_tco2_per_yr_central"] == pytest.approx(51_562.5)
    assert out.loc["X", "net_sink_tco2_per_ha_yr_central"] == pytest.approx(5.15625)
    assert out.loc["X", "net_sink_tco2_per_yr_low"] < 51_562.5 < out.loc["X", "net_sink_tco2_per_yr_high"]


def test_point_ranges_give_point_bounds():
    regions = pd.DataFrame({"stock_m3": [2e6], "gross_growth_rate": [0.04], "consumption_rate": [0.01]}, index=["Y"])
    point = _params(svd=(0.5, 0.5, 0.5), bef=(1.5, 1.5, 1.5), r=(0.25, 0.25, 0.25), cf=(0.5, 0.5, 0.5))
    out = sc.stock_change_sinks(regions, point, draws=500, rate_uncertainty=0.0)
    # 2e6 × (0.04 − 0.01) × 1.71875 = 103,125
    assert out.loc["Y", ["net_sink_tco2_per_yr_low", "net_sink_tco2_per_yr_central", "net_sink_tco2_per_yr_high"]
                   ].to_numpy() == pytest.approx([103_125.0] * 3)


def test_pilots_inherit_province_rates_per_hectare():
    provinces = pd.DataFrame({"net_sink_tco2_per_yr_central": [1000.0], "net_sink_tco2_per_yr_low": [800.0],
                              "net_sink_tco2_per_yr_high": [1200.0]}, index=[350000])
    per_ha = sc.per_hectare_rates(provinces, pd.Series({350000: 100.0}))   # 10 t CO2/ha/yr
    out = sc.inherit(per_ha, pd.Series({"P": 350000}), pd.Series({"P": 25.0}))
    assert out.loc["P", "net_sink_tco2_per_yr_central"] == pytest.approx(250.0)
    assert out.loc["P", "net_sink_tco2_per_yr_low"] == pytest.approx(200.0)
    assert "per-ha" in out.loc["P", "method"]


def test_bad_inputs_are_refused():
    with pytest.raises(FactorError, match="lacks parameters"):
        sc.stock_change_sinks(pd.DataFrame({"stock_m3": [1.0], "gross_growth_rate": [0.1], "consumption_rate": [0.0]}),
                              _params().iloc[:2])
    with pytest.raises(FactorError, match="negative"):
        sc.stock_change_sinks(pd.DataFrame({"stock_m3": [-1.0], "gross_growth_rate": [0.1],
                                            "consumption_rate": [0.0]}), _params())


@settings(max_examples=30, deadline=None)
@given(st.floats(1e3, 1e9), st.floats(0, 0.2), st.floats(0, 0.2))
def test_net_is_removals_minus_losses_and_bounds_bracket_it(stock, gr, cr):
    regions = pd.DataFrame({"stock_m3": [stock], "gross_growth_rate": [gr], "consumption_rate": [cr]}, index=["Z"])
    out = sc.stock_change_sinks(regions, _params(), draws=300).loc["Z"]
    assert np.isclose(out["net_sink_tco2_per_yr_central"],
                      out["gross_removal_tco2_per_yr_central"] - out["gross_loss_tco2_per_yr_central"])
    assert out["gross_removal_tco2_per_yr_low"] <= out["gross_removal_tco2_per_yr_high"]


def test_stock_difference_with_the_lumped_national_conversion():
    # 0.45 t C per m³ (low 0.40, high 0.50); stock grew from 1.0e6 to 1.5e6 m³ in 10 years:
    # 50,000 m³/yr × 0.45 × 44/12 = 82,500 t CO2/yr
    params = pd.DataFrame([{"group": "all", "parameter": sc.LUMPED_PARAMETER, "value": 0.45, "low": 0.40,
                            "high": 0.50}])
    regions = pd.DataFrame({"stock_start_m3": [1.0e6, 2.0e6], "stock_end_m3": [1.5e6, 1.8e6], "years": [10, 5],
                            "forest_ha": [1000.0, 500.0]}, index=["grow", "shrink"])
    out, draws = sc.stock_difference_sinks(regions, params, draws=2000, return_draws=True)
    assert draws.shape == (2, 2000)
    assert out.loc["grow", "net_sink_tco2_per_yr_central"] == pytest.approx(82_500.0)
    # a falling stock is a source: −40,000 m³/yr × 0.45 × 44/12 = −66,000 t CO2/yr
    assert out.loc["shrink", "net_sink_tco2_per_yr_central"] == pytest.approx(-66_000.0)
    assert out["gross_removal_tco2_per_yr_central"].isna().all()      # not assessed by a stock difference
    assert out.loc["grow", "net_sink_tco2_per_yr_low"] < 82_500.0 < out.loc["grow", "net_sink_tco2_per_yr_high"]
    total = summarise_total(out, draws)  # 82,500 − 66,000; the bounds from the summed shared draws
    assert total["central"] == pytest.approx(16_500.0) and total["low"] < 16_500.0 < total["high"]


def test_the_shipped_national_conversion_is_the_cited_ratio():
    from atlas.paths import geodata_dir

    params = pd.read_csv(geodata_dir() / "cn_inventory_parameters.csv")
    row = params[(params["group"] == "all") & (params["parameter"] == sc.LUMPED_PARAMETER)].iloc[0]
    # 7975 Tg C / 175.6e8 m³ = 0.4542; 154.8 Tg C/yr / ((175.6 − 137.21)e8 m³ / 10 yr) = 0.4032
    assert row["value"] == pytest.approx(7975e6 / 17.56e9, abs=1e-4)
    assert row["low"] == pytest.approx(154.8e6 / ((17.56e9 - 13.721e9) / 10), abs=1e-4)
