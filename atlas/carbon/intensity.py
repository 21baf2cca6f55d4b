"""Carbon intensity (CO2 per unit of real GDP) and verdicts on declared intensity targets.

Carbon intensity here is emissions divided by GDP at constant 2005 prices:

    I(t) = emissions_tco2(t) / (gdp_real_100m_yuan_2005(t) × 10^4)    [t CO2 per 10^4 yuan, 2005 prices]

(1 亿元 = 10^4 万元, so a GDP in 亿元 times 10^4 is the same GDP in 万元.) The real GDP is
chained from the nominal GDP of 2005 with the official GDP index (上年=100), see
:func:`chain_real_gdp` and ``geodata/GDP.md``.

A declared target "单位 GDP 二氧化碳排放比 <base> 年下降 x %" is judged on the measured
reduction 1 − I(target_year)/I(base_year), in %, against ``value_low`` (the goal is "at least
value_low"; for a printed range such as 25–28 the lower bound decides).

The measurement is **not** the official one: CEADs inventories cover fossil-fuel combustion
and cement process emissions, whereas the official intensity statistics (考核口径) use
energy-related CO2 computed from provincial energy balances, and the official assessments
used the GDP vintage current at the time. Every verdict carries that caveat.

Pure functions: frames in, frames out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Declared indicators this module can judge, and their base year.
INTENSITY_INDICATORS = {
    "carbon_intensity_reduction_vs_2005": 2005,
    "carbon_intensity_reduction_vs_2010": 2010,
}
#: Name of the intensity column (t CO2 per 10^4 yuan of GDP at 2005 prices).
INTENSITY_COLUMN = "intensity_tco2_per_10k_yuan_2005"
#: Name of the real GDP column (10^8 yuan at 2005 prices).
GDP_REAL_COLUMN = "gdp_real_100m_yuan_2005"
#: 1 亿元 (10^8 yuan) = 10^4 万元 (10^4 yuan).
WAN_YUAN_PER_100M_YUAN = 1.0e4

DEFAULT_SOURCE = ("CEADs emissions (geodata/emissions_series_pilots.csv) / NBS real GDP at 2005 prices "
                  "(geodata/gdp_constant_prices.csv)")
SCOPE_CAVEAT = ("口径不同：CEADs 排放为化石燃料燃烧加水泥生产过程排放，官方碳强度统计采用基于省级能源平衡表的能源活动二氧化碳排放 "
                "scope differs: CEADs covers fossil-fuel combustion plus cement process emissions, official "
                "intensity statistics use energy-related CO2 from provincial energy balances")
DEFAULT_GDP_NOTE = ("GDP 为国家统计局分省年度数据（2018 年第四次经济普查修订后口径）按 2005 年价格链式计算，"
                    "官方考核使用当时的 GDP 口径 GDP: NBS provincial annual data (vintage revised after the 2018 "
                    "economic census) chained to 2005 prices; official assessments used the GDP vintage current "
                    "at the time")
PENDING_NOTE = ("目标年份晚于最新数据年份，给出最新年份的降幅作为进展 target year after the last year with data; "
                "the latest measured reduction is shown as progress")
NO_BASE_NOTE = "缺少基准年数据 no emissions or GDP data for the base year"
NO_SERIES_NOTE = ("该试点没有同时具备排放与实际 GDP 的年份 no year with both emissions and real GDP for this pilot "
                  "(e.g. no GDP series yet)")
NO_TARGET_YEAR_NOTE = "缺少目标年份数据 no emissions or GDP data for the target year"
NO_YEAR_NOTE = "目标缺少年份 the target has no base or target year"
RANGE_NOTE = "目标为区间，按下限判断 the target is a range; judged against its lower bound"
STATUSES = ("met", "not met", "pending", "not measurable", "baseline (not a target)")


def _require(frame: pd.DataFrame, columns: list[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks column(s) {missing}")


def chain_real_gdp(gdp: pd.DataFrame, base_year: int = 2005) -> pd.Series:
    """Real GDP at ``base_year`` prices, chained from the nominal base-year GDP and the GDP index.

    ``real(base_year) = nominal(base_year)`` and ``real(t) = real(t-1) × index(t) / 100`` for every
    later year, where ``index(t)`` is the official GDP index with the preceding year = 100.

    Parameters
    ----------
    gdp : DataFrame
        ``pilot_id``, ``year``, ``gdp_nominal_100m_yuan`` (亿元, current prices) and
        ``gdp_index_prev_year`` (上年=100); one row per pilot and year.
    base_year : int, default 2005
        The price year.

    Returns
    -------
    Series
        Real GDP in 10^8 yuan at ``base_year`` prices, aligned with ``gdp``'s index. NaN for years
        before ``base_year``, for pilots without a nominal base-year value, and from the first
        missing year or index onwards (a chain is never bridged over a gap).
    """
    _require(gdp, ["pilot_id", "year", "gdp_nominal_100m_yuan", "gdp_index_prev_year"], "gdp")
    out = pd.Series(np.nan, index=gdp.index, dtype=float)
    for _, rows in gdp.groupby("pilot_id", sort=False):
        rows = rows.sort_values("year")
        level = np.nan
        previous = None
        for idx, row in rows.iterrows():
            year = int(row["year"])
            if year < base_year:
                continue
            if year == base_year:
                level = float(row["gdp_nominal_100m_yuan"])
            elif previous is None or year != previous + 1:
                level = np.nan
            else:
                level = level * float(row["gdp_index_prev_year"]) / 100.0
            out.loc[idx] = level
            previous = year
    return out


def intensity_series(emissions: pd.DataFrame, gdp: pd.DataFrame) -> pd.DataFrame:
    """Carbon intensity per pilot and year: emissions over real GDP at 2005 prices.

    Parameters
    ----------
    emissions : DataFrame
        ``pilot_id``, ``year``, ``emissions_tco2`` (t CO2); one row per pilot and year.
    gdp : DataFrame
        ``pilot_id``, ``year``, ``gdp_real_100m_yuan_2005`` (10^8 yuan at 2005 prices, 亿元);
        one row per pilot and year (e.g. ``geodata/gdp_constant_prices.csv``).

    Returns
    -------
    DataFrame
        ``pilot_id``, ``year``, ``emissions_tco2``, ``gdp_real_100m_yuan_2005`` and
        ``intensity_tco2_per_10k_yuan_2005`` = emissions_tco2 / (gdp_real_100m_yuan_2005 × 10^4),
        in t CO2 per 10^4 yuan (万元) at 2005 prices; only pilot-years present in both inputs with
        both values known, sorted by pilot and year.

    Raises
    ------
    ValueError
        On a missing column, a repeated pilot-year, or a real GDP that is not positive.
    """
    _require(emissions, ["pilot_id", "year", "emissions_tco2"], "emissions")
    _require(gdp, ["pilot_id", "year", GDP_REAL_COLUMN], "gdp")
    for frame, name in ((emissions, "emissions"), (gdp, "gdp")):
        if frame.duplicated(["pilot_id", "year"]).any():
            raise ValueError(f"{name} has more than one row for a pilot and year")
    e = emissions[["pilot_id", "year", "emissions_tco2"]].copy()
    g = gdp[["pilot_id", "year", GDP_REAL_COLUMN]].copy()
    for frame in (e, g):
        frame["pilot_id"] = frame["pilot_id"].astype(str)
        frame["year"] = frame["year"].astype(int)
    out = e.merge(g, on=["pilot_id", "year"], how="inner")
    out["emissions_tco2"] = out["emissions_tco2"].astype(float)
    out[GDP_REAL_COLUMN] = out[GDP_REAL_COLUMN].astype(float)
    out = out.dropna(subset=["emissions_tco2", GDP_REAL_COLUMN])
    if (out[GDP_REAL_COLUMN] <= 0).any():
        raise ValueError("real GDP must be positive")
    out[INTENSITY_COLUMN] = out["emissions_tco2"] / (out[GDP_REAL_COLUMN] * WAN_YUAN_PER_100M_YUAN)
    return out.sort_values(["pilot_id", "year"]).reset_index(drop=True)


def _reduction_pct(base: float, later: float) -> float:
    return (1.0 - later / base) * 100.0


def _judge_one(target: pd.Series, series: pd.Series, latest_year: int, source: str) -> dict:
    """Verdict of one intensity target against one pilot's intensity by year (years ≤ latest_year)."""
    if pd.isna(target["base_year"]) or pd.isna(target["target_year"]):
        return {"status": "not measurable", "note": NO_YEAR_NOTE}
    base_year, target_year = int(target["base_year"]), int(target["target_year"])
    if series.empty:
        return {"status": "not measurable", "note": NO_SERIES_NOTE}
    if base_year not in series.index:
        return {"status": "not measurable", "note": NO_BASE_NOTE}
    base = float(series.loc[base_year])
    last_year = int(series.index.max())
    if target_year > last_year:
        later = series[series.index > base_year]
        if later.empty:
            return {"status": "pending", "note": PENDING_NOTE + "; 基准年之后尚无数据 no data after the base year yet"}
        year = int(later.index.max())
        value = _reduction_pct(base, float(later.loc[year]))
        return {"status": "pending", "measured_value": value, "measured_year": year,
                "measured_source": f"{source}; I({base_year})={base:.4f}, I({year})={float(later.loc[year]):.4f} "
                                   "t CO2/10^4 yuan (2005 prices)",
                "note": PENDING_NOTE}
    if target_year not in series.index:
        return {"status": "not measurable", "note": NO_TARGET_YEAR_NOTE}
    value = _reduction_pct(base, float(series.loc[target_year]))
    goal = float(target["value_low"])
    return {"status": "met" if value >= goal else "not met", "measured_value": value, "measured_year": target_year,
            "measured_source": f"{source}; I({base_year})={base:.4f}, I({target_year})="
                               f"{float(series.loc[target_year]):.4f} t CO2/10^4 yuan (2005 prices)",
            "note": ""}


