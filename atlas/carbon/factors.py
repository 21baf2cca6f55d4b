"""The sink factor library: IPCC Tier 1 defaults (or a user's Tier 2 table), validated.

``geodata/sink_factors.csv`` holds one row per factor with its source and uncertainty
(columns documented in ``geodata/README.md``). A user table with the same columns
replaces matching defaults (Tier 2); every row must carry a source.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from atlas.errors import FactorError
from atlas.paths import geodata_dir

log = logging.getLogger(__name__)

FACTOR_FILE = "sink_factors.csv"
CLIMATE_FILE = "climate_domains.csv"
DOMAINS = ("tropical", "subtropical", "temperate", "boreal")
#: Parameters the gain-loss method needs for each (forest type, climate domain).
GAIN_LOSS_PARAMETERS = ("aboveground_growth_t_dm_per_ha_yr", "root_shoot_ratio", "carbon_fraction",
                        "aboveground_biomass_stock_t_dm_per_ha")
_COLUMNS = ["factor_id", "forest_type", "climate_domain", "parameter", "value", "low", "high", "unit",
            "source"]


def read_factors(path: str | Path | None = None) -> pd.DataFrame:
    """Read and validate a factor table (the bundled one by default).

    Raises
    ------
    FactorError
        low > value > high.
    InputTableError
        Missing columns, blank sources, duplicate ids, non-numeric or negative values (by row and column).
    """
    from atlas.validate import read_table

    path = Path(path) if path is not None else geodata_dir() / FACTOR_FILE
    if not path.is_file():
        raise FactorError(f"Factor table {path} is missing", "a CSV with columns " + ", ".join(_COLUMNS))
    # names the file, row and column of any missing column, text in a number or negative value
    frame = read_table(path, {"factor_id": "text", "forest_type": "text", "climate_domain": "text",
                              "parameter": "text", "value": "number>=0", "low": "number>=0?",
                              "high": "number>=0?", "unit": "text?", "source": "text"}, "factor_id")
    frame["low"] = frame["low"].fillna(frame["value"])
    frame["high"] = frame["high"].fillna(frame["value"])
    disordered = frame[(frame["low"] > frame["value"]) | (frame["value"] > frame["high"])]
    if not disordered.empty:
        raise FactorError(f"Factors with low > value or value > high: {disordered['factor_id'].tolist()}",
                          "low ≤ value ≤ high")
    return frame


def apply_tier2(defaults: pd.DataFrame, user: pd.DataFrame) -> pd.DataFrame:
    """Replace default factors by the user's rows with the same (type, domain, parameter).

    Rows the user adds for combinations that have no default are appended.
    """
    key = ["forest_type", "climate_domain", "parameter"]
    replaced = defaults.merge(user[key], on=key, how="left", indicator=True)
    kept = defaults[(replaced["_merge"] == "left_only").to_numpy()]
    log.info("Tier 2: %d default factors replaced by the user's table", len(defaults) - len(kept))
    return pd.concat([kept, user.assign(tier="2")], ignore_index=True)


def factor_lookup(factors: pd.DataFrame, forest_type: str, domain: str) -> dict[str, tuple[float, float, float]]:
    """``parameter → (low, value, high)`` for one forest type and climate domain.

    Raises
    ------
    FactorError
        The type or domain is unknown, or a gain-loss parameter is missing.
    """
    rows = factors[(factors["forest_type"] == forest_type) & (factors["climate_domain"] == domain)]
    if rows.empty:
        types = sorted(set(factors["forest_type"]))
        raise FactorError(f"No factors for forest type {forest_type!r} in the {domain!r} domain",
                          f"a forest type among {types} and a domain among {list(DOMAINS)}",
                          "add rows to the factor table (Tier 2) or fix the name")
    found = {r.parameter: (float(r.low), float(r.value), float(r.high)) for r in rows.itertuples()}
    missing = [p for p in GAIN_LOSS_PARAMETERS if p not in found]
    if missing:
        raise FactorError(f"Factors for {forest_type}/{domain} lack {missing}", f"all of {GAIN_LOSS_PARAMETERS}")
    return found


def read_climate_domains(path: str | Path | None = None) -> pd.DataFrame:
    """``pilot_id → climate_domain`` with the documented rule for each."""
    path = Path(path) if path is not None else geodata_dir() / CLIMATE_FILE
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    unknown = sorted(set(frame["climate_domain"]) - set(DOMAINS))
    if unknown:
        raise FactorError(f"Unknown climate domains {unknown} in {path.name}", f"one of {list(DOMAINS)}")
    return frame


def domain_by_latitude(lat: float) -> str:
    """Fallback climate domain for regions without a documented one (provinces that are not
    pilots, the user's own outlines): tropical south of 20°N, subtropical to the Qinling-Huaihe
    line (33.5°N), temperate to 50°N, boreal beyond. Pilots use ``climate_domains.csv``."""
    if lat < 20.0:
        return "tropical"
    if lat < 33.5:
        return "subtropical"
    return "temperate" if lat < 50.0 else "boreal"


def triangular_draws(low: float, mode: float, high: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` draws from a triangular distribution (a point mass when low == high)."""
    if high <= low:
        return np.full(n, mode)
    return rng.triangular(low, mode, high, n)
