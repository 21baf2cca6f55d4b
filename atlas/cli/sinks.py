"""``atlas sinks``: forest carbon sinks per pilot, low / central / high (the run's sinks step)."""

from __future__ import annotations

from pathlib import Path

import click

from atlas.carbon.sinks import DEFAULT_DRAWS, DEFAULT_SEED
from atlas.cli.options import OptionValueError, emit, excel_option, own_regions, region_filters, regions_from_options
from atlas.errors import ConfigError
from atlas.rasters import PRODUCTS


FOREST_KINDS = ("fraction", "classes")


def _codes(text: str | None) -> tuple[int, ...]:
    """``'41,42,43'`` → (41, 42, 43); an error names the option."""
    if not text:
        return ()
    try:
        return tuple(dict.fromkeys(int(part) for part in text.split(",") if part.strip()))
    except ValueError:
        raise OptionValueError(f"--forest-classes {text} is not a list of class codes",
                               "whole numbers separated by commas, e.g. 1 or 41,42,43") from None


@click.command("sinks")
@click.argument("forest", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.option("--product", type=click.Choice(PRODUCTS), help="Product of FOREST (recognised from names).")
@click.option("--kind", type=click.Choice(FOREST_KINDS), help="For your own forest raster (generic product): "
              "fraction (forest or canopy cover per cell) or classes (class codes; name the forest ones with "
              "--forest-classes).")
@click.option("--units", help="Units of that raster: 'percent' or 'fraction' for cover, 'class' for codes.")
@click.option("--forest-classes", help="Codes of a class-coded FOREST raster that are forest, e.g. 1 or 41,42,43.")
@click.option("--threshold", type=click.FloatRange(0, 100), help="Canopy threshold (in the raster's units, e.g. "
              "percent) at or above which a cell counts as forest (Hansen default 30). A cover raster without "
              "it counts the cover itself: a cell of 40 % gives 0.4 of its area.")
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
@click.option("--encoding", help="Text encoding of --inventory and --regions when a file does not declare one "
              "(gbk, utf-8).")
@click.option("--inventory-layer", help="Layer of a multi-layer --inventory file.")
@region_filters
@own_regions
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help=".csv, .json, .geojson, .gpkg or .parquet (default: stdout CSV).")
@click.option("--overwrite", is_flag=True, help="Replace the output file if it exists.")
@excel_option
def sinks_cmd(forest, product, kind, units, forest_classes, threshold, loss_files, loss_years, factor_file, draws,
              seed, inventory_file, column_map, encoding, inventory_layer, batches, levels, province, year, ids,
              regions_file, id_column, regions_layer, output, overwrite):
    """Forest carbon sinks per pilot (t CO2/yr, 2.5 / central / 97.5 % from a seeded Monte
    Carlo), computed by the same steps as `atlas build`: China's inventory method where its
    inputs exist, IPCC Tier 1 beside it (gross removals unless --loss is given).

    Without FOREST the embedded MODIS MCD12C1 2019 map is used, calibrated to the provinces'
    official forest areas; with --inventory, the department's own sub-compartments. With
    --regions, your own outlines instead of the pilots (no calibration: there is no official
    figure for them).

    \b
    Examples:
      atlas sinks --province 福建 -o fujian_sinks.csv
      atlas sinks cover.tif --kind fraction --units percent --threshold 20 --regions counties.shp
          --id-column code --encoding gbk --excel -o county_sinks.csv
      atlas sinks landcover.tif --kind classes --units class --forest-classes 1,2 --regions mine.gpkg
          --layer parcels --id-column id -o sinks.gpkg
    """
    from atlas.workflow.config import LayerConfig
    from atlas.workflow.defaults import run_in_memory

    codes = _codes(forest_classes)
    if (kind or units or codes) and not forest:
        raise ConfigError("--kind, --units or --forest-classes given without a FOREST raster",
                          "the raster they describe", "add the raster file before the options")
    if kind == "classes" and not codes:
        raise ConfigError(f"--kind classes without --forest-classes for {Path(forest[0]).name}",
                          "the codes that are forest", "add --forest-classes, e.g. --forest-classes 1")
    regions, id_column = regions_from_options(regions_file, id_column, encoding, regions_layer, batches, levels,
                                              province, year, ids)
    if inventory_file:
        _inventory(Path(inventory_file), column_map, encoding, inventory_layer, regions, id_column, draws, seed,
                   output, overwrite)
        return
    layer = None
    if forest:
        layer = LayerConfig(paths=tuple(Path(f).resolve() for f in forest), product=product or
                            ("generic" if kind else None), kind=kind, units=units, threshold=threshold,
                            name="forest" if kind else None,
                            groups=(("forest", codes),) if codes else ())
    loss = (LayerConfig(paths=tuple(Path(f).resolve() for f in loss_files), product="hansen", years=loss_years)
            if loss_files else None)
    options = {"forest": layer, "loss": loss, "factors": Path(factor_file) if factor_file else None,
               "draws": draws, "seed": seed}
    report = (run_in_memory(regions=regions, id_column=id_column, **options) if regions_file else
              run_in_memory({"ids": regions["pilot_id"].tolist()}, **options))
    if report.summary.get("forest_caveat") and "forest_area_method" not in report.summary:
        click.echo(f"note: {report.summary['forest_caveat']}", err=True)
    elif "forest_area_method" in report.summary:
        click.echo(f"note: forest area = {report.summary['forest_area_method']}", err=True)
    table = report.tables["sinks"].rename_axis(id_column).reset_index()
    emit(table, output, overwrite, outlines=regions, id_column=id_column)


def _inventory(path: Path, column_map: str | None, encoding: str | None, layer: str | None, regions, id_column: str,
               draws: int, seed: int, output: str | None, overwrite: bool) -> None:
    """``atlas sinks --inventory``: the department's own sub-compartments, by the inventory method."""
    from atlas.carbon.subcompartments import parse_column_mapping
    from atlas.workflow import steps
    from atlas.workflow.inventory import inventory_sinks

    mapping = parse_column_mapping(column_map) or {c: c for c in ("id", "species", "area_ha", "stock_m3")}
    result = inventory_sinks(path, mapping, regions, id_column, steps.official_statistics(), encoding=encoding,
                             layer=layer, draws=draws, seed=seed)
    rejected = result.rejected
    if len(rejected):
        shown = ", ".join(f"{r.id} ({r.reason})" for r in rejected.head(10).itertuples())
        click.echo(f"note: {len(rejected)} sub-compartments not used: {shown}"
                   + (" …" if len(rejected) > 10 else ""), err=True)
        if output:
            extra = Path(output).with_name(Path(output).stem + ".rejected.csv")
            emit(rejected, str(extra), overwrite)
    emit(result.sinks.reset_index(), output, overwrite, outlines=regions, id_column=id_column)
