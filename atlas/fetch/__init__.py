"""Download publishers' raster products into a local cache (``atlas fetch``).

Downloads go through :mod:`pooch` (:func:`pooch.retrieve`: temporary file, checksum
check, atomic move into the cache) with :class:`ResumingDownloader`, a pooch
downloader that resumes partial ``.part`` files with HTTP ``Range`` requests.

Official locations
------------------
Hansen/UMD Global Forest Change (10°×10° tiles named by their upper-left corner)::

    https://storage.googleapis.com/earthenginepartners-hansen/GFC-2024-v1.12/
        Hansen_GFC-2024-v1.12_<layer>_<30N>_<110E>.tif

layers ``treecover2000 lossyear gain datamask first last``; the layout and the per-layer
URL lists (``<layer>.txt``) are on the release's ``download.html`` page, e.g.
https://storage.googleapis.com/earthenginepartners-hansen/GFC-2023-v1.11/download.html.
No checksums are published.

ESA WorldCover 10 m (3°×3° tiles named by their lower-left corner, land tiles only)::

    https://esa-worldcover.s3.eu-central-1.amazonaws.com/v200/2021/map/
        ESA_WorldCover_10m_2021_v200_N21E114_Map.tif          (v100/2020 likewise)

and the tile index ``v100/2020/esa_worldcover_2020_grid.geojson`` used by the Product
User Manual's download example (https://esa-worldcover.org/en/data-access,
https://esa-worldcover.s3.amazonaws.com/readme.html). No checksums are published.

EDGAR CO2 totals, annual grid maps in NetCDF, zipped (JRC open-data server)::

    https://jeodpp.jrc.ec.europa.eu/ftp/jrc-opendata/EDGAR/datasets/v80_FT2022_GHG/
        CO2/TOTALS/emi_nc/v8.0_FT2022_GHG_CO2_<year>_TOTALS_emi_nc.zip
    https://jeodpp.jrc.ec.europa.eu/ftp/jrc-opendata/EDGAR/datasets/EDGAR_2024_GHG/
        CO2/TOTALS/emi_nc/EDGAR_2024_GHG_CO2_<year>_TOTALS_emi_nc.zip

(releases described at https://edgar.jrc.ec.europa.eu/dataset_ghg80 and
https://edgar.jrc.ec.europa.eu/readme/edgar_2024_ghg_readme.txt). No checksums are
published.

ODIAC 1 km monthly GeoTIFFs, gzipped (NIES, doi:10.17595/20170411.001)::

    https://db.cger.nies.go.jp/nies_data/10.17595/20170411.001/odiac2023/1km_tiff/<year>/
        odiac2023_1km_excl_intl_<yymm>.tif.gz

with the MD5 sums of the ``.tif.gz`` files published beside them in
``odiac2023_1km_checksum_<year>.md5.txt`` (used here).

Where nothing is published the SHA-256 computed at download is written to a manifest
in the cache (:data:`MANIFEST_NAME`), so later runs verify the cached copy.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import math
import os
import re
import shlex
import shutil
import sys
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pooch
import rasterio
import requests
import shapely
import urllib3
from tqdm import tqdm

from atlas._io import atomic_path, write_text_atomic
from atlas.errors import ConfigError, FetchError

log = logging.getLogger(__name__)

PRODUCTS = ("hansen", "worldcover", "edgar", "odiac")
HANSEN_LAYERS = ("treecover2000", "lossyear", "gain", "datamask", "first", "last")
DEFAULT_RELEASE = {"hansen": "GFC-2024-v1.12", "worldcover": "v200", "edgar": "v8.0", "odiac": "2023"}

#: Official scheme and host of each product; ``--mirror`` replaces exactly this part.
HOSTS = {
    "hansen": "https://storage.googleapis.com",
    "worldcover": "https://esa-worldcover.s3.eu-central-1.amazonaws.com",
    "edgar": "https://jeodpp.jrc.ec.europa.eu",
    "odiac": "https://db.cger.nies.go.jp",
}
TITLES = {"hansen": "Hansen GFC", "worldcover": "ESA WorldCover", "edgar": "EDGAR CO2", "odiac": "ODIAC"}

WORLDCOVER_RELEASES = {"v100": 2020, "v200": 2021}
#: EDGAR release -> (folder, file prefix, first year, last year)
EDGAR_RELEASES = {
    "v8.0": ("v80_FT2022_GHG", "v8.0_FT2022_GHG", 1970, 2022),
    "2024": ("EDGAR_2024_GHG", "EDGAR_2024_GHG", 1970, 2023),
}
ODIAC_ROOT = "nies_data/10.17595/20170411.001"
HANSEN_RELEASE = re.compile(r"^GFC-(?P<year>\d{4})-v1\.(?P<minor>\d+)$")

MANIFEST_NAME = "atlas-fetch-manifest.json"
CACHE_ENV = "ATLAS_CACHE"
MIRROR_ENV = "ATLAS_FETCH_MIRROR"
CHUNK_SIZE = 1 << 16
USER_AGENT = "pilot-carbon-atlas (atlas fetch; python-requests via pooch)"
NONE_PUBLISHED = "none published; SHA-256 recorded in the cache manifest"
#: What to check when a file is missing at the publisher (HTTP 404).
OPTION_HINTS = {"hansen": "check --version and --layer", "worldcover": "check --version (v100 or v200)",
                "edgar": "check --version and --data-year", "odiac": "check --version, --data-year and --month"}


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


@dataclass
class FetchedFile:
    """A file now in the cache.

    Attributes
    ----------
    remote : RemoteFile
    path : pathlib.Path
        The downloaded file.
    usable : list of pathlib.Path
        What to open: the file itself, or what was extracted from it (``.nc``, ``.tif``).
    downloaded : bool
        False when a complete, verified copy was already cached.
    sha256 : str
    checksum : str
        Where the verification came from (published checksum or none published).
    """

    remote: RemoteFile
    path: Path
    usable: list[Path]
    downloaded: bool
    sha256: str
    checksum: str


@dataclass
class FileStatus:
    """One line of a dry run: URL, size from ``HEAD`` and state in the cache."""

    remote: RemoteFile
    url: str
    size: int | None
    note: str
    state: str


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
        Cell size in degrees (10 for Hansen, 3 for WorldCover).

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


def hansen_tile_label(top: int, left: int) -> str:
    """``30N_110E`` style label of the Hansen tile whose upper-left corner is (left, top)."""
    return f"{abs(top):02d}{'N' if top >= 0 else 'S'}_{abs(left):03d}{'E' if left >= 0 else 'W'}"


def worldcover_tile_label(bottom: int, left: int) -> str:
    """``N21E114`` style label of the WorldCover tile whose lower-left corner is (left, bottom)."""
    return f"{'N' if bottom >= 0 else 'S'}{abs(bottom):02d}{'E' if left >= 0 else 'W'}{abs(left):03d}"


def hansen_tiles(regions) -> list[str]:
    """Labels of the 10°×10° Hansen tiles meeting the outlines."""
    return [hansen_tile_label(bottom + 10, left) for bottom, left in covering_cells(regions, 10)]


def worldcover_tiles(regions, published: set[str] | None = None) -> list[str]:
    """Labels of the 3°×3° WorldCover tiles meeting the outlines.

    Parameters
    ----------
    published : set of str, optional
        Tiles that exist (from the WorldCover grid); WorldCover has no tiles over open sea.
    """
    labels = [worldcover_tile_label(bottom, left) for bottom, left in covering_cells(regions, 3)]
    if published is None:
        return labels
    dropped = [t for t in labels if t not in published]
    if dropped:
        log.info("WorldCover publishes no tile for %s (open sea)", ", ".join(dropped))
    return [t for t in labels if t in published]


# --------------------------------------------------------------------------- plans


def hansen_files(regions, layers: Sequence[str] = ("treecover2000",),
                 release: str | None = None) -> list[RemoteFile]:
    """Hansen GFC tiles of ``layers`` covering ``regions`` (see the module docstring for the URLs)."""
    release = release or DEFAULT_RELEASE["hansen"]
    if not HANSEN_RELEASE.match(release):
        raise ConfigError(f"Hansen release {release!r} is not recognised",
                          "a name like GFC-2024-v1.12 or GFC-2023-v1.11",
                          "see https://glad.earthengine.app/view/global-forest-change for the releases")
    unknown = sorted(set(layers) - set(HANSEN_LAYERS))
    if unknown:
        raise ConfigError(f"Unknown Hansen layers {unknown}", f"some of {list(HANSEN_LAYERS)}")
    tiles = hansen_tiles(regions)
    files = []
    for layer in dict.fromkeys(layers or ("treecover2000",)):
        for tile in tiles:
            name = f"Hansen_{release}_{layer}_{tile}.tif"
            files.append(RemoteFile("hansen", f"earthenginepartners-hansen/{release}/{name}",
                                    f"hansen/{release}/{name}"))
    return files


WORLDCOVER_GRID = RemoteFile("worldcover", "v100/2020/esa_worldcover_2020_grid.geojson",
                             "worldcover/esa_worldcover_2020_grid.geojson", kind="index")


def worldcover_files(regions, release: str | None = None,
                     published: set[str] | None = None) -> list[RemoteFile]:
    """WorldCover map tiles covering ``regions``; ``published`` restricts them to existing tiles."""
    release = release or DEFAULT_RELEASE["worldcover"]
    if release not in WORLDCOVER_RELEASES:
        raise ConfigError(f"WorldCover release {release!r} is not recognised",
                          "v100 (map of 2020) or v200 (map of 2021)")
    year = WORLDCOVER_RELEASES[release]
    files = []
    for tile in worldcover_tiles(regions, published):
        name = f"ESA_WorldCover_10m_{year}_{release}_{tile}_Map.tif"
        files.append(RemoteFile("worldcover", f"{release}/{year}/map/{name}",
                                f"worldcover/{release}/{year}/{name}"))
    if not files:
        raise ConfigError("No published WorldCover tile meets the selected outlines",
                          "outlines over land", "select other pilots")
    return files


def edgar_files(data_year: int | None = None, release: str | None = None) -> list[RemoteFile]:
    """The zipped NetCDF of EDGAR CO2 totals for one year."""
    release = release or DEFAULT_RELEASE["edgar"]
    if release not in EDGAR_RELEASES:
        raise ConfigError(f"EDGAR release {release!r} is not recognised", f"one of {list(EDGAR_RELEASES)}")
    folder, prefix, first, last = EDGAR_RELEASES[release]
    year = last if data_year is None else int(data_year)
    if not first <= year <= last:
        raise ConfigError(f"EDGAR {release} has no year {year}", f"a year from {first} to {last}")
    name = f"{prefix}_CO2_{year}_TOTALS_emi_nc.zip"
    return [RemoteFile("edgar", f"ftp/jrc-opendata/EDGAR/datasets/{folder}/CO2/TOTALS/emi_nc/{name}",
                       f"edgar/{release}/{name}", kind="netcdf.zip")]


def odiac_files(data_year: int | None = None, months: Sequence[int] = (),
                release: str | None = None) -> list[RemoteFile]:
    """ODIAC 1 km monthly GeoTIFFs (gzipped) of one year, with their published MD5 list."""
    release = str(release or DEFAULT_RELEASE["odiac"]).lower().removeprefix("odiac")
    if not re.fullmatch(r"20\d\d[a-z]?", release):
        raise ConfigError(f"ODIAC release {release!r} is not recognised", "a year such as 2023 (ODIAC2023)")
    last = int(release[:4]) - 1
    year = last if data_year is None else int(data_year)
    if not 2000 <= year <= last:
        raise ConfigError(f"ODIAC{release} has no year {year}", f"a year from 2000 to {last}")
    folder = f"{ODIAC_ROOT}/odiac{release}/1km_tiff/{year}"
    checksums = f"{folder}/odiac{release}_1km_checksum_{year}.md5.txt"
    files = []
    for month in sorted(set(months or range(1, 13))):
        if not 1 <= month <= 12:
            raise ConfigError(f"Month {month} is not a month", "1 to 12")
        name = f"odiac{release}_1km_excl_intl_{year % 100:02d}{month:02d}.tif.gz"
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
        WorldCover tiles that exist (:func:`worldcover_published_tiles`).
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


# --------------------------------------------------------------------------- cache, mirror


def default_cache() -> Path:
    """``$ATLAS_CACHE``, else the platform cache folder of ``pilot-carbon-atlas``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path(pooch.os_cache("pilot-carbon-atlas"))


