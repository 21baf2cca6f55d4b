"""Event study of designation: recovery of a known effect, output contract, CLI on embedded data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from atlas.carbon import evaluation as ev
from atlas.carbon import trajectories
from atlas.errors import ConfigError

EFFECT = -0.10


def synthetic_panel(seed: int = 7, n_never: int = 120, n_per_cohort: int = 20, noise: float = 0.03,
                    drop: float = 0.1) -> pd.DataFrame:
    """Parallel trends, a -0.10 log-point effect from the designation year on, random gaps."""
    rng = np.random.default_rng(seed)
    years = np.arange(1997, 2020)
    common = np.cumsum(rng.normal(0.05, 0.02, len(years)))
    rows = []
    cohorts = [0] * n_never + [c for c in ev.COHORTS for _ in range(n_per_cohort)]
    for i, cohort in enumerate(cohorts):
        level = rng.normal(16.5, 1.0)
        for k, year in enumerate(years):
            if rng.random() < drop:
                continue
            y = level + common[k] + rng.normal(0, noise)
            if cohort and year >= cohort:
                y += EFFECT
            rows.append({"level": "city", "unit": f"{i:06d}", "name_zh": f"u{i}", "year": int(year),
                         "log_emissions": y, "emissions_tco2": float(np.exp(y)),
                         "pilot_id": f"X-{i}" if cohort else None, "cohort": cohort,
                         "province_adcode": "990000", "in_pilot_province": i % 2 == 0})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return synthetic_panel()


@pytest.fixture(scope="module")
def effects(panel) -> pd.DataFrame:
    return ev.event_study(panel, window=(-5, 7))


def test_columns_and_rows(effects):
    assert list(effects.columns) == list(ev.EFFECT_COLUMNS)
    assert set(effects["cohort"]) == {"2010", "2012", "2017", "all"}
    for cohort in ("2010", "2012", "2017", "all"):
        sub = effects[effects["cohort"] == cohort]
        assert sub["event_time"].dropna().astype(int).tolist() == list(range(-5, 8))
        assert sub["event_time"].isna().sum() == 1  # the post-period average
    assert (effects["outcome"] == "log_emissions").all()
    reference = effects[effects["event_time"].eq(-1).fillna(False)]
    assert (reference["estimate"] == 0).all() and reference["ci_low"].isna().all()
    assert (effects["n_treated"] >= 0).all() and (effects["n_control"] >= 0).all()


def test_recovers_known_effect(effects):
    rows = effects[effects["cohort"] == "all"]
    post = rows[rows["event_time"].isna()].iloc[0]
    assert post["ci_low"] <= EFFECT <= post["ci_high"]
    assert abs(post["estimate"] - EFFECT) < 0.02
    dynamic = rows[rows["event_time"].between(0, 7).fillna(False)].dropna(subset=["estimate"])
    assert len(dynamic) >= 5
    assert ((dynamic["ci_low"] <= EFFECT) & (EFFECT <= dynamic["ci_high"])).mean() >= 0.75
    assert (dynamic["estimate"] - EFFECT).abs().max() < 0.05
    for cohort in ("2010", "2012", "2017"):
        sub = effects[(effects["cohort"] == cohort) & effects["event_time"].isna()].iloc[0]
        assert abs(sub["estimate"] - EFFECT) < 0.04


def test_pre_period_flat(effects):
    pre = effects[(effects["cohort"] == "all") & effects["event_time"].between(-5, -2).fillna(False)]
    assert (pre["estimate"].abs() < 0.03).all()
    assert ((pre["ci_low"] <= 0) & (0 <= pre["ci_high"])).mean() >= 0.75


def test_bootstrap_intervals_cover(panel):
    boot = ev.event_study(panel, window=(-3, 3), n_boot=30, seed=3)
    post = boot[(boot["cohort"] == "all") & boot["event_time"].isna()].iloc[0]
    assert post["ci_low"] <= EFFECT <= post["ci_high"]
    # the same seed gives the same draws (a short bootstrap shows it as well as a long one)
    short = ev.event_study(panel, window=(-3, 3), n_boot=4, seed=3)
    pd.testing.assert_frame_equal(short, ev.event_study(panel, window=(-3, 3), n_boot=4, seed=3))


def test_options(panel):
    one = ev.event_study(panel, cohorts=(2012,), window=(-2, 2), controls="never_outside_pilot_provinces")
    assert set(one["cohort"]) == {"2012", "all"}
    assert one["n_control"].max() <= 60
    with pytest.raises(ConfigError):
        ev.event_study(panel, controls="everyone")
    with pytest.raises(ConfigError):
        ev.event_study(panel, window=(0, 3))
    with pytest.raises(ConfigError):
        ev.event_study(panel, cohorts=(2011,))
    with pytest.raises(ConfigError):
        ev.event_study(panel, outcome="gdp")


def test_trajectories_contract(panel):
    traj = trajectories.pilot_trajectories(panel, n_matches=5, pre_years=5)
    assert list(traj.columns) == list(trajectories.TRAJECTORY_COLUMNS)
    assert traj["pilot_id"].nunique() >= 50
    assert not traj.duplicated(["pilot_id", "year"]).any()
    post = traj[traj["event_time"] >= 0]
    assert abs(post["gap_log"].mean() - EFFECT) < 0.03
    pre = traj[traj["event_time"].between(-5, -1)]
    assert abs(pre["gap_log"].mean()) < 0.02


def test_mask_breaks():
    frame = pd.DataFrame({"level": "city", "unit": ["370100", "370100", "340100"], "year": [2018, 2019, 2010],
                          "log_emissions": [1.0, 2.0, 3.0]})
    masked = ev.mask_breaks(frame)
    assert masked["log_emissions"].isna().tolist() == [False, True, True]


def test_caveats_bilingual():
    assert len(ev.CAVEATS) >= 5
    for text in ev.CAVEATS:
        assert any("\u4e00" <= ch <= "\u9fff" for ch in text)
        assert any("a" <= ch <= "z" for ch in text)


def test_embedded_panel():
    panel = ev.load_panel()
    city = panel[panel["level"] == "city"]
    assert city.loc[city["cohort"] > 0, "unit"].nunique() >= 60
    assert not city["unit"].isin(ev.MUNICIPALITIES).any()
    prov = panel[panel["level"] == "province"]
    assert sorted(prov.loc[prov["cohort"] > 0].groupby("cohort")["unit"].nunique().tolist()) == [3, 7]


def test_cli_on_embedded_data(tmp_path):
    from atlas.cli.evaluate import evaluate_cmd

    out, traj = tmp_path / "effects.csv", tmp_path / "pilots.csv"
    result = CliRunner().invoke(evaluate_cmd, ["-o", str(out), "--trajectories", str(traj)])
    assert result.exit_code == 0, result.output
    effects = pd.read_csv(out)
    assert list(effects.columns) == list(ev.EFFECT_COLUMNS)
    assert set(effects["cohort"].astype(str)) == {"2010", "2012", "2017", "all"}
    assert "parallel trends" in result.output and "平行趋势" in result.output
    trajectories = pd.read_csv(traj)
    assert {"pilot_id", "year", "observed_tco2", "comparison_tco2", "gap_log", "method"} <= set(trajectories)

    prov = tmp_path / "prov.csv"
    result = CliRunner().invoke(evaluate_cmd, ["-o", str(prov), "--level", "province", "--window", "-3", "4",
                                               "--cohort", "2010", "--cohort", "2012"])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(prov)
    assert frame["event_time"].dropna().between(-3, 4).all()

    again = CliRunner().invoke(evaluate_cmd, ["-o", str(out)])
    assert again.exit_code != 0  # exists, no --overwrite
