"""``atlas fetch``: download Hansen GFC, ESA WorldCover, EDGAR or ODIAC files into a cache."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from atlas import fetch
from atlas.cli.options import region_filters, select_from_options
from atlas.rasters import edgar, hansen, odiac, worldcover
from atlas.regions import boundaries, registry

log = logging.getLogger(__name__)

TILED = ("hansen", "worldcover")
_RELEASES_HELP = (f"Release: Hansen {hansen.DEFAULT_RELEASE} (default), GFC-2023-v1.11…; WorldCover "
                  + " or ".join(f"{r} ({y} map{', default' if r == worldcover.DEFAULT_RELEASE else ''})"
                                for r, y in reversed(worldcover.RELEASES.items()))
                  + "; EDGAR " + " or ".join(f"{r}{' (default)' if r == edgar.DEFAULT_RELEASE else ''}"
                                              for r in edgar.RELEASES)
                  + f"; ODIAC {odiac.DEFAULT_RELEASE} (default), {int(odiac.DEFAULT_RELEASE) + 1}….")


def _region_args(batches, levels, province, year, ids) -> list[str]:
    """The region options as given, to repeat them in the suggested ``atlas zonal`` line."""
    args: list[str] = []
    for flag, values in (("--batch", batches), ("--level", levels), ("--id", ids)):
        for value in values:
            args += [flag, str(value)]
    if province:
        args += ["--province", str(province)]
    if year:
        args += ["--year", str(year)]
    return args


def _check_options(product: str, layers, data_year, months) -> None:
    if layers and product != "hansen":
        raise click.UsageError("--layer applies to hansen only.")
    if months and product != "odiac":
        raise click.UsageError("--month applies to odiac only.")
    if data_year is not None and product in TILED:
        raise click.UsageError("--data-year applies to edgar and odiac (choose a Hansen or WorldCover "
                               "release with --version).")


def _echo_dry_run(product: str, release: str, statuses: list[fetch.FileStatus], cache: Path) -> None:
    known = [s.size for s in statuses if s.size is not None]
    if not known:
        total = "total size unknown"
    else:
        total = fetch.human_size(sum(known)) + ("" if len(known) == len(statuses) else " + unknown sizes")
    click.echo(f"{fetch.TITLES[product]} {release}: {len(statuses)} file(s), {total}; "
               f"checksums: {fetch.checksum_policy(product)}; cache {cache}")
    width = max(len(s.note) for s in statuses)
    for s in statuses:
        click.echo(f"  {s.note:>{width}}  {s.state:<11}  {s.url}")
    click.echo("dry run: nothing downloaded", err=True)


def _echo_result(product: str, fetched: list[fetch.FetchedFile], region_args: list[str]) -> None:
    summary = fetch.summarize(fetched)
    click.echo(f"{fetch.TITLES[product]}: {len(summary.files)} file(s) ready "
               f"({summary.downloaded} downloaded, {summary.cached} already in the cache)")
    for f in summary.files:
        state = "downloaded" if f.downloaded else "cached"
        for path in f.usable:
            click.echo(f"  {path}  [{state}; checksum: {f.checksum}]")
    lines = fetch.zonal_commands(summary.files, region_args)
    if lines:
        click.echo("use with:")
        for line in lines:
            click.echo(f"  {line}")


@click.command("fetch")
@click.argument("product", type=click.Choice(fetch.PRODUCTS))
@region_filters
@click.option("--layer", "layers", type=click.Choice(fetch.HANSEN_LAYERS), multiple=True,
              help="Hansen layer (default treecover2000). Repeat for several.")
@click.option("--version", "release", help=_RELEASES_HELP)
@click.option("--data-year", type=int, help="EDGAR / ODIAC: year of the emissions (default: the release's last).")
@click.option("--month", "months", type=click.IntRange(1, 12), multiple=True,
              help="ODIAC month 1-12 (default: all twelve). Repeat for several.")
@click.option("--cache", type=click.Path(file_okay=False),
              help=f"Cache folder (default ${fetch.CACHE_ENV}, else the platform cache folder).")
@click.option("--mirror", help="Base URL replacing the publishers' hosts; the official paths follow it "
              f"(default ${fetch.MIRROR_ENV}).")
@click.option("--dry-run", is_flag=True, help="List the files with URLs and sizes (HTTP HEAD); download nothing.")
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Seconds to wait for a server.")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
def fetch_cmd(product, batches, levels, province, year, ids, layers, release, data_year, months, cache, mirror,
              dry_run, timeout, no_progress):
    """Download PRODUCT files from the publisher into a cache folder.

    \b
    hansen      Hansen/UMD Global Forest Change tiles (10°) covering the selected pilots
    worldcover  ESA WorldCover 10 m tiles (3°) covering the selected pilots
    edgar       EDGAR CO2 totals of one year (NetCDF, unzipped in the cache)
    odiac       ODIAC 1 km monthly fossil CO2 of one year or month (GeoTIFF, gunzipped)

    Tiles are those whose square meets a selected outline (all 87 pilots by default).
    Files already complete in the cache are not downloaded again; an interrupted
    download resumes where it stopped. Published checksums (ODIAC MD5) are verified;
    otherwise the SHA-256 is recorded in the cache manifest and checked on later runs.

    \b
    Examples:
      atlas fetch hansen --id P1-08 --layer treecover2000 --layer lossyear
      atlas fetch worldcover --province 广东 --dry-run
      atlas fetch edgar --data-year 2020
      atlas fetch odiac --data-year 2019 --month 7 --cache ~/data/atlas
    """
    _check_options(product, layers, data_year, months)
    fetcher = fetch.Fetcher(cache, mirror, progress=not no_progress, timeout=timeout)
    regions = None
    if product in TILED:
        reg = registry.load_registry()
        regions = select_from_options(boundaries.load_pilot_boundaries(reg), batches, levels, province, year, ids)
        click.echo(f"{len(regions)} pilot(s) selected", err=True)
    published = fetcher.published_worldcover_tiles(download=not dry_run) if product == "worldcover" else None
    if product == "worldcover" and published is None:
        click.echo("note: the WorldCover tile grid is not cached yet, so tiles over open sea may be listed "
                   "(they show HTTP 404)", err=True)
    files = fetch.plan(product, regions, layers=layers, release=release, data_year=data_year, months=months,
                       published_tiles=published)
    release = release or fetch.DEFAULT_RELEASE[product]
    if dry_run:
        _echo_dry_run(product, release, fetcher.describe(files), fetcher.cache)
        return
    fetched = fetcher.fetch(files)
    _echo_result(product, fetched, _region_args(batches, levels, province, year, ids))
