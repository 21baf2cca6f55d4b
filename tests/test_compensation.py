"""Compensation ledgers: hand-worked figures, balance, bad input."""

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from atlas.carbon.compensation import annuity_factor, baseline_additional, net_balance_transfers, pay_for_removals
from atlas.errors import FactorError


def test_pay_for_removals_hand_worked():
    sink = pd.Series({"a": 1000.0, "b": -50.0})
    out = pay_for_removals(sink, price=100, years=2, rate=0.25)
    # a: 1000 t × 100 CNY = 100,000 CNY/yr; NPV over 2 years at 25 %: 100,000 × (1 + 1/1.25) = 180,000.
    assert out.loc["a", "payment_cny_per_yr"] == 100_000
    assert out.loc["a", "payment_npv_cny"] == pytest.approx(180_000)
    assert out.loc["b", "payment_cny_per_yr"] == 0  # a net source is not paid


def test_net_balance_hand_worked():
    emissions = pd.Series({"city": 300.0, "forest": 10.0, "county": 40.0})
    sink = pd.Series({"city": 100.0, "forest": 110.0, "county": 70.0})
    out = net_balance_transfers(emissions, sink, price=10, years=1, rate=0.0)
    # city: deficit 200 t → pays 2,000 CNY; surpluses forest 100 t and county 30 t share the
    # pool 100:30 → forest receives 2,000 × 100/130 = 1,538.46, county 461.54.
    assert out.loc["city", "transfer_cny_per_yr"] == pytest.approx(-2000)
    assert out.loc["forest", "transfer_cny_per_yr"] == pytest.approx(2000 * 100 / 130)
    assert out.loc["county", "transfer_cny_per_yr"] == pytest.approx(2000 * 30 / 130)
    assert out["transfer_cny_per_yr"].sum() == pytest.approx(0, abs=1e-9)


@given(st.lists(st.tuples(st.floats(0, 1e7), st.floats(-1e6, 1e7)), min_size=1, max_size=30),
       st.floats(0, 500))
def test_transfers_always_sum_to_zero(rows, price):
    emissions = pd.Series([r[0] for r in rows])
    sink = pd.Series([r[1] for r in rows])
    out = net_balance_transfers(emissions, sink, price=price)
    scale = max(1.0, out["transfer_cny_per_yr"].abs().sum())
    assert abs(out["transfer_cny_per_yr"].sum()) <= 1e-9 * scale


def test_no_surplus_collects_nothing():
    out = net_balance_transfers(pd.Series([10.0, 20.0]), pd.Series([1.0, 2.0]), price=50)
    assert (out["transfer_cny_per_yr"] == 0).all() and "nothing collected" in out["note"].iloc[0]


def test_baseline_additional():
    out = baseline_additional(pd.Series({"a": 120.0, "b": 80.0}), pd.Series({"a": 100.0, "b": 90.0}), price=5,
                              years=1)
    assert out["payment_cny_per_yr"].to_dict() == {"a": 100.0, "b": 0.0}  # only 20 t above baseline are paid


def test_annuity_factor_with_growth():
    # 3 years, 10 % discount, 10 % price growth: every term is 1 → 3.
    assert annuity_factor(3, 0.10, 0.10) == pytest.approx(3)


@pytest.mark.parametrize("kwargs, match", [({"price": -1}, "price"), ({"rate": -1.5}, "Discount rate"),
                                           ({"years": 0}, "years")])
def test_bad_parameters(kwargs, match):
    with pytest.raises(FactorError, match=match):
        pay_for_removals(pd.Series([1.0]), **kwargs)
