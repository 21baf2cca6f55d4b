"""One row per pilot with everything the pages show: registry facts, 2010 statistics,
forest, sinks, compensation and target status. Pure functions: frames in, frames out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from atlas.publish.fields import LEVELS, field

BATCH_LABELS = {1: "第一批（2010） Batch 1 (2010)", 2: "第二批（2012） Batch 2 (2012)",
                3: "第三批（2017） Batch 3 (2017)"}


def batch_label(value) -> str:
    """The reader's label of a batch; "—" for regions that are not registry pilots (batch 0)."""
    try:
        return BATCH_LABELS.get(int(value), "—")
    except (TypeError, ValueError):
        return "—"
DOMAIN_LABELS = {"tropical": "热带 tropical", "subtropical": "亚热带 subtropical",
                 "temperate": "温带 temperate", "boreal": "寒温带 boreal"}
#: Year each batch was designated (NDRC notices of 2010, 2012 and 2017).
BATCH_YEARS = {1: 2010, 2: 2012, 3: 2017}
#: Last year of the emissions-change layer (the CEADs series end in 2019).
CHANGE_END_YEAR = 2019
#: Columns :func:`emissions_change` adds to the per-pilot table.
CHANGE_COLUMNS = ["emissions_change_pct", "emissions_change_from", "emissions_change_to", "emissions_change_years"]
#: Statuses of :func:`atlas.targets.track_targets` that are a judgement on a measured value.
MEASURED_STATUSES = ("met", "not met")


def target_status(tracked: pd.DataFrame, pilot_ids: pd.Index) -> pd.DataFrame:
    """Per pilot: ``target_status`` (met / partly met / not met / not measurable /
    no targets) and ``target_summary`` (e.g. ``1 of 2 met``).

    Status-value rows of the report's tables (2010 baselines) are not targets and are ignored.
    """
    real = tracked[tracked["status"] != "baseline (not a target)"]
    rows = []
    for pid in pilot_ids:
        mine = real[real["pilot_id"] == pid]["status"]
        judged = mine[mine.isin(MEASURED_STATUSES)]
        met = int((judged == "met").sum())
        if mine.empty:
            status, summary = "no targets", "无目标 no declared targets"
        elif judged.empty:
            status, summary = "not measurable", f"{len(mine)} 项目标均不可测 none of {len(mine)} measurable"
        else:
            status = "met" if met == len(judged) else ("not met" if met == 0 else "partly met")
            summary = f"{met} / {len(judged)} 项已达成 met ({len(mine)} declared)"
        rows.append((pid, status, summary))
    return pd.DataFrame(rows, columns=["pilot_id", "target_status", "target_summary"]).set_index("pilot_id")


#: Names of the sink methods, as the pages print them.
METHOD_LABELS = {"ipcc_tier1": "IPCC 第一层级 增量-损失法 IPCC Tier 1 gain-loss",
                 "china_inventory": "省级清单指南 蓄积量法 China provincial inventory (stock method)"}

def sink_method_label(record: pd.Series) -> str:
    """The method a pilot's headline sink was computed by (its ``sink_method``), or IPCC Tier 1 for
    tables from before the column existed."""
    method = record.get("sink_method")
    return method if isinstance(method, str) and method else METHOD_LABELS["ipcc_tier1"]


#: Per-method sink columns of a build (``<prefix>net_sink_tco2_per_yr_<estimate>``).
METHOD_PREFIXES = ("tier1_", "inventory_")


def chosen_sink_columns(sinks: pd.DataFrame) -> pd.DataFrame:
    """The sink the build chose (``sink_tco2_per_yr_*``, by ``sink_method``) under the names the pages
    use (``net_sink_tco2_per_yr_*``); tables that already use those names are returned as they are."""
    if "net_sink_tco2_per_yr_central" in sinks or "sink_tco2_per_yr_central" not in sinks:
        return sinks
    names = {f"sink_tco2_per_yr_{e}": f"net_sink_tco2_per_yr_{e}" for e in ("low", "central", "high")}
    names["sink_tco2_per_ha_land_yr_central"] = "net_sink_tco2_per_ha_land_yr_central"
    return sinks.rename(columns=names)


