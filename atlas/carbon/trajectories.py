"""Per-pilot emission trajectories next to a comparison path of matched never-designated units.

:func:`pilot_trajectories` gives a per-pilot picture by **matched controls**: for each pilot the
``n_matches`` never-designated units whose log emissions over the ``pre_years`` before designation
are closest (root-mean-square distance after removing each unit's pre-period mean, i.e. the same
*shape* of trajectory); their de-meaned average, shifted to the pilot's pre-period level, is the
comparison path. Synthetic control (e.g. ``pysyncon``) was not used: it needs a balanced donor
panel, and with CEADs' gaps few donors are complete over a long pre-period, so the weights would be
fitted to a handful of cities and be unstable; nearest pre-period trajectories tolerate gaps (a
donor needs only the pilot's pre-period years) and are transparent.

Pure functions: frames in, frames out (the panel of :func:`atlas.carbon.evaluation.load_panel`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from atlas.carbon.evaluation import COHORTS, _check_options, estimation_sample
from atlas.errors import ConfigError

log = logging.getLogger(__name__)

TRAJECTORY_COLUMNS: tuple[str, ...] = ("pilot_id", "name_zh", "adcode", "cohort", "year", "event_time",
                                       "observed_tco2", "comparison_tco2", "gap_log", "n_matches",
                                       "matched_adcodes", "method")


def pilot_trajectories(panel: pd.DataFrame, *, level: str = "city", cohorts: Sequence[int] = COHORTS,
                       controls: str = "never", n_matches: int = 5, pre_years: int = 5, min_pre: int = 3,
                       mask_boundary_breaks: bool = True) -> pd.DataFrame:
    """Per-pilot observed emissions next to a matched-control comparison path.

    Parameters
    ----------
    panel : DataFrame
        The frame from :func:`load_panel`.
    level, cohorts, controls, mask_boundary_breaks
        As in :func:`event_study`.
    n_matches : int
        Number of control units averaged into each pilot's comparison path.
    pre_years : int
        Length of the matching period: the ``pre_years`` years before designation.
    min_pre : int
        A pilot needs at least this many observed years in the matching period; others are
        skipped (logged).

    Returns
    -------
    DataFrame
        One row per pilot and year with an observed value: ``pilot_id, name_zh, adcode, cohort,
        year, event_time, observed_tco2, comparison_tco2, gap_log, n_matches, matched_adcodes,
        method``. ``gap_log`` = log(observed) - log(comparison); ``comparison_tco2`` is missing
        in years none of the matched controls is observed.
    """
    _check_options(panel, cohorts, (-2, 0), controls, "log_emissions", level, 0.05)
    if n_matches < 1 or pre_years < 2 or not 1 <= min_pre <= pre_years:
        raise ConfigError(f"n_matches={n_matches}, pre_years={pre_years}, min_pre={min_pre}",
                          "n_matches >= 1, pre_years >= 2 and 1 <= min_pre <= pre_years")
    sample = estimation_sample(panel, cohorts=cohorts, controls=controls, outcome="log_emissions", level=level,
                               mask_boundary_breaks=mask_boundary_breaks)
    wide = sample.pivot_table(index="year", columns="unit", values="log_emissions", aggfunc="first")
    tonnes = sample.pivot_table(index="year", columns="unit", values="emissions_tco2", aggfunc="first")
    tonnes = tonnes.reindex(index=wide.index, columns=wide.columns)
    # plain arrays (years × units): the per-pilot work below is a few array operations, where the
    # same steps on labelled frames cost ten times as much in index alignment
    years, units = wide.index.to_numpy(dtype=int), wide.columns.astype(str)
    logs, amounts = wide.to_numpy(dtype=float), tonnes.to_numpy(dtype=float)
    column = {unit: i for i, unit in enumerate(units)}
    controls = np.array(sorted(column[u] for u in set(sample.loc[sample["cohort"] == 0, "unit"])), dtype=int)
    method = f"matched_controls(k={n_matches}, pre={pre_years}y, demeaned log RMSE)"
    frames = []
    treated = sample[sample["cohort"] > 0].drop_duplicates("unit")
    for pilot in treated.itertuples():
        g, own_all = int(pilot.cohort), logs[:, column[pilot.unit]]
        pre = np.flatnonzero((years >= g - pre_years) & (years < g) & np.isfinite(own_all))
        if pre.size < min_pre:
            log.info("%s %s: %d pre-designation years observed (< %d), no comparison", pilot.pilot_id,
                     pilot.name_zh, pre.size, min_pre)
            continue
        own = own_all[pre]
        donors = controls[np.isfinite(logs[np.ix_(pre, controls)]).all(axis=0)]
        if donors.size < n_matches:
            log.info("%s: only %d controls observed in %s, no comparison", pilot.pilot_id, donors.size,
                     years[pre].tolist())
            continue
        window = logs[np.ix_(pre, donors)]
        shape_gap = (window - window.mean(axis=0)) - (own - own.mean())[:, None]
        distance = np.sqrt((shape_gap ** 2).mean(axis=0))
        chosen = donors[np.argsort(distance, kind="stable")[:n_matches]]  # ties: the lower adcode first
        path = logs[:, chosen] - logs[np.ix_(pre, chosen)].mean(axis=0)
        seen = np.isfinite(path).any(axis=1)
        comparison = np.full(len(years), np.nan)
        comparison[seen] = np.nanmean(path[seen], axis=1) + own.mean()
        observed = np.flatnonzero(np.isfinite(own_all))
        frames.append(pd.DataFrame({
            "pilot_id": pilot.pilot_id, "name_zh": pilot.name_zh, "adcode": pilot.unit, "cohort": g,
            "year": years[observed], "event_time": years[observed] - g,
            "observed_tco2": amounts[observed, column[pilot.unit]],
            "comparison_tco2": np.exp(comparison[observed]),
            "gap_log": own_all[observed] - comparison[observed], "n_matches": chosen.size,
            "matched_adcodes": ";".join(units[chosen]), "method": method}))
    if not frames:
        return pd.DataFrame(columns=list(TRAJECTORY_COLUMNS))
    result = pd.concat(frames, ignore_index=True)
    return result[list(TRAJECTORY_COLUMNS)].sort_values(["pilot_id", "year"], ignore_index=True)
