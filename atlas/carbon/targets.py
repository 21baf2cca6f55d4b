"""Declared targets next to measured values: met, not met, or not measurable.

Only forest-cover targets have a counterpart in the embedded data (the MODIS MCD12C1
2019 forest share of each pilot's land area). Every row carries the definition caveat:
official forest coverage (森林覆盖率) counts land with canopy density ≥ 0.2 plus special
shrubland, while a majority-class map counts a 0.05° cell only where forest dominates,
so the measured value is a lower bound for most pilots. Targets such as carbon
intensity need GDP and emission series the atlas does not hold: they are listed as
"not measurable" rather than dropped.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Indicators a forest-share measurement speaks to, and how.
FOREST_LEVEL_INDICATORS = ("forest_coverage", "tree_coverage")
MEASURED_CAVEAT = ("measured = MODIS MCD12C1 2019 IGBP forest (classes 1-5) as a share of land area; "
                   "official forest coverage also counts sparse forest and special shrubland, so this "
                   "majority-class figure is usually lower")


def track_targets(targets: pd.DataFrame, measured_share_pct: pd.Series, measured_year: int,
                  source: str) -> pd.DataFrame:
    """Compare declared targets with measured forest shares.

    Parameters
    ----------
    targets : DataFrame
        Registry targets (``pilot_id``, ``indicator``, ``target_year``, ``value_low``,
        ``value_high`` …), status-value rows included.
    measured_share_pct : Series
        Pilot id → measured forest share of land, percent.
    measured_year : int
        Year of the measurement.
    source : str
        Where the measurement comes from (shown in every row).

    Returns
    -------
    DataFrame
        The targets with ``measured_value``, ``measured_year``, ``measured_source``,
        ``status`` (met / not met / not measurable) and ``caveat``.
    """
    out = targets[targets["pilot_id"] != ""].copy()
    measurable = out["indicator"].isin(FOREST_LEVEL_INDICATORS)
    measured = out["pilot_id"].map(measured_share_pct)
    out["measured_value"] = np.where(measurable, measured, np.nan)
    out["measured_unit"] = np.where(measurable, "%", "")
    out["measured_year"] = pd.array(np.where(measurable, measured_year, 0), dtype="Int64")
    out.loc[~measurable, "measured_year"] = pd.NA
    out["measured_source"] = np.where(measurable, source, "")
    goal = out["value_low"]  # "at least" the lower end of a declared range
    met = out["measured_value"] >= goal
    status_row = out["note"].str.contains("status value", case=False, na=False)
    out["status"] = np.select([status_row,
                               measurable & out["measured_value"].notna() & met,
                               measurable & out["measured_value"].notna() & ~met],
                              ["baseline (not a target)", "met", "not met"], "not measurable")
    year_note = np.where(measurable & (out["target_year"].astype("Float64") != measured_year),
                         f"; target year differs from the measurement year {measured_year}", "")
    out["caveat"] = np.where(measurable, MEASURED_CAVEAT + year_note,
                             "no measured counterpart in the atlas data")
    return out