def judge_intensity_targets(targets: pd.DataFrame, intensity: pd.DataFrame, latest_year: int, *,
                            source: str = DEFAULT_SOURCE, gdp_note: str = DEFAULT_GDP_NOTE) -> pd.DataFrame:
    """Verdicts on declared carbon-intensity targets from a measured intensity series.

    For every target row whose indicator is ``carbon_intensity_reduction_vs_2005`` or
    ``carbon_intensity_reduction_vs_2010`` the measured reduction is
    ``(1 − I(target_year) / I(base_year)) × 100`` in %, with I the intensity of
    :func:`intensity_series`. The goal is ``value_low`` ("at least"):

    - ``met`` / ``not met``: base and target year are both in the data and target_year ≤ latest_year;
    - ``pending``: the target year is after the last year with data (years after ``latest_year``
      are ignored); the latest measured reduction and its year are given as progress;
    - ``not measurable``: no data for the pilot at all, or none for the base year (or for a target
      year inside the data range, or the target has no years);
    - ``baseline (not a target)``: rows whose note marks them as a status value.

    Parameters
    ----------
    targets : DataFrame
        Registry targets (``target_id``, ``pilot_id``, ``indicator``, ``base_year``,
        ``target_year``, ``value_low``, ``value_high``, ``unit`` …; ``note`` optional).
    intensity : DataFrame
        ``pilot_id``, ``year``, ``intensity_tco2_per_10k_yuan_2005`` (from :func:`intensity_series`).
    latest_year : int
        Last year of data to use.
    source : str, optional
        Text naming the emissions and GDP sources, used in ``measured_source``.
    gdp_note : str, optional
        Bilingual note on the GDP vintage, appended to every caveat.

    Returns
    -------
    DataFrame
        The intensity target rows of pilots (other indicators and rows without a pilot, such as
        the national column of seed Table 16, dropped), in their original order, with
        ``measured_value`` (float, %), ``measured_unit`` ("%" where a value is given),
        ``measured_year`` (Int64), ``measured_source``, ``status`` and ``caveat`` (bilingual:
        scope of the emissions, GDP vintage, and the reason for pending / not measurable).
    """
    _require(targets, ["pilot_id", "indicator", "base_year", "target_year", "value_low"], "targets")
    _require(intensity, ["pilot_id", "year", INTENSITY_COLUMN], "intensity")
    has_pilot = targets["pilot_id"].notna() & (targets["pilot_id"].astype(str).str.strip() != "")
    out = targets[targets["indicator"].isin(list(INTENSITY_INDICATORS)) & has_pilot].copy().reset_index(drop=True)
    data = intensity[intensity["year"].astype(int) <= int(latest_year)].dropna(subset=[INTENSITY_COLUMN])
    by_pilot = {str(pid): rows.set_index(rows["year"].astype(int))[INTENSITY_COLUMN].astype(float).sort_index()
                for pid, rows in data.groupby("pilot_id")}
    results = []
    for _, row in out.iterrows():
        if "status value" in str(row.get("note", "")).lower():
            results.append({"status": "baseline (not a target)", "note": ""})
            continue
        series = by_pilot.get(str(row["pilot_id"]), pd.Series(dtype=float))
        result = _judge_one(row, series, int(latest_year), source)
        high = row.get("value_high")
        if pd.notna(high) and float(high) != float(row["value_low"]):
            result["note"] = "; ".join(n for n in (result["note"], RANGE_NOTE) if n)
        results.append(result)
    verdicts = pd.DataFrame(results, index=out.index,
                            columns=["status", "measured_value", "measured_year", "measured_source", "note"])
    out["measured_value"] = verdicts["measured_value"].astype(float)
    out["measured_unit"] = np.where(out["measured_value"].notna(), "%", "")
    out["measured_year"] = pd.array(verdicts["measured_year"].astype(float), dtype="Int64")
    out["measured_source"] = [s if isinstance(s, str) else "" for s in verdicts["measured_source"]]
    out["status"] = verdicts["status"].astype(str)
    notes = [n if isinstance(n, str) else "" for n in verdicts["note"]]
    base_caveat = f"{SCOPE_CAVEAT}; {gdp_note}"
    out["caveat"] = [base_caveat if status == "baseline (not a target)" and not note else
                     "; ".join(n for n in (note, base_caveat) if n) for status, note in zip(out["status"], notes)]
    return out