def resolve_mirror(mirror: str | None = None) -> str | None:
    """``mirror`` or ``$ATLAS_FETCH_MIRROR``, checked to be an http(s) base URL."""
    mirror = mirror or os.environ.get(MIRROR_ENV) or None
    if mirror is None:
        return None
    parts = urlsplit(mirror)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"Mirror {mirror!r} is not an http(s) URL",
                          "a base URL such as https://mirror.example.org (the official paths follow it)")
    return mirror.rstrip("/")


class Manifest:
    """SHA-256, size and origin of every file fetched into a cache folder.

    Stored as JSON in ``<cache>/atlas-fetch-manifest.json`` and rewritten atomically
    after each file.
    """

    def __init__(self, cache: Path):
        self.path = Path(cache) / MANIFEST_NAME
        self.files: dict[str, dict] = {}
        if self.path.is_file():
            try:
                self.files = json.loads(self.path.read_text(encoding="utf-8")).get("files", {})
            except (ValueError, AttributeError):
                log.warning("ignoring unreadable manifest %s", self.path)

    def get(self, key: str) -> dict | None:
        """The entry of a cache-relative path, if any."""
        return self.files.get(key)

    def record(self, key: str, entry: dict) -> None:
        """Add or replace an entry and save."""
        self.files[key] = entry
        self.save()

    def forget(self, key: str) -> None:
        """Drop an entry (if present) and save."""
        if self.files.pop(key, None) is not None:
            self.save()

    def save(self) -> None:
        """Write the manifest atomically."""
        text = json.dumps({"version": 1, "files": dict(sorted(self.files.items()))}, indent=1, ensure_ascii=False)
        write_text_atomic(self.path, text + "\n", overwrite=True)


