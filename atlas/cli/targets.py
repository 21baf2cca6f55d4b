"""``atlas targets``: declared targets against measured values (the run's targets step)."""

from __future__ import annotations

import click

from atlas.cli.options import emit, excel_option, region_filters, select_from_options


@click.command("targets")
@region_filters
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help=".csv, .json, .gpkg or .parquet (default: CSV on stdout).")
@click.option("--overwrite", is_flag=True, help="Replace the output file if it exists.")
@excel_option
def targets_cmd(batches, levels, province, year, ids, output, overwrite):
    """Every declared target (NCSC 2013 report, Tables 3-16) judged against comparable
    measurements: official forest statistics, CEADs emissions over real GDP; the raster
    forest share is shown beside coverage targets, never judged on."""
    from atlas.regions import boundaries, registry
    from atlas.workflow.defaults import run_in_memory

    reg = registry.load_registry()
    regions = select_from_options(boundaries.load_pilot_boundaries(reg), batches, levels, province, year, ids)
    table = run_in_memory({"ids": regions["pilot_id"].tolist()}, draws=100).tables["targets"]
    click.echo(f"status: {table['status'].value_counts().to_dict()}", err=True)
    emit(table, output, overwrite)
