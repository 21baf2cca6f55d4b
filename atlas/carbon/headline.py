"""The headline sink of a region, and the estimates it is chosen from, honestly named.

Two estimates sit side by side in every sinks table:

- **China's inventory method** (``inventory_*``): the net change of growing stock between national
  forest inventories converted to carbon (:mod:`atlas.carbon.stock_change`). Provinces use their
  own inventory figures; a pilot with two growing-stock figures of its own uses their change
  (:func:`own_stock_regions`), any other inherits its province's net sink per hectare of forest,
  applied to its own forest area. It is a *net* sink: growth minus harvest and other losses.
- **IPCC Tier 1 gain–loss** (``tier1_*``): forest area × default growth rates of young stands.
  Without a loss layer it is *gross removals* only: losses were not assessed, so the loss and net
  columns are empty, never 0.

The headline (``sink_tco2_per_yr_{low,central,high}``, used by maps, offset ratios and ledgers)
is the inventory method where its inputs exist, else the Tier 1 net sink (with a loss layer),
else Tier 1 gross removals; ``sink_method`` says which, row by row.

Pure functions: frames in, frames out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from atlas.carbon.sinks import summarise_total
from atlas.carbon.stock_change import stock_difference_sinks

BOUNDS = ("low", "central", "high")
METHOD_INVENTORY = "中国省级清单方法（蓄积量变化）China inventory method: stock change (net)"
METHOD_TIER1_NET = "IPCC Tier 1 增量-损失法（净）IPCC Tier 1 gain-loss (net, with a loss layer)"
METHOD_TIER1_GROSS = "IPCC Tier 1 总清除量（未评估损失）IPCC Tier 1 gross removals (losses not assessed)"


def tier1_columns(estimate: pd.DataFrame, losses_assessed: bool) -> pd.DataFrame:
    """The Tier 1 columns of :func:`atlas.carbon.sinks.estimate_sinks`, prefixed ``tier1_``; loss
    and net columns are emptied when no loss layer was given."""
    out = pd.DataFrame(index=estimate.index)
    for name in ("gross_removal", "gross_loss", "net_sink"):
        for bound in BOUNDS:
            values = estimate[f"{name}_tco2_per_yr_{bound}"].astype(float)
            out[f"tier1_{name}_tco2_per_yr_{bound}"] = values if losses_assessed or name == "gross_removal" \
                else np.nan
    return out


def _citation(row: pd.Series) -> str:
    """An official statistic's source as one line: document; publisher, year; where read (status)."""
    def given(value) -> bool:
        return value is not None and pd.notna(value) and str(value) != ""

    where = ", ".join(str(v) for v in (row.get("publisher"), row.get("source_year")) if given(v))
    text = "; ".join(str(v) for v in (row.get("source_document"), where, row.get("url_or_page")) if given(v))
    return f"{text} ({row['status']})" if given(row.get("status")) else text


PAIR_COLUMNS = ["stock_start_m3", "stock_end_m3", "years", "inventory_period", "stock_start_source",
                "stock_end_source"]


def _stock_pairs(rows: pd.DataFrame, key: str, label) -> pd.DataFrame:
    """Per ``key``: the growing stock of the earliest and the latest year in ``rows`` (万立方米 → m³),
    the years between them, ``label(first, last)`` as the period, and the two figures' sources;
    keys with fewer than two years are left out."""
    out = []
    for value, group in rows.groupby(key):
        group = group.sort_values("year")
        if group["year"].nunique() < 2:
            continue
        first, last = group.iloc[0], group.iloc[-1]
        out.append({key: value, "stock_start_m3": float(first["value"]) * 1e4,
                    "stock_end_m3": float(last["value"]) * 1e4, "years": int(last["year"] - first["year"]),
                    "inventory_period": label(first, last),
                    "stock_start_source": _citation(first), "stock_end_source": _citation(last)})
    return pd.DataFrame(out, columns=[key, *PAIR_COLUMNS])


