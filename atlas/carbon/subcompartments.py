"""A forestry department's own inventory: sub-compartment (小班) data from a forest management
inventory (二类调查), estimated by China's inventory method.

Local schemas differ in names and encodings, so columns are given by a mapping
(``优势树种=species,面积=area_ha,蓄积=stock_m3``) onto the names this module uses:

``id``            the sub-compartment's id (小班号), required
``species``       dominant species (优势树种), required
``area_ha``       area in ha, required
``stock_m3``      growing stock in m³ (蓄积量), required
``age_group``     age group (龄组), optional, carried along
``origin``        origin (起源: 天然/人工), optional, carried along
``region``        the region the row belongs to, optional (else from the polygon's position)

Each row's species is mapped to a species group of the parameter table through
``geodata/cn_species_groups.csv`` (names and common aliases); the stock-change sink of a row
uses its province's gross growth and consumption rates of stock from the national forest
inventory (:mod:`atlas.carbon.stock_change`). Rows that cannot be used (unknown species,
missing or negative stock or area) are returned in a separate table with their ids and the
reason, never dropped silently.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from atlas.errors import ConfigError

log = logging.getLogger(__name__)

REQUIRED = ("id", "species", "area_ha", "stock_m3")
OPTIONAL = ("age_group", "origin", "region")


def parse_column_mapping(text: str | None) -> dict[str, str]:
    """``"优势树种=species,面积=area_ha"`` → ``{"优势树种": "species", "面积": "area_ha"}``.

    Raises
    ------
    ConfigError
        A pair without ``=``, or a target name this module does not know.
    """
    mapping: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in (text or "").split(","))):
        if "=" not in pair:
            raise ConfigError(f"--columns item {pair!r} has no '='", "SOURCE=TARGET pairs such as 优势树种=species",
                              "write each mapping as 源列=target, separated by commas")
        source, target = (s.strip() for s in pair.split("=", 1))
        if target not in REQUIRED + OPTIONAL:
            raise ConfigError(f"--columns maps {source!r} to unknown name {target!r}",
                              f"one of {list(REQUIRED + OPTIONAL)}", "fix the target name")
        mapping[source] = target
    return mapping


def normalise(table: pd.DataFrame, mapping: dict[str, str], source_name: str) -> pd.DataFrame:
    """Rename the user's columns and check the required ones are there."""
    missing_sources = [s for s in mapping if s not in table.columns]
    if missing_sources:
        raise ConfigError(f"{source_name} has no column {missing_sources[0]!r} (columns: {list(table.columns)})",
                          "the columns named in --columns", "check the column names and the file's encoding")
    out = table.rename(columns=mapping)
    missing = [c for c in REQUIRED if c not in out.columns]
    if missing:
        raise ConfigError(f"{source_name} lacks {missing} after the column mapping",
                          f"columns {list(REQUIRED)}", "add them to --columns, e.g. 蓄积=stock_m3")
    return out


def assign_groups(rows: pd.DataFrame, aliases: pd.DataFrame) -> pd.Series:
    """Species group of each row (``NaN`` where the species is unknown).

    ``aliases`` has columns ``name`` (a species name as inventories write it) and ``group``.
    Names are compared without spaces; a name that contains a known name maps to its group
    (``马尾松林`` → ``马尾松``), the longest match winning.
    """
    table = dict(zip(aliases["name"].str.replace(" ", ""), aliases["group"]))
    names = sorted(table, key=len, reverse=True)

    def group_of(species: object) -> object:
        text = str(species).replace(" ", "") if pd.notna(species) else ""
        if text in table:
            return table[text]
        for name in names:
            if name and name in text:
                return table[name]
        return np.nan
    return rows["species"].map(group_of)


def usable_rows(rows: pd.DataFrame, groups: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split rows into usable ones (with ``group``) and rejected ones (``id``, ``reason``)."""
    stock = pd.to_numeric(rows["stock_m3"], errors="coerce")
    area = pd.to_numeric(rows["area_ha"], errors="coerce")
    reasons = pd.Series("", index=rows.index)
    reasons[groups.isna()] = "unknown species group: " + rows["species"].astype(str)
    reasons[(reasons == "") & (stock.isna() | (stock < 0))] = "missing or negative stock"
    reasons[(reasons == "") & (area.isna() | (area <= 0))] = "missing or non-positive area"
    ok = reasons == ""
    used = rows[ok].assign(group=groups[ok], stock_m3=stock[ok], area_ha=area[ok])
    rejected = pd.DataFrame({"id": rows.loc[~ok, "id"], "species": rows.loc[~ok, "species"],
                             "reason": reasons[~ok]})
    return used, rejected


def subcompartment_sinks(used: pd.DataFrame, rates: pd.DataFrame, params: pd.DataFrame, draws: int = 10_000,
                         seed: int = 20130601) -> pd.DataFrame:
    """Stock-change sinks per region from usable sub-compartments.

    Parameters
    ----------
    used : DataFrame
        Usable rows with ``region``, ``group``, ``stock_m3``, ``area_ha``.
    rates : DataFrame
        Indexed by region: ``gross_growth_rate`` and ``consumption_rate`` (fractions per year).
    params : DataFrame
        The parameter table of :mod:`atlas.carbon.stock_change`.

    Returns
    -------
    DataFrame
        Per region: ``forest_ha``, ``stock_m3``, ``subcompartments`` and the stock-change sinks.
    """
    from atlas.carbon.stock_change import stock_change_sinks

    # a species group whose conversion parameters are not in the table uses the national ``all`` row
    available = set(params["group"])
    used = used.assign(group=used["group"].where(used["group"].isin(available), "all"))
    by = used.groupby(["region", "group"], sort=True).agg(stock_m3=("stock_m3", "sum"), forest_ha=("area_ha", "sum"),
                                                          subcompartments=("id", "size")).reset_index()
    missing = sorted(set(by["region"]) - set(rates.index))
    if missing:
        raise ConfigError(f"No growth and consumption rates for regions {missing[:5]}",
                          "rates for every region of the inventory", "check the region column or the province")
    by["gross_growth_rate"] = by["region"].map(rates["gross_growth_rate"])
    by["consumption_rate"] = by["region"].map(rates["consumption_rate"])
    parts = stock_change_sinks(by.set_index(["region", "group"], drop=False), params, draws=draws, seed=seed)
    sums = parts.drop(columns=["method", "net_sink_tco2_per_ha_yr_central"], errors="ignore").groupby(level=0).sum()
    # low / high of a sum are not sums of lows and highs in general; the parts of one region share
    # every factor's draw only within a group, so the summed bounds are conservative (wider)
    totals = by.groupby("region")[["forest_ha", "stock_m3", "subcompartments"]].sum()
    out = totals.join(sums)
    out["net_sink_tco2_per_ha_yr_central"] = out["net_sink_tco2_per_yr_central"] / out["forest_ha"]
    if "net_only" in rates:  # a net rate of stock change does not tell removals from losses
        net_only = rates["net_only"].reindex(out.index).fillna(False).astype(bool)
        out.loc[net_only, [c for c in out.columns if c.startswith(("gross_removal", "gross_loss"))]] = np.nan
    out["method"] = "China provincial inventory guidelines: stock change from the department's sub-compartments"
    for bound in ("low", "central", "high"):  # the headline columns `atlas compensate` pays for
        out[f"sink_tco2_per_yr_{bound}"] = out[f"net_sink_tco2_per_yr_{bound}"]
    out["sink_method"] = out["method"]
    return out
