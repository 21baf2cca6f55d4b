"""One error hierarchy for the whole package.

Every error the atlas raises on purpose derives from :class:`AtlasError`. Each child
also inherits the built-in exception that matches its nature (``ValueError`` for bad
values, ``OSError`` for unreadable files, ``KeyError`` for unknown names), so callers
that catch the built-ins keep working.

Messages follow one pattern: what was found, what was expected, and how to fix it.
Use :func:`AtlasError.build` style keyword arguments to keep that pattern visible.
"""

from __future__ import annotations


def _sentence(text: str) -> str:
    """``text`` ending in exactly one full stop (or its own ? or !)."""
    text = text.rstrip().rstrip(".")
    return text if text.endswith(("?", "!")) else text + "."


class AtlasError(Exception):
    """Root of every deliberate error raised by :mod:`atlas`.

    Parameters
    ----------
    found : str
        What the atlas found (the offending value, file or state).
    expected : str, optional
        What it needed instead.
    fix : str, optional
        What the user can do about it.
    """

    def __init__(self, found: str, expected: str | None = None, fix: str | None = None):
        parts = [_sentence(found)]
        if expected:
            parts.append(_sentence(f"Expected {expected}"))
        if fix:
            parts.append(_sentence(f"Fix: {fix}"))
        self.found, self.expected, self.fix = found, expected, fix
        super().__init__(" ".join(parts))

    def __reduce__(self):  # keep errors picklable across dask workers
        return (type(self), (self.found, self.expected, self.fix))


class RegistryError(AtlasError, ValueError):
    """The pilot registry or one of its tables is inconsistent or refers to unknown names."""


class BoundaryError(AtlasError, ValueError):
    """A boundary layer is missing a pilot, holds an invalid or empty geometry, or cannot be read."""


class DatumError(AtlasError, ValueError):
    """Coordinates cannot be converted between GCJ-02 and WGS84 (non-finite values)."""


class CRSMismatchError(AtlasError, ValueError):
    """Two inputs disagree on their coordinate reference system, or one has none."""


class RasterReadError(AtlasError, OSError):
    """A raster is missing, unreadable, corrupt, or in a format this build cannot open."""


class GridError(AtlasError, ValueError):
    """A raster grid is unusable here (rotated, empty, or no overlap with the regions)."""


class UnitsError(AtlasError, ValueError):
    """A layer declares an unknown quantity kind or units that do not fit its kind."""


class FactorError(AtlasError, ValueError):
    """A sink factor table is incomplete, unsourced, or holds impossible values."""


class ConfigError(AtlasError, ValueError):
    """A configuration file or option has a missing, unknown or ill-typed key."""


class OutputExistsError(AtlasError, FileExistsError):
    """An output path exists and overwriting was not asked for."""


class FetchError(AtlasError, OSError):
    """A product download failed (no network, bad checksum, unknown tile)."""


class SiteError(AtlasError, ValueError):
    """A map layer spec is invalid, or a published page would not stand on its own."""


class OutputError(AtlasError, OSError):
    """An output cannot be written: no space left, a read-only or forbidden folder, or a file
    where a folder is expected (and the reverse)."""


class InputTableError(AtlasError, ValueError):
    """An input table (CSV, GeoPackage, Parquet) lacks a column or holds a value of the wrong
    kind: text in a number column, a negative amount, a duplicate id."""


class RunLockedError(AtlasError, OSError):
    """Another atlas run is writing into the same output folder."""
