"""Did designation as a low-carbon pilot change emissions? A staggered-adoption event study.

Pilots were designated in three cohorts (2010, 2012, 2017). Two-way fixed-effects regressions
with a single post-designation dummy are biased under staggered adoption with effects that vary
over time (early cohorts end up as controls for later ones), so this module uses the
**Sun & Abraham (2021) interaction-weighted estimator**: a regression of the outcome on
unit and year fixed effects and a full set of cohort × event-time indicators (event time -1 is
the reference), with the **never-designated** units as the only comparison group. Cohort-specific
effects CATT(g, e) come straight from the regression; the ``cohort="all"`` rows average them over
cohorts with weights equal to each cohort's share of the treated units observed at that event time,
and the post-period ATT averages all (g, e) cells with 0 <= e <= window end, weighted by their
treated observations. Intervals are cluster-robust (CRV1, clustered by unit, t with G-1 degrees
of freedom) or, with ``n_boot > 0``, percentile intervals from a unit (cluster) bootstrap.

Why ``pyfixest`` (its ``feols`` with the ``i(rel_time, cohort, ref=-1, ref2=0)`` interaction, the
regression behind its ``saturated`` event study) rather than ``differences`` (Callaway–Sant'Anna):
both install on Python 3.11 with pandas 3 here (``pyfixest`` 0.60.0, ``differences`` 0.3.0), but the
CEADs city panel is strongly unbalanced (a city has 13.5 of 23 years on average). ``differences``
then switches to its repeated-cross-section estimator, which drops the city fixed effect, and on a
synthetic unbalanced panel its intervals were several times wider than the noise warrants; its
simultaneous bands also came out NaN for the reference period. The Sun–Abraham regression
absorbs unit effects in an unbalanced panel directly, uses only never-treated controls by
construction, and is a maintained, documented estimator. ``pyfixest``'s own ``SaturatedEventStudy``
class is flagged beta and its aggregation weights event time 0 at zero, so the regression is
called through the stable ``feols`` API and the aggregation is done here.

Per-pilot comparison paths are in :mod:`atlas.carbon.trajectories`.

Pure functions: frames in, frames out. :func:`load_panel` reads the embedded
``geodata/emissions_series_ceads.csv`` and ``pilots.csv``.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from atlas.errors import ConfigError, RegistryError

log = logging.getLogger(__name__)

COHORTS: tuple[int, ...] = (2010, 2012, 2017)
CONTROLS: tuple[str, ...] = ("never", "never_outside_pilot_provinces")
LEVELS: tuple[str, ...] = ("city", "province")
OUTCOMES: tuple[str, ...] = ("log_emissions", "emissions_tco2")
EFFECT_COLUMNS: tuple[str, ...] = ("outcome", "cohort", "event_time", "estimate", "ci_low", "ci_high",
                                   "n_treated", "n_control")
MUNICIPALITIES: frozenset[str] = frozenset({"110000", "120000", "310000", "500000"})

#: Known boundary changes inside the CEADs city series: (adcode, first year, last year, reason).
#: With ``mask_boundary_breaks=True`` the outcome of those unit-years is set missing, so that a
#: change of territory is not read as a change of emissions.
BOUNDARY_BREAKS: tuple[tuple[str, int, int, str], ...] = (
    ("370100", 2019, 2019, "济南 absorbed 莱芜 in Jan 2019 (CEADs 2019: 103.7 Mt vs 43.4 Mt in 2018)"),
    ("340100", 1997, 2010, "合肥 gained 居巢区 and 庐江县 from the abolished 巢湖 in Aug 2011"),
    ("340200", 1997, 2010, "芜湖 gained 无为县 from the abolished 巢湖 in Aug 2011"),
    ("340500", 1997, 2010, "马鞍山 gained 含山县 and 和县 from the abolished 巢湖 in Aug 2011"),
)

CAVEATS: tuple[str, ...] = (
    "CEADs 排放量由能源统计按 IPCC 部门法推算，能源统计口径的调整会表现为排放变化。 "
    "CEADs emissions are derived from energy statistics with the IPCC sectoral approach; "
    "revisions of those statistics show up as changes in emissions.",
    "试点政策可能外溢到邻近城市（产业转移、区域电网），从而使对照组也受影响，估计偏小或偏大。 "
    "Designation can spill over to neighbouring cities (relocated industry, shared power grids), "
    "so the controls may be affected too and the estimate biased either way.",
    "省级试点包含许多非试点城市，而许多非试点省份也包含试点城市；城市对照默认包括试点省内的城市。 "
    "Pilot provinces contain non-pilot cities and non-pilot provinces contain pilot cities; by default the "
    "city controls include cities inside pilot provinces (use controls='never_outside_pilot_provinces').",
    "CEADs 城市序列缺年较多（平均 23 年中有 13.5 年），面板不平衡，事件时间越远样本越少；空白保持为空。 "
    "CEADs city series have many gaps (13.5 of 23 years on average); the panel is unbalanced, far event "
    "times rest on few cities, and blanks stay blank.",
    "试点分批指定（2010、2012、2017），估计依赖平行趋势假设：若无指定，试点与从未指定的城市排放走势相同；"
    "指定前的事件时间估计值用于检验这一假设，但不能证明它。 "
    "Designation was staggered (2010, 2012, 2017); the estimates rest on parallel trends, i.e. that pilots "
    "would have followed never-designated units without designation; pre-designation estimates probe this "
    "assumption but cannot prove it.",
    "试点并非随机指定：地方申报、经济结构和既有减排能力都影响入选，这些也会影响排放走势。 "
    "Pilots were not chosen at random: applications, economic structure and existing capacity shaped "
    "selection and may also shape emission trends.",
    "行政区划调整（莱芜并入济南 2019、巢湖撤销 2011）会造成序列断点，默认将受影响的年份设为缺失。 "
    "Boundary changes (莱芜 merged into 济南 in 2019, 巢湖 abolished in 2011) break series; the affected "
    "years are masked by default.",
)


# --------------------------------------------------------------------------- panel

def load_panel(geodata: str | Path | None = None) -> pd.DataFrame:
    """Return the embedded CEADs panel joined to the pilot registry.

    Parameters
    ----------
    geodata : str or Path, optional
        Folder holding ``emissions_series_ceads.csv`` and ``pilots.csv``; defaults to the
        bundled ``geodata/``.

    Returns
    -------
    DataFrame
        One row per unit and year: ``level`` (``city``/``province``), ``unit`` (adcode),
        ``name_zh``, ``year``, ``emissions_tco2``, ``log_emissions``, ``pilot_id``, ``cohort``
        (designation year, 0 for never designated at that level), ``province_adcode`` and
        ``in_pilot_province``. The four municipalities appear only at province level; the
        province rows use the provincial inventories.
    """
    if geodata is None:
        from atlas.paths import geodata_dir

        geodata = geodata_dir()
    geodata = Path(geodata)
    series_path, pilots_path = geodata / "emissions_series_ceads.csv", geodata / "pilots.csv"
    for path in (series_path, pilots_path):
        if not path.exists():
            raise RegistryError(f"{path} is missing", "the bundled CEADs emission series and pilot registry",
                                "run scripts/build_emissions_series.py or reinstall the package")
    series = pd.read_csv(series_path, dtype={"adcode": str})
    pilots = pd.read_csv(pilots_path, dtype={"adcode": str, "province_adcode": str})
    return build_panel(series, pilots)


def build_panel(series: pd.DataFrame, pilots: pd.DataFrame) -> pd.DataFrame:
    """Join a long emission series (``adcode, level, name_zh, year, emissions_tco2``) to the registry.

    See :func:`load_panel` for the columns returned.
    """
    needed = {"adcode", "level", "name_zh", "year", "emissions_tco2"}
    if not needed <= set(series.columns):
        raise ConfigError(f"emission series lacks columns {sorted(needed - set(series.columns))}",
                          f"columns {sorted(needed)}", "use geodata/emissions_series_ceads.csv")
    frame = series[list(needed)].copy().rename(columns={"adcode": "unit"})
    frame["unit"] = frame["unit"].astype(str)
    frame = frame[~((frame["level"] == "city") & frame["unit"].isin(MUNICIPALITIES))]
    pilots = pilots.astype({"adcode": str})
    level_of = {"province": "province", "prefecture": "city", "county": "city"}
    keyed = pilots.assign(level=pilots["level"].map(level_of))[["adcode", "level", "pilot_id", "year"]]
    keyed = keyed.rename(columns={"adcode": "unit", "year": "cohort"})
    frame = frame.merge(keyed, on=["unit", "level"], how="left", validate="m:1")
    frame["cohort"] = frame["cohort"].fillna(0).astype(int)
    frame["province_adcode"] = frame["unit"].str[:2] + "0000"
    pilot_provinces = set(pilots.loc[pilots["level"] == "province", "adcode"])
    frame["in_pilot_province"] = frame["province_adcode"].isin(pilot_provinces)
    emissions = frame["emissions_tco2"].astype(float)
    frame["log_emissions"] = np.log(emissions.where(emissions > 0))
    columns = ["level", "unit", "name_zh", "year", "emissions_tco2", "log_emissions", "pilot_id", "cohort",
               "province_adcode", "in_pilot_province"]
    return frame[columns].sort_values(["level", "unit", "year"], ignore_index=True)


def mask_breaks(panel: pd.DataFrame, breaks: Iterable[tuple[str, int, int, str]] = BOUNDARY_BREAKS,
                columns: Sequence[str] = ("emissions_tco2", "log_emissions")) -> pd.DataFrame:
    """Set ``columns`` missing for the city-years listed in ``breaks`` (see :data:`BOUNDARY_BREAKS`)."""
    out = panel.copy()
    for unit, first, last, _reason in breaks:
        hit = (out["unit"] == unit) & out["year"].between(first, last)
        if "level" in out:
            hit &= out["level"] == "city"
        for column in columns:
            if column in out:
                out.loc[hit, column] = np.nan
    return out


def _check_options(panel: pd.DataFrame, cohorts: Sequence[int], window: tuple[int, int], controls: str,
                   outcome: str, level: str, alpha: float) -> None:
    if controls not in CONTROLS:
        raise ConfigError(f"controls={controls!r}", f"one of {list(CONTROLS)}")
    if level not in LEVELS:
        raise ConfigError(f"level={level!r}", f"one of {list(LEVELS)}")
    if outcome not in panel.columns:
        raise ConfigError(f"outcome {outcome!r} is not a column of the panel",
                          f"one of {[c for c in OUTCOMES if c in panel.columns] or list(OUTCOMES)}")
    if len(window) != 2 or window[0] > -2 or window[1] < 0:
        raise ConfigError(f"window={tuple(window)}", "(first, last) with first <= -2 and last >= 0",
                          "pass e.g. (-5, 7)")
    if not cohorts or any(int(c) not in COHORTS for c in cohorts):
        raise ConfigError(f"cohorts={tuple(cohorts)}", f"a non-empty subset of {COHORTS}")
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha={alpha}", "a level between 0 and 1, e.g. 0.05")
    missing = {"unit", "year", "cohort"} - set(panel.columns)
    if missing:
        raise ConfigError(f"panel lacks columns {sorted(missing)}", "the frame returned by load_panel()")


def estimation_sample(panel: pd.DataFrame, *, cohorts: Sequence[int] = COHORTS, controls: str = "never",
                      outcome: str = "log_emissions", level: str = "city",
                      mask_boundary_breaks: bool = True) -> pd.DataFrame:
    """Return the rows used by :func:`event_study`: treated units of ``cohorts`` and the controls.

    Units designated in a cohort that is not selected are dropped (they are neither treated here
    nor never designated). Rows with a missing or non-finite outcome are dropped.
    """
    frame = panel[panel["level"] == level] if "level" in panel else panel
    if mask_boundary_breaks and level == "city":
        frame = mask_breaks(frame, columns=(outcome,))
    cohorts = [int(c) for c in cohorts]
    treated = frame["cohort"].isin(cohorts)
    control = frame["cohort"] == 0
    if controls == "never_outside_pilot_provinces" and level == "city":
        control &= ~frame["in_pilot_province"].astype(bool)
    elif controls == "never_outside_pilot_provinces":
        log.info("controls=%r has no effect at level=%r", controls, level)
    frame = frame[treated | control]
    frame = frame[np.isfinite(frame[outcome].astype(float))]
    return frame.reset_index(drop=True)


# --------------------------------------------------------------------------- event study

_COEF = re.compile(r"^rel_time::(-?\d+)(?:\.0)?:cohort::(\d+)(?:\.0)?$")


@dataclass(frozen=True)
class _Fit:
    """Coefficients of one regression, their covariance, and the position of each (cohort, event time)."""

    coef: np.ndarray
    vcov: np.ndarray
    position: dict[tuple[int, int], int]

    def estimate(self, key: tuple[int, int]) -> tuple[float, float]:
        """Coefficient and standard error of one (cohort, event time) cell; NaN when not estimated."""
        i = self.position.get(key)
        if i is None:
            return np.nan, np.nan
        return float(self.coef[i]), float(np.sqrt(max(self.vcov[i, i], 0.0)))

    def combine(self, weights: dict[tuple[int, int], float]) -> tuple[float, float]:
        """Weighted average of the cells' coefficients and its standard error."""
        pairs = [(self.position[k], w) for k, w in weights.items() if w > 0 and k in self.position]
        if not pairs:
            return np.nan, np.nan
        at = np.array([i for i, _ in pairs])
        w = np.array([w for _, w in pairs], dtype=float)
        w = w / w.sum()
        var = float(w @ self.vcov[np.ix_(at, at)] @ w)
        return float(w @ self.coef[at]), float(np.sqrt(max(var, 0.0)))


