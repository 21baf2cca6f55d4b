"""Resuming HTTP downloads through pooch and requests, and network failures as one-line errors.

Downloads go through :func:`pooch.retrieve` (temporary file, checksum check, atomic move into
the cache) with :class:`ResumingDownloader`, a pooch downloader that resumes partial ``.part``
files with HTTP ``Range`` requests. pooch's own downloader starts again from byte zero, which
is why this one exists.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pooch
import requests
import urllib3
from tqdm import tqdm

from atlas.errors import FetchError

log = logging.getLogger(__name__)

MIRROR_ENV = "ATLAS_FETCH_MIRROR"
CHUNK_SIZE = 1 << 16
USER_AGENT = "pilot-carbon-atlas (atlas fetch; python-requests via pooch)"


def new_session() -> requests.Session:
    """A requests session that says who is asking."""
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    return session


class IncompleteDownload(OSError):
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
        self.session = session or new_session()
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
        raise IncompleteDownload(f"the server answered {url} inconsistently twice")

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
            raise IncompleteDownload(f"connection closed after {size} of {total} bytes")


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


_DNS = "DNS lookup failed (no network, or unknown host)"
_REASONS = (
    ("Connection refused", "connection refused"),
    ("Name or service not known", _DNS),
    ("nodename nor servname", _DNS),
    ("Temporary failure in name resolution", _DNS),
    ("getaddrinfo failed", _DNS),
    ("NameResolutionError", _DNS),
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


_NETWORK_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError, IncompleteDownload)


def _as_fetch_error(exc: BaseException, url: str, dest: Path, dl: ResumingDownloader, hint: str) -> FetchError:
    host = urlsplit(url).netloc
    by_hand = f"download {url} by hand into {dest.parent}"
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        code, reason = exc.response.status_code, exc.response.reason
        return FetchError(f"{url} answered HTTP {code} {reason}", f"the file {dest.name} at the publisher's path",
                          f"{hint} (the publisher may have renamed or withdrawn the file), use --mirror URL, "
                          f"or {by_hand}")
    if dl.body_started or isinstance(exc, IncompleteDownload):
        kept = dl.part.stat().st_size if dl.part.exists() else 0
        return FetchError(f"Download of {dest.name} from {host} was interrupted after {kept} bytes "
                          f"({short_reason(exc)})", "the complete file",
                          f"run the same command again: it resumes from byte {kept} of {dl.part}")
    return FetchError(f"Cannot reach {host}: {short_reason(exc)}", f"a network connection to {host}",
                      f"check the network or proxy settings, use --mirror URL (or ${MIRROR_ENV}), or {by_hand}")


def retrieve(url: str, dest: Path, known_hash: str | None, dl: ResumingDownloader,
             hint: str = "check the product options") -> None:
    """Download ``url`` to ``dest`` through pooch; network and checksum failures become FetchError.

    Parameters
    ----------
    url : str
    dest : pathlib.Path
        Final path; pooch moves the verified file there.
    known_hash : str, optional
        ``md5:…`` or ``sha256:…`` to verify against; None accepts any content.
    dl : ResumingDownloader
    hint : str
        Which options to check when the file is missing at the server (HTTP 404).
    """
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
