"""Official forest statistics: national forest inventories and bulletins, one cited row per figure.

The table ``geodata/official_forest_stats.csv`` (documented in ``geodata/OFFICIAL_STATS.md``)
holds one row per region × year × indicator with its source. This module reads and
validates it and answers the two questions the pipeline asks of it: the latest figure of
a region within year bounds, and one national-forest-inventory value per province.

Nothing here touches the network or the file system on import.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from atlas.errors import RegistryError
from atlas.paths import geodata_dir

log = logging.getLogger(__name__)

OFFICIAL_FILE = "official_forest_stats.csv"

COLUMNS: tuple[str, ...] = (
    "region_level", "adcode", "pilot_id", "name_zh", "indicator", "value", "unit", "period", "year",
    "includes_special_shrubland", "source_document", "publisher", "source_year", "url_or_page", "status",
)
#: Indicator → the only unit it may carry.
INDICATOR_UNITS: dict[str, str] = {
    "forest_area": "万公顷",
    "forest_coverage": "%",
    "forest_stock": "万立方米",
    "stock_gross_growth_rate": "%/yr",
    "stock_consumption_rate": "%/yr",
}
REGION_LEVELS: tuple[str, ...] = ("national", "province", "prefecture", "county")
SHRUBLAND_VALUES: tuple[str, ...] = ("yes", "no", "unknown")
STATUSES: tuple[str, ...] = ("verified", "secondary")
#: National forest inventories → their last survey year (the ``year`` of their rows).
INVENTORY_YEARS: dict[str, int] = {"NFI6": 2003, "NFI7": 2008, "NFI8": 2013, "NFI9": 2018}
_SOURCE_FIELDS = ("source_document", "publisher", "url_or_page")


def _fail(found: str, expected: str, path: Path | None) -> RegistryError:
    where = f" in {path}" if path is not None else ""
    return RegistryError(f"{found}{where}", expected,
                         "correct the row in geodata/official_forest_stats.csv (see geodata/OFFICIAL_STATS.md)")


def validate_official_stats(stats: pd.DataFrame, path: Path | None = None) -> pd.DataFrame:
    """Check an official-statistics table and return it with typed columns.

    Parameters
    ----------
    stats : pandas.DataFrame
        The table as read from CSV (all columns may still be strings).
    path : pathlib.Path, optional
        Where it was read from, named in error messages.

    Returns
    -------
    pandas.DataFrame
        A copy with ``adcode``, ``year`` and ``source_year`` as integers, ``value`` as float
        and ``pilot_id`` as string (empty where the region is not a pilot).

    Raises
    ------
    atlas.errors.RegistryError
        On missing columns, unknown vocabulary, non-numeric or impossible values, or a row
        without its source.
    """
    missing = [c for c in COLUMNS if c not in stats.columns]
    if missing:
        raise _fail(f"Missing columns {missing}", f"the columns {list(COLUMNS)}", path)
    out = stats.loc[:, list(COLUMNS)].copy()
    for col in ("region_level", "pilot_id", "name_zh", "indicator", "unit", "period",
                "includes_special_shrubland", "status", *_SOURCE_FIELDS):
        out[col] = out[col].fillna("").astype(str).str.strip()

    def bad(mask: pd.Series, what: str, expected: str) -> None:
        if mask.any():
            rows = [int(i) + 2 for i in out.index[mask][:5]]  # +2: header line and 1-based lines
            raise _fail(f"{what} on line(s) {rows}", expected, path)

    bad(~out["indicator"].isin(INDICATOR_UNITS), "Unknown indicator",
        f"one of {sorted(INDICATOR_UNITS)}")
    bad(out["unit"] != out["indicator"].map(INDICATOR_UNITS), "Unit not matching its indicator",
        f"the units {INDICATOR_UNITS}")
    bad(~out["region_level"].isin(REGION_LEVELS), "Unknown region_level", f"one of {list(REGION_LEVELS)}")
    bad(~out["includes_special_shrubland"].isin(SHRUBLAND_VALUES), "Unknown includes_special_shrubland",
        f"one of {list(SHRUBLAND_VALUES)}")
    bad(~out["status"].isin(STATUSES), "Unknown status", f"one of {list(STATUSES)}")
    for col in _SOURCE_FIELDS:
        bad(out[col] == "", f"Empty {col}", "every row to name its source document, publisher and URL or page")

    for col in ("adcode", "year", "source_year"):
        num = pd.to_numeric(out[col], errors="coerce")
        bad(num.isna() | (num % 1 != 0), f"Non-integer {col}", f"an integer {col}")
        out[col] = num.astype(int)
    value = pd.to_numeric(out["value"], errors="coerce")
    bad(value.isna(), "Non-numeric value", "a number in the value column")
    out["value"] = value.astype(float)
    bad(out["value"] < 0, "Negative value", "values of zero or more")
    bad((out["indicator"] == "forest_coverage") & (out["value"] > 100), "Forest coverage above 100 %",
        "coverage between 0 and 100")
    bad(~out["year"].between(1949, 2100) | ~out["source_year"].between(1949, 2100), "Implausible year",
        "years between 1949 and 2100")
    bad((out["adcode"] < 100000) | (out["adcode"] > 999999), "adcode not a 6-digit GB/T 2260 code",
        "a 6-digit adcode (100000 for the national rows)")
    bad((out["region_level"] == "province") & (out["adcode"] % 10000 != 0), "Province adcode not ending in 0000",
        "province codes such as 440000")
    return out


def load_official_stats(path: str | Path | None = None) -> pd.DataFrame:
    """Read and validate the official forest statistics.

    Parameters
    ----------
    path : str or pathlib.Path, optional
        CSV file; by default ``official_forest_stats.csv`` in :func:`atlas.paths.geodata_dir`.

    Returns
    -------
    pandas.DataFrame
        One row per region × year × indicator, typed as described in
        :func:`validate_official_stats`.

    Raises
    ------
    atlas.errors.RegistryError
        If the file is missing, unreadable or fails validation.
    """
    path = Path(path) if path is not None else geodata_dir() / OFFICIAL_FILE
    if not path.is_file():
        raise RegistryError(f"No official statistics file at {path}", "geodata/official_forest_stats.csv",
                            "reinstall the package or pass the path of the CSV")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise RegistryError(f"Cannot read {path}: {exc}", "a UTF-8 CSV file",
                            "restore the file from the repository") from exc
    stats = validate_official_stats(raw, path)
    log.debug("read %d official statistics rows from %s", len(stats), path)
    return stats


def latest_figure(stats: pd.DataFrame, indicator: str, *, adcode: int | None = None, pilot_id: str | None = None,
                  at_or_after: int | None = None, before: int | None = None) -> pd.Series | None:
    """The most recent row of one region and indicator within year bounds.

    Parameters
    ----------
    stats : pandas.DataFrame
        Official statistics (:func:`load_official_stats`).
    indicator : str
        One of :data:`INDICATOR_UNITS`.
    adcode : int, optional
        Region code; give this or ``pilot_id`` (or both, then both must match).
    pilot_id : str, optional
        Pilot identifier such as ``P1-01``.
    at_or_after : int, optional
        Keep rows with ``year >= at_or_after``.
    before : int, optional
        Keep rows with ``year < before``.

    Returns
    -------
    pandas.Series or None
        The chosen row, or None when no row fits. Rows of the same year are ordered by
        status (verified first) and then by the latest ``source_year``.

    Raises
    ------
    atlas.errors.RegistryError
        For an unknown indicator or when neither ``adcode`` nor ``pilot_id`` is given.
    """
    if indicator not in INDICATOR_UNITS:
        raise RegistryError(f"Unknown indicator {indicator!r}", f"one of {sorted(INDICATOR_UNITS)}",
                            "use an indicator of geodata/official_forest_stats.csv")
    if adcode is None and pilot_id is None:
        raise RegistryError("No region given", "adcode or pilot_id", "pass adcode=... or pilot_id=...")
    rows = stats[stats["indicator"] == indicator]
    if adcode is not None:
        rows = rows[rows["adcode"].astype(int) == int(adcode)]
    if pilot_id is not None:
        rows = rows[rows["pilot_id"].fillna("").astype(str) == str(pilot_id)]
    if at_or_after is not None:
        rows = rows[rows["year"] >= at_or_after]
    if before is not None:
        rows = rows[rows["year"] < before]
    if rows.empty:
        return None
    return in_preference_order(rows).iloc[-1]


def in_preference_order(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` sorted so that the preferred figure comes last: the latest ``year``, then verified
    before secondary, then the latest ``source_year``; ties keep the file's order."""
    ranked = rows.assign(_verified=(rows["status"] == "verified").astype(int))
    return ranked.sort_values(["year", "_verified", "source_year"], kind="stable").drop(columns="_verified")


