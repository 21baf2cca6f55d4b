"""``atlas run``: a configured batch run (idempotent, resumable, optionally on a dask cluster)."""

from __future__ import annotations

import click


def step_printer():
    """A progress callback printing one line per finished step on stderr (silent with -q)."""
    def progress(name: str, reused: bool) -> None:
        click.echo(f"  {name:<24} {'reused' if reused else 'done'}", err=True)
    return progress


def print_outcome(report, config, show_sinks: bool = False) -> None:
    """The summary (stdout, JSON), the per-region sinks (stdout) and where the files are (stderr)."""
    from atlas.workflow.outputs import summary_json

    click.echo(summary_json(report.summary))
    sinks = report.tables.get("sinks")
    if show_sinks and sinks is not None:
        cols = {"name_zh": "pilot", "climate_domain": "domain", "forest_ha": "forest_ha",
                "sink_tco2_per_yr_low": "low_tco2", "sink_tco2_per_yr_central": "central_tco2",
                "sink_tco2_per_yr_high": "high_tco2", "offset_ratio_central": "offset_ratio"}
        shown = sinks[[c for c in cols if c in sinks]].rename(columns=cols)
        against = ("the emissions raster" if config.emissions else
                   "CEADs emissions of the sink year where covered, else reported 2010 (see emissions_source)")
        methods = "; ".join(f"{n} × {m}" for m, n in sinks["sink_method"].value_counts().items())
        click.echo(f"Forest sink per pilot, t CO2/yr (2.5 / central / 97.5 %) by {methods}; offset ratio vs "
                   f"{against}:")
        tonnes_or_ha = {c: "{:,.0f}".format for c in shown.columns if c.endswith(("_tco2", "_ha"))}
        click.echo(shown.to_string(formatters=tonnes_or_ha, float_format="{:.3f}".format))
    computed = report.computed
    click.echo(f"{len(report.steps)} steps, {len(computed)} computed ({', '.join(computed) or 'none'}) on "
               f"{report.compute}; {len(report.files)} output files under {report.out}", err=True)
    if config.publish_site:
        click.echo(f"open {report.out / 'index.html'} in a browser", err=True)


@click.command("run")
@click.argument("config_file", metavar="CONFIG.toml")
@click.option("--scheduler", help="Run the zonal steps on this dask.distributed scheduler (tcp://host:8786), "
              "'local' for a LocalCluster, 'threads' for local threads; overrides [compute].scheduler.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Output folder; overrides [run].out.")
def run_cmd(config_file: str, scheduler: str | None, out_dir: str | None) -> None:
    """Run the batch job described by CONFIG.toml (a file, or the TOML text itself as
    printed by `atlas build --print-config`); see atlas/workflow/config.py for every key.

    Steps whose inputs and settings are unchanged are reused from OUT/.atlas-run, so a
    re-run does no new work and a killed run resumes where it stopped. Zonal steps run on
    local threads unless --scheduler names a dask cluster (or 'local' for a LocalCluster).
    """
    import dataclasses
    from pathlib import Path

    from atlas.workflow.config import load_config
    from atlas.workflow.runner import run

    config = load_config(config_file)
    changes: dict = {}
    if scheduler:
        changes["scheduler"] = scheduler
    if out_dir:
        changes["out"] = Path(out_dir).resolve()
    if changes:
        config = dataclasses.replace(config, **changes)
    click.echo(f"atlas run {config.name} → {config.out}", err=True)
    report = run(config, progress=step_printer())
    print_outcome(report, config)
