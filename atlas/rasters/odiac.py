"""ODIAC fossil-fuel CO2 (1 km GeoTIFF, tonnes of carbon per cell per month).

A year is the sum of its twelve monthly files (or bands); a single month is annualised
(×12) with a caveat. Carbon mass becomes CO2 mass by ×44/12, said in the conversion note of
the layer's unit (:attr:`atlas.rasters.units.Unit.conversion`). The publisher's GeoTIFFs
carry no units tag; a file that has one (GeoTIFF metadata ``units``, or GDAL band units)
must say tonnes of carbon per cell per month, else it is refused with the units found.
Source: Oda & Maksyutov, ODIAC, doi:10.17595/20170411.001.
"""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path

import rasterio

from atlas.errors import UnitsError
from atlas.rasters.layer import LayerSpec, RasterSource
from atlas.rasters.units import is_mass, parse_unit, species_of, with_species

log = logging.getLogger(__name__)

#: The product's convention.
UNITS = "t C/cell/month"

# ---- the publisher's catalogue (shared by the adapter and by ``atlas fetch``)
# Monthly 1 km GeoTIFFs, gzipped, at NIES (doi:10.17595/20170411.001):
#   <HOST>/<ROOT>/odiac<release>/1km_tiff/<year>/odiac<release>_1km_excl_intl_<yymm>.tif.gz
# with the MD5 sums of the .tif.gz files published beside them in odiac<release>_1km_checksum_<year>.md5.txt.
# A release (e.g. ODIAC2023) covers 2000 to the year before its name.
TITLE = "ODIAC"
HOST = "https://db.cger.nies.go.jp"
ROOT = "nies_data/10.17595/20170411.001"
DEFAULT_RELEASE = "2023"
FIRST_YEAR = 2000
RELEASE = re.compile(r"^20\d\d[a-z]?$")
NAME = re.compile(r"^odiac(?P<release>20\d\d[a-z]?)_1km_excl_intl_(?P<yy>\d\d)(?P<mm>\d\d)\.tif(?:\.gz)?$",
                  re.IGNORECASE)


def last_year(release: str) -> int:
    """Last year a release covers (ODIAC2023 ends with 2022)."""
    return int(release[:4]) - 1


def folder(release: str, year: int) -> str:
    """Folder of one year's files below :data:`HOST`."""
    return f"{ROOT}/odiac{release}/1km_tiff/{year}"


def file_name(release: str, year: int, month: int) -> str:
    """The publisher's name of one month, e.g. ``odiac2023_1km_excl_intl_2201.tif.gz``."""
    return f"odiac{release}_1km_excl_intl_{year % 100:02d}{month:02d}.tif.gz"


def checksum_name(release: str, year: int) -> str:
    """The publisher's MD5 list of one year's files."""
    return f"odiac{release}_1km_checksum_{year}.md5.txt"


def parse_name(path: str | Path) -> dict | None:
    """``{"release", "year", "month"}`` from a monthly file name (``.tif`` or ``.tif.gz``), else None."""
    m = NAME.search(Path(path).name)
    if not m:
        return None
    return {"release": m["release"].lower(), "year": 2000 + int(m["yy"]), "month": int(m["mm"])}


def year_stack_name(release: str, year: int) -> str:
    """Name for the 12-band VRT stacking one year's months, e.g. ``odiac2023_1km_excl_intl_2022.vrt``."""
    return f"odiac{release}_1km_excl_intl_{year}.vrt"


def open_files(paths: list[str | Path]):
    """One file with 12 bands, 12 monthly files, or one month (annualised)."""
    if len(paths) == 1:
        reader = RasterSource(paths[0])
        with rasterio.open(paths[0]) as ds:
            count = ds.count
            check_units(file_units(ds), Path(paths[0]).name)
        if count == 12:
            return [RasterSource(paths[0], bands=tuple(range(1, 13)))], \
                LayerSpec("emissions", "amount", "t C/cell/yr", caveat="ODIAC: sum of 12 monthly bands")
        return [reader], LayerSpec("emissions", "amount", "t C/cell/month",
                                   caveat="ODIAC: one month annualised ×12")
    if len(paths) == 12:
        raise UnitsError("Twelve separate ODIAC monthly files given",
                         "one 12-band file or a single month",
                         "stack them first: `gdalbuildvrt -separate year.vrt odiac*_YYMM.tif`, then pass the VRT")
    raise UnitsError(f"{len(paths)} ODIAC files given", "one file (a month, or 12 bands)")


def months_apart() -> LayerSpec:
    """The layer of ODIAC months read apart (a stack or a series): each month annualised ×12."""
    return LayerSpec("emissions", "amount", UNITS, caveat="ODIAC: each month apart, annualised ×12")


def check_files(paths: list[str | Path]) -> None:
    """:func:`check_units` on each file of a series."""
    for path in paths:
        with rasterio.open(path) as ds:
            check_units(file_units(ds), Path(path).name)


def file_units(ds) -> str:
    """The units a raster states: a ``units`` metadata item (dataset or band 1), else GDAL's band units."""
    for tags in (ds.tags(1), ds.tags()):
        for key, value in tags.items():
            if key.lower() in ("units", "unit") or key.lower().endswith("#units"):
                return str(value).strip()
    return (ds.units[0] or "").strip() if ds.units else ""


def check_units(units: str, label: str) -> None:
    """Refuse a file whose units are not tonnes of carbon per cell per month (none stated is fine).

    A plain carbon mass (``t C``, ``tonne C``) is read as per cell per month, the product's
    period; a file naming CO2, moles, another period or an area is refused.
    """
    if not units:
        log.debug("%s states no units; ODIAC's are %s", label, UNITS)
        return
    expected = parse_unit(UNITS)
    try:
        text = with_species(units, "C") + ("/cell/month" if is_mass(units) else "")
        unit = parse_unit(text)
        ok = (species_of(units) in ("", "C") and unit.species == "C" and unit.kind is expected.kind
              and math.isclose(unit.factor, expected.factor, rel_tol=1e-9))
    except UnitsError:
        ok = False
    if not ok:
        raise UnitsError(f"{label} states units {units!r}", f"ODIAC's {UNITS!r} (tonnes of carbon per cell "
                         "per month)", "if the file is not ODIAC's, open it as a generic layer with "
                         "--product generic --kind and --units")
