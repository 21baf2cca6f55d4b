"""The run cache: content keys, input-file hashes and step artifacts in ``OUT/.atlas-run/``.

A step's *key* is the SHA-256 of its settings, the content hashes of the files it reads and
the keys of the steps it uses. A finished step leaves an artifact named by its key, written
atomically, so a later run with the same key reuses it, and a killed run resumes from the
last finished step.

Frames are stored as Parquet and **always read back** before the run goes on, whether the step
was computed now or earlier: a fresh run and a resumed run then continue from identical
objects, so their outputs are byte-identical, and a column type Parquet cannot keep (an
object column of integers and missing values, say) shows up in every run alike instead of
only after a resume.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from atlas._io import atomic_path, file_digest, write_text_atomic
from atlas.paths import layers_dir

log = logging.getLogger(__name__)

STATE_DIR = ".atlas-run"


def content_key(*parts: object) -> str:
    """A short, stable key of JSON-able ``parts`` (paths and other objects by their ``str``)."""
    text = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


@dataclass
class StepOutcome:
    """One step of a run: its key, whether its artifact was reused, and how long it took."""

    name: str
    key: str
    reused: bool
    seconds: float


class FileHashes:
    """Content hashes of input files, cached by (path, size, mtime) as git does, so big
    rasters are hashed once."""

    def __init__(self, state: Path):
        self.path = state / "hashes.json"
        try:
            self.cache: dict[str, list[str]] = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            self.cache = {}
        self.dirty = False

    def of(self, path: Path) -> str:
        """The SHA-256 of ``path``, from the cache when size and mtime are unchanged."""
        stat = path.stat()
        tag = f"{stat.st_size}:{stat.st_mtime_ns}"
        hit = self.cache.get(str(path))
        if hit and hit[0] == tag:
            return hit[1]
        digest = file_digest(path)
        self.cache[str(path)] = [tag, digest]
        self.dirty = True
        return digest

    def save(self) -> None:
        """Write the cache back (atomically) when it changed."""
        if self.dirty:
            write_text_atomic(self.path, json.dumps(self.cache, indent=1, sort_keys=True), overwrite=True)
            self.dirty = False


def _is_geo_parquet(path: Path) -> bool:
    import pyarrow.parquet as pq

    return b"geo" in (pq.read_schema(path).metadata or {})


def read_artifact(path: Path) -> pd.DataFrame:
    """Read a frame artifact (GeoParquet when it holds geometries)."""
    if _is_geo_parquet(path):
        import geopandas as gpd

        return gpd.read_parquet(path)
    return pd.read_parquet(path)


def _read_or_forget(path: Path) -> pd.DataFrame | None:
    """An artifact's frame, or ``None`` (and the artifact deleted) when it cannot be read: a
    file damaged outside the atlas' atomic writes is recomputed, never trusted."""
    try:
        return read_artifact(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        log.warning("step artifact %s is unreadable (%s); computing it again", path.name, exc)
        path.unlink(missing_ok=True)
        return None


def _read_marker(marker: Path) -> dict[str, str] | None:
    """The file listing of a files step, or ``None`` when absent or damaged."""
    try:
        listed = json.loads(marker.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    if not isinstance(listed, dict) or not all(isinstance(v, str) for v in listed.values()):
        return None
    return listed


@dataclass
class StepCache:
    """The artifacts of one output folder, and what this run did with them.

    Parameters
    ----------
    out : Path
        The output folder; artifacts live in ``out / STATE_DIR``.
    progress : callable, optional
        Called with (step name, reused) after each step.
    """

    out: Path
    progress: Callable[[str, bool], None] | None = None
    steps: list[StepOutcome] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.state = self.out / STATE_DIR
        self.state.mkdir(parents=True, exist_ok=True)
        self.hashes = FileHashes(self.state)

    def fingerprint(self, paths: Iterable[Path | str]) -> list[str]:
        """Content hashes of ``paths`` (for step keys)."""
        return [self.hashes.of(Path(p)) for p in paths]

    def _done(self, name: str, key: str, reused: bool, started: float) -> None:
        self.steps.append(StepOutcome(name, key, reused, time.perf_counter() - started))
        if self.progress is not None:
            self.progress(name, reused)

    def frame(self, name: str, key: str, compute: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        """Reuse ``name``'s artifact for ``key`` or compute it, store it atomically, and return
        the frame as read back from the artifact (see the module docstring)."""
        path = self.state / f"{name}-{key}.parquet"
        started = time.perf_counter()
        result = _read_or_forget(path) if path.exists() else None
        reused = result is not None
        if not reused:
            frame = compute()
            with atomic_path(path, overwrite=True) as tmp:  # complete, or not there at all
                frame.to_parquet(tmp)
            result = read_artifact(path)
        self._done(name, key, reused, started)
        return result

    def output_files(self, name: str, key: str, write: Callable[[], list[Path]]) -> list[Path]:
        """A step whose result is files: reused when its marker lists them with the same hashes."""
        marker = self.state / f"{name}-{key}.json"
        started = time.perf_counter()
        reused = False
        listed = _read_marker(marker)
        if listed is not None:
            files = [self.out / rel for rel in listed]
            reused = all(f.is_file() and file_digest(f) == digest for f, digest in zip(files, listed.values()))
        if not reused:
            files = write()
            listing = {f.relative_to(self.out).as_posix(): file_digest(f) for f in files}
            write_text_atomic(marker, json.dumps(listing, indent=1, sort_keys=True), overwrite=True)
        self._done(name, key, reused, started)
        self.files.extend(files)
        return files

    @property
    def computed(self) -> list[str]:
        """Names of the steps this run computed (not reused)."""
        return [s.name for s in self.steps if not s.reused]


def code_fingerprint() -> str:
    """A key of the package's own code: every step key includes it, so a run made by a changed
    atlas recomputes instead of reusing artifacts the old code made."""
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")) + sorted(package.rglob("*.toml")):
        if "__pycache__" not in path.parts:
            digest.update(path.relative_to(package).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def site_inputs() -> list[Path]:
    """Files the site's look depends on: the publish package (code, templates, assets) and the
    layer specs."""
    publish = Path(__file__).resolve().parent.parent / "publish"
    files = [p for p in publish.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return sorted(files) + sorted(layers_dir().glob("*.toml"))