# --------------------------------------------------------------------------- downloading


def _session() -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    return session


class _IncompleteDownload(OSError):
    """The server closed the body before the announced length."""


def _content_range(header: str | None) -> tuple[int | None, int | None]:
    """(first byte, total) of a ``Content-Range`` header (``bytes 10-99/100`` or ``bytes */100``)."""
    m = re.match(r"bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)", header or "")
    if not m:
        return None, None
    first = int(m[1]) if m[1] is not None else None
    return first, (int(m[2]) if m[2] != "*" else None)


class ResumingDownloader:
    """A pooch downloader that resumes interrupted downloads.

    Bytes go to a stable ``<file>.part`` beside the destination. A later call asks for
    the rest with ``Range: bytes=N-`` (and ``If-Range`` with the ETag or Last-Modified
    seen first, so a changed file is not spliced); a ``206`` answer is appended, a
    ``200`` answer (server ignores ranges, or the file changed) restarts from zero, and
    ``416`` means the part is already whole. When the body is complete and has the
    announced length, the part is renamed onto pooch's temporary file; pooch then
    checks the hash and moves it into place (both renames stay in one folder).

    Parameters
    ----------
    part : path
        The partial file.
    session : requests.Session, optional
    timeout : float
        Seconds to wait for the connection and for each read.
    progress : bool
        Show a tqdm progress bar on stderr (hidden when stderr is not a terminal).
    chunk_size : int

    Notes
    -----
    The call signature is pooch's: ``downloader(url, output_file, pooch, check_only=False)``.
    """

    def __init__(self, part: str | os.PathLike, session: requests.Session | None = None, timeout: float = 60.0,
                 progress: bool = True, chunk_size: int = CHUNK_SIZE):
        self.part = Path(part)
        self.session = session or _session()
        self.timeout = timeout
        self.progress = progress
        self.chunk_size = chunk_size
        self.body_started = False

    @property
    def validator_file(self) -> Path:
        """Sidecar holding the URL and the ETag/Last-Modified of the partial download."""
        return self.part.with_name(self.part.name + ".json")

    def __call__(self, url: str, output_file: str, pooch_instance=None, check_only: bool = False) -> bool | None:
        if check_only:
            resp = self.session.head(url, allow_redirects=True, timeout=self.timeout)
            return resp.status_code == 200
        for _ in range(2):
            if self._fill_part(url):
                os.replace(self.part, output_file)
                self.validator_file.unlink(missing_ok=True)
                return None
            self.discard()
        raise _IncompleteDownload(f"the server answered {url} inconsistently twice")

    def discard(self) -> None:
        """Remove the partial file and its sidecar."""
        self.part.unlink(missing_ok=True)
        self.validator_file.unlink(missing_ok=True)

    def _range_headers(self, url: str, start: int) -> dict[str, str]:
        if not start:
            return {}
        headers = {"Range": f"bytes={start}-"}
        try:
            saved = json.loads(self.validator_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            saved = {}
        if saved.get("url") == url and saved.get("validator"):
            headers["If-Range"] = saved["validator"]
        return headers

    def _save_validator(self, url: str, resp: requests.Response) -> None:
        etag = resp.headers.get("ETag")
        validator = etag if etag and not etag.startswith("W/") else resp.headers.get("Last-Modified")
        self.validator_file.write_text(json.dumps({"url": url, "validator": validator}), encoding="utf-8")

    def _fill_part(self, url: str) -> bool:
        """Complete the part file; False when it must be discarded and started again."""
        start = self.part.stat().st_size if self.part.exists() else 0
        with self.session.get(url, headers=self._range_headers(url, start), stream=True,
                              timeout=self.timeout) as resp:
            if resp.status_code == 416 and start:
                return _content_range(resp.headers.get("Content-Range"))[1] == start
            resp.raise_for_status()
            if resp.status_code == 206:
                first, total = _content_range(resp.headers.get("Content-Range"))
                if first != start:
                    return False
                mode = "ab"
            else:
                if start:
                    log.info("%s: the server sent the whole file instead of a range; starting again", url)
                start, mode = 0, "wb"
                total = int(resp.headers["Content-Length"]) if "Content-Length" in resp.headers else None
                self._save_validator(url, resp)
            self._write_body(resp, mode, start, total)
        return True

    def _write_body(self, resp: requests.Response, mode: str, start: int, total: int | None) -> None:
        self.body_started = True
        self.part.parent.mkdir(parents=True, exist_ok=True)
        name = self.part.name.removesuffix(".part")
        with open(self.part, mode) as out, tqdm(total=total, initial=start, unit="B", unit_scale=True,
                                                 unit_divisor=1024, desc=name, file=sys.stderr,
                                                 disable=None if self.progress else True) as bar:
            for chunk in resp.raw.stream(self.chunk_size, decode_content=False):
                out.write(chunk)
                bar.update(len(chunk))
        size = self.part.stat().st_size
        if total is not None and size != total:
            raise _IncompleteDownload(f"connection closed after {size} of {total} bytes")


@contextlib.contextmanager
def _quiet_pooch() -> Iterator[None]:
    """Silence pooch's own INFO messages (its advice on known_hash is for library authors)."""
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


_REASONS = (
    ("Connection refused", "connection refused"),
    ("Name or service not known", "DNS lookup failed (no network, or unknown host)"),
    ("nodename nor servname", "DNS lookup failed (no network, or unknown host)"),
    ("Temporary failure in name resolution", "DNS lookup failed (no network, or unknown host)"),
    ("getaddrinfo failed", "DNS lookup failed (no network, or unknown host)"),
    ("NameResolutionError", "DNS lookup failed (no network, or unknown host)"),
    ("Network is unreachable", "network unreachable"),
    ("No route to host", "no route to host"),
    ("timed out", "timed out"),
    ("CERTIFICATE_VERIFY_FAILED", "TLS certificate not trusted"),
    ("IncompleteRead", "connection closed early"),
    ("Connection broken", "connection broken"),
    ("Connection reset", "connection reset"),
    ("Connection aborted", "connection aborted"),
)


def short_reason(exc: BaseException) -> str:
    """A few words saying why a network operation failed."""
    text = f"{type(exc).__name__}: {exc}"
    for needle, reason in _REASONS:
        if needle in text:
            return reason
    return " ".join(str(exc).split())[:160] or type(exc).__name__


_NETWORK_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError, _IncompleteDownload)


