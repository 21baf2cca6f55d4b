"""``atlas build``: ``atlas run`` of the packaged default config, with a few overrides."""

from __future__ import annotations

import click

from atlas.cli.run import print_outcome, step_printer
from atlas.publish.maps import TILE_PROVIDERS
from atlas.rasters import PRODUCTS
from atlas.rasters.units import QuantityKind


@click.command("build")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Folder to publish into (default: maps). Files the build owns are replaced atomically.")
@click.option("--tiles", type=click.Choice(sorted(TILE_PROVIDERS)), default=None,
              help="Basemap of the maps (default: none). 'none' draws vectors only and the pages request "
                   "nothing; 'amap' (GCJ-02 tiles, reachable in mainland China) shifts every layer into GCJ-02.")
@click.option("--emissions", "emissions", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="An emissions raster (repeat for the tiles of a mosaic): EDGAR, ODIAC or any GeoTIFF. "
                   "Summed exactly per pilot, it replaces the reported 2010 emissions and is drawn on the maps.")
@click.option("--emissions-product", type=click.Choice(PRODUCTS), help="Adapter for --emissions "
              "(recognised from the file name when omitted).")
@click.option("--emissions-kind", type=click.Choice([k.value for k in QuantityKind]),
              help="For a generic --emissions raster: amount or flux_density.")
@click.option("--emissions-units", help="For a generic --emissions raster, e.g. 't CO2/cell/yr'.")
@click.option("--workers", type=click.IntRange(min=1), help="Threads of the zonal engine (default: all cores).")
@click.option("--print-config", is_flag=True, help="Print the config this build runs (the packaged default with "
              "the other options written in) and exit.")
def build_cmd(out_dir, tiles, emissions, emissions_product, emissions_kind, emissions_units, workers,
              print_config) -> None:
    """Run the whole atlas on the embedded default data (no network needed) and
    publish tables and a self-contained HTML site into OUT.

    The same as `atlas run` of the config that --print-config shows: resumable, and a
    second build with nothing changed does no new work. Open OUT/index.html in a browser
    (double-click works: every page stands on its own).
    """
    from atlas.workflow.defaults import build, default_config_text, emissions_layer

    if print_config:  # the job a build with these options runs, as a config for `atlas run`
        layer = emissions_layer(emissions, emissions_product, emissions_kind, emissions_units)
        click.echo(default_config_text(out_dir, tiles, layer, workers), nl=False)
        return
    report = build(out_dir or "maps", tiles=tiles, emissions=emissions, emissions_product=emissions_product,
                   emissions_kind=emissions_kind, emissions_units=emissions_units, workers=workers,
                   progress=step_printer())
    print_outcome(report, report.config, show_sinks=True)
