"""Input tables checked on read: missing columns, text in number columns, negative amounts,
duplicate ids — each reported by row and column in one :class:`~atlas.errors.InputTableError`.

:func:`read_table` reads CSV (UTF-8 with or without a byte-order mark, else GBK/GB18030 as
Chinese spreadsheets save it; comma, semicolon or tab separated), GeoPackage and other
vector formats (through pyogrio, one layer at a time) and Parquet/GeoParquet, checks the
columns it is told about and returns the frame with those columns typed.

Written by hand rather than with pandera: pandera neither reads files nor knows their
encodings, its failure report is a multi-line table keyed by pandas index (not the line a
user sees in a spreadsheet), and it would pull pydantic and typeguard into every run for a
check of a few columns.

Column kinds, as the values of ``required``:

============  ==========================================
``text``      anything non-empty (ids, names)
``number``    a finite number
``number>=0`` a finite number, not negative
``integer``   a whole number (``integer>=0``: not negative)
``fraction``  a number from 0 to 1
============  ==========================================

A kind ending in ``?`` (``number?``) allows empty cells (``""``, ``NA``, ``N/A``, ``nan``, ``-``).
"""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from atlas.errors import InputTableError

log = logging.getLogger(__name__)

KINDS = {"text": "text", "number": "a number", "number>=0": "a number ≥ 0", "integer": "a whole number",
         "integer>=0": "a whole number ≥ 0", "fraction": "a number from 0 to 1"}
EMPTY = {"", "na", "n/a", "nan", "null", "none", "-"}
CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
PARQUET_SUFFIXES = {".parquet", ".geoparquet", ".pq"}
VECTOR_SUFFIXES = {".gpkg", ".shp", ".geojson", ".json", ".fgb", ".gml", ".kml", ".sqlite"}
#: How many problems one error message lists before "and N more".
SHOWN = 5


def read_table(path: str | Path, required: Mapping[str, str], id_column: str | None = None, *,
               layer: str | None = None, encoding: str | None = None) -> pd.DataFrame:
    """Read a table and check the columns of ``required``.

    Parameters
    ----------
    path : path-like
        A ``.csv``/``.tsv``/``.txt``, ``.parquet``/``.geoparquet``, or a vector file pyogrio
        reads (``.gpkg``, ``.shp``, ``.geojson`` …).
    required : mapping
        Column name → kind (see the module docstring). Other columns are kept as read.
    id_column : str, optional
        A column whose values must be present and unique (added to ``required`` as text when
        missing there).
    layer : str, optional
        The layer of a multi-layer file (GeoPackage); required when there are several.
    encoding : str, optional
        The text encoding of a CSV; by default UTF-8 (with or without BOM), else GB18030.

    Returns
    -------
    DataFrame
        The table (a GeoDataFrame for vector files and GeoParquet); number columns of
        ``required`` as float64, integer columns as int64 (``Int64`` when empty cells are
        allowed), text columns as str.

    Raises
    ------
    InputTableError
        A missing file, an unreadable format, a missing column, a bad value or a duplicate id,
        each named by row and column.
    """
    path = Path(path)
    wanted = dict(required)
    if id_column is not None:
        wanted.setdefault(id_column, "text")
    unknown = {k for k in wanted.values() if k.rstrip("?") not in KINDS}
    if unknown:
        raise ValueError(f"unknown column kinds {sorted(unknown)}; use {sorted(KINDS)}")
    if not path.is_file():
        raise InputTableError(f"{path} does not exist" if not path.exists() else f"{path} is a folder",
                              "a table file (CSV, GeoPackage or Parquet)", "check the path")
    frame, raw, line_offset = _read(path, layer, encoding, [c for c, k in wanted.items() if k.rstrip("?") == "text"])
    _check_columns(path, frame, wanted)
    problems: list[str] = []
    for column, kind in wanted.items():
        frame[column] = _check_column(path.name, raw[column], kind, column, line_offset, problems)
    if id_column is not None:
        problems.extend(_duplicates(path.name, frame[id_column], id_column, line_offset))
    if problems:
        shown = "; ".join(problems[:SHOWN]) + (f"; and {len(problems) - SHOWN} more" if len(problems) > SHOWN else "")
        expected = ", ".join(f"{c}: {KINDS[k.rstrip('?')]}" for c, k in wanted.items())
        raise InputTableError(shown, f"in {path.name}, {expected}" + (f"; {id_column} unique" if id_column else ""),
                              f"correct {'that cell' if len(problems) == 1 else 'those cells'} in {path} "
                              "and run again")
    return frame


def _read(path: Path, layer: str | None, encoding: str | None, text_columns: list[str]):
    """The table as typed by its reader, the same cells as raw values, and the line of row 0."""
    suffix = path.suffix.lower()
    try:
        if suffix in CSV_SUFFIXES:
            text = _decode(path, encoding)
            sep = _separator(text, suffix)
            raw = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, skipinitialspace=True)
            raw.columns = [str(c).strip() for c in raw.columns]
            frame = pd.read_csv(io.StringIO(text), sep=sep, skipinitialspace=True,
                                dtype={c: str for c in text_columns if c in raw.columns} or None)
            frame.columns = raw.columns
            return frame, raw, 2  # line 1 is the header
        if suffix in PARQUET_SUFFIXES:
            frame = _read_parquet(path)
        elif suffix in VECTOR_SUFFIXES:
            frame = _read_vector(path, layer)
        else:
            raise InputTableError(f"{path.name} has a suffix the atlas does not read ({suffix or 'none'})",
                                  "a .csv, .tsv, .gpkg, .shp, .geojson or .parquet file",
                                  "save the table in one of those formats")
    except InputTableError:
        raise
    except pd.errors.EmptyDataError:
        raise InputTableError(f"{path} is empty", "a header line and data rows", "check the file") from None
    except Exception as exc:  # the readers' own errors: corrupt or mislabelled files
        raise InputTableError(f"{path} cannot be read as a {suffix.lstrip('.')} table ({' '.join(str(exc).split())})",
                              f"a valid {suffix.lstrip('.')} file", "open it in QGIS or a spreadsheet and save "
                              "it again") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame, frame, None


