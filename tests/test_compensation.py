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


# ---------------------------------------------------------------- parameters, rates and the command

from click.testing import CliRunner  # noqa: E402

from atlas.carbon.compensation import PARAMETER_COLUMNS, check_rate, ledger  # noqa: E402
from atlas.cli.compensate import compensate_cmd  # noqa: E402


def _sinks() -> pd.DataFrame:
    return pd.DataFrame({"pilot_id": ["A", "B"], "name_zh": ["甲", "乙"],
                         "sink_tco2_per_yr_low": [500.0, -10.0], "sink_tco2_per_yr_central": [1000.0, 0.0],
                         "sink_tco2_per_yr_high": [1500.0, 10.0],
                         "emissions_tco2_per_yr": [200.0, 300.0]}).set_index("pilot_id")


def test_ledger_carries_its_parameters():
    out = ledger(_sinks(), "removals", price=100, rate=0.25, years=2, estimate="high", growth=0.25)
    assert list(out.columns[-len(PARAMETER_COLUMNS):]) == list(PARAMETER_COLUMNS)
    row = out.loc["A"]
    assert (row["scheme"], row["estimate"], row["price_cny_per_tco2"], row["discount_rate"], row["years"],
            row["price_growth"]) == ("removals", "high", 100.0, 0.25, 2, 0.25)
    # high sink 1500 t × 100 = 150,000 CNY/yr; growth = discount → both years count fully: NPV 300,000
    assert row["payment_cny_per_yr"] == 150_000 and row["payment_npv_cny"] == pytest.approx(300_000)


@pytest.mark.parametrize("rate, hint", [(8, "did you mean 0.08?"), (12.5, "did you mean 0.125?"),
                                        (-0.1, "between 0 and 1"), (250, "between 0 and 1")])
def test_rates_are_fractions(rate, hint):
    with pytest.raises(FactorError, match="Discount rate") as err:
        check_rate(rate)
    assert hint in str(err.value)
    assert check_rate(0.08) == 0.08 and check_rate(0) == 0.0 and check_rate(1) == 1.0


def test_unknown_estimate():
    with pytest.raises(FactorError, match="estimate"):
        ledger(_sinks(), estimate="median")


@pytest.fixture
def sink_files(tmp_path):
    """The same sinks table as CSV, GeoPackage (with outlines, as `atlas build` writes it) and Parquet."""
    import geopandas as gpd
    from shapely.geometry import box
    frame = _sinks().reset_index()
    frame.to_csv(tmp_path / "sinks.csv", index=False)
    spatial = gpd.GeoDataFrame(frame, geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs="EPSG:4326")
    spatial.to_file(tmp_path / "sinks.gpkg", layer="sinks", driver="GPKG")
    spatial.to_parquet(tmp_path / "sinks.parquet")
    return tmp_path


@pytest.mark.parametrize("name", ["sinks.csv", "sinks.gpkg", "sinks.parquet"])
def test_compensate_reads_every_format_and_records_parameters(sink_files, name):
    result = CliRunner().invoke(compensate_cmd, [str(sink_files / name), "--price", "50", "--rate", "0.1",
                                                 "--years", "3", "--estimate", "low"])
    assert result.exit_code == 0, result.output
    out = pd.read_csv(__import__("io").StringIO(result.stdout))
    # A: low sink 500 t × 50 CNY = 25,000 CNY/yr; B is a net source in the low estimate → 0
    assert out.set_index("pilot_id")["payment_cny_per_yr"].to_dict() == {"A": 25_000.0, "B": 0.0}
    assert (out["estimate"] == "low").all() and (out["discount_rate"] == 0.1).all()
    assert (out["price_cny_per_tco2"] == 50).all() and (out["years"] == 3).all()
    assert "low sink estimate" in result.stderr


def test_compensate_rate_given_as_percent(sink_files):
    result = CliRunner().invoke(compensate_cmd, [str(sink_files / "sinks.csv"), "--rate", "8"])
    assert result.exit_code == 2
    assert "did you mean 0.08?" in result.output