def _as_fetch_error(exc: BaseException, url: str, dest: Path, dl: ResumingDownloader, hint: str) -> FetchError:
    host = urlsplit(url).netloc
    by_hand = f"download {url} by hand into {dest.parent}"
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        code, reason = exc.response.status_code, exc.response.reason
        return FetchError(f"{url} answered HTTP {code} {reason}", f"the file {dest.name} at the publisher's path",
                          f"{hint} (the publisher may have renamed or withdrawn the file), use --mirror URL, "
                          f"or {by_hand}")
    if dl.body_started or isinstance(exc, _IncompleteDownload):
        kept = dl.part.stat().st_size if dl.part.exists() else 0
        return FetchError(f"Download of {dest.name} from {host} was interrupted after {kept} bytes "
                          f"({short_reason(exc)})", "the complete file",
                          f"run the same command again: it resumes from byte {kept} of {dl.part}")
    return FetchError(f"Cannot reach {host}: {short_reason(exc)}", f"a network connection to {host}",
                      f"check the network or proxy settings, use --mirror URL (or ${MIRROR_ENV}), or {by_hand}")


def _retrieve(url: str, dest: Path, known_hash: str | None, dl: ResumingDownloader,
              hint: str = "check the product options") -> None:
    """Download ``url`` to ``dest`` through pooch; network and checksum failures become FetchError."""
    try:
        with _quiet_pooch():
            pooch.retrieve(url, known_hash=known_hash, fname=dest.name, path=dest.parent, downloader=dl)
    except _NETWORK_ERRORS as exc:
        raise _as_fetch_error(exc, url, dest, dl, hint) from exc
    except ValueError as exc:  # pooch: hash mismatch; the download is already deleted
        m = re.search(r"but got (\S+?)\.?(?:\s|$)", str(exc))
        got = f": got {known_hash.split(':')[0] if known_hash else 'sha256'}:{m[1]}" if m else ""
        raise FetchError(f"Checksum of {dest.name} from {urlsplit(url).netloc} does not match{got}",
                         f"{known_hash}", "nothing was kept in the cache: run again; if it fails again the file "
                         "on the server differs from its checksum list: use another --mirror or report it") from exc


