"""Which publisher files cover which regions: tiles meeting outlines, and the files of a product.

The products' names, hosts, paths, releases and tile grids are those of their modules in
:mod:`atlas.rasters` (:mod:`~atlas.rasters.hansen`, :mod:`~atlas.rasters.worldcover`,
:mod:`~atlas.rasters.edgar`, :mod:`~atlas.rasters.odiac`); this module only decides which of
their files a request needs and where each goes in the cache.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import shapely

from atlas.errors import ConfigError
from atlas.rasters import edgar, hansen, odiac, worldcover

log = logging.getLogger(__name__)

#: Product name -> its module in :mod:`atlas.rasters` (catalogue facts and adapter).
CATALOGUE: dict[str, ModuleType] = {"hansen": hansen, "worldcover": worldcover, "edgar": edgar, "odiac": odiac}
PRODUCTS = tuple(CATALOGUE)
HANSEN_LAYERS = hansen.LAYERS
DEFAULT_RELEASE = {name: module.DEFAULT_RELEASE for name, module in CATALOGUE.items()}
#: Official scheme and host of each product; ``--mirror`` replaces exactly this part.
HOSTS = {name: module.HOST for name, module in CATALOGUE.items()}
TITLES = {name: module.TITLE for name, module in CATALOGUE.items()}


@dataclass(frozen=True)
class RemoteFile:
    """One file of a product at its publisher.

    Attributes
    ----------
    product : str
        One of :data:`PRODUCTS`.
    path : str
        Path below the publisher's host, in the official layout.
    cache_path : str
        Path below the cache folder.
    kind : str
        ``geotiff``, ``geotiff.gz``, ``netcdf.zip``, ``index`` (WorldCover tile grid)
        or ``md5`` (a published checksum list).
    checksum_path : str, optional
        Path below the host of the publisher's checksum list for this file.
    """

    product: str
    path: str
    cache_path: str
    kind: str = "geotiff"
    checksum_path: str | None = None

    @property
    def name(self) -> str:
        """The publisher's file name."""
        return self.path.rsplit("/", 1)[-1]

    def url(self, mirror: str | None = None) -> str:
        """Official URL, or the same path below ``mirror``."""
        return f"{(mirror or HOSTS[self.product]).rstrip('/')}/{self.path}"


WORLDCOVER_GRID = RemoteFile("worldcover", worldcover.GRID_PATH,
                             "worldcover/" + worldcover.GRID_PATH.rsplit("/", 1)[-1], kind="index")


# --------------------------------------------------------------------------- tiles


def _lonlat_geometries(regions) -> np.ndarray:
    """Non-empty geometries of ``regions`` (GeoDataFrame, GeoSeries or shapes) in lon/lat."""
    if hasattr(regions, "geometry") and hasattr(regions, "crs"):
        series = regions.geometry
        if series.crs is not None and series.crs.to_epsg() != 4326:
            series = series.to_crs(4326)
        geoms = np.asarray(series.values, dtype=object)
    else:
        geoms = np.asarray(list(regions), dtype=object)
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))] if geoms.size else geoms
    if geoms.size == 0:
        raise ConfigError("No region outlines selected", "at least one pilot or outline",
                          "loosen --batch/--level/--province/--year/--id")
    return geoms


def covering_cells(regions, size: int) -> list[tuple[int, int]]:
    """Grid cells of ``size`` degrees whose interior meets an outline.

    Cells are aligned on multiples of ``size``. A cell that only touches an outline
    along an edge or a corner, or that lies in the outlines' bounding box without
    meeting any outline, is left out.

    Parameters
    ----------
    regions : GeoDataFrame, GeoSeries or sequence of shapely geometries
        Outlines in longitude/latitude (transformed to EPSG:4326 when they carry a CRS).
    size : int
        Cell size in degrees (:data:`atlas.rasters.hansen.TILE_SIZE`, :data:`atlas.rasters.worldcover.TILE_SIZE`).

    Returns
    -------
    list of (bottom, left)
        Lower-left corners in degrees, south to north then west to east.
    """
    geoms = _lonlat_geometries(regions)
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    tree = shapely.STRtree(geoms)
    cells = []
    for bottom in range(math.floor(miny / size) * size, math.floor(maxy / size) * size + 1, size):
        for left in range(math.floor(minx / size) * size, math.floor(maxx / size) * size + 1, size):
            cell = shapely.box(left, bottom, left + size, bottom + size)
            hits = tree.query(cell, predicate="intersects")
            if hits.size and not shapely.touches(geoms[hits], cell).all():
                cells.append((bottom, left))
    return cells


def hansen_tiles(regions) -> list[str]:
    """Labels of the Hansen tiles (10°, named by upper-left corner) meeting the outlines."""
    size = hansen.TILE_SIZE
    return [hansen.tile_label(bottom + size, left) for bottom, left in covering_cells(regions, size)]


def worldcover_tiles(regions, published: set[str] | None = None) -> list[str]:
    """Labels of the WorldCover tiles (3°, named by lower-left corner) meeting the outlines.

    Parameters
    ----------
    published : set of str, optional
        Tiles that exist (from the WorldCover grid); WorldCover has no tiles over open sea.
    """
    labels = [worldcover.tile_label(bottom, left) for bottom, left in covering_cells(regions, worldcover.TILE_SIZE)]
    if published is None:
        return labels
    dropped = [t for t in labels if t not in published]
    if dropped:
        log.info("WorldCover publishes no tile for %s (open sea)", ", ".join(dropped))
    return [t for t in labels if t in published]


