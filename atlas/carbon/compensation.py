"""Carbon-sink compensation ledgers (pure functions, one row per region).

Three schemes, each parameterised (defaults documented in the README):

``pay_for_removals``
    a region is paid ``price × net sink`` for a positive net sink; a net source is paid
    nothing (this scheme rewards removals, it does not charge emissions).
``net_balance_transfers``
    regions whose emissions exceed their net sink pay ``price × contribution_share ×
    deficit`` into a pool; the pool is shared among regions in surplus in proportion to
    their surplus. Transfers sum to zero.
``baseline_additional``
    only the sink above a baseline year's sink is paid: ``price × max(sink − baseline, 0)``.

Multi-year totals are discounted to a net present value: a constant annual flow ``F``
over ``years`` years starting now gives ``Σ_{t=0}^{years-1} F (1 + g)^t / (1 + r)^t`` with
price growth ``g`` and discount rate ``r``. With ``g = 0`` this is InVEST's carbon-model
valuation (t = 0 first, checked by ``scripts/peer_check_invest.py``); InVEST's own price-change
rate ``c`` enters as ``1 / ((1 + r)(1 + c))^t``, i.e. it equals ``g = 1 / (1 + c) − 1`` here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from atlas.errors import FactorError

#: China national ETS average secondary-market price in 2024, CNY per t CO2
#: (ICAP, "China National ETS" factsheet: CNY 95.96).
DEFAULT_PRICE_CNY_PER_TCO2 = 95.96
#: Social discount rate for public projects in China (NDRC & MOHURD, 建设项目经济评价方法与参数,
#: 3rd ed., 2006: 8 %).
DEFAULT_DISCOUNT_RATE = 0.08
DEFAULT_YEARS = 10


def check_rate(rate: float, name: str = "Discount rate", option: str = "--rate") -> float:
    """Validate a rate given as a fraction (0.08 for 8 %); return it as a float.

    A value above 1 that would be a sensible fraction once divided by 100 is taken for a
    percentage and the error suggests the fraction ("did you mean 0.08?").

    Raises
    ------
    FactorError
        Not a finite number, or outside 0–1.
    """
    value = float(rate)
    if not np.isfinite(value) or not 0 <= value <= 1:
        hint = f"did you mean {value / 100:g}? Give {option} as a fraction" if 1 < value <= 100 else \
            f"give {option} as a fraction between 0 and 1"
        raise FactorError(f"{name} {rate!r}", "a fraction between 0 and 1 (0.08 for 8 %)", hint)
    return value


def check_growth(growth: float) -> float:
    """Validate an annual price growth rate: a fraction in (-1, 1] (0.02 for 2 %/yr)."""
    value = float(growth)
    if not np.isfinite(value) or not -1 < value <= 1:
        hint = f"did you mean {value / 100:g}? Give --growth as a fraction" if 1 < value <= 100 else \
            "give --growth as a fraction above -1 and at most 1"
        raise FactorError(f"Price growth {growth!r}", "a fraction in (-1, 1] (0.02 for 2 %/yr)", hint)
    return value


def _check(price: float, rate: float = 0.0, years: int = 1, growth: float = 0.0) -> None:
    if not np.isfinite(price) or price < 0:
        raise FactorError(f"Carbon price {price} CNY/t CO2", "a price ≥ 0", "pass a non-negative --price")
    check_rate(rate)
    check_growth(growth)
    if int(years) != years or years < 1:
        raise FactorError(f"{years} years", "a whole number of years ≥ 1")


def annuity_factor(years: int, rate: float, price_growth: float = 0.0) -> float:
    """``Σ_{t=0}^{years-1} ((1 + g) / (1 + r))^t``: present value of 1 per year for ``years`` years.

    The published pages compute the same sum in the browser (``assets/compensation.js``).
    """
    _check(0.0, rate, years, price_growth)
    t = np.arange(int(years))
    return float(np.sum(((1 + price_growth) / (1 + rate)) ** t))


def pay_for_removals(net_sink_tco2_per_yr: pd.Series, price: float = DEFAULT_PRICE_CNY_PER_TCO2,
                     years: int = DEFAULT_YEARS, rate: float = DEFAULT_DISCOUNT_RATE,
                     growth: float = 0.0) -> pd.DataFrame:
    """Payments for positive net sinks: annual (CNY/yr, first year's price) and NPV over ``years`` (CNY)."""
    _check(price, rate, years, growth)
    paid = net_sink_tco2_per_yr.clip(lower=0.0) * price
    return pd.DataFrame({"net_sink_tco2_per_yr": net_sink_tco2_per_yr,
                         "payment_cny_per_yr": paid,
                         "payment_npv_cny": paid * annuity_factor(years, rate, growth)})


def net_balance_transfers(emissions_tco2_per_yr: pd.Series, net_sink_tco2_per_yr: pd.Series,
                          price: float = DEFAULT_PRICE_CNY_PER_TCO2, contribution_share: float = 1.0,
                          years: int = DEFAULT_YEARS, rate: float = DEFAULT_DISCOUNT_RATE,
                          growth: float = 0.0) -> pd.DataFrame:
    """Deficit regions pay into a pool shared by surplus regions; transfers sum to zero.

    ``transfer_cny_per_yr`` is positive for a region that receives and negative for one
    that pays. With no region in surplus nothing is collected (the pool has nobody to go
    to), and the frame says so in ``note``.
    """
    _check(price, rate, years, growth)
    if not 0 <= contribution_share <= 1:
        raise FactorError(f"Contribution share {contribution_share}", "a share between 0 and 1")
    balance = net_sink_tco2_per_yr - emissions_tco2_per_yr.reindex(net_sink_tco2_per_yr.index)
    if balance.isna().any():
        raise FactorError(f"No emissions or sink for regions {balance.index[balance.isna()].tolist()[:10]}",
                          "both figures for every region")
    deficit = (-balance).clip(lower=0.0)
    surplus = balance.clip(lower=0.0)
    paid = deficit * price * contribution_share
    pool = float(paid.sum())
    if surplus.sum() > 0:
        received = pool * surplus / surplus.sum()
        note = ""
    else:
        paid = paid * 0.0
        received = surplus * 0.0
        note = "no region in surplus: nothing collected"
    transfer = received - paid
    return pd.DataFrame({"balance_tco2_per_yr": balance, "transfer_cny_per_yr": transfer,
                         "transfer_npv_cny": transfer * annuity_factor(years, rate, growth), "note": note})


def baseline_additional(net_sink_tco2_per_yr: pd.Series, baseline_tco2_per_yr: pd.Series,
                        price: float = DEFAULT_PRICE_CNY_PER_TCO2, years: int = DEFAULT_YEARS,
                        rate: float = DEFAULT_DISCOUNT_RATE, growth: float = 0.0) -> pd.DataFrame:
    """Payment only for sink above the baseline year's sink."""
    _check(price, rate, years, growth)
    base = baseline_tco2_per_yr.reindex(net_sink_tco2_per_yr.index)
    additional = (net_sink_tco2_per_yr - base).clip(lower=0.0)
    paid = additional * price
    return pd.DataFrame({"baseline_tco2_per_yr": base, "additional_tco2_per_yr": additional,
                         "payment_cny_per_yr": paid, "payment_npv_cny": paid * annuity_factor(years, rate, growth)})


SCHEMES = ("removals", "balance", "baseline")
ESTIMATES = ("low", "central", "high")
#: Parameter columns every ledger carries, so a ledger file says how it was computed.
PARAMETER_COLUMNS = ("scheme", "estimate", "price_cny_per_tco2", "discount_rate", "years", "price_growth",
                     "contribution_share")


def ledger(sinks: pd.DataFrame, scheme: str = "removals", price: float = DEFAULT_PRICE_CNY_PER_TCO2,
           rate: float = DEFAULT_DISCOUNT_RATE, years: int = DEFAULT_YEARS, contribution_share: float = 1.0,
           baseline: pd.Series | None = None, estimate: str = "central", growth: float = 0.0) -> pd.DataFrame:
    """The compensation ledger of one scheme from a sinks table indexed by region.

    Parameters
    ----------
    sinks : DataFrame
        A sinks table (``sink_tco2_per_yr_<estimate>``, the headline sink of ``atlas sinks`` and
        ``atlas run``,
        for ``balance`` also ``emissions_tco2_per_yr``; ``name_zh`` is carried along).
    scheme : str
        ``removals``, ``balance`` (regions without emissions are left out) or ``baseline``.
    baseline : Series, optional
        Region → baseline-year net sink (t CO2/yr), for ``baseline``.
    estimate : str
        Which sink estimate is paid for: ``low``, ``central`` or ``high``.
    growth : float
        Annual growth of the carbon price (fraction), used in the NPV.

    Returns
    -------
    DataFrame
        The scheme's columns followed by the parameters used (:data:`PARAMETER_COLUMNS`),
        repeated on every row so that a ledger file documents itself.

    Raises
    ------
    FactorError
        Unknown scheme or estimate, a missing column, or a baseline scheme without baseline.
    """
    # the headline sink of a sinks table; a table of one net estimate (a stock-change result, the pages'
    # pilot table) names it net_sink_*
    column = f"sink_tco2_per_yr_{estimate}"
    if column not in sinks and f"net_sink_tco2_per_yr_{estimate}" in sinks:
        column = f"net_sink_tco2_per_yr_{estimate}"
    if estimate not in ESTIMATES:
        raise FactorError(f"Unknown sink estimate {estimate!r}", f"one of {ESTIMATES}")
    if scheme not in SCHEMES:
        raise FactorError(f"Unknown compensation scheme {scheme!r}", f"one of {SCHEMES}")
    if column not in sinks:
        raise FactorError(f"The sinks table has no column {column}", "a table written by `atlas sinks`")
    sink = sinks[column]
    if scheme == "removals":
        out = pay_for_removals(sink, price, years, rate, growth)
    elif scheme == "balance":
        if "emissions_tco2_per_yr" not in sinks:
            raise FactorError("The sinks table has no emissions_tco2_per_yr column",
                              "emissions for the balance scheme", "give an emissions raster or use pilots")
        known = sinks["emissions_tco2_per_yr"].notna()
        out = net_balance_transfers(sinks.loc[known, "emissions_tco2_per_yr"], sink[known], price,
                                    contribution_share, years, rate, growth)
    else:
        if baseline is None:
            raise FactorError("The baseline scheme has no baseline", "a sinks table of the baseline year",
                              "pass --baseline (atlas compensate) or [compensation].baseline (atlas run)")
        out = baseline_additional(sink, baseline, price, years, rate, growth)
    if "name_zh" in sinks:
        out.insert(0, "name_zh", sinks["name_zh"].reindex(out.index))
    params = dict(zip(PARAMETER_COLUMNS, (scheme, estimate, float(price), float(rate), int(years), float(growth),
                                          float(contribution_share) if scheme == "balance" else np.nan)))
    return out.assign(**params)
