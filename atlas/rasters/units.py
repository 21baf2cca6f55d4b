"""Quantity kinds, and raster units read by a units library.

A raster value means one of four things, and the zonal engine treats each differently:

``amount``
    a quantity per cell (t CO2 per cell per year, persons per cell): summed as is,
    weighted only by the share of the cell inside the region;
``flux_density``
    a quantity per unit area and time (kg m⁻² s⁻¹, mol m⁻² s⁻¹): multiplied by the
    ellipsoidal cell area before summing;
``fraction``
    a share of the cell (percent or 0-1 cover): turned into an area;
``classes``
    class codes with a code → meaning table: areas per class.

Units are CF-style strings (``kg C m-2 s-1``, ``g C m-2 d-1``, ``mol m-2 s-1``,
``t C/cell/month``, ``kg CO2/cell/yr``, ``Mg C ha-1 yr-1``, ``persons/km2``). What CF keeps
out of a unit (the *species*: ``C`` or ``CO2``; the grid ``cell``; counted ``persons``) is taken
out here; the rest is read by ``cf-units`` (UDUNITS-2), which knows prefixes, exponents and
spellings (``m-2``, ``m**-2``, ``/m2``, ``ha``, ``d``). Two conventions are set by hand:

* a *year* is the Julian year of 365.25 d and a *month* a twelfth of it (UDUNITS' ``yr``
  is the tropical year, 365.2422 d; CarbonTracker and EDGAR fluxes use 365.25 d);
* a carbon mass becomes a CO2 mass by ×44/12 and a mole of C or CO2 weighs 44.009 g of CO2.
  Carbon → CO2 is never silent: :attr:`Unit.conversion` says it, and the engine logs it
  and puts it in the table's ``attrs["conversions"]``. A mass with no species
  (``kg m-2 s-1``) is refused: the engine cannot know whether it is carbon or CO2.

Canonical outputs, named in the columns: ``tco2_per_yr`` (t CO2 per year), ``persons``,
``ha`` (areas of fractions and classes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

from atlas.errors import UnitsError

#: Mass ratio CO2 / C used by IPCC 2006 Guidelines (Vol. 4, Eq. 2.7 and throughout).
CO2_PER_C = 44.0 / 12.0
#: Molar mass of CO2, g/mol (IUPAC standard atomic weights: C 12.011, O 15.999).
CO2_G_PER_MOL = 44.009
#: Julian year in days, the convention of CarbonTracker and EDGAR flux files.
DAYS_PER_YEAR = 365.25
SECONDS_PER_YEAR = DAYS_PER_YEAR * 86400.0
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
    text : str
        The unit as given.
    species : str
        ``"C"``, ``"CO2"``, ``"mol"`` (moles of C or CO2) or ``""`` (persons, areas).
    conversion : str
        How a value becomes the output, e.g. ``"t C/cell/month → t CO2/yr: ×12 (month → year of
        365.25 d), ×44/12 (carbon mass → CO2 mass)"``.
    """

    kind: QuantityKind
    factor: float
    output: str
    slug: str
    text: str = ""
    species: str = ""
    conversion: str = ""

    @property
    def from_carbon(self) -> bool:
        """True when carbon mass is turned into CO2 mass (×44/12)."""
        return self.species == "C"


_SPECIAL = {
    "percent": Unit(QuantityKind.FRACTION, 0.01 / M2_PER_HA, "ha", "pct", "percent", "",
                    "percent of the cell × cell area → ha"),
    "fraction": Unit(QuantityKind.FRACTION, 1.0 / M2_PER_HA, "ha", "fraction", "fraction", "",
                     "fraction of the cell × cell area → ha"),
    "class": Unit(QuantityKind.CLASSES, 1.0 / M2_PER_HA, "ha", "class", "class", "",
                  "cell area per class → ha"),
}
_SPECIAL_ALIASES = {"%": "percent", "pct": "percent", "percent": "percent", "fraction": "fraction",
                    "0-1": "fraction", "1": "fraction", "class": "class", "classes": "class", "code": "class"}
_EXAMPLES = {QuantityKind.AMOUNT: "t CO2/cell/yr", QuantityKind.FLUX_DENSITY: "kg CO2 m-2 s-1",
             QuantityKind.FRACTION: "percent", QuantityKind.CLASSES: "class"}

_SPECIES = {"c": "C", "carbon": "C", "co2": "CO2"}
_COUNTED = {"persons", "person", "people", "inhabitants", "capita"}
_CELL = {"cell", "cells", "pixel", "pixels", "gridcell"}
#: Time units set by hand (days): UDUNITS' year and month are tropical.
_TIME_DAYS = {"yr": DAYS_PER_YEAR, "year": DAYS_PER_YEAR, "years": DAYS_PER_YEAR,
              "month": DAYS_PER_YEAR / 12, "months": DAYS_PER_YEAR / 12, "mon": DAYS_PER_YEAR / 12}
#: Spellings UDUNITS reads otherwise: ``kt`` is the knot there; ``Tonnes`` is unknown.
_MASS_WORDS = {"tonne": "t", "tonnes": "t", "ton": "t", "tons": "t", "kt": "Gg", "kiloton": "Gg", "kilotons": "Gg",
               "kilotonnes": "Gg"}
