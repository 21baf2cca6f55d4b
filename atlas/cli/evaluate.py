"""``atlas evaluate``: event-study effects of designation on CEADs emissions (offline)."""

from __future__ import annotations

import click

from atlas.carbon.evaluation import COHORTS, CONTROLS, LEVELS, OUTCOMES
from atlas.cli.options import excel_option, excel_requested


@click.command("evaluate")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Effects table (.csv, .json, .parquet or .gpkg).")
@click.option("--trajectories", type=click.Path(dir_okay=False),
              help="Also write per-pilot observed vs matched-control trajectories here.")
@click.option("--outcome", type=click.Choice(list(OUTCOMES)), default="log_emissions", show_default=True)
@click.option("--cohort", "cohorts", type=click.Choice([str(c) for c in COHORTS]), multiple=True,
              help="Designation cohort; repeat for several (default: all three).")
@click.option("--controls", type=click.Choice(list(CONTROLS)), default="never", show_default=True,
              help="Never-designated units, or those outside the pilot provinces (city level).")
@click.option("--window", nargs=2, type=int, default=(-5, 7), show_default=True,
              help="First and last event time reported.")
@click.option("--level", type=click.Choice(list(LEVELS)), default="city", show_default=True)
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.05,
              show_default=True)
@click.option("--bootstrap", "n_boot", type=click.IntRange(0), default=0, show_default=True,
              help="Unit-bootstrap replications for the intervals (0: cluster-robust analytic).")
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
@click.option("--overwrite", is_flag=True)
@excel_option
def evaluate_cmd(output, trajectories, outcome, cohorts, controls, window, level, alpha, n_boot, seed,
                 overwrite):
    """Did designation change emissions? Sun–Abraham event study of the 2010/2012/2017 pilot
    cohorts against never-designated units, on the embedded CEADs series (no network)."""
    from atlas.carbon import evaluation
    from atlas.carbon.trajectories import pilot_trajectories
    from atlas.export import write_frame

    panel = evaluation.load_panel()
    chosen = tuple(int(c) for c in cohorts) or COHORTS
    effects = evaluation.event_study(panel, cohorts=chosen, window=tuple(window), controls=controls,
                                     outcome=outcome, level=level, alpha=alpha, seed=seed, n_boot=n_boot)
    excel = excel_requested()
    paths = [write_frame(effects, output, overwrite=overwrite, excel=excel)]
    if trajectories:
        paths.append(write_frame(pilot_trajectories(panel, level=level, cohorts=chosen, controls=controls),
                                 trajectories, overwrite=overwrite, excel=excel))
    click.echo("Caveats / 注意:", err=True)
    for caveat in evaluation.CAVEATS:
        click.echo(f"  - {caveat}", err=True)
    shown = effects[effects["cohort"] == "all"].copy()
    shown["event_time"] = shown["event_time"].astype(object).where(shown["event_time"].notna(), "post")
    click.echo(f"\n{level} level, {outcome}, controls={controls}, {int((1 - alpha) * 100)}% intervals "
               "(all cohorts; 'post' = average over event times >= 0):", err=True)
    click.echo(shown[["event_time", "estimate", "ci_low", "ci_high", "n_treated", "n_control"]]
               .to_string(index=False, float_format=lambda v: f"{v:.3f}"), err=True)
    for path in paths:
        click.echo(f"wrote {path}", err=True)