def nfi_stock_pairs(official: pd.DataFrame, adcodes: pd.Index) -> pd.DataFrame:
    """Per province: the growing stock of the earliest and the latest of the 7th–9th national
    forest inventories available (万立方米 → m³), the years between them, and the two figures'
    sources."""
    rows = official[(official["region_level"] == "province") & (official["indicator"] == "forest_stock")
                    & official["period"].astype(str).str.match(r"NFI[789]\b")]
    frame = _stock_pairs(rows, "adcode", lambda first, last: f"{first['period'].split()[0]}→"
                         f"{last['period'].split()[0]} ({int(first['year'])}–{int(last['year'])})")
    frame["adcode"] = frame["adcode"].astype(adcodes.dtype) if len(frame) else frame["adcode"]
    return frame.set_index("adcode").reindex(adcodes)


def own_stock_pairs(official: pd.DataFrame) -> pd.DataFrame:
    """Per pilot below province level that publishes growing stock for two years or more: the
    earliest and the latest of its own figures (as :func:`nfi_stock_pairs`), indexed by ``pilot_id``."""
    rows = official[official["region_level"].isin(["prefecture", "county"]) & (official["indicator"] == "forest_stock")
                    & official["pilot_id"].fillna("").astype(str).ne("")]
    frame = _stock_pairs(rows, "pilot_id", lambda first, last: f"own stock figures "
                         f"({int(first['year'])}–{int(last['year'])})")
    return frame.set_index("pilot_id")


def own_stock_regions(official: pd.DataFrame, forest_ha: pd.Series, params: pd.DataFrame, draws: int,
                      seed: int) -> pd.DataFrame:
    """Inventory-method net sink of the regions of ``forest_ha`` (pilot ids) that publish two
    growing-stock figures of their own: the change between them converted like a province's
    (``inventory_*`` columns; empty frame when none does). These win over the province's rate."""
    pairs = own_stock_pairs(official)
    pairs = pairs[pairs.index.isin(forest_ha.index)]
    out = pd.DataFrame(index=pairs.index)
    if pairs.empty:
        return out
    est = stock_difference_sinks(pairs.assign(forest_ha=forest_ha.reindex(pairs.index)), params, draws=draws,
                                 seed=seed)
    for bound in BOUNDS:
        out[f"inventory_net_sink_tco2_per_yr_{bound}"] = est[f"net_sink_tco2_per_yr_{bound}"]
    out["inventory_period"] = pairs["inventory_period"]
    return out


def national_stock_change_per_ha(official: pd.DataFrame) -> tuple[float, str] | None:
    """The national net change of growing stock per hectare of forest (m³/ha/yr) between the
    earliest and latest of the 7th–9th inventories, and the period; None without two inventories."""
    rows = official[(official["region_level"] == "national") & official["period"].astype(str).str.match(r"NFI[789]\b")]
    stock = rows[rows["indicator"] == "forest_stock"].sort_values("year")
    area = rows[rows["indicator"] == "forest_area"].sort_values("year")
    if stock["year"].nunique() < 2 or area.empty:
        return None
    first, last = stock.iloc[0], stock.iloc[-1]
    change = (float(last["value"]) - float(first["value"])) * 1e4 / (last["year"] - first["year"])  # 万m³ → m³
    period = f"{first['period'].split()[0]}→{last['period'].split()[0]} ({int(first['year'])}–{int(last['year'])})"
    return change / (float(area.iloc[-1]["value"]) * 1e4), period  # 万公顷 → ha


