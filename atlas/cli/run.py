"""``atlas run``: a configured batch run (idempotent, resumable, optionally on a dask cluster)."""

from __future__ import annotations

import dataclasses

import click

from atlas.workflow.config import load_config
from atlas.workflow.runner import run


@click.command("run")
@click.argument("config_file", metavar="CONFIG.toml", type=click.Path(dir_okay=False))
@click.option("--scheduler", help="Run the zonal steps on this dask.distributed scheduler (tcp://host:8786), "
              "'local' for a LocalCluster, 'threads' for local threads; overrides [compute].scheduler.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Output folder; overrides [run].out.")
def run_cmd(config_file: str, scheduler: str | None, out_dir: str | None) -> None:
    """Run the batch job described by CONFIG.toml (see atlas/config.py for every key).

    Steps whose inputs and settings are unchanged are reused from OUT/.atlas-run, so a
    re-run does no new work and a killed run resumes where it stopped. Multi-tile
    mosaics run on a local dask cluster unless a scheduler is given.
    """
    config = load_config(config_file)
    changes = {}
    if scheduler:
        changes["scheduler"] = scheduler
    if out_dir:
        from pathlib import Path

        changes["out"] = Path(out_dir).resolve()
    if changes:
        config = dataclasses.replace(config, **changes)

    def progress(name: str, reused: bool) -> None:
        click.echo(f"  {name:<16} {'reused' if reused else 'done'}", err=True)

    click.echo(f"atlas run {config.path.name} → {config.out}", err=True)
    report = run(config, progress=progress)
    computed = report.computed
    click.echo(f"{len(report.steps)} steps, {len(computed)} computed ({', '.join(computed) or 'none'}) on "
               f"{report.compute}; {len(report.files)} output files under {report.out}", err=True)
