"""EDGAR CO2 gridded emissions (0.1°), NetCDF.

Recent releases (v8) carry a variable ``emissions`` in tonnes of CO2 per cell per year
(units ``Tonnes``); older releases carry fluxes (``emi_co2``) in kg m⁻² s⁻¹. The adapter
reads the units attribute of the variable (NetCDF ``units``, GeoTIFF tag ``units``) with
:mod:`atlas.rasters.units`, declares the kind accordingly and refuses units other than the
product's convention (carbon mass, moles, no units), never guessing.
EDGAR files carry no CF grid mapping; the EDGAR documentation defines the grid as
0.1° × 0.1° on WGS84 longitude/latitude, so EPSG:4326 is set explicitly.
Source: EDGAR, European Commission JRC (Crippa et al.).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import rasterio

from atlas.errors import RasterReadError, UnitsError
from atlas.rasters.layer import LayerSpec, RasterSource
from atlas.rasters.units import is_mass, parse_unit, species_of, with_species

log = logging.getLogger(__name__)

VARIABLES = ("emissions", "emi_co2", "emi")
EDGAR_CRS = "EPSG:4326"

# ---- the publisher's catalogue (shared by the adapter and by ``atlas fetch``)
# CO2 totals, annual grid maps in NetCDF, zipped, on the JRC open-data server:
#   <HOST>/<ROOT>/<folder>/CO2/TOTALS/emi_nc/<prefix>_CO2_<year>_TOTALS_emi_nc.zip
# (releases described at https://edgar.jrc.ec.europa.eu/dataset_ghg80 and
# https://edgar.jrc.ec.europa.eu/readme/edgar_2024_ghg_readme.txt). No checksums are published.
TITLE = "EDGAR CO2"
HOST = "https://jeodpp.jrc.ec.europa.eu"
ROOT = "ftp/jrc-opendata/EDGAR/datasets"
#: release -> (folder, file prefix, first year, last year)
RELEASES = {
    "v8.0": ("v80_FT2022_GHG", "v8.0_FT2022_GHG", 1970, 2022),
    "2024": ("EDGAR_2024_GHG", "EDGAR_2024_GHG", 1970, 2023),
}
DEFAULT_RELEASE = "v8.0"
#: The zip of :func:`file_name` and the NetCDF inside it (``..._TOTALS_emi.nc``).
NAME = re.compile(r"(?P<prefix>v\d+\.\d+_FT\d{4}_GHG|EDGAR_\d{4}_GHG)_CO2_(?P<year>\d{4})_TOTALS_emi"
                  r"(?:_nc\.zip|\.nc)$", re.IGNORECASE)


def file_name(release: str, year: int) -> str:
    """The publisher's name of one year's zip, e.g. ``v8.0_FT2022_GHG_CO2_2022_TOTALS_emi_nc.zip``."""
    return f"{RELEASES[release][1]}_CO2_{year}_TOTALS_emi_nc.zip"


def remote_path(release: str, year: int) -> str:
    """Path of one year's zip below :data:`HOST`."""
    return f"{ROOT}/{RELEASES[release][0]}/CO2/TOTALS/emi_nc/{file_name(release, year)}"


def is_edgar(path: str | Path) -> bool:
    """True for the publisher's names (:data:`NAME`) and older EDGAR names (``EDGAR…``, ``…FT…CO2….nc``)."""
    name = Path(path).name
    upper = name.upper()
    return (NAME.search(name) is not None or "EDGAR" in upper
            or (upper.endswith(".NC") and "CO2" in upper and "FT" in upper))


#: The product's convention: CO2 mass per cell and year, or a CO2 mass flux.
CONVENTION = "t CO2 per cell per year (v8 'emissions', 'Tonnes') or a CO2 flux in kg m-2 s-1"


def _units_to_spec(units: str, variable: str) -> LayerSpec:
    """The spec of an EDGAR variable from its units attribute, read by :mod:`atlas.rasters.units`.

    A plain mass (``Tonnes``) is the mass of an annual file per cell; CO2 is the species of the
    CO2 files whenever the units name none. Anything else (carbon, moles, a stock, no units) is
    refused with the units found.
    """
    text = (units or "").strip()
    if not text:
        raise UnitsError(f"EDGAR variable {variable!r} has no units attribute", CONVENTION,
                         "open it as a generic layer and state kind and units")
    species = species_of(text)
    try:
        if species not in ("", "CO2"):
            raise UnitsError(f"the units name {species} mass")
        spec_units = with_species(text, "CO2") + ("/cell/yr" if is_mass(text) else "")
        unit = parse_unit(spec_units)
        if unit.species != "CO2":
            raise UnitsError(f"they are {unit.species or unit.kind.value}")
    except UnitsError as exc:
        raise UnitsError(f"EDGAR variable {variable!r} has units {text!r} ({exc.found})",
                         CONVENTION, "open it as a generic layer and state kind and units") from None
    log.info("EDGAR %s: units %r read as %r (%s)", variable, text, spec_units, unit.conversion)
    return LayerSpec("emissions", unit.kind, spec_units)


def open_file(path: str | Path, variable: str | None = None):
    """Open an EDGAR NetCDF file; returns ``([reader], spec)``."""
    path = Path(path)
    if path.suffix.lower() != ".nc":
        reader = RasterSource(path)
        units = reader.tags.get("units", "")
        return [reader], _units_to_spec(units, path.name)
    try:
        with rasterio.open(path) as ds:
            subsets = ds.subdatasets
    except rasterio.errors.RasterioIOError as exc:
        raise RasterReadError(f"Cannot open EDGAR file {path}: {exc}", "a NetCDF file",
                              "re-download it") from exc
    if not subsets:  # a file with a single variable opens as that variable
        reader = RasterSource(path, crs=EDGAR_CRS)
        with rasterio.open(path) as ds:
            tags = ds.tags(1)
        return [reader], _units_to_spec(tags.get("units", ""), tags.get("NETCDF_VARNAME", path.name))
    names = {s.rsplit(":", 1)[-1]: s for s in subsets}
    choice = variable or next((v for v in VARIABLES if v in names), None)
    if choice is None or choice not in names:
        raise UnitsError(f"{path.name} has variables {sorted(names)}", f"one of {VARIABLES}",
                         "name the variable explicitly")
    reader = RasterSource(names[choice], label=f"{path.name}:{choice}", crs=EDGAR_CRS)
    with rasterio.open(names[choice]) as ds:
        units = ds.tags(1).get("units") or ds.tags().get(f"{choice}#units", "")
    return [reader], _units_to_spec(units, choice)
