"""Click options shared by several commands (region selection, output)."""

from __future__ import annotations

import sys

import click
import pandas as pd

from atlas.regions import registry
from atlas.export import write_frame

LEVEL_CHOICE = click.Choice(list(registry.LEVELS))


def region_filters(func):
    """Add --batch/--level/--province/--year/--id options selecting registry pilots."""
    options = [
        click.option("--batch", "batches", type=click.IntRange(1, 3), multiple=True,
                     help="Pilot batch: 1 (2010), 2 (2012), 3 (2017). Repeat for several."),
        click.option("--level", "levels", type=LEVEL_CHOICE, multiple=True,
                     help="Administrative level of the pilot. Repeat for several."),
        click.option("--province", help="Parent province: adcode (440000), 广东 / 广东省 or Guangdong."),
        click.option("--year", type=int, help="Year of designation: 2010, 2012 or 2017."),
        click.option("--id", "ids", multiple=True, help="Pilot id such as P1-01. Repeat for several."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def select_from_options(frame, batches, levels, province, year, ids):
    """Apply the region filter options to a pilot table (or boundary frame)."""
    return registry.select_pilots(frame, batch=list(batches) or None, level=list(levels) or None,
                                  province=province, year=year, ids=list(ids) or None)


def emit(table: pd.DataFrame, output: str | None, overwrite: bool, outlines=None,
         id_column: str = "pilot_id") -> None:
    """Write ``table`` to ``output`` (atomically) or as CSV to stdout.

    For ``.gpkg`` / ``.parquet`` outputs the ``outlines`` (a GeoDataFrame keyed by
    ``id_column``), when given, are attached so the result is a spatial layer.
    """
    if not output:
        table.to_csv(sys.stdout, index=False, lineterminator="\n")
        return
    if outlines is not None and output.lower().endswith((".gpkg", ".parquet", ".geoparquet")):
        table = outlines[[id_column, "geometry"]].merge(table, on=id_column)
    write_frame(table, output, overwrite=overwrite)
    click.echo(f"{len(table)} rows written to {output}", err=True)
