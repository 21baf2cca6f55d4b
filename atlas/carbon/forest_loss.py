"""Forest loss over time from a loss-year layer (Hansen GFC ``lossyear``: class k = loss in 2000 + k).

Pure functions: the zonal class table of the loss layer in, long tables out.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

_CLASS = re.compile(r"^class_(\d+)_ha$")


def loss_by_year(table: pd.DataFrame, id_column: str, codes=None, first_year: int = 2000) -> pd.DataFrame:
    """Long table ``id, year, loss_ha``: the area lost each year (class ``k`` → year ``first_year + k``;
    class 0, no loss, is left out).

    Parameters
    ----------
    table : DataFrame
        Zonal class table of the loss layer (``class_<k>_ha`` columns, one row per region).
    codes : iterable of int, optional
        Every loss class of the layer (its spec's classes): years absent from the table, where
        no outline lost forest, are listed with 0 ha.
    """
    if codes is not None:
        missing = {f"class_{k}_ha": 0.0 for k in codes if k > 0 and f"class_{k}_ha" not in table}
        table = table.assign(**missing)
    columns = {c: int(m.group(1)) for c in table.columns if (m := _CLASS.match(c)) and int(m.group(1)) > 0}
    long = table.melt(id_vars=[id_column], value_vars=sorted(columns, key=columns.get), var_name="class",
                      value_name="loss_ha")
    long["year"] = long["class"].map(columns).astype(int) + first_year
    long["loss_ha"] = long["loss_ha"].fillna(0.0).astype(float)
    return long[[id_column, "year", "loss_ha"]].sort_values([id_column, "year"], ignore_index=True)


def loss_around_designation(by_year: pd.DataFrame, designation_year: pd.Series, id_column: str) -> pd.DataFrame:
    """Mean annual loss before and from the designation year on, per region.

    Parameters
    ----------
    by_year : DataFrame
        :func:`loss_by_year`.
    designation_year : Series
        Region id → year of designation.

    Returns
    -------
    DataFrame
        ``id, designation_year, years_before, loss_ha_per_yr_before, years_after, loss_ha_per_yr_after,
        change_pct`` (after over before − 1, in %; empty where there was no loss before).
    """
    rows = []
    for region, group in by_year.groupby(id_column, sort=True):
        year = designation_year.get(region)
        if year is None or pd.isna(year):
            continue
        before = group[group["year"] < year]["loss_ha"]
        after = group[group["year"] >= year]["loss_ha"]
        mean_before = before.mean() if len(before) else np.nan
        mean_after = after.mean() if len(after) else np.nan
        change = (mean_after / mean_before - 1) * 100 if mean_before and mean_before > 0 else np.nan
        rows.append({id_column: region, "designation_year": int(year), "years_before": len(before),
                     "loss_ha_per_yr_before": mean_before, "years_after": len(after),
                     "loss_ha_per_yr_after": mean_after, "change_pct": change})
    columns = [id_column, "designation_year", "years_before", "loss_ha_per_yr_before", "years_after",
               "loss_ha_per_yr_after", "change_pct"]
    return pd.DataFrame(rows, columns=columns)