def _hash_ok(path: Path, known_hash: str) -> bool:
    alg, _, value = known_hash.rpartition(":")
    return pooch.file_hash(str(path), alg=alg or "sha256").lower() == value.lower()


def parse_md5_list(text: str) -> dict[str, str]:
    """``{file name: md5}`` from ``md5sum`` output (``<hash>  <name>`` per line)."""
    sums = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and re.fullmatch(r"[0-9a-fA-F]{32}", parts[0]):
            sums[parts[-1].lstrip("*").rsplit("/", 1)[-1]] = parts[0].lower()
    return sums


class Fetcher:
    """Fetch files into one cache folder from the official hosts or a mirror.

    Parameters
    ----------
    cache : path, optional
        Cache folder (default :func:`default_cache`).
    mirror : str, optional
        Base URL replacing every product's host (default ``$ATLAS_FETCH_MIRROR``).
    progress : bool
        Progress bars on stderr.
    timeout : float
        Seconds to wait for the connection and for each read.
    """

    def __init__(self, cache: str | os.PathLike | None = None, mirror: str | None = None, progress: bool = True,
                 timeout: float = 60.0, session: requests.Session | None = None):
        self.cache = Path(cache).expanduser() if cache is not None else default_cache()
        self.mirror = resolve_mirror(mirror)
        self.progress = progress
        self.timeout = timeout
        self.session = session or _session()
        self.manifest = Manifest(self.cache)

    # ---- dry run

    def describe(self, files: Sequence[RemoteFile]) -> list[FileStatus]:
        """URL, size (``HEAD`` Content-Length) and cache state of each file; downloads nothing."""
        return [self._status(rf) for rf in files]

    def _status(self, rf: RemoteFile) -> FileStatus:
        url = rf.url(self.mirror)
        dest = self.cache / rf.cache_path
        part = dest.with_name(dest.name + ".part")
        state = "cached" if dest.exists() else (f"partial ({part.stat().st_size} B)" if part.exists()
                                                else "to download")
        try:
            resp = self.session.head(url, allow_redirects=True, timeout=self.timeout)
        except requests.RequestException as exc:
            return FileStatus(rf, url, None, f"size unknown ({short_reason(exc)})", state)
        length = resp.headers.get("Content-Length")
        if resp.status_code == 200 and length and length.isdigit():
            return FileStatus(rf, url, int(length), human_size(int(length)), state)
        return FileStatus(rf, url, None, f"size unknown (HTTP {resp.status_code} {resp.reason})", state)

    # ---- download

    def fetch(self, files: Sequence[RemoteFile]) -> list[FetchedFile]:
        """Fetch ``files`` in order; already complete, verified copies are not downloaded again."""
        return [self.fetch_one(rf) for rf in files]

    def fetch_one(self, rf: RemoteFile) -> FetchedFile:
        """Fetch one file, verify it, extract it if needed and check that it opens."""
        dest = self.cache / rf.cache_path
        published, note = self._published_hash(rf)
        entry = self.manifest.get(rf.cache_path)
        known = published or (f"sha256:{entry['sha256']}" if entry and entry.get("sha256") else None)
        if dest.exists() and known and not _hash_ok(dest, known):
            log.warning("cached %s does not match its %s checksum; downloading it again", dest, known.split(":")[0])
            dest.unlink()
        downloaded = not dest.exists()
        if downloaded:
            log.info("downloading %s", rf.url(self.mirror))
            part = dest.with_name(dest.name + ".part")
            dl = ResumingDownloader(part, self.session, self.timeout, self.progress)
            dest.parent.mkdir(parents=True, exist_ok=True)
            _retrieve(rf.url(self.mirror), dest, known, dl, OPTION_HINTS[rf.product])
        usable = self._finish(rf, dest, downloaded, verified=published is not None)
        sha = entry["sha256"] if entry and not downloaded and entry.get("sha256") else pooch.file_hash(str(dest))
        self.manifest.record(rf.cache_path, {
            "url": rf.url(self.mirror), "size": dest.stat().st_size, "sha256": sha, "checksum": note,
            "fetched": (datetime.now(UTC).isoformat(timespec="seconds") if downloaded or not entry
                        else entry.get("fetched")),
            "extracted": [str(p.relative_to(self.cache)) for p in usable if p != dest],
        })
        return FetchedFile(rf, dest, usable, downloaded, sha, note)

    def _published_hash(self, rf: RemoteFile) -> tuple[str | None, str]:
        """``md5:...`` from the publisher's checksum list, and a note saying where it came from."""
        if rf.checksum_path is None:
            return None, NONE_PUBLISHED
        listing = RemoteFile(rf.product, rf.checksum_path, rf.cache_path.rsplit("/", 1)[0] + "/"
                             + rf.checksum_path.rsplit("/", 1)[-1], kind="md5")
        try:
            fetched = self.fetch_one(listing)
        except FetchError as exc:
            if "HTTP 404" not in str(exc):
                raise
            log.warning("no checksum list at %s; %s cannot be verified", listing.url(self.mirror), rf.name)
            return None, NONE_PUBLISHED
        sums = parse_md5_list(fetched.path.read_text(encoding="utf-8", errors="replace"))
        if rf.name not in sums:
            log.warning("%s does not list %s", listing.name, rf.name)
            return None, NONE_PUBLISHED
        return f"md5:{sums[rf.name]}", f"MD5 published by the publisher ({listing.name}): verified"

    def _finish(self, rf: RemoteFile, dest: Path, downloaded: bool, verified: bool) -> list[Path]:
        """Extract (zip / gzip) and check that the result opens; remove what is corrupt.

        The downloaded file itself is kept only when a published checksum vouched for it
        (then only the extracted copies are removed, and extracted again next time).
        """
        usable: list[Path] = []
        try:
            if rf.kind == "netcdf.zip":
                usable = _unzip_netcdf(dest, downloaded)
            elif rf.kind == "geotiff.gz":
                usable = [_gunzip(dest, downloaded)]
            else:
                usable = [dest]
            for path in usable:
                _check_opens(path, rf.kind)
        except FetchError:
            doomed = {*usable, *_extracted_paths(rf, dest), dest} - ({dest} if verified else set())
            if not verified:
                self.manifest.forget(rf.cache_path)
            for path in doomed:
                path.unlink(missing_ok=True)
            raise
        return usable

    def published_worldcover_tiles(self, download: bool = True) -> set[str] | None:
        """Tiles listed in the WorldCover grid; None when it is not cached and ``download`` is False."""
        dest = self.cache / WORLDCOVER_GRID.cache_path
        if not dest.exists() and not download:
            return None
        path = self.fetch_one(WORLDCOVER_GRID).path
        features = json.loads(path.read_text(encoding="utf-8"))["features"]
        return {f["properties"]["ll_tile"] for f in features}


