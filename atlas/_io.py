"""Atomic file output shared by every writer in the package.

Outputs are first written to a temporary file in the destination directory and then
moved into place with :func:`os.replace`, so an interrupted run never leaves a
half-written file behind and an existing file is never clobbered by accident.

A write that fails because of the machine rather than the data (no space left, a read-only
or forbidden folder, a file where a folder should be) is reported as one
:class:`~atlas.errors.OutputError` naming the path and the fix, whichever library was writing
(pyarrow, pyogrio/SQLite and GDAL report these in their own words; :func:`output_error`
recognises them). Temporary files of a killed process are removed by :func:`sweep_partials`.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from atlas.errors import OutputError, OutputExistsError

log = logging.getLogger(__name__)

#: Temporary names made by :func:`atomic_path`: ``.<stem>.<8 random>[<suffix>].part[<suffix>]``,
#: plus the side files SQLite and GDAL may add while writing (``-journal``, ``-wal``, ``.aux.xml``).
_PARTIAL = re.compile(r"^\..+\.[a-z0-9_]{8}(\.[^.]+)?\.part(\.[^.]+)?(-journal|-wal|-shm|\.aux\.xml)?$")

# How libraries that do not set ``errno`` word the machine's refusals.
_WORDED = [("no space left", errno.ENOSPC), ("disk is full", errno.ENOSPC), ("disk full", errno.ENOSPC),
           ("read-only file system", errno.EROFS), ("readonly database", errno.EROFS),
           ("permission denied", errno.EACCES), ("not a directory", errno.ENOTDIR),
           ("is a directory", errno.EISDIR), ("file too large", errno.EFBIG)]
_ERRNO_IN_TEXT = re.compile(r"\[Errno (\d+)\]")
_LOW_SPACE = 64 * 1024  # bytes: below this (or 2 % of the disk), an unexplained write failure is a full disk
_PROBE = 4 << 20  # bytes written to tell a full disk after an unexplained write failure


def _errno_of(exc: BaseException) -> int | None:
    """The errno behind ``exc`` (or the exceptions it was explicitly raised from), or ``None``.

    Only ``__cause__`` is followed: an implicit ``__context__`` may be any exception handled
    earlier (a C extension can pick one up), not the reason for this one.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        code = getattr(current, "errno", None)
        if isinstance(code, int) and code:
            return code
        text = str(current)
        match = _ERRNO_IN_TEXT.search(text)
        if match:
            return int(match.group(1))
        lowered = text.lower()
        for words, code in _WORDED:
            if words in lowered:
                return code
        current = current.__cause__
    return None


def _first_file_on_the_way(path: Path) -> Path | None:
    """The first component of ``path`` that exists and is not a folder, if any."""
    for part in [*reversed(path.parents), path]:
        if part.exists() and not part.is_dir():
            return part
    return None


