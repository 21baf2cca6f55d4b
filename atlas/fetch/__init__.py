"""Download publishers' raster products (Hansen GFC, ESA WorldCover, EDGAR, ODIAC) into a local cache.
Which files, where from (product facts in :mod:`atlas.rasters`), resumable downloads, checksums; ``atlas fetch``."""

from atlas.fetch.downloader import MIRROR_ENV, ResumingDownloader, short_reason
from atlas.fetch.fetcher import CACHE_ENV, FetchedFile, Fetcher, FileStatus, default_cache, resolve_mirror
from atlas.fetch.manifest import MANIFEST_NAME, Manifest, checksum_policy, parse_md5_list
from atlas.fetch.plan import (DEFAULT_RELEASE, HANSEN_LAYERS, HOSTS, PRODUCTS, TITLES, RemoteFile, covering_cells,
                              edgar_files, hansen_files, hansen_tiles, odiac_files, plan, worldcover_files,
                              worldcover_tiles)
from atlas.fetch.report import FetchSummary, human_size, summarize, zonal_commands

__all__ = ["CACHE_ENV", "DEFAULT_RELEASE", "HANSEN_LAYERS", "HOSTS", "MANIFEST_NAME", "MIRROR_ENV", "PRODUCTS",
           "TITLES", "FetchSummary", "FetchedFile", "Fetcher", "FileStatus", "Manifest", "RemoteFile",
           "ResumingDownloader", "checksum_policy", "covering_cells", "default_cache", "edgar_files", "hansen_files",
           "hansen_tiles", "human_size", "odiac_files", "parse_md5_list", "plan", "resolve_mirror", "short_reason",
           "summarize", "worldcover_files", "worldcover_tiles", "zonal_commands"]
