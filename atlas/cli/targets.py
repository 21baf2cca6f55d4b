"""``atlas targets``: declared targets against measured values."""

from __future__ import annotations

import click

from atlas.regions import boundaries, registry
from atlas.workflow import pipeline
from atlas.cli.options import emit


@click.command("targets")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help=".csv (default: stdout).")
@click.option("--overwrite", is_flag=True)
def targets_cmd(output, overwrite):
    """Every declared target (seed Tables 3-16) with a measured counterpart where the
    atlas has one (forest cover from the embedded MODIS map), status and caveat."""
    reg = registry.load_registry()
    pilots = boundaries.load_pilot_boundaries(reg)
    table = pipeline.track_forest_targets(reg, pipeline.forest_table(pilots, "pilot_id"))
    click.echo(f"status: {table['status'].value_counts().to_dict()}", err=True)
    emit(table, output, overwrite)
