"""What a raster file says about itself beyond its cells: band dates, VRT sources.

Band dates: GDAL's netCDF driver gives each band of a variable with a time dimension the
tag ``NETCDF_DIM_time`` (the coordinate value) and the dataset the tags ``time#units``
(``"days since 2000-01-01"``, CF conventions §4.4) and ``time#calendar``. They are decoded
to ISO dates for the standard calendars; other calendars (``noleap``, ``360_day``…) need
``cftime`` and are decoded with it when it is installed, else given as the raw
``"<value> <units>"``.
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from atlas.errors import RasterReadError

log = logging.getLogger(__name__)

_SINCE = re.compile(r"^\s*(?P<unit>\w+)\s+since\s+(?P<origin>.+?)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"second": 1.0, "seconds": 1.0, "sec": 1.0, "secs": 1.0, "s": 1.0,
                 "minute": 60.0, "minutes": 60.0, "min": 60.0, "mins": 60.0,
                 "hour": 3600.0, "hours": 3600.0, "hr": 3600.0, "hrs": 3600.0, "h": 3600.0,
                 "day": 86400.0, "days": 86400.0, "d": 86400.0}
_STANDARD = {"standard", "gregorian", "proleptic_gregorian", ""}


def decode_cf_times(values: list[float], units: str, calendar: str = "standard") -> list[str]:
    """ISO strings of CF time values (``units`` like ``"days since 1850-01-01 00:00:00"``).

    Raises
    ------
    ValueError
        Units that are not ``<unit> since <date>``.
    """
    m = _SINCE.match(units or "")
    if not m:
        raise ValueError(f"time units {units!r} are not '<unit> since <date>'")
    unit = m["unit"].lower()
    calendar = (calendar or "standard").lower()
    if calendar in _STANDARD and unit in _UNIT_SECONDS:
        import pandas as pd

        origin = pd.Timestamp(m["origin"].replace("UTC", "").strip())
        stamps = [origin + pd.Timedelta(seconds=float(v) * _UNIT_SECONDS[unit]) for v in values]
        return [t.isoformat() if (t.hour, t.minute, t.second) != (0, 0, 0) else t.date().isoformat()
                for t in stamps]
    try:
        import cftime
    except ImportError:
        log.warning("time calendar %r / unit %r needs cftime to decode; raw values kept", calendar, unit)
        return [f"{v:g} {units}" for v in values]
    return [d.isoformat() for d in cftime.num2date(values, units, calendar)]


def band_times(ds, bands: tuple[int, ...]) -> tuple[str, ...] | None:
    """ISO dates of ``bands`` of an open rasterio dataset with a CF time dimension, else None."""
    tags = ds.tags()
    dim = next((key.split("#")[0] for key in tags if key.endswith("#units") and
                key.split("#")[0].lower() in ("time", "t", "date")), None)
    if dim is None:
        return None
    raw = [ds.tags(b).get(f"NETCDF_DIM_{dim}") for b in bands]
    if any(v is None for v in raw):
        return None
    try:
        return tuple(decode_cf_times([float(v) for v in raw], tags[f"{dim}#units"],
                                     tags.get(f"{dim}#calendar", "standard")))
    except ValueError as exc:
        log.warning("%s: %s; bands are labelled by number only", ds.name, exc)
        return None


def check_vrt_sources(path: str | Path) -> None:
    """Refuse a VRT whose source files are missing, naming them (GDAL only says it cannot read)."""
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError):
        return  # rasterio reports unreadable files itself
    missing = []
    for node in root.iter("SourceFilename"):
        name = (node.text or "").strip()
        if not name or name.startswith("/vsi") or "://" in name or ":" in name.split("/")[0]:
            continue
        source = path.parent / name if node.get("relativeToVRT", "0") == "1" else Path(name)
        if not source.exists() and str(source) not in missing:
            missing.append(str(source))
    if missing:
        raise RasterReadError(f"{path.name} refers to source files that do not exist: {missing}",
                              "every file the VRT lists, at the path it gives",
                              "put the files back or rebuild the VRT with gdalbuildvrt")
