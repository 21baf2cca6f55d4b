"""Declared targets next to comparable measurements: met, not met, pending, or not measurable.

A target is judged only against a measure of the same definition. Forest coverage
(森林覆盖率) and forest growing stock (森林蓄积量) targets are judged against **official
statistics** (national forest inventories, statistical bulletins): against the first
official figure of a year at or after the target year; with none yet, the target is
*pending* and the latest official figure is shown as progress. A raster forest share is
never a verdict: it is reported beside the official figure as a remote-sensing estimate,
not comparable (a majority-class map counts a 0.05° cell only where forest dominates, and
official coverage also counts sparse forest and, in some provinces, special shrubland).
Increases (``*_increase``) compare the official figures of the target year and the base year.
Indicators without an official counterpart in the atlas (tree coverage, 活立木蓄积量, energy
shares …) are listed as *not measurable*, never dropped.

Pure functions: frames in, frames out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Declared indicator → (official indicator, factor from official units to the target's units).
OFFICIAL_COUNTERPART = {
    "forest_coverage": ("forest_coverage", 1.0),
    "forest_stock": ("forest_stock", 1e-4),            # 万立方米 → 亿立方米
    "forest_coverage_increase": ("forest_coverage", 1.0),
    "forest_area_increase": ("forest_area", 1.0),      # 万公顷
    "forest_stock_increase": ("forest_stock", 1.0),    # 万立方米
}
STATUSES = ("met", "not met", "pending", "not measurable", "baseline (not a target)")
REMOTE_SENSING_NOTE = ("遥感估计，不可与官方森林覆盖率比较 remote-sensing estimate, not comparable with official "
                       "forest coverage")
PENDING_CAVEAT = ("尚无目标年份或之后的官方数据 no official figure for the target year or later yet; the latest "
                  "official figure is shown as progress")
NOT_MEASURABLE_CAVEAT = "无可比的官方数据 no comparable official figure in the atlas data"


def _official_rows(official: pd.DataFrame, targets: pd.DataFrame, pilots: pd.DataFrame | None) -> pd.DataFrame:
    """Official figures keyed by pilot id: the pilot's own rows, and its province's rows for
    province-level pilots."""
    own = official[official["pilot_id"].fillna("") != ""]
    if pilots is None:
        return own
    province_pilots = pilots[pilots["level"] == "province"][["pilot_id", "adcode"]]
    prov = official[official["region_level"] == "province"].drop(columns=["pilot_id"])
    prov = prov.merge(province_pilots, on="adcode")
    return pd.concat([own, prov], ignore_index=True).drop_duplicates()


def _source_text(row: pd.Series) -> str:
    return f"{row['source_document']} ({row['publisher']}, {row['source_year']})"


def _figure(rows: pd.DataFrame, year: int, at_or_after: bool) -> pd.Series | None:
    """The official figure nearest to ``year``: the first at or after it, or the latest before it."""
    if rows.empty:
        return None
    chosen = rows[rows["year"] >= year].sort_values("year") if at_or_after else \
        rows[rows["year"] <= year].sort_values("year", ascending=False)
    return None if chosen.empty else chosen.iloc[0]


def judge(target: pd.Series, rows: pd.DataFrame, factor: float) -> dict:
    """Verdict of one target row against the official rows of its indicator."""
    goal = target["value_low"]
    year = int(target["target_year"])
    increase = str(target["indicator"]).endswith("_increase")
    after = _figure(rows, year, at_or_after=True)
    latest = rows.sort_values("year").iloc[-1] if not rows.empty else None
    if rows.empty or (increase and pd.isna(target["base_year"])):
        return {"status": "not measurable", "caveat": NOT_MEASURABLE_CAVEAT}
    figure = after if after is not None else latest
    value = float(figure["value"]) * factor
    if increase:
        base = _figure(rows, int(target["base_year"]), at_or_after=False)
        if base is None:
            return {"status": "not measurable", "caveat": "无基准年官方数据 no official figure for the base year"}
        value -= float(base["value"]) * factor
    out = {"measured_value": value, "measured_year": int(figure["year"]), "measured_source": _source_text(figure)}
    if after is None:
        return {**out, "status": "pending", "caveat": PENDING_CAVEAT}
    verdict = "met" if value >= goal else "not met"
    note = "" if int(figure["year"]) == year else f"; official figure of {int(figure['year'])}, target year {year}"
    return {**out, "status": verdict, "caveat": "官方统计 official statistics" + note}


def track_targets(targets: pd.DataFrame, official: pd.DataFrame | None, pilots: pd.DataFrame | None = None,
                  remote_sensing_pct: pd.Series | None = None, remote_sensing_year: int | None = None,
                  remote_sensing_source: str = "") -> pd.DataFrame:
    """Every declared target with its comparable measurement and verdict.

    Parameters
    ----------
    targets : DataFrame
        Registry targets (``pilot_id``, ``indicator``, ``base_year``, ``target_year``,
        ``value_low``, ``note`` …), status-value rows included.
    official : DataFrame, optional
        Official statistics (:func:`atlas.regions.official.load_official_stats`).
    pilots : DataFrame, optional
        Registry pilots (``pilot_id``, ``level``, ``adcode``): province-level pilots are
        judged on their province's official rows.
    remote_sensing_pct, remote_sensing_year, remote_sensing_source
        Pilot id → a raster forest share (%), shown beside coverage targets, never judged.

    Returns
    -------
    DataFrame
        The targets with ``measured_value``, ``measured_unit``, ``measured_year``,
        ``measured_source``, ``status``, ``caveat`` and, for coverage targets,
        ``remote_sensing_value``, ``remote_sensing_year``, ``remote_sensing_note``.
    """
    out = targets[targets["pilot_id"] != ""].copy().reset_index(drop=True)
    keyed = _official_rows(official, out, pilots) if official is not None else None
    results = []
    for _, row in out.iterrows():
        if "status value" in str(row.get("note", "")).lower():
            results.append({"status": "baseline (not a target)", "caveat": ""})
            continue
        counterpart = OFFICIAL_COUNTERPART.get(row["indicator"])
        if counterpart is None or keyed is None or pd.isna(row["target_year"]):
            results.append({"status": "not measurable", "caveat": NOT_MEASURABLE_CAVEAT})
            continue
        name, factor = counterpart
        rows = keyed[(keyed["pilot_id"] == row["pilot_id"]) & (keyed["indicator"] == name)]
        results.append(judge(row, rows, factor))
    verdicts = pd.DataFrame(results, index=out.index, columns=["status", "caveat", "measured_value", "measured_year",
                                                              "measured_source"])
    out["measured_value"] = verdicts.get("measured_value", pd.Series(np.nan, index=out.index)).astype(float)
    out["measured_unit"] = np.where(out["measured_value"].notna(), out["unit"], "")
    out["measured_year"] = pd.array(verdicts.get("measured_year", pd.Series(pd.NA, index=out.index)), dtype="Int64")
    out["measured_source"] = verdicts.get("measured_source", pd.Series("", index=out.index)).astype(object).fillna("")
    out["status"] = verdicts["status"]
    out["caveat"] = verdicts["caveat"].fillna("")
    coverage = out["indicator"].isin(("forest_coverage", "tree_coverage"))
    rs = out["pilot_id"].map(remote_sensing_pct) if remote_sensing_pct is not None else pd.Series(np.nan, out.index)
    out["remote_sensing_value"] = np.where(coverage, rs, np.nan)
    out["remote_sensing_year"] = pd.array(np.where(coverage & rs.notna(), remote_sensing_year or 0, 0),
                                          dtype="Int64")
    out.loc[~(coverage & rs.notna()), "remote_sensing_year"] = pd.NA
    out["remote_sensing_note"] = np.where(coverage & rs.notna(), f"{REMOTE_SENSING_NOTE}: {remote_sensing_source}",
                                          "")
    return out