def _extracted_paths(rf: RemoteFile, dest: Path) -> list[Path]:
    if rf.kind == "geotiff.gz":
        return [dest.with_suffix("")]
    return []


def _gunzip(src: Path, refresh: bool) -> Path:
    """``x.tif.gz`` -> ``x.tif`` beside it, written atomically (kept when already there)."""
    dst = src.with_suffix("")
    if dst.exists() and not refresh:
        return dst
    try:
        with gzip.open(src, "rb") as zin, atomic_path(dst, overwrite=True) as tmp, open(tmp, "wb") as out:
            shutil.copyfileobj(zin, out, CHUNK_SIZE * 16)
    except (OSError, EOFError) as exc:
        raise FetchError(f"{src.name} is not a valid gzip file ({exc})", "a gzipped GeoTIFF",
                         "run the command again to download it anew") from exc
    return dst


def _unzip_netcdf(src: Path, refresh: bool) -> list[Path]:
    """Extract the ``.nc`` members of a zip beside it, atomically (kept when already there)."""
    try:
        with zipfile.ZipFile(src) as zf:
            members = [m for m in zf.infolist() if m.filename.lower().endswith(".nc")]
            if not members:
                raise FetchError(f"{src.name} holds no NetCDF file ({len(zf.infolist())} members)",
                                 "a zip with a .nc file", "check --version and --data-year")
            out = []
            for member in members:
                dst = src.parent / Path(member.filename).name
                if refresh or not dst.exists():
                    with zf.open(member) as zin, atomic_path(dst, overwrite=True) as tmp, open(tmp, "wb") as fout:
                        shutil.copyfileobj(zin, fout, CHUNK_SIZE * 16)
                out.append(dst)
            return out
    except zipfile.BadZipFile as exc:
        raise FetchError(f"{src.name} is not a valid zip file ({exc})", "a zip archive",
                         "run the command again to download it anew") from exc