def _fit(sample: pd.DataFrame, outcome: str) -> tuple[_Fit, int]:
    """Fit the Sun–Abraham regression; return the coefficients by (g, e) and the number of clusters."""
    import pyfixest as pf

    data = pd.DataFrame({
        "y": sample[outcome].astype(float).to_numpy(),
        "unit": sample["unit"].astype(str).to_numpy(),
        "year": sample["year"].astype(int).to_numpy(),
        "cohort": sample["cohort"].astype(int).to_numpy(),
    })
    data["rel_time"] = np.where(data["cohort"] > 0, data["year"] - data["cohort"], -1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # a tight demeaning tolerance: the alternating projections otherwise stop ~1e-7 from the fixed
        # point at a place that depends on Python's hash seed, and runs would differ in the 7th digit
        model = pf.feols("y ~ i(rel_time, cohort, ref=-1, ref2=0) | unit + year", data=data,
                         vcov={"CRV1": "unit"}, fixef_tol=1e-12)
    names = [str(n) for n in model._coefnames]
    keys = []
    for name in names:
        match = _COEF.match(name)
        if not match:
            raise RuntimeError(f"unexpected coefficient name {name!r} from pyfixest")
        keys.append((int(match.group(2)), int(match.group(1))))
    return _Fit(np.asarray(model.coef(), dtype=float), np.asarray(model._vcov, dtype=float),
                {key: i for i, key in enumerate(keys)}), data["unit"].nunique()


def _cells(sample: pd.DataFrame, cohorts: Sequence[int],
           window: tuple[int, int]) -> dict[tuple[int, int], tuple[int, frozenset]]:
    """(cohort, event time) → (treated units observed, control units observed) inside the window."""
    years = sample["year"].to_numpy()
    cohort = sample["cohort"].to_numpy()
    units = sample["unit"].to_numpy()
    control_years = {int(y): frozenset(units[(cohort == 0) & (years == y)]) for y in np.unique(years)}
    return {(g, e): (int(((cohort == g) & (years == g + e)).sum()), control_years.get(g + e, frozenset()))
            for g in cohorts for e in range(window[0], window[1] + 1)}


def _estimate_rows(fit: _Fit, cells: dict[tuple[int, int], tuple[int, frozenset]], cohorts: Sequence[int],
                   window: tuple[int, int]) -> list[dict]:
    """All output rows (without intervals' critical values): estimate and standard error.

    Averages weight each (cohort, event time) cell by its treated units observed.
    """
    times = range(window[0], window[1] + 1)
    post = [(g, e) for g in cohorts for e in times if e >= 0]
    treated = {key: n for key, (n, _) in cells.items()}

    def controls(keys) -> int:
        return len(frozenset().union(*(cells[k][1] for k in keys)))

    rows = []
    for g in cohorts:
        for e in times:
            n = treated[(g, e)]
            if e == -1:
                est, se = (0.0, np.nan) if n else (np.nan, np.nan)
            else:
                est, se = fit.estimate((g, e))
            rows.append({"cohort": str(g), "event_time": e, "estimate": est, "se": se,
                         "n_treated": n, "n_control": len(cells[(g, e)][1])})
        own = [k for k in post if k[0] == g]
        est, se = fit.combine({k: treated[k] for k in own})
        rows.append({"cohort": str(g), "event_time": pd.NA, "estimate": est, "se": se,
                     "n_treated": max((treated[k] for k in own), default=0), "n_control": controls(own)})
    for e in times:
        at = [(g, e) for g in cohorts]
        if e == -1:
            est, se = (0.0, np.nan) if sum(treated[k] for k in at) else (np.nan, np.nan)
        else:
            est, se = fit.combine({k: treated[k] for k in at})
        rows.append({"cohort": "all", "event_time": e, "estimate": est, "se": se,
                     "n_treated": sum(treated[k] for k in at), "n_control": controls(at)})
    est, se = fit.combine({k: treated[k] for k in post})
    rows.append({"cohort": "all", "event_time": pd.NA, "estimate": est, "se": se,
                 "n_treated": sum(max((treated[k] for k in post if k[0] == g), default=0) for g in cohorts),
                 "n_control": controls(post)})
    return rows


def _bootstrap_draws(sample: pd.DataFrame, outcome: str, cohorts: list[int], window: tuple[int, int],
                     n_boot: int, seed: int | None) -> list[list[float]]:
    """Estimates of every output row in ``n_boot`` unit (cluster) resamples of ``sample``.

    A unit drawn twice enters as two clusters. Draws that lose a cohort or every control are
    skipped. Resamples are gathered by row positions rather than by concatenating per-unit frames,
    which made the frame building cost as much as the regression.
    """
    rng = np.random.default_rng(seed)
    codes, units = pd.factorize(sample["unit"])
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(units) + 1))
    rows_of = [order[bounds[u]:bounds[u + 1]] for u in range(len(units))]
    draws = []
    for _ in range(n_boot):
        picked = rng.choice(len(units), size=len(units), replace=True)
        at = np.concatenate([rows_of[u] for u in picked])
        boot = sample.iloc[at].assign(unit=np.repeat(np.arange(len(picked)), [rows_of[u].size for u in picked]))
        boot = boot.reset_index(drop=True)
        treated = boot["cohort"].to_numpy()
        if sorted(set(treated[treated > 0])) != cohorts or not (treated == 0).any():
            continue
        fit, _ = _fit(boot, outcome)
        draws.append([r["estimate"] for r in _estimate_rows(fit, _cells(boot, cohorts, window), cohorts, window)])
    return draws


