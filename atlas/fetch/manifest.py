"""Checksums of the fetch cache: the manifest of what was fetched, file digests, published MD5 lists.

Where a publisher publishes no checksum, the SHA-256 computed at download is written to a
manifest in the cache (:data:`MANIFEST_NAME`), so later runs verify the cached copy.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from atlas._io import file_digest, write_text_atomic
from atlas.rasters import odiac

log = logging.getLogger(__name__)

MANIFEST_NAME = "atlas-fetch-manifest.json"
NONE_PUBLISHED = "none published; SHA-256 recorded in the cache manifest"


def hash_matches(path: str | Path, known_hash: str) -> bool:
    """Whether ``path`` has ``known_hash`` (``alg:hex``, or bare hex for SHA-256, as pooch writes them)."""
    alg, _, value = known_hash.rpartition(":")
    return file_digest(path, alg or "sha256") == value.lower()


def parse_md5_list(text: str) -> dict[str, str]:
    """``{file name: md5}`` from ``md5sum`` output (``<hash>  <name>`` per line)."""
    sums = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and re.fullmatch(r"[0-9a-fA-F]{32}", parts[0]):
            sums[parts[-1].lstrip("*").rsplit("/", 1)[-1]] = parts[0].lower()
    return sums


def checksum_policy(product: str) -> str:
    """What the publisher of ``product`` publishes to verify downloads."""
    if product == "odiac":
        return f"MD5 published per year ({odiac.checksum_name('<release>', '<year>')})"
    return NONE_PUBLISHED


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
