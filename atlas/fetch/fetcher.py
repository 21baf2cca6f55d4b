"""Fetch planned files into one cache folder: dry runs, downloads, verification and extraction."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pooch
import requests

from atlas._io import file_digest
from atlas.errors import ConfigError, FetchError
from atlas.fetch.downloader import MIRROR_ENV, ResumingDownloader, new_session, retrieve, short_reason
from atlas.fetch.extract import check_opens, extract, extracted_paths
from atlas.fetch.manifest import NONE_PUBLISHED, Manifest, hash_matches, parse_md5_list
from atlas.fetch.plan import WORLDCOVER_GRID, RemoteFile
from atlas.fetch.report import human_size
from atlas.rasters import worldcover

log = logging.getLogger(__name__)

CACHE_ENV = "ATLAS_CACHE"
#: What to check when a file is missing at the publisher (HTTP 404).
OPTION_HINTS = {"hansen": "check --version and --layer", "worldcover": "check --version (v100 or v200)",
                "edgar": "check --version and --data-year", "odiac": "check --version, --data-year and --month"}


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
    session : requests.Session, optional
    """

    def __init__(self, cache: str | os.PathLike | None = None, mirror: str | None = None, progress: bool = True,
                 timeout: float = 60.0, session: requests.Session | None = None):
        self.cache = Path(cache).expanduser() if cache is not None else default_cache()
        self.mirror = resolve_mirror(mirror)
        self.progress = progress
        self.timeout = timeout
        self.session = session or new_session()
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
        entry = self.manifest.get(rf.cache_path) or {}
        recorded = entry.get("sha256")
        known = published or (f"sha256:{recorded}" if recorded else None)
        if dest.exists() and known and not hash_matches(dest, known):
            log.warning("cached %s does not match its %s checksum; downloading it again", dest, known.split(":")[0])
            dest.unlink()
        downloaded = not dest.exists()
        if downloaded:
            log.info("downloading %s", rf.url(self.mirror))
            dl = ResumingDownloader(dest.with_name(dest.name + ".part"), self.session, self.timeout, self.progress)
            dest.parent.mkdir(parents=True, exist_ok=True)
            retrieve(rf.url(self.mirror), dest, known, dl, OPTION_HINTS[rf.product])
        usable = self._finish(rf, dest, downloaded, verified=published is not None)
        if recorded and not downloaded:
            sha = recorded  # the cached copy was just verified against a checksum
        elif known and known.startswith("sha256:"):
            sha = known.split(":", 1)[1]  # pooch verified the download against it
        else:
            sha = file_digest(dest)
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
            usable = extract(rf.kind, dest, downloaded)
            for path in usable:
                check_opens(path, rf.kind)
        except FetchError:
            doomed = {*usable, *extracted_paths(rf.kind, dest), dest} - ({dest} if verified else set())
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
        return {f["properties"][worldcover.GRID_TILE_KEY] for f in features}