_MASSES = r"kg|g|t|Mg|Gg|Tg|Pg|kt|Mt|Gt"
_GLUED = re.compile(rf"^({_MASSES})(co2|c)$", re.IGNORECASE)
_TOKEN = re.compile(r"^(?P<base>[A-Za-z_%]+?)(?:\*\*|\^)?(?P<exp>[-+]?\d+)?$")


def _tokens(text: str) -> list[tuple[str, int]]:
    """``(base, exponent)`` of each factor; everything after a ``/`` is a denominator."""
    s = text.strip()
    for sup, plain in (("⁻", "-"), ("¹", "1"), ("²", "2"), ("³", "3"), ("·", " "), ("⋅", " ")):
        s = s.replace(sup, plain)
    s = re.sub(r"\s+per\s+", "/", s, flags=re.IGNORECASE)
    out: list[tuple[str, int]] = []
    for i, segment in enumerate(s.replace("(", " ").replace(")", " ").split("/")):
        sign = 1 if i == 0 else -1
        for tok in re.split(r"[\s.]+", segment.strip()):
            if not tok:
                continue
            low = tok.lower()
            glued = _GLUED.match(tok)
            if low in _SPECIES or low in _COUNTED or low in _CELL or low in _MASS_WORDS:
                out.append((low, sign))
            elif glued:
                mass = glued.group(1)
                out += [(mass if mass in ("Mg", "Gg", "Tg", "Pg", "Mt", "Gt") else mass.lower(), sign),
                        (glued.group(2).lower(), sign)]
            else:
                m = _TOKEN.match(tok)
                if not m:
                    raise UnitsError(f"Unit {text!r} has a part {tok!r} that cannot be read",
                                     f"a unit such as {_EXAMPLES[QuantityKind.FLUX_DENSITY]!r}")
                out.append((m["base"], sign * int(m["exp"] or 1)))
    return out


def _fmt(x: float) -> str:
    return f"{x:.10g}"


@lru_cache(maxsize=256)
def _parse(text: str) -> Unit:
    special = _SPECIAL_ALIASES.get(text.strip().lower())
    if special:
        return _SPECIAL[special]
    species, counted, per_cell, scale, rest = "", "", False, 1.0, []
    for base, exp in _tokens(text):
        if base in _SPECIES:
            if species:
                raise UnitsError(f"Unit {text!r} names two species", "one of C or CO2")
            species = _SPECIES[base]
        elif base in _COUNTED:
            counted = "persons"
        elif base in _CELL:
            if exp != -1:
                raise UnitsError(f"Unit {text!r} has 'cell' outside a denominator", "a quantity per cell",
                                 "write it as e.g. 't CO2/cell/yr'")
            per_cell = True
        elif base in _TIME_DAYS:
            scale *= _TIME_DAYS[base] ** exp
            rest.append(f"day{exp}")
        else:
            rest.append(f"{_MASS_WORDS.get(base.lower(), base)}{'' if exp == 1 else exp}")
    import cf_units  # imported here: ~70 ms, only when a unit is read

    try:
        unit = cf_units.Unit(" ".join(rest) or "1")
    except ValueError:
        raise UnitsError(f"Unknown unit {text!r} (the units library cannot read {' '.join(rest)!r})",
                         f"a CF unit string such as {_EXAMPLES[QuantityKind.FLUX_DENSITY]!r}, "
                         f"{_EXAMPLES[QuantityKind.AMOUNT]!r}, 'percent' or 'class'",
                         "convert the raster or state its units in that form") from None
    return _classify(text, unit, scale, species, counted, per_cell)


