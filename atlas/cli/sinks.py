"""``atlas sinks``: Tier 1 / Tier 2 forest carbon sinks per pilot, low / central / high."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from atlas.regions import boundaries, registry
from atlas.carbon import factors
from atlas.workflow import pipeline
from atlas.rasters import PRODUCTS, modis, open_layer
from atlas.zonal import zonal_stats
from atlas.cli.options import emit, region_filters, select_from_options


@click.command("sinks")
@click.argument("forest", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.option("--product", type=click.Choice(PRODUCTS), help="Product of FOREST (recognised from names).")
@click.option("--threshold", type=float, help="Canopy threshold in percent for Hansen cover (default 30).")
@click.option("--loss", "loss_files", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Hansen lossyear tile(s): lost forest is valued with the tree-cover biomass stock.")
@click.option("--loss-years", type=int, help="Years the loss layer spans (default: all its loss years).")
@click.option("--factors", "factor_file", type=click.Path(exists=True, dir_okay=False),
              help="Tier 2: your factor table (same columns as geodata/sink_factors.csv) replaces defaults.")
@click.option("--draws", type=int, default=10_000, show_default=True, help="Monte Carlo draws.")
@click.option("--seed", type=int, default=20130601, show_default=True, help="Monte Carlo seed.")
@region_filters
@click.option("-o", "--output", type=click.Path(dir_okay=False), help=".csv, .gpkg or .parquet (default: stdout CSV).")
@click.option("--overwrite", is_flag=True, help="Replace the output file if it exists.")
def sinks_cmd(forest, product, threshold, loss_files, loss_years, factor_file, draws, seed, batches, levels,
              province, year, ids, output, overwrite):
    """Forest carbon sinks per pilot by the IPCC gain-loss method (t CO2/yr), with
    2.5 / 50 / 97.5 % bounds from a seeded Monte Carlo over factor ranges.

    Without FOREST the embedded MODIS MCD12C1 2019 map is used (it undercounts sparse
    forest). Emissions for the offset ratio are the seed's reported 2010 figures.
    """
    reg = registry.load_registry()
    regions = select_from_options(boundaries.load_pilot_boundaries(reg), batches, levels, province, year, ids)
    if forest:
        readers, spec = open_layer(list(forest), product=product, threshold=threshold)
    else:
        readers, spec = pipeline.default_forest_layer()
        click.echo(f"note: {modis.UNDERCOUNT_CAVEAT}", err=True)
    table = zonal_stats(regions, readers, spec)
    areas = pipeline.forest_areas_by_type(table, spec, "pilot_id")
    loss = None
    if loss_files:
        loss_readers, loss_spec = open_layer(list(loss_files), product="hansen")
        loss_table = zonal_stats(regions, loss_readers, loss_spec).set_index("pilot_id")
        span = loss_years or len(loss_spec.groups["forest_loss"])
        loss = loss_table["forest_loss_ha"].fillna(0.0) / span
    lib = factors.read_factors()
    if factor_file:
        lib = factors.apply_tier2(lib, factors.read_factors(factor_file))
    domains = factors.read_climate_domains().set_index("pilot_id")["climate_domain"]
    land = regions.set_index("pilot_id")["land_area_km2"] * 100.0
    forest_source = ", ".join(Path(f).name for f in forest) if forest else "MODIS MCD12C1 2019 (embedded)"
    out = pipeline.labelled_sinks(areas, domains, lib, regions.set_index("pilot_id")["name_zh"],
                                  pipeline.reported_emissions(reg), "reported 2010 (seed Tables 1-2)", forest_source,
                                  land_ha=land, loss_ha_per_yr=loss, draws=draws, seed=seed)
    out = out.reset_index().rename(columns={"index": "pilot_id"})
    emit(pd.DataFrame(out), output, overwrite, outlines=regions)