def province_nfi(stats: pd.DataFrame, indicator: str, inventory: str = "NFI9") -> pd.Series:
    """One national-forest-inventory value per province.

    Parameters
    ----------
    stats : pandas.DataFrame
        Official statistics (:func:`load_official_stats`).
    indicator : str
        One of :data:`INDICATOR_UNITS`.
    inventory : str, default "NFI9"
        ``NFI6`` … ``NFI9``; matched against the start of ``period``.

    Returns
    -------
    pandas.Series
        Values indexed by province ``adcode`` (int), named after the indicator. Where a
        province has several rows for the inventory (two sources), the verified one, else the
        most recently published one, is kept.

    Raises
    ------
    atlas.errors.RegistryError
        For an unknown indicator or inventory.
    """
    if indicator not in INDICATOR_UNITS:
        raise RegistryError(f"Unknown indicator {indicator!r}", f"one of {sorted(INDICATOR_UNITS)}",
                            "use an indicator of geodata/official_forest_stats.csv")
    if inventory not in INVENTORY_YEARS:
        raise RegistryError(f"Unknown inventory {inventory!r}", f"one of {sorted(INVENTORY_YEARS)}",
                            "name a national forest inventory such as NFI9")
    rows = stats[(stats["indicator"] == indicator) & (stats["region_level"] == "province")
                 & stats["period"].astype(str).str.startswith(inventory + " ")]
    rows = rows.assign(_verified=(rows["status"] == "verified").astype(int))
    rows = rows.sort_values(["adcode", "_verified", "source_year"], kind="stable")
    out = rows.groupby("adcode")["value"].last().astype(float)
    out.index = out.index.astype(int)
    out.index.name = "adcode"
    out.name = indicator
    return out