def _classify(text: str, unit, scale: float, species: str, counted: str, per_cell: bool) -> Unit:
    """Kind, factor and conversion note of a parsed unit (``scale`` × ``unit`` per value)."""
    def conv(target: str) -> float:
        return scale * unit.convert(1.0, target) if unit.is_convertible(target) else float("nan")

    slug = _slug(text)
    if counted:
        if species:
            raise UnitsError(f"Unit {text!r} counts persons and names a species", "one of them")
        if per_cell and unit.is_dimensionless():
            return Unit(QuantityKind.AMOUNT, conv("1"), "persons", slug, text, "", f"{text} → persons: as is")
        if not per_cell and unit.is_convertible("m-2"):
            f = conv("m-2")
            return Unit(QuantityKind.FLUX_DENSITY, f, "persons", slug, text, "",
                        f"{text} → persons: × cell area in m² × {_fmt(f)}")
        raise UnitsError(f"Unit {text!r} counts persons but is not per cell or per area",
                         "'persons/cell' or 'persons/km2'")
    is_mol = unit.is_convertible("mol s-1") or unit.is_convertible("mol m-2 s-1")
    if per_cell and not (unit.is_convertible("kg s-1") or unit.is_convertible("mol s-1")):
        raise UnitsError(f"Unit {text!r} is per cell but not a mass (or moles) per time",
                         "e.g. 't CO2/cell/yr' or 't C/cell/month'")
    if unit.is_convertible("kg s-1") or unit.is_convertible("mol s-1"):
        kind, base = QuantityKind.AMOUNT, ("mol s-1" if is_mol else "kg s-1")
    elif unit.is_convertible("kg m-2 s-1") or unit.is_convertible("mol m-2 s-1"):
        kind, base = QuantityKind.FLUX_DENSITY, ("mol m-2 s-1" if is_mol else "kg m-2 s-1")
    elif unit.is_convertible("kg") or unit.is_convertible("kg m-2"):
        raise UnitsError(f"Unit {text!r} is a mass without a time (a stock)",
                         "an emission or sink rate, e.g. 't CO2/cell/yr' or 'Mg C ha-1 yr-1'",
                         "state the period the values cover")
    else:
        raise UnitsError(f"Unknown unit {text!r}: not a mass or moles per time (per cell or per m²), a fraction "
                         "or classes", f"e.g. {_EXAMPLES[QuantityKind.FLUX_DENSITY]!r}, "
                         f"{_EXAMPLES[QuantityKind.AMOUNT]!r}, 'percent', 'class'")
    # to t (or mol) per Julian year
    # rounded to 15 digits so that exact conversions (×1e-3, ×12) stay exact
    rate = float(f"{conv(base) * SECONDS_PER_YEAR * (1.0 if is_mol else 1e-3):.15g}")
    to_year = f"×{_fmt(rate)} (to {'mol' if is_mol else 't'} per year of {DAYS_PER_YEAR} d)"
    steps = [] if abs(rate - 1.0) < 1e-12 else [to_year]
    if is_mol:
        if species not in ("", "C", "CO2"):
            raise UnitsError(f"Unit {text!r} counts moles of {species}", "moles of C or CO2")
        factor, species = rate * CO2_G_PER_MOL * 1e-6, "mol"
        steps.append(f"×{CO2_G_PER_MOL} g/mol (a mole of CO2 or of C is a mole of CO2)")
    elif species == "C":
        factor = rate * CO2_PER_C
        steps.append("×44/12 (carbon mass → CO2 mass)")
    elif species == "CO2":
        factor = rate
    else:
        example = " ".join(re.split(r"(\s+|/)", text.strip(), maxsplit=1)[:1])
        rest = text.strip()[len(example):]
        raise UnitsError(f"Unit {text!r} gives a mass but not of what (carbon or CO2)",
                         f"the species in the unit: '{example} CO2{rest}' or '{example} C{rest}'",
                         "state whether the values are CO2 mass or carbon mass")
    if kind is QuantityKind.FLUX_DENSITY:
        steps.insert(0, "× cell area in m² (on the ellipsoid)")
    return Unit(kind, factor, "tco2_per_yr", slug, text, species,
                f"{text} → t CO2/yr: " + (", ".join(steps) or "as is"))


def _slug(text: str) -> str:
    """``kg CO2 m-2 s-1`` → ``kgco2_m2_s``; ``t C/cell/yr`` → ``tc_per_cell_yr``."""
    parts = _tokens(text)
    num = "".join(b.lower() for b, e in parts if e > 0 and b.lower() not in _CELL)
    den = [f"{b.lower()}{'' if abs(e) == 1 else abs(e)}" for b, e in parts if e < 0]
    per_cell = any(b in _CELL for b, _ in parts)
    den = [d for d in den if d.rstrip("0123456789") not in _CELL]
    body = "_".join(([num] if num else []) + (["per_cell"] if per_cell else []) + den)
    return re.sub(r"[^a-z0-9_]", "", body.replace("tonnes", "t").replace("year", "yr"))


def species_of(text: str) -> str:
    """The species a unit string names (``"C"``, ``"CO2"``), or ``""``."""
    return next((_SPECIES[b] for b, _ in _tokens(text) if b in _SPECIES), "")


def with_species(text: str, species: str) -> str:
    """``text`` with ``species`` after its first part (``kg m-2 s-1`` → ``kg CO2 m-2 s-1``), if it names none."""
    if species_of(text):
        return text.strip()
    return re.sub(r"^(\S+?)(?=[\s/]|$)", rf"\1 {species}", text.strip(), count=1)


def is_mass(text: str) -> bool:
    """True for a plain mass (``Tonnes``, ``kg``, ``t C``): no time, no area."""
    import cf_units

    rest = [f"{_MASS_WORDS.get(b.lower(), b)}{'' if e == 1 else e}" for b, e in _tokens(text)
            if b not in _SPECIES and b not in _COUNTED and b not in _CELL]
    try:
        return bool(rest) and cf_units.Unit(" ".join(rest)).is_convertible("kg")
    except ValueError:
        return False


def parse_unit(text: str, kind: QuantityKind | str | None = None) -> Unit:
    """Read a unit and check it fits the declared kind.

    Raises
    ------
    UnitsError
        Unreadable unit, a mass without species, unknown kind, or a unit of another kind
        (e.g. a flux density declared as a per-cell amount).
    """
    unit = _parse(str(text))
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
    return _EXAMPLES[QuantityKind(kind)]
