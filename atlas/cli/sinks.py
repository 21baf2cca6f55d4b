"""``atlas sinks``: forest carbon sinks per pilot, low / central / high (the run's sinks step)."""

from __future__ import annotations

from pathlib import Path

import click

from atlas.carbon.sinks import DEFAULT_DRAWS, DEFAULT_SEED
from atlas.cli.options import emit, region_filters, select_from_options
from atlas.rasters import PRODUCTS


@click.command("sinks")
@click.argument("forest", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.option("--product", type=click.Choice(PRODUCTS), help="Product of FOREST (recognised from names).")
@click.option("--threshold", type=click.FloatRange(0, 100), help="Canopy threshold in percent for Hansen cover "
              "(default 30).")
@click.option("--loss", "loss_files", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Hansen lossyear tile(s): lost forest is valued with the tree-cover biomass stock.")
@click.option("--loss-years", type=click.IntRange(min=1), help="Years the loss layer spans (default: all its "
              "loss years).")
@click.option("--factors", "factor_file", type=click.Path(exists=True, dir_okay=False),
              help="Tier 2: your factor table (same columns as geodata/sink_factors.csv) replaces defaults.")
@click.option("--draws", type=click.IntRange(100, 1_000_000), default=DEFAULT_DRAWS, show_default=True,
              help="Monte Carlo draws.")
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True, help="Monte Carlo seed.")
@click.option("--inventory", "inventory_file", type=click.Path(exists=True, dir_okay=False),
              help="A forestry department's sub-compartment (小班) inventory (CSV, GeoPackage, Shapefile, "
                   "Parquet): sinks by China's inventory method from its stock, per pilot.")
@click.option("--columns", "column_map", help="Column mapping of --inventory, e.g. "
              "'小班号=id,优势树种=species,面积=area_ha,蓄积=stock_m3' (also region, age_group, origin).")
@click.option("--encoding", help="Text encoding of --inventory when it does not declare one (gbk, utf-8).")
@click.option("--inventory-layer", help="Layer of a multi-layer --inventory file.")
@region_filters
@click.option("-o", "--output", type=click.Path(dir_okay=False), help=".csv, .gpkg or .parquet (default: stdout CSV).")
@click.option("--overwrite", is_flag=True, help="Replace the output file if it exists.")
def sinks_cmd(forest, product, threshold, loss_files, loss_years, factor_file, draws, seed, inventory_file,
              column_map, encoding, inventory_layer, batches, levels, province, year, ids, output, overwrite):
    """Forest carbon sinks per pilot by the IPCC gain-loss method (t CO2/yr), with
    2.5 / 50 / 97.5 % bounds from a seeded Monte Carlo over factor ranges.

    Without FOREST the embedded MODIS MCD12C1 2019 map is used (it undercounts sparse
    forest). Emissions for the offset ratio are the seed's reported 2010 figures.
    """
    from atlas.carbon.forest_area import forest_areas_by_type
    from atlas.regions import boundaries, registry
    from atlas.workflow import steps
    from atlas.workflow.config import LayerConfig

    reg = registry.load_registry()
    regions = select_from_options(boundaries.load_pilot_boundaries(reg), batches, levels, province, year, ids)
    if inventory_file:
        _inventory(Path(inventory_file), column_map, encoding, inventory_layer, regions, draws, seed, output,
                   overwrite)
        return
    layer = (LayerConfig(paths=tuple(Path(f).resolve() for f in forest), product=product, threshold=threshold)
             if forest else steps.default_forest_config())
    readers, spec = steps.open_configured(layer)
    if getattr(spec, "caveat", None):
        click.echo(f"note: {spec.caveat}", err=True)
    table = steps.zonal(regions, readers, spec, "pilot_id")
    forest_frame = steps.forest(table, spec, regions, "pilot_id")
    loss = None
    if loss_files:
        loss_layer = LayerConfig(paths=tuple(Path(f).resolve() for f in loss_files), product="hansen")
        loss_readers, loss_spec = steps.open_configured(loss_layer)
        loss_table = steps.zonal(regions, loss_readers, loss_spec, "pilot_id").set_index("pilot_id")
        span = loss_years or len(loss_spec.groups["forest_loss"])
        loss = loss_table["forest_loss_ha"].fillna(0.0) / span
    out = steps.sink_table(forest_frame, forest_areas_by_type(table, spec, "pilot_id"),
                           steps.climate_domains(regions, "pilot_id", True), steps.factor_library(
                               Path(factor_file) if factor_file else None),
                           emissions=steps.reported_emissions(reg), emissions_source=steps.REPORTED_EMISSIONS_LABEL,
                           forest_source=steps.layer_label(layer), loss_ha_per_yr=loss, draws=draws, seed=seed)
    emit(out.rename_axis("pilot_id").reset_index(), output, overwrite, outlines=regions)


def _inventory(path: Path, column_map: str | None, encoding: str | None, layer: str | None, regions, draws: int,
               seed: int, output: str | None, overwrite: bool) -> None:
    """``atlas sinks --inventory``: the department's own sub-compartments, by the inventory method."""
    from atlas.carbon.subcompartments import parse_column_mapping
    from atlas.workflow import steps
    from atlas.workflow.inventory import inventory_sinks

    mapping = parse_column_mapping(column_map) or {c: c for c in ("id", "species", "area_ha", "stock_m3")}
    result = inventory_sinks(path, mapping, regions, "pilot_id", steps.official_statistics(), encoding=encoding,
                             layer=layer, draws=draws, seed=seed)
    rejected = result.rejected
    if len(rejected):
        shown = ", ".join(f"{r.id} ({r.reason})" for r in rejected.head(10).itertuples())
        click.echo(f"note: {len(rejected)} sub-compartments not used: {shown}"
                   + (" …" if len(rejected) > 10 else ""), err=True)
        if output:
            extra = Path(output).with_name(Path(output).stem + ".rejected.csv")
            emit(rejected, str(extra), overwrite)
    emit(result.sinks.reset_index(), output, overwrite, outlines=regions)
