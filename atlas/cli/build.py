"""``atlas build``: the default job on the embedded data, published as a static site."""

from __future__ import annotations

import json

import click

from atlas.workflow import pipeline
from atlas.publish.maps import TILE_PROVIDERS
from atlas.rasters import PRODUCTS
from atlas.rasters.units import QuantityKind


@click.command("build")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="maps", show_default=True,
              help="Folder to publish into. Files the build owns are replaced atomically.")
@click.option("--tiles", type=click.Choice(sorted(TILE_PROVIDERS)), default="none", show_default=True,
              help="Basemap of the maps. 'none' draws vectors only and the pages request nothing; 'amap' "
                   "(GCJ-02 tiles, reachable in mainland China) shifts every layer into GCJ-02 to match.")
@click.option("--emissions", "emissions", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="An emissions raster (repeat for the tiles of a mosaic): EDGAR, ODIAC or any GeoTIFF. "
                   "Summed exactly per pilot, it replaces the reported 2010 emissions and is drawn on the maps.")
@click.option("--emissions-product", type=click.Choice(PRODUCTS), help="Adapter for --emissions "
              "(recognised from the file name when omitted).")
@click.option("--emissions-kind", type=click.Choice([k.value for k in QuantityKind]),
              help="For a generic --emissions raster: amount or flux_density.")
@click.option("--emissions-units", help="For a generic --emissions raster, e.g. 't CO2/cell/yr'.")
@click.option("--workers", type=int, help="Threads of the zonal engine (default: all cores).")
def build_cmd(out_dir: str, tiles: str, emissions: tuple[str, ...], emissions_product: str | None,
              emissions_kind: str | None, emissions_units: str | None, workers: int | None) -> None:
    """Run the whole atlas on the embedded default data (no network needed) and
    publish tables and a self-contained HTML site into OUT.

    Open OUT/index.html in a browser (double-click works: every page stands on its own).
    """
    options = pipeline.BuildOptions(tiles=tiles, emissions=emissions, emissions_product=emissions_product,
                                    emissions_kind=emissions_kind, emissions_units=emissions_units,
                                    workers=workers)
    err = click.get_text_stream("stderr")
    with click.progressbar(length=len(pipeline.STEPS), label="atlas build", file=err) as bar:
        started = False

        def step(label: str) -> None:
            nonlocal started
            if started:
                bar.update(1)
            started = True
            bar.label = f"atlas build: {label}"
            bar.render_progress()

        result = pipeline.build(out_dir, progress=step, options=options)
        bar.update(1)
    click.echo(json.dumps(result.summary, ensure_ascii=False, indent=2))
    sinks = result.tables.get("sinks_pilots")
    if sinks is not None:
        cols = {"name_zh": "pilot", "climate_domain": "domain", "forest_ha": "forest_ha",
                "net_sink_tco2_per_yr_low": "net_low_tco2", "net_sink_tco2_per_yr_central": "net_central_tco2",
                "net_sink_tco2_per_yr_high": "net_high_tco2", "offset_ratio_central": "offset_ratio"}
        shown = sinks[list(cols)].rename(columns=cols)
        click.echo("Net forest sink per pilot, t CO2/yr (2.5 / central / 97.5 %), offset ratio vs "
                   f"{'raster' if emissions else 'reported 2010'} emissions:")
        tonnes_or_ha = {c: "{:,.0f}".format for c in shown.columns if c.endswith(("_tco2", "_ha"))}
        click.echo(shown.to_string(formatters=tonnes_or_ha, float_format="{:.3f}".format))
    click.echo(f"{len(result.files)} files written under {result.out_dir}; open "
               f"{result.out_dir / 'index.html'} in a browser", err=True)