def pilot_table(pilots: pd.DataFrame, forest: pd.DataFrame, sinks: pd.DataFrame, ledger: pd.DataFrame,
                tracked: pd.DataFrame, raster_emissions: pd.Series | None = None) -> pd.DataFrame:
    """Join everything the pages show into one frame indexed by ``pilot_id``.

    Parameters
    ----------
    pilots : DataFrame
        Registry pilots with areas and 2010 statistics (``data/pilots.csv``).
    forest, sinks, ledger : DataFrame
        Per-pilot forest table, sink table and compensation ledger of the build
        (``pilot_id`` as a column or as the index).
    tracked : DataFrame
        Target tracking rows (:func:`atlas.targets.track_targets`).
    raster_emissions : Series, optional
        Pilot id → emissions summed from an emissions raster (t CO₂/yr).
    """
    def by_id(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.set_index("pilot_id") if "pilot_id" in frame.columns else frame

    sinks = chosen_sink_columns(by_id(sinks))
    table = by_id(pilots).copy()
    forest_cols = [c for c in ("forest_ha", "forest_share_of_land", "forest_area_source") if c in by_id(forest)]
    table = table.join(by_id(forest)[forest_cols])
    sink_cols = [c for c in sinks.columns
                 if c.startswith(METHOD_PREFIXES + ("net_sink",)) or c in (
                     "climate_domain", "emissions_tco2_per_yr", "emissions_source", "offset_ratio_central",
                     "sink_method", "inventory_period")]
    table = table.join(by_id(sinks)[sink_cols])
    ledger_cols = [c for c in ("balance_tco2_per_yr", "payment_cny_per_yr", "transfer_cny_per_yr") if c in ledger]
    table = table.join(by_id(ledger)[ledger_cols])
    table = table.join(target_status(tracked, table.index))
    if raster_emissions is not None:
        table["raster_emissions_tco2_per_yr"] = raster_emissions.reindex(table.index)
    table["level_label"] = table["level"].map(LEVELS).fillna(table["level"])
    table["climate_domain"] = table["climate_domain"].map(DOMAIN_LABELS).fillna(table["climate_domain"])
    return table


def _rows(record: pd.Series, columns: list[str]) -> list[list[str]]:
    return [[field(c).label, field(c).text(record.get(c))] for c in columns if c in record.index]


def sink_range_text(record: pd.Series) -> str:
    """``54.0 / 83.3 / 131 Mt CO₂/yr`` (low / central / high) or no data."""
    keys = ["net_sink_tco2_per_yr_low", "net_sink_tco2_per_yr_central", "net_sink_tco2_per_yr_high"]
    values = [record.get(k) for k in keys]
    if any(v is None or pd.isna(v) for v in values):
        return field(keys[1]).text(None)
    return " / ".join(field(k).short(v) for k, v in zip(keys, values)) + " CO₂/yr"


def target_value_text(row: pd.Series) -> str:
    """Declared value of a target row: ``18 %`` or ``17–20 %``."""
    low, high, unit = row["value_low"], row["value_high"], row.get("unit", "") or ""
    if pd.isna(low) and pd.isna(high):
        return "—"
    text = f"{low:g}" if pd.isna(high) or low == high else f"{low:g}–{high:g}"
    return f"{text} {unit}".strip()


def target_rows(tracked: pd.DataFrame, indicators: pd.DataFrame) -> pd.DataFrame:
    """Tracked targets with bilingual indicator names and display texts, baseline rows dropped."""
    names = indicators.set_index("indicator")
    rows = tracked[tracked["status"] != "baseline (not a target)"].copy()
    if rows.empty:
        return rows.assign(indicator_zh="", indicator_en="", declared_text="", measured_text="")
    rows["indicator_zh"] = rows["indicator"].map(names["description_zh"]).fillna(rows["indicator"])
    rows["indicator_en"] = rows["indicator"].map(names["description_en"]).fillna(rows["indicator"])
    rows["declared_text"] = rows.apply(target_value_text, axis=1)
    measured = rows["measured_value"].astype(float)
    year = pd.to_numeric(rows["measured_year"], errors="coerce").astype("Int64").astype(str)
    rows["measured_text"] = np.where(measured.notna(), measured.map(lambda v: f"{v:.1f} %") + " (" + year + ")", "—")
    if "remote_sensing_value" in rows:
        remote = pd.to_numeric(rows["remote_sensing_value"], errors="coerce")
        ryear = pd.to_numeric(rows.get("remote_sensing_year"), errors="coerce")
        rows["remote_sensing_text"] = [
            "" if pd.isna(v) else f"{v:.1f} %" + (f" ({int(y)})" if pd.notna(y) and y > 0 else "")
            for v, y in zip(remote, ryear if ryear is not None else [np.nan] * len(rows))]
    else:
        rows["remote_sensing_text"] = ""
    return rows


def popup_sections(record: pd.Series, targets: pd.DataFrame, max_targets: int = 6) -> list:
    """The popup of one pilot as ``[[section title, [[label, value], …]], …]`` (plain text)."""
    facts = [["批次 Batch", batch_label(record["batch"])]]
    facts += _rows(record, ["level_label", "province_zh", "document", "land_area_km2"])
    sections = [["基本信息 Facts", facts]]
    stats = _rows(record, ["population_10k", "gdp_100m_yuan", "co2_per_capita_t"])
    sections.append(["2010 年统计（NCSC 2013 报告表 1–2） 2010 statistics (NCSC 2013 report, Tables 1–2)", stats])
    # the method is the build's (China's inventory method where official statistics allow it), not a fixed one
    sink = [["方法 Method", sink_method_label(record)],
            ["净碳汇 低/中/高 Net sink low/central/high", sink_range_text(record)]]
    sink += _rows(record, ["forest_share_of_land", "net_sink_tco2_per_ha_land_yr_central", "climate_domain",
                           "emissions_tco2_per_yr", "emissions_source", "offset_ratio_central", "payment_cny_per_yr"])
    sections.append(["森林碳汇 Forest sink", sink])
    mine = targets[targets["pilot_id"] == record.name]
    if not mine.empty:
        rows = [[f"{t.indicator_zh} ({t.target_year:g})" if pd.notna(t.target_year) else t.indicator_zh,
                 f"{t.declared_text}; 实测 measured {t.measured_text}; {t.status}"]
                for t in mine.head(max_targets).itertuples()]
        if len(mine) > max_targets:
            more = len(mine) - max_targets
            rows.append(["…", f"另 {more} 项见试点页面 {more} more on the pilot page"])
        sections.append(["目标（NCSC 2013 报告表 3–16） Targets (NCSC 2013 report, Tables 3–16)", rows])
    return sections


# ---------------------------------------------------------------- the time axis

def designation_year(record: pd.Series) -> int | None:
    """The year a pilot was designated: its ``year`` column, else its batch's year; None if neither."""
    year = pd.to_numeric(pd.Series([record.get("year")]), errors="coerce").iloc[0]
    if pd.notna(year):
        return int(year)
    batch = pd.to_numeric(pd.Series([record.get("batch")]), errors="coerce").iloc[0]
    return BATCH_YEARS.get(int(batch)) if pd.notna(batch) else None


def emissions_change(series: pd.DataFrame, designated: pd.Series, end_year: int = CHANGE_END_YEAR) -> pd.DataFrame:
    """Per pilot: % change of emissions from the designation year to ``end_year``.

    The start is the year with data nearest to the designation year (the earlier on a tie), the end
    the last year with data up to ``end_year``; a pilot whose end is not after its start, or without
    a series, gets NaN (the maps' no-data class).

    Parameters
    ----------
    series : DataFrame
        ``pilot_id``, ``year``, ``emissions_tco2`` (``emissions_series_pilots.csv``).
    designated : Series
        Pilot id → designation year.

    Returns
    -------
    DataFrame
        Indexed like ``designated``: :data:`CHANGE_COLUMNS` (``emissions_change_years`` is ``2010 → 2019``).

    Examples
    --------
    100 Mt in 2010 and 80 Mt in 2019 for a pilot designated in 2010 give −20 %; a series with
    2009 and 2011 but not 2010 starts in 2009.
    """
    out = pd.DataFrame(index=designated.index, columns=CHANGE_COLUMNS, dtype=object)
    out["emissions_change_pct"] = np.nan
    clean = series.dropna(subset=["year", "emissions_tco2"])
    by_pilot = {str(k): g.set_index(g["year"].astype(int))["emissions_tco2"].astype(float).sort_index()
                for k, g in clean.groupby("pilot_id")}
    for pid, year in designated.items():
        s = by_pilot.get(str(pid))
        if s is None or s.empty or pd.isna(year):
            continue
        years = s.index.to_numpy()
        start = int(years[np.lexsort((years, np.abs(years - int(year))))[0]])
        upto = years[years <= end_year]
        if upto.size == 0 or int(upto.max()) <= start or s.loc[start] <= 0:
            continue
        end = int(upto.max())
        out.loc[pid, CHANGE_COLUMNS] = [(s.loc[end] / s.loc[start] - 1) * 100, start, end, f"{start} → {end}"]
    out["emissions_change_pct"] = out["emissions_change_pct"].astype(float)
    return out


def with_emissions_change(table: pd.DataFrame, series: pd.DataFrame | None) -> pd.DataFrame:
    """The per-pilot table with :data:`CHANGE_COLUMNS` from an emissions series (unchanged without one,
    or when it has them already)."""
    if series is None or series.empty or "emissions_change_pct" in table:
        return table
    designated = pd.Series({pid: designation_year(row) for pid, row in table.iterrows()}, dtype=object)
    return table.join(emissions_change(series, designated))
