"""Write tables and layers to CSV, JSON, GeoJSON, GeoPackage or GeoParquet, atomically.

All writers go through :func:`atlas._io.atomic_path`: a failure mid-write leaves any
existing file untouched and no partial output behind. CSV is UTF-8 (with a byte-order mark
when asked for Excel); JSON is UTF-8 with non-ASCII text as is.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pandas as pd

from atlas._io import atomic_path
from atlas.errors import ConfigError

log = logging.getLogger(__name__)

#: ``gpkg_contents.last_change`` of every GeoPackage written, so the same data gives the same
#: bytes (reproducible, resumable runs). ``SOURCE_DATE_EPOCH`` or ``OGR_CURRENT_DATE`` override it.
REPRODUCIBLE_DATE = "2013-06-01T00:00:00.000Z"

FORMATS: dict[str, str] = {".csv": "csv", ".json": "json", ".geojson": "geojson",
                           ".gpkg": "gpkg", ".parquet": "parquet", ".geoparquet": "parquet"}


def _gpkg_date() -> str:
    """The date to stamp: ``$OGR_CURRENT_DATE``, else ``$SOURCE_DATE_EPOCH``, else :data:`REPRODUCIBLE_DATE`."""
    if os.environ.get("OGR_CURRENT_DATE"):
        return os.environ["OGR_CURRENT_DATE"]
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(int(epoch)))
    return REPRODUCIBLE_DATE


@contextlib.contextmanager
def gdal_config(**options: str) -> Iterator[None]:
    """Set GDAL configuration options of pyogrio's GDAL for the ``with`` block only, then restore them.

    GDAL reads ``OGR_CURRENT_DATE`` as a configuration option (falling back to the environment);
    setting it here keeps ``os.environ`` untouched. rasterio's ``Env`` would not do: the rasterio
    and pyogrio wheels each carry their own GDAL.
    """
    import pyogrio

    before = {key: pyogrio.get_gdal_config_option(key) for key in options}
    pyogrio.set_gdal_config_options(options)
    try:
        yield
    finally:  # a value that only came from the environment is unset, so the environment shows through again
        pyogrio.set_gdal_config_options({key: None if value is None or value == os.environ.get(key) else value
                                         for key, value in before.items()})


def _plain(value):
    """A JSON-ready Python value: missing values (NaN, NA, NaT) become None, timestamps ISO 8601."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return _plain(value.item())
    return value


def records_json(frame: pd.DataFrame) -> str:
    """``frame`` as a JSON array of records (one object per row, one row per line), non-ASCII kept as is.

    Floats are written with Python's shortest round-trip repr (pandas' ``to_json`` rounds to 10 decimals).
    """
    rows = ([_plain(v) for v in row] for row in frame.itertuples(index=False, name=None))
    names = [str(c) for c in frame.columns]
    lines = [json.dumps(dict(zip(names, row)), ensure_ascii=False, allow_nan=False) for row in rows]
    return "[\n" + ",\n".join(lines) + ("\n" if lines else "") + "]\n"


def format_from_path(path: str | Path) -> str:
    """Guess an output format from a file extension."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ConfigError(f"Cannot tell the output format of {path}", f"one of {sorted(FORMATS)}",
                          "use a known extension or pass --format")
    return FORMATS[suffix]


def write_frame(frame: pd.DataFrame, path: str | Path, fmt: str | None = None,
                overwrite: bool = False, layer: str | None = None, excel: bool = False) -> Path:
    """Write ``frame`` to ``path`` in ``fmt`` (``csv``, ``json``, ``geojson``, ``gpkg``, ``parquet``).

    Parameters
    ----------
    frame : pandas.DataFrame or geopandas.GeoDataFrame
    path : path
    fmt : str, optional
        Format; from the extension when omitted (:data:`FORMATS`).
    overwrite : bool
        Replace an existing file.
    layer : str, optional
        Layer name (GeoJSON, GeoPackage); the file's stem by default.
    excel : bool
        CSV only: UTF-8 with a byte-order mark and CRLF line ends, so Excel (zh-CN locales
        included) opens the Chinese text correctly.

    Notes
    -----
    Geometry is dropped for CSV. ``json`` is GeoJSON when the frame has geometries, else an
    array of records. A plain DataFrame written as GeoPackage becomes an attribute-only table.
    GeoPackages carry a fixed ``last_change`` date (:data:`REPRODUCIBLE_DATE`), so the same data
    gives the same bytes. Returns the output path.
    """
    fmt = fmt or format_from_path(path)
    if fmt not in set(FORMATS.values()):
        raise ConfigError(f"Unknown output format {fmt!r}", f"one of {sorted(set(FORMATS.values()))}")
    if excel and fmt != "csv":
        raise ConfigError(f"--excel asks for CSV for Excel, but {Path(path).name} is {fmt}",
                          "a .csv output with --excel", "drop --excel, or write to a .csv file")
    is_geo = isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame
    if fmt == "geojson" and not is_geo:
        raise ConfigError("GeoJSON output needs geometries, but the table has none",
                          "a GeoDataFrame", "write .json (records) instead, or csv, gpkg or parquet")
    if fmt == "json" and is_geo:
        fmt = "geojson"
    with atomic_path(path, overwrite) as tmp:
        if fmt == "csv":
            table = pd.DataFrame(frame.drop(columns=frame.geometry.name)) if is_geo else frame
            table.to_csv(tmp, index=False, encoding="utf-8-sig" if excel else "utf-8",
                         lineterminator="\r\n" if excel else "\n")
        elif fmt == "json":
            Path(tmp).write_text(records_json(frame), encoding="utf-8")
        elif fmt == "parquet":  # GeoParquet when geometries are present
            frame.to_parquet(tmp, index=False)
        elif fmt == "geojson":  # the layer name is the final file's, not the temporary one's
            frame.to_file(tmp, driver="GeoJSON", engine="pyogrio", layer=layer or Path(path).stem,
                          layer_options={"RFC7946": "YES"})
        else:
            name = layer or Path(path).stem
            with gdal_config(OGR_CURRENT_DATE=_gpkg_date()):
                if is_geo:
                    frame.to_file(tmp, driver="GPKG", layer=name, engine="pyogrio")
                else:
                    import pyogrio

                    pyogrio.write_dataframe(pd.DataFrame(frame), tmp, layer=name, driver="GPKG")
    log.info("wrote %s (%d rows, %s)", path, len(frame), fmt)
    return Path(path)
