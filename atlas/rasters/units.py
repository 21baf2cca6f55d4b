"""Quantity kinds and the units each kind accepts.

A raster value means one of four things, and the zonal engine treats each differently:

``amount``
    a quantity per cell (t CO2 per cell per year, persons per cell): summed as is,
    weighted only by the share of the cell inside the region;
``flux_density``
    a quantity per unit area and time (kg m⁻² s⁻¹, mol m⁻² s⁻¹): multiplied by the
    geodesic cell area (and time) before summing;
``fraction``
    a share of the cell (percent or 0-1 cover): turned into an area;
``classes``
    class codes with a code → meaning table: areas per class.

Each accepted unit maps to a factor that converts the raster value into the kind's
canonical output unit, named in the output column (``_tco2_per_yr``, ``_persons``,
``_ha``). Constants are cited where defined.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from atlas.errors import UnitsError

#: Mass ratio CO2 / C used by IPCC 2006 Guidelines (Vol. 4, Eq. 2.7 and throughout).
CO2_PER_C = 44.0 / 12.0
#: Molar mass of CO2, g/mol (IUPAC standard atomic weights: C 12.011, O 15.999).
CO2_G_PER_MOL = 44.009
#: Julian year in seconds (365.25 d), the convention of CarbonTracker and EDGAR flux files.
SECONDS_PER_YEAR = 365.25 * 86400.0
M2_PER_HA = 1.0e4


class QuantityKind(str, Enum):
    """What a raster value measures; see the module docstring."""

    AMOUNT = "amount"
    FLUX_DENSITY = "flux_density"
    FRACTION = "fraction"
    CLASSES = "classes"


@dataclass(frozen=True)
class Unit:
    """A raster unit: its kind, factor to the canonical output unit, and names.

    Attributes
    ----------
    kind : QuantityKind
    factor : float
        Multiply a raster value (for flux densities: value × m² of cell) by this to get
        the canonical output unit.
    output : str
        Canonical output unit slug used in column names (``tco2_per_yr``, ``persons``, ``ha``).
    slug : str
        The raster unit itself as a column-name slug (for means).
    """

    kind: QuantityKind
    factor: float
    output: str
    slug: str


_UNITS: dict[str, Unit] = {
    # per-cell amounts
    "t co2/cell/yr": Unit(QuantityKind.AMOUNT, 1.0, "tco2_per_yr", "tco2_per_cell_yr"),
    "kg co2/cell/yr": Unit(QuantityKind.AMOUNT, 1e-3, "tco2_per_yr", "kgco2_per_cell_yr"),
    "t c/cell/yr": Unit(QuantityKind.AMOUNT, CO2_PER_C, "tco2_per_yr", "tc_per_cell_yr"),
    # ODIAC: monthly totals; one month annualised by ×12 (the engine sums 12 bands instead
    # when given a whole year: see atlas.rasters.odiac).
    "t c/cell/month": Unit(QuantityKind.AMOUNT, 12.0 * CO2_PER_C, "tco2_per_yr", "tc_per_cell_month"),
    "persons/cell": Unit(QuantityKind.AMOUNT, 1.0, "persons", "persons_per_cell"),
    # flux densities (value × cell area in m² × factor)
    "kg co2/m2/s": Unit(QuantityKind.FLUX_DENSITY, SECONDS_PER_YEAR * 1e-3, "tco2_per_yr", "kgco2_m2_s"),
    "mol co2/m2/s": Unit(QuantityKind.FLUX_DENSITY, SECONDS_PER_YEAR * CO2_G_PER_MOL * 1e-6,
                         "tco2_per_yr", "molco2_m2_s"),
    "g c/m2/yr": Unit(QuantityKind.FLUX_DENSITY, 1e-6 * CO2_PER_C, "tco2_per_yr", "gc_m2_yr"),
    "t co2/ha/yr": Unit(QuantityKind.FLUX_DENSITY, 1.0 / M2_PER_HA, "tco2_per_yr", "tco2_ha_yr"),
    "t c/ha/yr": Unit(QuantityKind.FLUX_DENSITY, CO2_PER_C / M2_PER_HA, "tco2_per_yr", "tc_ha_yr"),
    "persons/km2": Unit(QuantityKind.FLUX_DENSITY, 1e-6, "persons", "persons_km2"),
    # fractions → area in hectares
    "percent": Unit(QuantityKind.FRACTION, 0.01 / M2_PER_HA, "ha", "pct"),
    "fraction": Unit(QuantityKind.FRACTION, 1.0 / M2_PER_HA, "ha", "fraction"),
    # class codes → area in hectares
    "class": Unit(QuantityKind.CLASSES, 1.0 / M2_PER_HA, "ha", "class"),
}

_ALIASES = {
    "%": "percent", "pct": "percent", "0-1": "fraction", "classes": "class", "code": "class",
    "tco2/cell/yr": "t co2/cell/yr", "tonnes co2/cell/yr": "t co2/cell/yr",
    "tc/cell/yr": "t c/cell/yr", "tonnes c/cell/yr": "t c/cell/yr",
    "tc/cell/month": "t c/cell/month", "persons": "persons/cell", "people/cell": "persons/cell",
}


def normalise_unit(text: str) -> str:
    """Canonical spelling of a unit: lower case, ``/`` separators, no exponent marks.

    ``kg m-2 s-1``, ``kg m⁻² s⁻¹`` and ``kg/m2/s`` all become ``kg/m2/s``;
    ``t CO2 per cell per year`` becomes ``t co2/cell/yr``.
    """
    s = text.strip().lower().replace("⁻¹", "-1").replace("⁻²", "-2").replace("²", "2")
    s = s.replace(" per ", "/").replace("year", "yr").replace("tonnes", "t").replace("tons", "t")
    s = re.sub(r"\s*/\s*", "/", s)
    s = re.sub(r"\s+(m|ha|km|s|yr|cell|month)-([12])",
               lambda m: f"/{m.group(1)}{'2' if m.group(2) == '2' else ''}", s)
    s = re.sub(r"\s+", " ", s)
    return _ALIASES.get(s, s)


def parse_unit(text: str, kind: QuantityKind | str | None = None) -> Unit:
    """Look up a unit and check it fits the declared kind.

    Raises
    ------
    UnitsError
        Unknown unit, unknown kind, or a unit of another kind (e.g. a flux density
        declared as a per-cell amount).
    """
    key = normalise_unit(text)
    if key not in _UNITS:
        raise UnitsError(f"Unknown unit {text!r} (read as {key!r})",
                         f"one of {sorted(_UNITS)}",
                         "convert the raster or state one of those units")
    unit = _UNITS[key]
    if kind is not None:
        try:
            kind = QuantityKind(kind)
        except ValueError:
            raise UnitsError(f"Unknown quantity kind {kind!r}",
                             f"one of {[k.value for k in QuantityKind]}") from None
        if unit.kind is not kind:
            raise UnitsError(f"Unit {text!r} is a {unit.kind.value}, but the layer is declared {kind.value}",
                             f"a {kind.value} unit such as {example_unit(kind)!r}",
                             "fix the declared kind or the units")
    return unit


def example_unit(kind: QuantityKind) -> str:
    """One accepted unit of ``kind`` (for messages)."""
    return next(name for name, unit in _UNITS.items() if unit.kind is kind)


def known_units() -> dict[str, Unit]:
    """All accepted units (a copy)."""
    return dict(_UNITS)
