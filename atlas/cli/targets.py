"""``atlas targets``: declared targets against measured values (the run's targets step)."""

from __future__ import annotations

import click

from atlas.cli.options import emit, region_filters, select_from_options


@click.command("targets")
@region_filters
@click.option("-o", "--output", type=click.Path(dir_okay=False), help=".csv (default: stdout).")
@click.option("--overwrite", is_flag=True)
def targets_cmd(batches, levels, province, year, ids, output, overwrite):
    """Every declared target (seed Tables 3-16) with a measured counterpart where the
    atlas has one (forest cover from the embedded MODIS map), status and caveat."""
    from atlas.regions import boundaries, registry
    from atlas.workflow import steps

    reg = registry.load_registry()
    regions = select_from_options(boundaries.load_pilot_boundaries(reg), batches, levels, province, year, ids)
    readers, spec = steps.default_forest_layer()
    forest_frame = steps.forest(steps.zonal(regions, readers, spec, "pilot_id"), spec, regions, "pilot_id")
    table = steps.track(reg, regions["pilot_id"], forest_frame, steps.DEFAULT_FOREST_YEAR, steps.DEFAULT_FOREST_LABEL,
                        steps.official_statistics())
    click.echo(f"status: {table['status'].value_counts().to_dict()}", err=True)
    emit(table, output, overwrite)