def event_study(panel: pd.DataFrame, *, cohorts: Sequence[int] = COHORTS, window: tuple[int, int] = (-5, 7),
                controls: str = "never", outcome: str = "log_emissions", level: str = "city",
                alpha: float = 0.05, seed: int | None = 0, n_boot: int = 0,
                mask_boundary_breaks: bool = True) -> pd.DataFrame:
    """Event-study effects of designation on ``outcome`` (Sun–Abraham, never-designated controls).

    Parameters
    ----------
    panel : DataFrame
        The frame from :func:`load_panel` (or :func:`build_panel`); needs ``level``, ``unit``,
        ``year``, ``cohort`` (0 = never designated), ``in_pilot_province`` and ``outcome``.
    cohorts : sequence of int
        Designation cohorts to estimate, a subset of (2010, 2012, 2017).
    window : (int, int)
        First and last event time reported (designation year = 0; -1 is the reference).
    controls : {"never", "never_outside_pilot_provinces"}
        Never-designated units, optionally without the cities inside the ten pilot provinces
        (city level only).
    outcome : str
        Column to analyse; ``log_emissions`` gives effects in log points (≈ proportional change).
    level : {"city", "province"}
        Pilot cities against never-designated cities, or pilot provinces (incl. the four
        municipalities) against the other CEADs provinces.
    alpha : float
        1 - confidence level of the intervals.
    seed : int, optional
        Seed of the cluster bootstrap (used only when ``n_boot > 0``).
    n_boot : int
        Unit-level bootstrap replications for percentile intervals; 0 uses the analytic
        cluster-robust (CRV1) intervals.
    mask_boundary_breaks : bool
        Mask the city-years in :data:`BOUNDARY_BREAKS`.

    Returns
    -------
    DataFrame
        Columns ``outcome, cohort, event_time, estimate, ci_low, ci_high, n_treated, n_control``.
        ``cohort`` is the cohort year as text or ``"all"``; ``event_time`` runs over the window
        (nullable integer); the row with a missing ``event_time`` is the average post-designation
        effect (event times 0 to window end). Event time -1 has estimate 0 and no interval (the
        reference). ``n_treated``/``n_control`` count units with an observed outcome at that
        event time (for the post rows: treated units at the best-covered event time, and distinct
        controls).

    Raises
    ------
    ConfigError
        On an unknown option, when no selected cohort has a treated unit at ``level`` (a cohort
        without one, such as 2017 at province level, is left out with a warning), or when
        there are fewer than two controls.
    """
    window = (int(window[0]), int(window[1]))
    _check_options(panel, cohorts, window, controls, outcome, level, alpha)
    cohorts = sorted({int(c) for c in cohorts})
    sample = estimation_sample(panel, cohorts=cohorts, controls=controls, outcome=outcome, level=level,
                               mask_boundary_breaks=mask_boundary_breaks)
    present = sorted(set(sample.loc[sample["cohort"] > 0, "cohort"]))
    if not present:
        raise ConfigError(f"no treated {level} with data for cohort(s) {cohorts}",
                          "at least one cohort with a designated unit at this level",
                          "choose other cohorts or the other level")
    if present != cohorts:  # e.g. no province was designated in 2017
        log.warning("no treated %s for cohort(s) %s: left out", level, sorted(set(cohorts) - set(present)))
        cohorts = present
    n_controls = sample.loc[sample["cohort"] == 0, "unit"].nunique()
    if n_controls < 2:
        raise ConfigError(f"only {n_controls} control unit(s) at level {level!r}", "at least 2")
    log.info("event study %s/%s: %d treated and %d control units, %d unit-years", level, outcome,
             sample.loc[sample["cohort"] > 0, "unit"].nunique(), n_controls, len(sample))
    fit, n_clusters = _fit(sample, outcome)
    cells = _cells(sample, cohorts, window)
    rows = pd.DataFrame(_estimate_rows(fit, cells, cohorts, window))

    if n_boot > 0:
        draws = _bootstrap_draws(sample, outcome, cohorts, window, int(n_boot), seed)
        draws = np.array(draws, dtype=float)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            rows["ci_low"] = np.nanquantile(draws, alpha / 2, axis=0)
            rows["ci_high"] = np.nanquantile(draws, 1 - alpha / 2, axis=0)
        reference = rows["event_time"].eq(-1).fillna(False)
        rows.loc[reference, ["ci_low", "ci_high"]] = np.nan
        log.info("cluster bootstrap: %d of %d draws usable", len(draws), n_boot)
    else:
        from scipy import stats

        crit = stats.t.ppf(1 - alpha / 2, df=max(n_clusters - 1, 1))
        rows["ci_low"] = rows["estimate"] - crit * rows["se"]
        rows["ci_high"] = rows["estimate"] + crit * rows["se"]
    rows["outcome"] = outcome
    rows["event_time"] = rows["event_time"].astype("Int64")
    return rows[list(EFFECT_COLUMNS)].reset_index(drop=True)