def _decode(path: Path, encoding: str | None) -> str:
    data = path.read_bytes()
    for name in ([encoding] if encoding else ["utf-8-sig", "gb18030"]):
        try:
            return data.decode(name)
        except UnicodeDecodeError:
            continue
        except LookupError:
            raise InputTableError(f"Unknown text encoding {encoding!r}", "an encoding such as utf-8 or gbk",
                                  "check the --encoding value") from None
    raise InputTableError(f"{path} is neither UTF-8 nor GBK text" if not encoding else
                          f"{path} is not valid {encoding} text", "a CSV saved as UTF-8 (or GBK)",
                          "save the table again as 'CSV UTF-8'")


def _separator(text: str, suffix: str) -> str:
    """Tab for .tsv; a semicolon when the header has semicolons and no commas (Excel in some
    locales), else a comma."""
    header = text.lstrip("\ufeff").split("\n", 1)[0]
    if suffix == ".tsv" or ("\t" in header and "," not in header):
        return "\t"
    return ";" if ";" in header and "," not in header else ","


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    if b"geo" in (pq.read_schema(path).metadata or {}):
        import geopandas as gpd

        return gpd.read_parquet(path)
    return pd.read_parquet(path)


def _read_vector(path: Path, layer: str | None) -> pd.DataFrame:
    import pyogrio

    from atlas.regions.boundaries import choose_layer

    return pyogrio.read_dataframe(path, layer=choose_layer(path, layer, "name the layer:", InputTableError))


def _check_columns(path: Path, frame: pd.DataFrame, wanted: Mapping[str, str]) -> None:
    import difflib

    missing = [c for c in wanted if c not in frame.columns]
    if not missing:
        return
    hints = []
    for column in missing:
        close = difflib.get_close_matches(column, [str(c) for c in frame.columns], n=1)
        if close:
            hints.append(f"{close[0]!r} for {column!r}?")
    have = ", ".join(map(str, frame.columns[:12])) + (" …" if len(frame.columns) > 12 else "")
    raise InputTableError(f"{path.name} has no column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                          f"(its columns: {have})", "columns " + ", ".join(wanted),
                          ("rename " + " ".join(hints)) if hints else f"add the column(s) to {path.name}")


def _where(name: str, i: int, column: str, line_offset: int | None) -> str:
    line = f" (line {i + line_offset})" if line_offset is not None else ""
    return f"{name} row {i + 1}{line}, column {column}"


def _check_column(name: str, values: pd.Series, kind: str, column: str, line_offset: int | None,
                  problems: list[str]) -> pd.Series:
    """``values`` converted to ``kind``; each bad cell appended to ``problems``."""
    optional = kind.endswith("?")
    kind = kind.rstrip("?")
    out: list = []
    for i, value in enumerate(values.tolist()):
        text = "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value).strip()
        if text.lower() in EMPTY:
            if not optional:
                problems.append(f"{_where(name, i, column, line_offset)} is empty")
            out.append(None)
            continue
        if kind == "text":
            out.append(text)
            continue
        try:
            number = float(text.replace("_", "x"))  # float() would take 1_000; a spreadsheet would not
        except ValueError:
            problems.append(f"{_where(name, i, column, line_offset)}: {text!r} is not a number")
            out.append(None)
            continue
        bad = (not math.isfinite(number) and "is not finite"
               or kind.endswith(">=0") and number < 0 and "is negative"
               or kind.startswith("integer") and not number.is_integer() and "is not a whole number"
               or kind == "fraction" and not 0 <= number <= 1 and "is not between 0 and 1")
        if bad:
            problems.append(f"{_where(name, i, column, line_offset)}: {text} {bad}")
        out.append(number)
    if kind == "text":
        return pd.Series(out, index=values.index, dtype=object)
    series = pd.Series(out, index=values.index, dtype="float64")
    whole = series.dropna()
    if kind.startswith("integer") and (whole == whole.round()).all():
        return series.astype("Int64") if series.isna().any() else series.astype("int64")
    return series


def _duplicates(name: str, ids: pd.Series, column: str, line_offset: int | None) -> list[str]:
    """One problem per id that appears more than once, naming its rows."""
    problems = []
    present = ids[ids.notna()]
    for value, rows in present.groupby(present.astype(str), sort=False).groups.items():
        if len(rows) > 1:
            positions = [ids.index.get_loc(r) for r in rows]
            listed = " and ".join(
                f"{p + 1}" + (f" (line {p + line_offset})" if line_offset is not None else "") for p in positions[:3])
            problems.append(f"{name} rows {listed}, column {column}: the id {value!r} appears "
                            f"{len(rows)} times")
    return problems