# --------------------------------------------------------------------------- files of a product


def hansen_files(regions, layers: Sequence[str] = ("treecover2000",),
                 release: str | None = None) -> list[RemoteFile]:
    """Hansen GFC tiles of ``layers`` covering ``regions``."""
    release = release or hansen.DEFAULT_RELEASE
    if not hansen.RELEASE.match(release):
        raise ConfigError(f"Hansen release {release!r} is not recognised",
                          "a name like GFC-2024-v1.12 or GFC-2023-v1.11",
                          "see https://glad.earthengine.app/view/global-forest-change for the releases")
    unknown = sorted(set(layers) - set(hansen.LAYERS))
    if unknown:
        raise ConfigError(f"Unknown Hansen layers {unknown}", f"some of {list(hansen.LAYERS)}")
    tiles = hansen_tiles(regions)
    return [RemoteFile("hansen", hansen.remote_path(release, layer, tile),
                       f"hansen/{release}/{hansen.file_name(release, layer, tile)}")
            for layer in dict.fromkeys(layers or ("treecover2000",)) for tile in tiles]


def worldcover_files(regions, release: str | None = None,
                     published: set[str] | None = None) -> list[RemoteFile]:
    """WorldCover map tiles covering ``regions``; ``published`` restricts them to existing tiles."""
    release = release or worldcover.DEFAULT_RELEASE
    if release not in worldcover.RELEASES:
        raise ConfigError(f"WorldCover release {release!r} is not recognised",
                          "v100 (map of 2020) or v200 (map of 2021)")
    year = worldcover.RELEASES[release]
    files = [RemoteFile("worldcover", worldcover.remote_path(release, tile),
                        f"worldcover/{release}/{year}/{worldcover.file_name(release, tile)}")
             for tile in worldcover_tiles(regions, published)]
    if not files:
        raise ConfigError("No published WorldCover tile meets the selected outlines",
                          "outlines over land", "select other pilots")
    return files


def edgar_files(data_year: int | None = None, release: str | None = None) -> list[RemoteFile]:
    """The zipped NetCDF of EDGAR CO2 totals for one year."""
    release = release or edgar.DEFAULT_RELEASE
    if release not in edgar.RELEASES:
        raise ConfigError(f"EDGAR release {release!r} is not recognised", f"one of {list(edgar.RELEASES)}")
    _, _, first, last = edgar.RELEASES[release]
    year = last if data_year is None else int(data_year)
    if not first <= year <= last:
        raise ConfigError(f"EDGAR {release} has no year {year}", f"a year from {first} to {last}")
    return [RemoteFile("edgar", edgar.remote_path(release, year),
                       f"edgar/{release}/{edgar.file_name(release, year)}", kind="netcdf.zip")]


def odiac_files(data_year: int | None = None, months: Sequence[int] = (),
                release: str | None = None) -> list[RemoteFile]:
    """ODIAC 1 km monthly GeoTIFFs (gzipped) of one year, with their published MD5 list."""
    release = str(release or odiac.DEFAULT_RELEASE).lower().removeprefix("odiac")
    if not odiac.RELEASE.match(release):
        raise ConfigError(f"ODIAC release {release!r} is not recognised", "a year such as 2023 (ODIAC2023)")
    last = odiac.last_year(release)
    year = last if data_year is None else int(data_year)
    if not odiac.FIRST_YEAR <= year <= last:
        raise ConfigError(f"ODIAC{release} has no year {year}", f"a year from {odiac.FIRST_YEAR} to {last}")
    folder = odiac.folder(release, year)
    checksums = f"{folder}/{odiac.checksum_name(release, year)}"
    files = []
    for month in sorted(set(months or range(1, 13))):
        if not 1 <= month <= 12:
            raise ConfigError(f"Month {month} is not a month", "1 to 12")
        name = odiac.file_name(release, year, month)
        files.append(RemoteFile("odiac", f"{folder}/{name}", f"odiac/odiac{release}/{year}/{name}",
                                kind="geotiff.gz", checksum_path=checksums))
    return files


def plan(product: str, regions=None, *, layers: Sequence[str] = (), release: str | None = None,
         data_year: int | None = None, months: Sequence[int] = (),
         published_tiles: set[str] | None = None) -> list[RemoteFile]:
    """The files to fetch for a product.

    Parameters
    ----------
    product : str
        One of :data:`PRODUCTS`.
    regions : GeoDataFrame or shapes, optional
        Outlines that choose the tiles (Hansen, WorldCover).
    layers : sequence of str
        Hansen layers (default ``treecover2000``).
    release : str, optional
        Product release (defaults in :data:`DEFAULT_RELEASE`).
    data_year : int, optional
        EDGAR / ODIAC year (default: the release's last year).
    months : sequence of int
        ODIAC months (default: all twelve).
    published_tiles : set of str, optional
        WorldCover tiles that exist (:meth:`atlas.fetch.Fetcher.published_worldcover_tiles`).
    """
    if product not in PRODUCTS:
        raise ConfigError(f"Unknown product {product!r}", f"one of {list(PRODUCTS)}")
    if product in ("hansen", "worldcover") and regions is None:
        raise ConfigError(f"No regions given for {TITLES[product]} tiles", "outlines that choose the tiles")
    if product == "hansen":
        return hansen_files(regions, layers or ("treecover2000",), release)
    if product == "worldcover":
        return worldcover_files(regions, release, published_tiles)
    if product == "edgar":
        return edgar_files(data_year, release)
    return odiac_files(data_year, months, release)
