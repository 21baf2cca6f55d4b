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
    control_units = sorted(set(sample.loc[sample["cohort"] == 0, "unit"]))
    method = f"matched_controls(k={n_matches}, pre={pre_years}y, demeaned log RMSE)"
    frames = []
    treated = sample[sample["cohort"] > 0].drop_duplicates("unit")
    for pilot in treated.itertuples():
        g = int(pilot.cohort)
        pre = [y for y in range(g - pre_years, g) if y in wide.index and np.isfinite(wide.at[y, pilot.unit])]
        if len(pre) < min_pre:
            log.info("%s %s: %d pre-designation years observed (< %d), no comparison", pilot.pilot_id,
                     pilot.name_zh, len(pre), min_pre)
            continue
        own = wide.loc[pre, pilot.unit]
        donors = wide.loc[pre, control_units].dropna(axis=1)
        if donors.shape[1] < n_matches:
            log.info("%s: only %d controls observed in %s, no comparison", pilot.pilot_id, donors.shape[1], pre)
            continue
        distance = np.sqrt((((donors - donors.mean()).sub(own - own.mean(), axis=0)) ** 2).mean())
        chosen = distance.nsmallest(n_matches, keep="first").index.tolist()
        path = wide[chosen] - wide.loc[pre, chosen].mean()
        comparison = path.mean(axis=1, skipna=True) + own.mean()
        observed = wide[pilot.unit].dropna()
        out = pd.DataFrame({"year": observed.index.astype(int), "observed_log": observed.to_numpy()})
        out["comparison_log"] = comparison.reindex(observed.index).to_numpy()
        frames.append(pd.DataFrame({
            "pilot_id": pilot.pilot_id, "name_zh": pilot.name_zh, "adcode": pilot.unit, "cohort": g,
            "year": out["year"], "event_time": out["year"] - g,
            "observed_tco2": tonnes[pilot.unit].reindex(observed.index).to_numpy(),
            "comparison_tco2": np.exp(out["comparison_log"]),
            "gap_log": out["observed_log"] - out["comparison_log"], "n_matches": len(chosen),
            "matched_adcodes": ";".join(chosen), "method": method}))
    if not frames:
        return pd.DataFrame(columns=list(TRAJECTORY_COLUMNS))
    result = pd.concat(frames, ignore_index=True)
    return result[list(TRAJECTORY_COLUMNS)].sort_values(["pilot_id", "year"], ignore_index=True)
