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
    """Forest carbon sinks per pilot (t CO2/yr, 2.5 / central / 97.5 % from a seeded Monte
    Carlo), computed by the same steps as `atlas build`: China's inventory method where its
    inputs exist, IPCC Tier 1 beside it (gross removals unless --loss is given).

    Without FOREST the embedded MODIS MCD12C1 2019 map is used, calibrated to the provinces'
    official forest areas; with --inventory, the department's own sub-compartments.
    """
    from atlas.regions import boundaries, registry
    from atlas.workflow.config import LayerConfig
    from atlas.workflow.defaults import run_in_memory

    reg = registry.load_registry()
    regions = select_from_options(boundaries.load_pilot_boundaries(reg), batches, levels, province, year, ids)
    if inventory_file:
        _inventory(Path(inventory_file), column_map, encoding, inventory_layer, regions, draws, seed, output,
                   overwrite)
        return
    layer = (LayerConfig(paths=tuple(Path(f).resolve() for f in forest), product=product, threshold=threshold)
             if forest else None)
    loss = (LayerConfig(paths=tuple(Path(f).resolve() for f in loss_files), product="hansen", years=loss_years)
            if loss_files else None)
    report = run_in_memory({"ids": regions["pilot_id"].tolist()}, forest=layer, loss=loss,
                           factors=Path(factor_file) if factor_file else None, draws=draws, seed=seed)
    if report.summary.get("forest_caveat") and "forest_area_method" not in report.summary:
        click.echo(f"note: {report.summary['forest_caveat']}", err=True)
    elif "forest_area_method" in report.summary:
        click.echo(f"note: forest area = {report.summary['forest_area_method']}", err=True)
    emit(report.tables["sinks"].rename_axis("pilot_id").reset_index(), output, overwrite, outlines=regions)


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
