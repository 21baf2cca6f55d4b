"""``atlas targets``: declared targets against measured values."""

from __future__ import annotations

import sys

import click

from .. import boundaries, pipeline, registry, targets
from ..export import write_frame


@click.command("targets")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help=".csv (default: stdout).")
@click.option("--overwrite", is_flag=True)
def targets_cmd(output, overwrite):
    """Every declared target (seed Tables 3-16) with a measured counterpart where the
    atlas has one (forest cover from the embedded MODIS map), status and caveat."""
    reg = registry.load_registry()
    pilots = boundaries.load_pilot_boundaries(reg)
    per_pilot = pipeline.forest_table(pilots, "pilot_id")
    share = per_pilot.set_index("pilot_id")["forest_share_of_land"] * 100.0
    table = targets.track_targets(reg.targets, share, 2019, "MODIS MCD12C1 2019 (embedded)")
    click.echo(f"status: {table['status'].value_counts().to_dict()}", err=True)
    if output:
        write_frame(table, output, overwrite=overwrite)
    else:
        table.to_csv(sys.stdout, index=False, lineterminator="\n")
