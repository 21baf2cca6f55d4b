"""Atomic file output shared by every writer in the package.

Outputs are first written to a temporary file in the destination directory and then
moved into place with :func:`os.replace`, so an interrupted run never leaves a
half-written file behind and an existing file is never clobbered by accident.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from atlas.errors import OutputExistsError

log = logging.getLogger(__name__)


def check_writable(path: str | os.PathLike, overwrite: bool) -> Path:
    """Return ``path`` as a :class:`Path`, refusing an existing file unless ``overwrite``.

    Raises
    ------
    OutputExistsError
        If the file exists and ``overwrite`` is false.
    """
    out = Path(path)
    if out.exists() and not overwrite:
        raise OutputExistsError(
            f"Output {out} already exists",
            "a path that does not exist yet",
            "pass --overwrite (overwrite=True) or choose another path",
        )
    return out


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling path; move it onto ``path`` only if the block succeeds.

    The temporary file keeps the destination's suffix so that format drivers that
    look at extensions (GDAL, pyogrio) pick the right one.

    Examples
    --------
    >>> with atomic_path("out.csv", overwrite=True) as tmp:  # doctest: +SKIP
    ...     frame.to_csv(tmp)
    """
    out = check_writable(path, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=out.suffix + ".part" + out.suffix,
                                    dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # drivers such as GPKG refuse to write into an existing empty file
    try:
        yield tmp
        os.replace(tmp, out)
        log.debug("wrote %s", out)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text_atomic(path: str | os.PathLike, text: str, overwrite: bool = False) -> Path:
    """Write ``text`` as UTF-8 to ``path`` atomically and return the path."""
    with atomic_path(path, overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