def _out_of_space(path: Path) -> bool:
    """Whether the folder of ``path`` is (nearly) full: little free space, or 4 MiB (or the size
    of the file being replaced, if larger) cannot be written there. Drivers such as GDAL's GPKG report a full disk only as "cannot write
    feature", and free the journal they held before the error reaches us."""
    folder = next((p for p in [path.parent, *path.parents] if p.is_dir()), None)
    if folder is None:
        return False
    try:
        usage = shutil.disk_usage(folder)
        if usage.free < max(_LOW_SPACE, usage.total // 50):
            return True
        size = max(_PROBE, path.stat().st_size if path.is_file() else 0)  # room for the file at least
        with tempfile.TemporaryFile(dir=folder) as probe:
            probe.write(b"\0" * size)
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as exc:
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    return False


#: Libraries whose write errors may be a full disk said only in words ("cannot write feature").
_IO_LIBRARIES = ("pyogrio", "rasterio", "fiona", "pyarrow", "sqlite3")


def _may_be_io(exc: BaseException) -> bool:
    """Whether ``exc`` can be the machine refusing a write: an OSError, or an I/O library's error.
    A data error (a bad value, a missing column) never is, so it costs no disk probe."""
    return isinstance(exc, OSError) or type(exc).__module__.split(".")[0] in _IO_LIBRARIES


def output_error(exc: BaseException, path: str | os.PathLike | None = None) -> OutputError | None:
    """Describe a failed write as one :class:`OutputError`, or ``None`` when ``exc`` is not the
    machine refusing a write (then the caller re-raises it as it is).

    Parameters
    ----------
    exc : BaseException
        The error raised while writing (an ``OSError``, or a library's own error whose text
        carries the reason).
    path : path-like, optional
        The file being written; defaults to the ``filename`` of ``exc``.
    """
    if isinstance(exc, OutputError):
        return exc
    where = Path(path) if path is not None else (Path(exc.filename) if getattr(exc, "filename", None) else None)
    code = _errno_of(exc)
    if code is None and where is not None and _may_be_io(exc) and _out_of_space(where):
        code = errno.ENOSPC
    name = str(where) if where is not None else "an output"
    folder = str(where.parent) if where is not None else "the output folder"
    if code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return OutputError(f"No space left on the device of {folder} while writing {name}",
                           "free space for the outputs",
                           "free some space or write elsewhere (--out / -o); files written before were kept "
                           "and the half-written one removed")
    if code == errno.EROFS:
        return OutputError(f"{folder} is on a read-only file system, so {name} cannot be written",
                           "a writable output folder", "choose another output folder (--out / -o)")
    if code in (errno.EACCES, errno.EPERM):
        return OutputError(f"Permission denied writing {name}", "a folder you may write to",
                           "choose another output folder (--out / -o) or change the folder's permissions")
    if code in (errno.ENOTDIR, errno.EEXIST) and where is not None and _first_file_on_the_way(where) is not None:
        blocker = _first_file_on_the_way(where)
        return OutputError(f"{blocker} is a file, but {name} needs it to be a folder", "a folder there",
                           f"choose another output folder (--out / -o) or move {blocker} away")
    if code == errno.EISDIR:
        return OutputError(f"{name} is a folder where a file was expected", "the path of a file",
                           f"give a file path such as {Path(name) / 'out.csv'} for an output, or an existing file "
                           "for an input")
    if code == errno.ENAMETOOLONG:
        return OutputError(f"The output name {name} is too long for the file system", "a shorter name",
                           "choose a shorter output path")
    return None


def check_writable(path: str | os.PathLike, overwrite: bool) -> Path:
    """Return ``path`` as a :class:`Path`, refusing an existing file unless ``overwrite``.

    Raises
    ------
    OutputExistsError
        If the file exists and ``overwrite`` is false.
    OutputError
        If ``path`` is a folder, or one of its parents is a file.
    """
    out = Path(path)
    if out.is_dir():
        raise OutputError(f"Output {out} is a folder", "a file name", f"give a file name such as {out / 'out.csv'}")
    blocker = _first_file_on_the_way(out.parent)
    if blocker is not None:
        raise OutputError(f"{blocker} is a file, but {out} needs it to be a folder", "a folder there",
                          f"choose another output path or move {blocker} away")
    if out.exists() and not overwrite:
        raise OutputExistsError(
            f"Output {out} already exists",
            "a path that does not exist yet",
            "pass --overwrite (overwrite=True) or choose another path",
        )
    return out


def _remove_partial(tmp: Path) -> None:
    """Remove a temporary output and the side files a driver may have left beside it."""
    with contextlib.suppress(FileNotFoundError):
        for sibling in tmp.parent.glob(glob_escape(tmp.name) + "*"):
            with contextlib.suppress(FileNotFoundError):
                sibling.unlink()


def glob_escape(name: str) -> str:
    """``name`` with glob metacharacters escaped."""
    return re.sub(r"([*?\[])", r"[\1]", name)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling path; move it onto ``path`` only if the block succeeds.

    The temporary file keeps the destination's suffix so that format drivers that
    look at extensions (GDAL, pyogrio) pick the right one. Whatever happens, the
    temporary file (and any journal beside it) is gone afterwards; a write the machine
    refuses raises :class:`OutputError` (see :func:`output_error`).

    Examples
    --------
    >>> with atomic_path("out.csv", overwrite=True) as tmp:  # doctest: +SKIP
    ...     frame.to_csv(tmp)
    """
    out = check_writable(path, overwrite)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=out.suffix + ".part" + out.suffix,
                                        dir=out.parent)
    except OSError as exc:
        raise (output_error(exc, out) or exc) from exc
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # drivers such as GPKG refuse to write into an existing empty file
    try:
        yield tmp
        os.replace(tmp, out)
        log.debug("wrote %s", out)
    except Exception as exc:
        translated = output_error(exc, out)
        if translated is None or translated is exc:
            raise
        raise translated from exc
    finally:
        _remove_partial(tmp)


def write_text_atomic(path: str | os.PathLike, text: str, overwrite: bool = False) -> Path:
    """Write ``text`` as UTF-8 to ``path`` atomically and return the path."""
    with atomic_path(path, overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def sweep_partials(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporary files a killed writer left under ``folder``; return them.

    Call it only while holding the folder's lock (:mod:`atlas.workflow.lock`), so no live
    writer's temporary file is taken.
    """
    removed = []
    root = Path(folder)
    if not root.is_dir():
        return removed
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            if _PARTIAL.match(name):
                target = Path(dirpath) / name
                with contextlib.suppress(FileNotFoundError):
                    target.unlink()
                    removed.append(target)
    if removed:
        log.info("removed %d temporary file(s) left by an interrupted run under %s", len(removed), root)
    return removed


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes (read in chunks by :func:`hashlib.file_digest`)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, algorithm).hexdigest()
