"""``atlas zonal``: per-region statistics of a raster layer."""

from __future__ import annotations

import sys

import click

from atlas.cli.options import (emit, excel_option, keep_columns_option, own_regions, region_filters,
                                regions_from_options, with_attributes)
from atlas.rasters import PRODUCTS, open_layer
from atlas.rasters.units import QuantityKind


@click.command("zonal")
@click.argument("rasters", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--product", type=click.Choice(PRODUCTS), help="Product adapter; recognised from the file name "
              "when omitted (Hansen GFC, ESA WorldCover, MODIS MCD12, EDGAR, ODIAC).")
@click.option("--kind", type=click.Choice([k.value for k in QuantityKind]),
              help="For generic rasters: per-cell amount, flux density, fraction/percent cover, or class codes.")
@click.option("--units", help="For generic rasters, e.g. 't CO2/cell/yr', 'kg CO2 m-2 s-1', 'percent', 'class'.")
@click.option("--name", help="Column stem of the results (default: the product's, or 'value').")
@click.option("--band", default="1", show_default=True,
              help="Band of a generic raster, or 'all' for every band in one pass (one row per region and band).")
@click.option("--bands", help="Bands read together in one pass, e.g. '1-12' or '1,3,5' (one row per region and "
              "band; 'time' too when the file has a CF time axis).")
@click.option("--series", is_flag=True, help="RASTERS are one band each of a series on one grid (e.g. monthly "
              "files): summed in one pass, one row per region and file.")
@click.option("--stats", help="Extra coverage-weighted statistics, comma-separated: count, sum, mean, std, min, "
              "max, median, p1…p99, majority, shares (definitions: atlas.zonal.result).")
@click.option("--nodata", type=float, help="Override the file's nodata value.")
@click.option("--threshold", type=float, help="Canopy-cover threshold in percent for cover layers "
              "(Hansen default 30): cells at or above it count as forest.")
@region_filters
@own_regions
@keep_columns_option
@click.option("--encoding", help="Text encoding of --regions attributes when the file does not declare it "
              "(e.g. gbk for Chinese shapefiles without a .cpg).")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Output file: .csv, .json (records), .geojson, .gpkg or .parquet (GeoParquet); the spatial ones "
                   "carry the outlines. Default: CSV on stdout.")
@click.option("--overwrite", is_flag=True, help="Replace the output file if it exists.")
@click.option("--workers", type=int, help="Local threads (default: all cores).")
@click.option("--scheduler", help="Address of a dask.distributed scheduler to run on (e.g. tcp://host:8786).")
@excel_option
def zonal_cmd(rasters, product, kind, units, name, band, bands, series, stats, nodata, threshold, batches, levels,
              province, year, ids, regions_file, id_column, regions_layer, keep_columns, encoding, output, overwrite, workers, scheduler):
    """Exact per-pilot statistics of RASTERS (one file, or the tiles of a mosaic).

    Partial cells count by the share of their area on the WGS84 ellipsoid inside each
    outline (exact, not planar), every band of a stack is summed in one pass, nodata is excluded and reported (valid_share), and outlines are
    transformed to the raster's CRS (the raster is never resampled).

    \b
    Examples:
      atlas zonal Hansen_GFC-2023-v1.11_treecover2000_30N_110E.tif --batch 1 -o forest.csv
      atlas zonal odiac.tif --kind amount --units 't C/cell/month' --province 广东
      atlas zonal series.tif --kind flux_density --units 'kg CO2 m-2 s-1' --band all -o monthly.csv
      atlas zonal --series m01.tif m02.tif m03.tif --kind amount --units 't CO2/cell/yr'
      atlas zonal cover.tif --kind fraction --units percent --stats mean,p10,p90
      atlas zonal cover.tif --kind fraction --units percent --regions counties.gpkg
          --layer counties --id-column code --keep-columns name,area --excel -o counties.csv
    """
    from atlas.zonal import zonal_stats

    if band.strip().lower() == "all" and not bands:
        bands, band = "all", "1"
    try:
        band_number = int(band)
    except ValueError:
        raise click.BadParameter(f"{band!r} is neither a band number nor 'all'", param_hint="--band") from None
    readers, spec = open_layer(list(rasters), product=product, kind=kind, units=units, name=name, band=band_number,
                               nodata=nodata, threshold=threshold, bands=bands, series=series)
    regions, id_column = regions_from_options(regions_file, id_column, encoding, regions_layer, batches, levels,
                                              province, year, ids)
    kept = "all" if regions_file else "name_zh"
    with_attributes(regions[[id_column]].head(0), regions, id_column, keep_columns, kept)  # bad names fail now
    client = None
    if scheduler:
        from distributed import Client

        from atlas.zonal import register_worker_setup

        client = Client(scheduler)
        register_worker_setup(client)
    try:
        with click.progressbar(length=1, label=f"zonal {spec.name}", file=sys.stderr) as bar:
            def progress(done: int, total: int) -> None:
                bar.length = total
                bar.update(1)

            table = zonal_stats(regions, readers, spec, id_column=id_column, workers=workers, client=client,
                                progress=progress, stats=stats)
    finally:
        if client is not None:
            client.close()
    table, kept_notes = with_attributes(table, regions, id_column, keep_columns, kept)
    if spec.caveat:
        click.echo(f"note: {spec.caveat}", err=True)
    for column, how in table.attrs.get("conversions", {}).items():
        if not column.endswith("_per_ha"):
            click.echo(f"note: {column} = {how}", err=True)
    for note in [*table.attrs.get("notes", ()), *kept_notes]:
        click.echo(f"note: {note}", err=True)
    emit(table, output, overwrite, outlines=regions, id_column=id_column)
