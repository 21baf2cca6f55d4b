"""Write tables and layers to CSV, GeoJSON, GeoPackage or GeoParquet, atomically.

All writers go through :func:`atlas._io.atomic_path`: a failure mid-write leaves any
existing file untouched and no partial output behind.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd

from atlas._io import atomic_path
from atlas.errors import ConfigError

log = logging.getLogger(__name__)

#: ``gpkg_contents.last_change`` of every GeoPackage written, so the same data gives the same
#: bytes (reproducible, resumable runs). ``SOURCE_DATE_EPOCH`` or ``OGR_CURRENT_DATE`` override it.
REPRODUCIBLE_DATE = "2013-06-01T00:00:00.000Z"

FORMATS: dict[str, str] = {".csv": "csv", ".geojson": "geojson", ".json": "geojson",
                           ".gpkg": "gpkg", ".parquet": "parquet", ".geoparquet": "parquet"}


def _gpkg_date() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(int(epoch)))
    return REPRODUCIBLE_DATE


def format_from_path(path: str | Path) -> str:
    """Guess an output format from a file extension."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ConfigError(f"Cannot tell the output format of {path}", f"one of {sorted(FORMATS)}",
                          "use a known extension or pass --format")
    return FORMATS[suffix]


def write_frame(frame: pd.DataFrame, path: str | Path, fmt: str | None = None,
                overwrite: bool = False, layer: str | None = None) -> Path:
    """Write ``frame`` to ``path`` in ``fmt`` (``csv``, ``geojson``, ``gpkg``, ``parquet``).

    Geometry is dropped for CSV. A plain DataFrame written as GeoPackage becomes an
    attribute-only table. Returns the output path.
    """
    fmt = fmt or format_from_path(path)
    if fmt not in set(FORMATS.values()):
        raise ConfigError(f"Unknown output format {fmt!r}", f"one of {sorted(set(FORMATS.values()))}")
    is_geo = isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame
    if fmt == "geojson" and not is_geo:
        raise ConfigError("GeoJSON output needs geometries, but the table has none",
                          "a GeoDataFrame", "use csv, gpkg or parquet")
    with atomic_path(path, overwrite) as tmp:
        if fmt == "csv":
            table = pd.DataFrame(frame.drop(columns=frame.geometry.name)) if is_geo else frame
            table.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")
        elif fmt == "parquet":  # GeoParquet when geometries are present
            frame.to_parquet(tmp, index=False)
        elif fmt == "geojson":  # the layer name is the final file's, not the temporary one's
            frame.to_file(tmp, driver="GeoJSON", engine="pyogrio", layer=layer or Path(path).stem,
                          layer_options={"RFC7946": "YES"})
        else:
            os.environ.setdefault("OGR_CURRENT_DATE", _gpkg_date())
            name = layer or Path(path).stem
            if is_geo:
                frame.to_file(tmp, driver="GPKG", layer=name, engine="pyogrio")
            else:
                import pyogrio

                pyogrio.write_dataframe(pd.DataFrame(frame), tmp, layer=name, driver="GPKG")
    log.info("wrote %s (%d rows, %s)", path, len(frame), fmt)
    return Path(path)