def _check_opens(path: Path, kind: str) -> None:
    """Open the file as what it should be; FetchError if it is not."""
    if kind in ("index", "md5"):
        try:
            text = path.read_text(encoding="utf-8")
            if kind == "index":
                json.loads(text)["features"]
        except (ValueError, KeyError, TypeError) as exc:
            raise FetchError(f"{path.name} is not a GeoJSON tile grid ({exc})", "the WorldCover grid",
                             "run the command again, or use --mirror") from exc
        return
    try:
        with rasterio.open(path) as ds:
            if ds.count == 0 and not ds.subdatasets:
                raise FetchError(f"{path.name} opens but holds no raster band", "a raster")
    except rasterio.errors.RasterioIOError as exc:
        head = path.read_bytes()[:64] if path.exists() else b""
        hint = " (it looks like a web page: the server sent an error page)" if b"<" in head[:16] else ""
        raise FetchError(f"{path.name} does not open as a raster{hint}: {' '.join(str(exc).split())[:160]}",
                         "a GeoTIFF or NetCDF file", "it was removed; run the command again, use --mirror, "
                         "or download it by hand into the cache folder") from exc


# --------------------------------------------------------------------------- reporting


def human_size(n: int) -> str:
    """Bytes as ``13.3 MiB``."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def checksum_policy(product: str) -> str:
    """What the publisher of ``product`` publishes to verify downloads."""
    if product == "odiac":
        return "MD5 published per year (odiac<release>_1km_checksum_<year>.md5.txt)"
    return NONE_PUBLISHED


def zonal_commands(fetched: Sequence[FetchedFile], region_args: Sequence[str] = ()) -> list[str]:
    """Command lines that feed the fetched rasters to ``atlas zonal``.

    One line per Hansen layer (the adapter takes one layer per run) or per product;
    twelve ODIAC months must first be stacked into one 12-band VRT.
    """
    groups: dict[str, list[Path]] = {}
    for f in fetched:
        if f.remote.kind in ("index", "md5"):
            continue
        key = f.remote.product
        if key == "hansen":
            key = f"hansen:{f.remote.name.split('_')[2]}"
        groups.setdefault(key, []).extend(f.usable)
    lines = []
    for key, paths in groups.items():
        if key in ("hansen:first", "hansen:last"):
            lines.append(f"# Hansen '{key[7:]}' tiles are Landsat reference composites; "
                         "atlas zonal has no adapter for them")
            continue
        if key == "odiac" and len(paths) == 12:
            vrt = paths[0].with_name(re.sub(r"_\d{4}\.tif$", f"_{paths[0].parent.name}.vrt", paths[0].name))
            lines.append("# stack the twelve months into one 12-band raster first (the year is their sum):")
            lines.append(shlex.join(["gdalbuildvrt", "-separate", str(vrt), *map(str, paths)]))
            paths = [vrt]
        if key == "odiac":  # one month per run (annualised x12), or the 12-band stack
            lines.extend(shlex.join(["atlas", "zonal", str(p), *region_args]) for p in paths)
            continue
        lines.append(shlex.join(["atlas", "zonal", *map(str, paths), *region_args]))
    return lines


@dataclass
class FetchSummary:
    """Counts of a fetch, for messages."""

    downloaded: int = 0
    cached: int = 0
    files: list[FetchedFile] = field(default_factory=list)


def summarize(fetched: Sequence[FetchedFile]) -> FetchSummary:
    """How many files were downloaded and how many were already cached (checksum lists excluded)."""
    data = [f for f in fetched if f.remote.kind != "md5"]
    return FetchSummary(sum(f.downloaded for f in data), sum(not f.downloaded for f in data), list(data))
