"""Tier 1 gain-loss sinks: golden cases, uncertainty, Tier 2, bad input."""

import pandas as pd
import pytest

from atlas.errors import FactorError, InputTableError
from atlas.carbon.factors import apply_tier2, read_factors
from atlas.carbon.sinks import estimate_sinks, summarise_total


@pytest.fixture(scope="module")
def factors():
    return read_factors()


def one(ftype="igbp_ebf", ha=100.0, domain="subtropical"):
    return pd.DataFrame({ftype: [ha]}, index=["r"]), pd.Series({"r": domain})


def test_golden_subtropical_evergreen_broadleaf(factors):
    # 100 ha × G_W 2.5 t d.m./ha/yr × (1 + R 0.20) × CF 0.47 × 44/12
    # = 100 × 2.5 × 1.20 × 0.47 × 3.6667 = 100 × 1.41 t C/ha/yr × 3.6667 = 517.0 t CO2/yr
    # (geodata/sink_factors.csv: 2019 Refinement Table 4.9 subtropical humid forest, Asia, <=20 y;
    # Table 4.4 subtropical humid forest < 125 t/ha; Table 4.3 default CF).
    areas, domains = one()
    out = estimate_sinks(areas, domains, factors, draws=2000)
    assert out.loc["r", "gross_removal_tco2_per_yr_central"] == pytest.approx(100 * 2.5 * 1.20 * 0.47 * 44 / 12)
    assert out.loc["r", "gross_removal_tco2_per_yr_central"] == pytest.approx(517.0)
    assert out.loc["r", "net_sink_tco2_per_ha_yr_central"] == pytest.approx(2.5 * 1.20 * 0.47 * 44 / 12)


def test_losses_subtract(factors):
    # 10 ha lost per year of subtropical tree cover: stock B_W × (1 + R) × CF × 44/12 per ha.
    areas, domains = one("tree_cover")
    out = estimate_sinks(areas, domains, factors, loss_ha=pd.Series({"r": 10.0}), draws=2000)
    f = factors.set_index(["forest_type", "climate_domain", "parameter"])["value"]
    b = f[("tree_cover", "subtropical", "aboveground_biomass_stock_t_dm_per_ha")]
    r = f[("tree_cover", "subtropical", "root_shoot_ratio")]
    cf = f[("tree_cover", "subtropical", "carbon_fraction")]
    assert out.loc["r", "gross_loss_tco2_per_yr_central"] == pytest.approx(10 * b * (1 + r) * cf * 44 / 12)
    assert out.loc["r", "net_sink_tco2_per_yr_central"] == pytest.approx(
        out.loc["r", "gross_removal_tco2_per_yr_central"] - out.loc["r", "gross_loss_tco2_per_yr_central"])


def test_low_central_high_ordered_and_reproducible(factors):
    areas = pd.DataFrame({"igbp_ebf": [100.0, 5e4], "igbp_enf": [0.0, 2e4]}, index=["a", "b"])
    domains = pd.Series({"a": "subtropical", "b": "temperate"})
    first = estimate_sinks(areas, domains, factors, draws=3000, seed=7)
    again = estimate_sinks(areas, domains, factors, draws=3000, seed=7)
    pd.testing.assert_frame_equal(first, again)
    for name in ("gross_removal", "net_sink"):
        lo, mid, hi = (first[f"{name}_tco2_per_yr_{k}"] for k in ("low", "central", "high"))
        assert (lo <= mid).all() and (mid <= hi).all()


def test_total_uses_summed_draws(factors):
    areas = pd.DataFrame({"igbp_ebf": [100.0, 100.0]}, index=["a", "b"])
    domains = pd.Series({"a": "subtropical", "b": "subtropical"})
    frame, draws = estimate_sinks(areas, domains, factors, draws=4000, return_draws=True)
    total = summarise_total(frame, draws)
    # Both regions share the same factor draws: the total is exactly twice one region.
    assert total["low"] == pytest.approx(2 * frame["net_sink_tco2_per_yr_low"].iloc[0])
    assert total["central"] == pytest.approx(frame["net_sink_tco2_per_yr_central"].sum())


def test_tier2_replaces_default(factors):
    user = factors[(factors["forest_type"] == "igbp_ebf") & (factors["climate_domain"] == "subtropical")].copy()
    user.loc[user["parameter"] == "aboveground_growth_t_dm_per_ha_yr", ["value", "low", "high"]] = [5.0, 4.0, 6.0]
    user["source"] = "provincial inventory (Tier 2 test)"
    merged = apply_tier2(factors, user)
    areas, domains = one()
    out = estimate_sinks(areas, domains, merged, draws=1000)
    # Only G_W is replaced; R 0.20 and CF 0.47 stay the defaults: 100 × 5.0 × 1.20 × 0.47 × 44/12 = 1034.0 t CO2/yr.
    assert out.loc["r", "gross_removal_tco2_per_yr_central"] == pytest.approx(100 * 5.0 * 1.20 * 0.47 * 44 / 12)


@pytest.mark.parametrize("areas, domain, match", [
    (pd.DataFrame({"igbp_ebf": [-1.0]}, index=["r"]), "subtropical", "Negative forest area"),
    (pd.DataFrame({"bamboo": [1.0]}, index=["r"]), "subtropical", "No factors for forest type 'bamboo'"),
    (pd.DataFrame({"igbp_ebf": [1.0]}, index=["r"]), "arctic", "No factors"),
])
def test_bad_input(factors, areas, domain, match):
    with pytest.raises(FactorError, match=match):
        estimate_sinks(areas, pd.Series({"r": domain}), factors, draws=10)


def test_factor_without_source_refused(tmp_path, factors):
    bad = factors.copy()
    bad.loc[0, "source"] = ""
    bad.to_csv(tmp_path / "f.csv", index=False)
    with pytest.raises(InputTableError, match="column source"):   # names the row and the column
        read_factors(tmp_path / "f.csv")
