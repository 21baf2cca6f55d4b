"""The pilot registry: which regions are national low-carbon pilots and what they declared.

The registry is a set of plain UTF-8 CSV files in ``geodata/`` (documented in
``geodata/README.md``):

``pilots.csv``
    one row per pilot of the three batches (2010, 2012, 2017), keyed by ``pilot_id``
    and by GB/T 2260 ``adcode``;
``stats_2010.csv``
    seed Tables 1 and 2 exactly as printed (blanks stay blank);
``targets.csv`` / ``indicators.csv``
    seed Tables 3-16 in long form and their controlled vocabulary;
``target_crosscheck.csv``
    Table 16 against Tables 3-15, each disagreement recorded;
``programmes.csv``
    other programme memberships named by the seed.

Everything here is pure pandas: load, validate, filter, join. No geometry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from atlas.errors import RegistryError
from atlas.paths import geodata_dir
from atlas.regions.names import resolve_pilots, resolve_province

log = logging.getLogger(__name__)

BATCH_YEARS: dict[int, int] = {1: 2010, 2: 2012, 3: 2017}
LEVELS: tuple[str, ...] = ("province", "prefecture", "county")

#: GB/T 2260 two-digit codes of the 34 province-level units.
PROVINCE_CODES: frozenset[int] = frozenset(
    [11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46,
     50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82]
)

_PILOT_COLUMNS = ["pilot_id", "batch", "year", "document", "order_in_document", "name_zh",
                  "name_en", "pinyin", "level", "adcode", "province_adcode", "province_zh", "note"]
_TARGET_COLUMNS = ["target_id", "pilot_id", "indicator", "base_year", "target_year",
                   "value_low", "value_high", "unit", "source_table", "seed_item", "text_zh", "note"]
_STATS_COLUMNS = ["source_table", "row_order", "name_as_printed", "pilot_id", "population_10k",
                  "gdp_100m_yuan", "gdp_per_capita_yuan", "co2_per_capita_t"]


@dataclass(frozen=True)
class Registry:
    """All registry tables, validated.

    Attributes
    ----------
    pilots : pandas.DataFrame
        One row per pilot, indexed by nothing (``pilot_id`` is a column).
    stats_2010 : pandas.DataFrame
        Seed Tables 1-2 as printed, national rows included (``pilot_id`` empty).
    targets : pandas.DataFrame
        Declared targets in long form.
    indicators : pandas.DataFrame
        Controlled vocabulary of target indicators.
    programmes : pandas.DataFrame
        Memberships in other programmes (ETS pilots, inventory pilots, 十城千辆).
    crosscheck : pandas.DataFrame
        Table 16 versus Tables 3-15.
    folder : pathlib.Path
        Where the tables were read from.
    """

    pilots: pd.DataFrame
    stats_2010: pd.DataFrame
    targets: pd.DataFrame
    indicators: pd.DataFrame
    programmes: pd.DataFrame
    crosscheck: pd.DataFrame
    folder: Path


def _read_csv(folder: Path, name: str, required: list[str] | None = None) -> pd.DataFrame:
    path = folder / name
    if not path.is_file():
        raise RegistryError(f"Registry table {path} is missing", f"{name} in {folder}",
                            "restore geodata/ from the repository")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise RegistryError(
            f"{path} is not valid UTF-8 ({exc.reason} at byte {exc.start})",
            "UTF-8 text",
            "re-save the file as UTF-8 (e.g. `iconv -f GBK -t UTF-8`)",
        ) from exc
    if required:
        missing = [c for c in required if c not in frame.columns]
        if missing:
            raise RegistryError(f"{path} lacks columns {missing}", f"columns {required}",
                                "compare the header with geodata/README.md")
    return frame


def _to_numeric(frame: pd.DataFrame, columns: list[str], table: str, integer: bool = False) -> None:
    """Convert columns in place; blank cells become NaN (or <NA> for integers)."""
    for col in columns:
        raw = frame[col].str.strip()
        values = pd.to_numeric(raw.where(raw != ""), errors="coerce")
        bad = raw[(raw != "") & values.isna()]
        if not bad.empty:
            raise RegistryError(f"{table} column {col!r} holds non-numbers {bad.unique()[:5].tolist()}",
                                "numbers or blank cells", f"fix those cells in {table}")
        frame[col] = values.astype("Int64") if integer else values.astype(float)


def validate_pilots(pilots: pd.DataFrame) -> None:
    """Check ids, batches, years, levels and adcodes; raise :class:`RegistryError` on the first problem.

    Rules: ``pilot_id`` unique; ``batch`` one of 1, 2, 3 with its year; ``level`` one of
    province / prefecture / county; ``adcode`` six digits under a real province code and
    unique within a level; a province-level pilot's adcode ends in ``0000``.
    """
    dup = pilots["pilot_id"][pilots["pilot_id"].duplicated()]
    if not dup.empty:
        raise RegistryError(f"Duplicate pilot_id {dup.tolist()}", "unique pilot ids",
                            "give each pilot its own id in pilots.csv")
    unknown_batch = pilots[~pilots["batch"].isin(list(BATCH_YEARS))]
    if not unknown_batch.empty:
        raise RegistryError(f"Unknown batch {unknown_batch['batch'].tolist()} for "
                            f"{unknown_batch['pilot_id'].tolist()}", f"one of {sorted(BATCH_YEARS)}")
    wrong_year = pilots[pilots["year"] != pilots["batch"].map(BATCH_YEARS)]
    if not wrong_year.empty:
        raise RegistryError(f"Year does not match batch for {wrong_year['pilot_id'].tolist()}",
                            f"batch→year {BATCH_YEARS}")
    bad_level = pilots[~pilots["level"].isin(LEVELS)]
    if not bad_level.empty:
        raise RegistryError(f"Unknown level {bad_level['level'].unique().tolist()}", f"one of {LEVELS}")
    codes = pilots["adcode"]
    bad_code = pilots[codes.isna() | (codes < 110000) | (codes > 829999)
                      | ~(codes // 10000).isin(list(PROVINCE_CODES))]
    if not bad_code.empty:
        raise RegistryError(f"Invalid adcode for {bad_code['pilot_id'].tolist()}: "
                            f"{bad_code['adcode'].tolist()}",
                            "a six-digit GB/T 2260 code under one of the 34 province codes")
    prov = pilots[(pilots["level"] == "province") & (codes % 10000 != 0)]
    if not prov.empty:
        raise RegistryError(f"Province-level pilots {prov['pilot_id'].tolist()} have non-province adcodes",
                            "adcodes ending in 0000 for level=province")
    dup_code = pilots[pilots.duplicated(["level", "adcode"], keep=False)]
    if not dup_code.empty:
        raise RegistryError(f"Adcode used twice within a level: {dup_code[['pilot_id', 'adcode']].values.tolist()}",
                            "one pilot per adcode and level", "resolve name clashes by adcode")


def _check_refs(frame: pd.DataFrame, table: str, pilot_ids: set[str], allow_blank: bool) -> None:
    refs = frame["pilot_id"]
    bad = refs[~refs.isin(pilot_ids) & ~((refs == "") & allow_blank)]
    if not bad.empty:
        raise RegistryError(f"{table} refers to unknown pilots {sorted(set(bad))[:10]}",
                            "pilot ids listed in pilots.csv", f"fix the pilot_id column of {table}")


def load_registry(folder: str | Path | None = None) -> Registry:
    """Load and validate every registry table.

    Parameters
    ----------
    folder : path, optional
        Folder with the CSV files; defaults to the bundled ``geodata/``.

    Returns
    -------
    Registry

    Raises
    ------
    RegistryError
        A table is missing, not UTF-8, lacks columns, or breaks a validation rule.
    """
    folder = Path(folder) if folder is not None else geodata_dir()
    pilots = _read_csv(folder, "pilots.csv", _PILOT_COLUMNS)
    _to_numeric(pilots, ["batch", "year", "order_in_document", "adcode", "province_adcode"],
                "pilots.csv", integer=True)
    validate_pilots(pilots)
    ids = set(pilots["pilot_id"])

    indicators = _read_csv(folder, "indicators.csv", ["indicator", "unit"])
    targets = _read_csv(folder, "targets.csv", _TARGET_COLUMNS)
    _to_numeric(targets, ["base_year", "target_year"], "targets.csv", integer=True)
    _to_numeric(targets, ["value_low", "value_high"], "targets.csv")
    _check_refs(targets, "targets.csv", ids, allow_blank=True)  # national rows have no pilot
    unknown = sorted(set(targets["indicator"]) - set(indicators["indicator"]))
    if unknown:
        raise RegistryError(f"targets.csv uses indicators {unknown} not in indicators.csv",
                            "indicators from the controlled vocabulary",
                            "add them to indicators.csv or correct the spelling")
    inverted = targets[targets["value_high"] < targets["value_low"]]
    if not inverted.empty:
        raise RegistryError(f"Targets {inverted['target_id'].tolist()} have value_high < value_low",
                            "value_low <= value_high")

    stats = _read_csv(folder, "stats_2010.csv", _STATS_COLUMNS)
    _to_numeric(stats, ["row_order"], "stats_2010.csv", integer=True)
    _to_numeric(stats, ["population_10k", "gdp_100m_yuan", "gdp_per_capita_yuan", "co2_per_capita_t"],
                "stats_2010.csv")
    _check_refs(stats, "stats_2010.csv", ids, allow_blank=True)

    programmes = _read_csv(folder, "programmes.csv", ["programme_id", "member_zh", "adcode", "pilot_id"])
    _check_refs(programmes, "programmes.csv", ids, allow_blank=True)
    crosscheck = _read_csv(folder, "target_crosscheck.csv", ["pilot_id", "indicator", "status"])
    log.debug("registry loaded from %s: %d pilots, %d targets", folder, len(pilots), len(targets))
    return Registry(pilots, stats, targets, indicators, programmes, crosscheck, folder)


def select_pilots(
    pilots: pd.DataFrame,
    batch: int | list[int] | None = None,
    level: str | list[str] | None = None,
    province: str | int | None = None,
    year: int | None = None,
    ids: str | list[str] | None = None,
) -> pd.DataFrame:
    """Filter the pilot table; every criterion given must hold.

    Parameters
    ----------
    pilots : pandas.DataFrame
        ``Registry.pilots`` (or a frame with the same columns, e.g. boundaries).
    batch : int or list of int, optional
        1 (2010), 2 (2012) or 3 (2017).
    level : str or list of str, optional
        ``province``, ``prefecture`` or ``county``.
    province : str or int, optional
        Parent province, any of the 34 province-level units: adcode (``440000`` or ``44``),
        Chinese name (``广东`` or ``广东省``), English (``Guangdong``, ``Inner Mongolia``,
        ``Tibet``) or pinyin (see :func:`atlas.regions.names.resolve_province`); a
        province-level pilot belongs to itself. A province without pilots selects none.
    year : int, optional
        Year of designation (2010, 2012, 2017).
    ids : list of str, optional
        Pilots by id (``P3-16``) or by Chinese, English or pinyin name (``三明``, ``Sanming``,
        ``sanming``); see :func:`atlas.regions.names.resolve_pilots`.

    Raises
    ------
    RegistryError
        An unknown batch, level, year or province, or a pilot name that fits no pilot or several.
    """
    mask = pd.Series(True, index=pilots.index)
    if batch is not None:
        batches = [int(b) for b in (batch if isinstance(batch, (list, tuple)) else [batch])]
        unknown = sorted(set(batches) - set(BATCH_YEARS))
        if unknown:
            raise RegistryError(f"Unknown batch {unknown}", f"one of {sorted(BATCH_YEARS)} "
                                "(1 = 2010, 2 = 2012, 3 = 2017)")
        mask &= pilots["batch"].isin(batches)
    if level is not None:
        levels = list(level) if isinstance(level, (list, tuple)) else [level]
        unknown = sorted(set(levels) - set(LEVELS))
        if unknown:
            raise RegistryError(f"Unknown level {unknown}", f"one of {list(LEVELS)}")
        mask &= pilots["level"].isin(levels)
    if province is not None:
        mask &= pilots["province_adcode"] == resolve_province(province)
    if year is not None:
        if int(year) not in BATCH_YEARS.values():
            raise RegistryError(f"No pilot batch in year {year}", f"one of {sorted(BATCH_YEARS.values())}")
        mask &= pilots["year"] == int(year)
    if ids is not None:
        mask &= pilots["pilot_id"].isin(resolve_pilots(pilots, [ids] if isinstance(ids, str) else ids))
    return pilots[mask]


def join_stats(pilots: pd.DataFrame, stats: pd.DataFrame) -> pd.DataFrame:
    """Attach the seed's 2010 statistics (Tables 1-2) to pilots; pilots without a row get blanks.

    Columns added: ``population_10k``, ``gdp_100m_yuan``, ``gdp_per_capita_yuan``,
    ``co2_per_capita_t`` and ``stats_source_table``.
    """
    cols = ["pilot_id", "population_10k", "gdp_100m_yuan", "gdp_per_capita_yuan", "co2_per_capita_t",
            "source_table"]
    table = stats[stats["pilot_id"] != ""][cols].rename(columns={"source_table": "stats_source_table"})
    return pilots.merge(table, on="pilot_id", how="left", validate="one_to_one")


def join_targets(pilots: pd.DataFrame, targets: pd.DataFrame) -> pd.DataFrame:
    """Return the targets of the given pilots with the pilot's names attached (long form)."""
    return targets.merge(pilots[["pilot_id", "name_zh", "name_en", "batch"]], on="pilot_id", how="inner")
