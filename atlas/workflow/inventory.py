"""Reading a forestry department's sub-compartment inventory and estimating its sinks per region
(``atlas sinks --inventory`` and ``[sinks].inventory`` of ``atlas run``).

The I/O edge of :mod:`atlas.carbon.subcompartments`: it reads the file (CSV in UTF-8 or GBK,
GeoPackage, Shapefile, Parquet), places every row in a region (the mapped ``region`` column,
or the region whose outline holds the polygon's representative point), finds the province's
growth and consumption rates of stock in the official statistics, and returns the sinks per
region together with every row it could not use.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd

from atlas.carbon import subcompartments as sub
from atlas.errors import ConfigError
from atlas.paths import geodata_dir

log = logging.getLogger(__name__)

PARAMETERS_FILE = "cn_inventory_parameters.csv"
SPECIES_FILE = "cn_species_groups.csv"
KINDS = {"id": "text", "species": "text?", "area_ha": "number>=0?", "stock_m3": "number>=0?", "region": "text?",
         "age_group": "text?", "origin": "text?"}


@dataclass
class InventoryResult:
    """Sinks per region from the department's inventory, and the rows it could not use."""

    sinks: pd.DataFrame
    rejected: pd.DataFrame


def read_inventory(path: Path, mapping: dict[str, str], encoding: str | None = None,
                   layer: str | None = None) -> pd.DataFrame:
    """The inventory with columns renamed to the module's names, checked by row and column."""
    from atlas.validate import read_table

    required = {source: KINDS[target] for source, target in mapping.items()}
    id_source = next((s for s, t in mapping.items() if t == "id"), None)
    table = read_table(path, required, id_source, layer=layer, encoding=encoding)
    return sub.normalise(table, mapping, Path(path).name)


def place_rows(rows: pd.DataFrame, regions: gpd.GeoDataFrame, id_column: str) -> pd.Series:
    """Region of each row: the mapped ``region`` value (a region id, or a name in ``name_zh``),
    else the region whose outline holds the row polygon's representative point."""
    if "region" in rows:
        names = regions.set_index("name_zh")[id_column] if "name_zh" in regions else pd.Series(dtype=str)
        ids = set(regions[id_column])
        return rows["region"].map(lambda v: v if v in ids else names.get(v))
    if not isinstance(rows, gpd.GeoDataFrame) or rows.geometry is None:
        raise ConfigError("The inventory has neither a region column nor geometries",
                          "a column mapped to 'region' or polygon sub-compartments",
                          "add e.g. 县=region to --columns")
    points = gpd.GeoDataFrame(geometry=rows.geometry.to_crs(regions.crs).representative_point(), index=rows.index)
    joined = gpd.sjoin(points, regions[[id_column, "geometry"]], predicate="within", how="left")
    return joined[~joined.index.duplicated(keep="first")][id_column].reindex(rows.index)


def province_rates(official: pd.DataFrame | None, region_province: pd.Series) -> pd.DataFrame:
    """Region → the growth and consumption rates of stock (fractions per year) of its province.

    The inventories' gross growth and consumption rates where the official statistics give
    them; otherwise the province's net rate of stock change between its two latest national
    forest inventories, ``(V_end / V_start)^(1/years) − 1``, as the growth rate with no separate
    consumption (``net_only`` is then true: removals and losses are not told apart).
    """
    if official is None:
        raise ConfigError("No official forest statistics", "geodata/official_forest_stats.csv",
                          "reinstall the package")
    out = {}
    for name in ("stock_gross_growth_rate", "stock_consumption_rate"):
        rows = official[(official["indicator"] == name) & (official["region_level"] == "province")]
        latest = rows.sort_values("year").groupby("adcode")["value"].last() / 100.0  # %/yr → fraction
        out[name.replace("stock_", "")] = region_province.map(latest).astype(float)
    rates = pd.DataFrame(out, index=region_province.index)
    rates["net_only"] = False
    missing = rates[["gross_growth_rate", "consumption_rate"]].isna().any(axis=1)
    if missing.any():
        from atlas.carbon.headline import nfi_stock_pairs

        pairs = nfi_stock_pairs(official, pd.Index(sorted(set(region_province.dropna()))))
        net = (pairs["stock_end_m3"] / pairs["stock_start_m3"]) ** (1 / pairs["years"]) - 1
        rates.loc[missing, "gross_growth_rate"] = region_province[missing].map(net).astype(float)
        rates.loc[missing, "consumption_rate"] = 0.0
        rates.loc[missing, "net_only"] = True
    return rates


def inventory_sinks(path: Path, mapping: dict[str, str], regions: gpd.GeoDataFrame, id_column: str,
                    official: pd.DataFrame | None, encoding: str | None = None, layer: str | None = None,
                    draws: int = 10_000, seed: int = 20130601) -> InventoryResult:
    """Stock-change sinks per region from the department's sub-compartments; see the module."""
    rows = read_inventory(path, mapping, encoding, layer)
    params = pd.read_csv(geodata_dir() / PARAMETERS_FILE, encoding="utf-8")
    aliases = pd.read_csv(geodata_dir() / SPECIES_FILE, encoding="utf-8")
    rows["region"] = place_rows(rows, regions, id_column)
    used, rejected = sub.usable_rows(rows, sub.assign_groups(rows, aliases))
    outside = used["region"].isna()
    rejected = pd.concat([rejected, pd.DataFrame({"id": used.loc[outside, "id"], "species": used.loc[outside, "species"],
                                                  "reason": "outside the selected regions"})])
    used = used[~outside]
    province = regions.set_index(id_column).get("province_adcode")
    if province is None:
        raise ConfigError("The regions have no province", "registry pilots (province_adcode)",
                          "select registry pilots for an inventory estimate")
    rates = province_rates(official, province.reindex(sorted(set(used["region"]))))
    no_rates = rates[["gross_growth_rate", "consumption_rate"]].isna().any(axis=1)
    if no_rates.any():
        lost = used["region"].isin(rates.index[no_rates])
        rejected = pd.concat([rejected, pd.DataFrame({"id": used.loc[lost, "id"], "species": used.loc[lost, "species"],
                                                      "reason": "no official growth/consumption rates for its province"})])
        used, rates = used[~lost], rates[~no_rates]
    for reason, count in rejected["reason"].str.split(":").str[0].value_counts().items():
        log.warning("%s: %d sub-compartments not used (%s)", Path(path).name, count, reason)
    sinks = sub.subcompartment_sinks(used, rates, params, draws=draws, seed=seed) if len(used) else pd.DataFrame()
    sinks.index.name = id_column
    return InventoryResult(sinks, rejected.reset_index(drop=True))