def inventory_provinces(official: pd.DataFrame, forest_ha: pd.Series, params: pd.DataFrame, draws: int,
                        seed: int, total_of: pd.Series | None = None) -> tuple[pd.DataFrame, dict[str, float] | None]:
    """Inventory-method net sink per province, and their total (low / central / high, t CO2/yr).

    A province with two of the 7th–9th inventories uses its own change of growing stock; one
    without takes the national change per hectare of forest times its own forest area (said in
    ``inventory_period``). All provinces share the draws of the conversion, so the total's
    bounds are percentiles of summed draws. ``total_of`` (a boolean Series on ``forest_ha``'s
    index, e.g. the mainland) limits the provinces the total sums.
    """
    pairs = nfi_stock_pairs(official, forest_ha.index)
    change = (pairs["stock_end_m3"] - pairs["stock_start_m3"]) / pairs["years"]
    period = pairs["inventory_period"].astype(object)
    national = national_stock_change_per_ha(official)
    if national is not None:
        missing = change.isna()
        change[missing] = national[0] * forest_ha[missing].astype(float)
        period[missing] = f"national per-ha rate, {national[1]}"
    out = pd.DataFrame(index=forest_ha.index)
    for bound in BOUNDS:
        out[f"inventory_net_sink_tco2_per_yr_{bound}"] = np.nan
    out["inventory_period"] = period
    known = change.dropna()
    if known.empty:
        return out, None
    inputs = pd.DataFrame({"change_m3_per_yr": known, "forest_ha": forest_ha.reindex(known.index)})
    est, sample = stock_difference_sinks(inputs, params, draws=draws, seed=seed, return_draws=True)
    for bound in BOUNDS:
        out.loc[known.index, f"inventory_net_sink_tco2_per_yr_{bound}"] = est[f"net_sink_tco2_per_yr_{bound}"]
    mask = None if total_of is None else total_of.reindex(known.index).fillna(False).to_numpy(dtype=bool)
    return out, summarise_total(est, sample, mask)


def inventory_regions(province_inventory: pd.DataFrame, province_forest_ha: pd.Series, region_province: pd.Series,
                      region_forest_ha: pd.Series) -> pd.DataFrame:
    """A region's inventory-method sink: its province's net sink per hectare of forest × its own
    forest area (low, central and high scale alike)."""
    out = pd.DataFrame(index=region_forest_ha.index)
    area = province_forest_ha.reindex(province_inventory.index)
    for bound in BOUNDS:
        per_ha = province_inventory[f"inventory_net_sink_tco2_per_yr_{bound}"] / area.where(area > 0)
        out[f"inventory_net_sink_tco2_per_yr_{bound}"] = (
            region_province.reindex(out.index).map(per_ha).to_numpy(dtype=float)
            * region_forest_ha.to_numpy(dtype=float))
    out["inventory_period"] = region_province.reindex(out.index).map(province_inventory["inventory_period"])
    return out


def with_headline(table: pd.DataFrame, losses_assessed: bool) -> pd.DataFrame:
    """Add ``sink_tco2_per_yr_{low,central,high}``, ``sink_method`` and per-ha figures."""
    out = table.copy()
    has_inventory = out.get("inventory_net_sink_tco2_per_yr_central", pd.Series(np.nan, index=out.index)).notna()
    tier1 = "tier1_net_sink" if losses_assessed else "tier1_gross_removal"
    for bound in BOUNDS:
        inventory = out.get(f"inventory_net_sink_tco2_per_yr_{bound}", pd.Series(np.nan, index=out.index))
        out[f"sink_tco2_per_yr_{bound}"] = np.where(has_inventory, inventory, out[f"{tier1}_tco2_per_yr_{bound}"])
    out["sink_method"] = np.where(has_inventory, METHOD_INVENTORY,
                                  METHOD_TIER1_NET if losses_assessed else METHOD_TIER1_GROSS)
    with np.errstate(invalid="ignore", divide="ignore"):
        forest = out["forest_ha"].astype(float)
        out["sink_tco2_per_ha_yr_central"] = np.where(forest > 0, out["sink_tco2_per_yr_central"] / forest, np.nan)
        if "land_area_ha" in out:
            out["sink_tco2_per_ha_land_yr_central"] = out["sink_tco2_per_yr_central"] / out["land_area_ha"]
    return out
