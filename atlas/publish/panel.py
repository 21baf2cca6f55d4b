"""What a pilot page's compensation panel and factor list need, as plain data.

Pure functions: the per-pilot table (and the factor table) in, dictionaries out. The panel's
browser code (``assets/compensation.js``) recomputes the ledger with the same formulas as
:mod:`atlas.carbon.compensation`; here we only gather the inputs: the pilot's sink by estimate,
its emissions, and for the net-balance scheme the pool of every region in the ledger.
"""

from __future__ import annotations

import math

import pandas as pd

from atlas.carbon import compensation as comp

ESTIMATES = comp.ESTIMATES

#: Parameters of the panel when the build does not say (the defaults of ``atlas compensate``).
DEFAULT_PARAMETERS = {"price": comp.DEFAULT_PRICE_CNY_PER_TCO2, "rate": comp.DEFAULT_DISCOUNT_RATE,
                      "years": comp.DEFAULT_YEARS, "growth": 0.0, "scheme": "removals", "estimate": "central",
                      "contribution_share": 1.0}
#: Where each default comes from (shown under the panel).
PARAMETER_SOURCES = [
    ("碳价 Carbon price", "全国碳市场 2024 年二级市场均价 95.96 元/吨 China national ETS 2024 average, CNY 95.96/t "
     "(ICAP, China National ETS factsheet)"),
    ("贴现率 Discount rate", "社会折现率 8 % social discount rate (国家发展改革委、建设部《建设项目经济评价方法与参数》"
     "第三版 2006 NDRC & MOHURD, 3rd ed.)"),
    ("公式 Formula", "现值 = Σ_{t=0}^{n−1} 年额 × ((1 + g) / (1 + r))^t, 首年不贴现 NPV with the first year undiscounted "
     "(as InVEST's carbon model when g = 0)"),
]
#: Headers of the low / central / high columns (the 95 % interval of the Monte Carlo draws).
ESTIMATE_LABELS = {"low": "低 Low (2.5 %)", "central": "中 Central", "high": "高 High (97.5 %)"}
SCHEME_LABELS = {"removals": "按清除量付费 Pay for removals", "balance": "净平衡转移 Net-balance transfers",
                 "baseline": "基线以上增量 Above a baseline"}
FOREST_TYPES = {"igbp_enf": "常绿针叶林 evergreen needleleaf", "igbp_ebf": "常绿阔叶林 evergreen broadleaf",
                "igbp_dnf": "落叶针叶林 deciduous needleleaf", "igbp_dbf": "落叶阔叶林 deciduous broadleaf",
                "igbp_mixed": "混交林 mixed forest", "tree_cover": "树木覆盖 tree cover",
                "urban_trees": "城市树木 urban trees"}
PARAMETERS = {
    "aboveground_growth_t_dm_per_ha_yr": ("地上生物量年生长量", "Above-ground biomass growth", "t 干物质/ha/yr t d.m./ha/yr"),
    "root_shoot_ratio": ("根茎比", "Root-to-shoot ratio", "—"),
    "carbon_fraction": ("含碳率", "Carbon fraction", "t C / t 干物质 t C/t d.m."),
    "aboveground_biomass_stock_t_dm_per_ha": ("地上生物量储量", "Above-ground biomass stock", "t 干物质/ha t d.m./ha"),
}


def _float(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def pools(table: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Sum of deficits and of surpluses (t CO2/yr) per estimate over the pilots with emissions,
    the population of :func:`atlas.carbon.compensation.net_balance_transfers` in the build."""
    out = {}
    known = table[table["emissions_tco2_per_yr"].notna()] if "emissions_tco2_per_yr" in table else table.iloc[:0]
    for estimate in ESTIMATES:
        column = f"net_sink_tco2_per_yr_{estimate}"
        if column not in known or known.empty:
            out[estimate] = {"deficit": 0.0, "surplus": 0.0}
            continue
        balance = known[column] - known["emissions_tco2_per_yr"]
        out[estimate] = {"deficit": float((-balance).clip(lower=0).sum()), "surplus": float(balance.clip(lower=0).sum())}
    return out


def compensation_data(record: pd.Series, pool: dict, parameters: dict | None = None) -> dict | None:
    """The JSON the panel embeds for one pilot, or None when the pilot has no sink estimate."""
    sink = {e: _float(record.get(f"net_sink_tco2_per_yr_{e}")) for e in ESTIMATES}
    if any(v is None for v in sink.values()):
        return None
    defaults = dict(DEFAULT_PARAMETERS, **(parameters or {}))
    if defaults["scheme"] not in ("removals", "balance"):
        defaults["scheme"] = "removals"  # the page has no baseline-year sinks to offer the third scheme
    return {"sink": sink, "emissions": _float(record.get("emissions_tco2_per_yr")), "pool": pool,
            "defaults": defaults}


def compensation_rows(data: dict) -> list[dict]:
    """The panel's values as the page first shows them (the browser recomputes them on input),
    so that the page reads right without scripts and in print."""
    params = data["defaults"]
    factor = comp.annuity_factor(int(params["years"]), params["rate"], params["growth"])
    rows = []
    for estimate in ESTIMATES:
        sink = data["sink"][estimate]
        if params["scheme"] == "balance" and data["emissions"] is not None:
            share = params["contribution_share"]
            balance = sink - data["emissions"]
            pool = data["pool"][estimate]
            annual = 0.0 if pool["surplus"] <= 0 else (
                params["price"] * share * pool["deficit"] * max(balance, 0) / pool["surplus"]
                - params["price"] * share * max(-balance, 0))
        else:
            annual = params["price"] * max(sink, 0.0)
        rows.append({"estimate": estimate, "sink": sink, "annual": annual, "npv": annual * factor})
    return rows


def factor_rows(factors: pd.DataFrame | None, domain: str | None) -> list[dict]:
    """The sink factors of one climate domain, identical rows of several forest types merged."""
    if factors is None or not domain:
        return []
    mine = factors[factors["climate_domain"] == domain]
    rows: dict[tuple, dict] = {}
    for r in mine.itertuples():
        key = (r.parameter, float(r.value), float(r.low), float(r.high), str(r.source))
        label = PARAMETERS.get(r.parameter, (r.parameter, r.parameter, str(r.unit)))
        row = rows.setdefault(key, {"parameter": r.parameter, "zh": label[0], "en": label[1], "unit": label[2], "value": float(r.value),
                                    "low": float(r.low), "high": float(r.high), "types": [],
                                    "source": str(r.source), "table": str(getattr(r, "source_table", "") or "")})
        row["types"].append(FOREST_TYPES.get(r.forest_type, r.forest_type))
    order = {name: i for i, name in enumerate(PARAMETERS)}
    return sorted(rows.values(), key=lambda row: (order.get(row["parameter"], len(order)), row["types"]))
