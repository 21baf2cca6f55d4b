"""Forest carbon change by China's provincial inventory method (stock-change from growing stock).

The provincial GHG inventory guidelines (省级温室气体清单编制指南(试行), NDRC 2011, land-use
change and forestry chapter) estimate the carbon taken up by standing trees from the growing
stock ``V`` (m³) and the national forest inventory's annual rates of stock change:

- removals ``= V × GR × SVD × BEF × (1 + R) × CF × 44/12`` (t CO2/yr)
- losses   ``= V × CR × SVD × BEF × (1 + R) × CF × 44/12`` (t CO2/yr)
- net sink ``= removals − losses``

with ``GR`` the gross growth rate of stock (活立木蓄积量年均总生长率) and ``CR`` its
consumption rate (年均消耗率), both per year as fractions; ``SVD`` the basic wood density
(t d.m./m³), ``BEF`` the biomass expansion factor (whole above-ground biomass over stem
biomass), ``R`` the root–shoot ratio and ``CF`` the carbon fraction (t C/t d.m.), per dominant
species group (优势树种组).

Where the species-group table is not available, a **national average conversion** stands in for
the product ``SVD × BEF × (1 + R) × CF``: the parameter ``carbon_per_stock_t_c_per_m3`` of group
``all`` (t C per m³ of growing stock), documented in ``geodata/INVENTORY_METHOD.md``.

Where the inventories' gross growth and consumption rates are not available per province, the
net term ``V × (GR − CR)`` is taken from the inventories themselves: the change of growing stock
between two national forest inventories divided by the years between them
(:func:`stock_difference_sinks`). The two are the same quantity (the rates summarise that very
change), but the stock difference gives only the net sink: removals and losses stay empty.

Uncertainty: a seeded Monte Carlo, like :mod:`atlas.carbon.sinks`: each conversion parameter
is drawn from a triangular distribution over its (low, value, high) range and the rates from
one over ``(1 ± rate_uncertainty) × value``; one draw per parameter per iteration shared by
every region, so totals keep their correlation. Low and high are the 2.5 / 97.5 percentiles.

Pure functions: frames in, frames out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from atlas.carbon.factors import triangular_draws
from atlas.errors import FactorError
from atlas.paths import geodata_dir
from atlas.rasters.units import CO2_PER_C

#: The bundled conversion parameters of the method (``geodata/``, see INVENTORY_METHOD.md).
PARAMETERS_FILE = "cn_inventory_parameters.csv"

CONVERSION_PARAMETERS = ("basic_wood_density_t_dm_per_m3", "biomass_expansion_factor", "root_shoot_ratio",
                         "carbon_fraction")
#: One parameter standing for the whole product SVD × BEF × (1 + R) × CF (t C per m³ of stock).
LUMPED_PARAMETER = "carbon_per_stock_t_c_per_m3"
METHOD = "China provincial inventory guidelines (NDRC 2011): stock change from growing stock"
STOCK_DIFFERENCE_METHOD = ("China provincial inventory method (NDRC 2011): net stock change between national "
                           "forest inventories × national-average biomass carbon per m³ of stock")
DEFAULT_RATE_UNCERTAINTY = 0.10


def read_parameters() -> pd.DataFrame | None:
    """The bundled conversion parameters of China's inventory method, or None where absent."""
    path = geodata_dir() / PARAMETERS_FILE
    return pd.read_csv(path, encoding="utf-8") if path.exists() else None


def conversion_draws(params: pd.DataFrame, group: str, draws: int, rng: np.random.Generator
                     ) -> tuple[float, np.ndarray]:
    """Central value and draws of ``SVD × BEF × (1 + R) × CF × 44/12`` (t CO2 per m³ of stock).

    Parameters
    ----------
    params : DataFrame
        Rows ``group, parameter, value, low, high`` (a parameter table such as
        ``geodata/cn_inventory_parameters.csv``).
    group : str
        Species group (or ``all`` for a national average).
    """
    rows = params[params["group"] == group].set_index("parameter")
    if LUMPED_PARAMETER in rows.index:
        low, value, high = (float(rows.loc[LUMPED_PARAMETER, c]) for c in ("low", "value", "high"))
        if not low <= value <= high:
            raise FactorError(f"{group}/{LUMPED_PARAMETER}: value {value} outside its range [{low}, {high}]",
                              "low ≤ value ≤ high")
        return value * CO2_PER_C, triangular_draws(low, value, high, draws, rng) * CO2_PER_C
    missing = [p for p in CONVERSION_PARAMETERS if p not in rows.index]
    if missing:
        raise FactorError(f"Species group {group!r} lacks parameters {missing}",
                          f"every one of {list(CONVERSION_PARAMETERS)} for each group used",
                          "complete the parameter table")
    central = 1.0
    sample = np.ones(draws)
    for name in CONVERSION_PARAMETERS:
        low, value, high = (float(rows.loc[name, c]) for c in ("low", "value", "high"))
        if not low <= value <= high:
            raise FactorError(f"{group}/{name}: value {value} outside its range [{low}, {high}]",
                              "low ≤ value ≤ high")
        draw = triangular_draws(low, value, high, draws, rng)
        if name == "root_shoot_ratio":
            central, sample = central * (1 + value), sample * (1 + draw)
        else:
            central, sample = central * value, sample * draw
    return central * CO2_PER_C, sample * CO2_PER_C


def stock_change_sinks(regions: pd.DataFrame, params: pd.DataFrame, draws: int = 10_000, seed: int = 20130601,
                       rate_uncertainty: float = DEFAULT_RATE_UNCERTAINTY,
                       percentiles: tuple[float, float] = (2.5, 97.5)) -> pd.DataFrame:
    """Removals, losses and net sink per region by the stock-change method, low / central / high.

    Parameters
    ----------
    regions : DataFrame
        Indexed by region; columns ``stock_m3`` (growing stock), ``gross_growth_rate`` and
        ``consumption_rate`` (fractions per year), ``group`` (species group of the parameter
        table; ``all`` when absent) and, optionally, ``forest_ha`` for per-ha figures.
    params : DataFrame
        Parameter table (see :func:`conversion_draws`).

    Returns
    -------
    DataFrame
        ``gross_removal_tco2_per_yr_*``, ``gross_loss_tco2_per_yr_*``, ``net_sink_tco2_per_yr_*``
        (``low``, ``central``, ``high``), ``net_sink_tco2_per_ha_yr_central`` where forest areas
        are given, and ``method``.
    """
    needed = {"stock_m3", "gross_growth_rate", "consumption_rate"}
    if not needed <= set(regions.columns):
        raise FactorError(f"Stock-change inputs lack {sorted(needed - set(regions.columns))}",
                          f"columns {sorted(needed)}")
    values = regions[sorted(needed)].to_numpy(dtype=float)
    if np.isnan(values).any() or (values < 0).any():
        bad = regions.index[np.isnan(values).any(axis=1) | (values < 0).any(axis=1)].tolist()
        raise FactorError(f"Missing or negative stock or rates for {bad[:10]}", "stock ≥ 0 and rates ≥ 0")
    rng = np.random.default_rng(seed)
    groups = regions["group"] if "group" in regions else pd.Series("all", index=regions.index)
    n = len(regions)
    central = np.zeros((n, 2))
    sample = np.zeros((n, 2, draws))
    conv = {g: conversion_draws(params, g, draws, rng) for g in sorted(set(groups))}
    # one draw of each rate's relative error per iteration, shared by every region
    growth_err = triangular_draws(1 - rate_uncertainty, 1.0, 1 + rate_uncertainty, draws, rng)
    consumption_err = triangular_draws(1 - rate_uncertainty, 1.0, 1 + rate_uncertainty, draws, rng)
    stock = regions["stock_m3"].to_numpy(dtype=float)
    gr = regions["gross_growth_rate"].to_numpy(dtype=float)
    cr = regions["consumption_rate"].to_numpy(dtype=float)
    for i, g in enumerate(groups):
        c, d = conv[g]
        central[i] = stock[i] * gr[i] * c, stock[i] * cr[i] * c
        sample[i, 0] = stock[i] * gr[i] * growth_err * d
        sample[i, 1] = stock[i] * cr[i] * consumption_err * d
    lo, hi = percentiles
    out = pd.DataFrame(index=regions.index)
    for name, cen, smp in (("gross_removal", central[:, 0], sample[:, 0]), ("gross_loss", central[:, 1], sample[:, 1]),
                           ("net_sink", central[:, 0] - central[:, 1], sample[:, 0] - sample[:, 1])):
        out[f"{name}_tco2_per_yr_low"] = np.percentile(smp, lo, axis=1)
        out[f"{name}_tco2_per_yr_central"] = cen
        out[f"{name}_tco2_per_yr_high"] = np.percentile(smp, hi, axis=1)
    if "forest_ha" in regions:
        area = regions["forest_ha"].to_numpy(dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["net_sink_tco2_per_ha_yr_central"] = np.where(area > 0, out["net_sink_tco2_per_yr_central"] / area,
                                                              np.nan)
    out["method"] = METHOD
    return out


def stock_change_per_year(regions: pd.DataFrame) -> np.ndarray:
    """Net change of growing stock (m³/yr) per region: ``change_m3_per_yr`` where given, else
    ``(stock_end_m3 − stock_start_m3) / years``."""
    if "change_m3_per_yr" in regions:
        change = regions["change_m3_per_yr"].to_numpy(dtype=float)
    else:
        needed = {"stock_start_m3", "stock_end_m3", "years"}
        if not needed <= set(regions.columns):
            raise FactorError(f"Stock-difference inputs lack {sorted(needed - set(regions.columns))}",
                              f"columns {sorted(needed)} or change_m3_per_yr")
        if (regions["years"] <= 0).any():
            raise FactorError(f"A non-positive interval for {regions.index[regions['years'] <= 0].tolist()[:10]}",
                              "years > 0 between the two inventories")
        change = ((regions["stock_end_m3"] - regions["stock_start_m3"]) / regions["years"]).to_numpy(dtype=float)
    if np.isnan(change).any():
        raise FactorError(f"Missing stock change for {regions.index[np.isnan(change)].tolist()[:10]}",
                          "two stocks (or a change per year) for every region")
    return change


def stock_difference_sinks(regions: pd.DataFrame, params: pd.DataFrame, draws: int = 10_000,
                           seed: int = 20130601, percentiles: tuple[float, float] = (2.5, 97.5),
                           return_draws: bool = False) -> pd.DataFrame | tuple[pd.DataFrame, np.ndarray]:
    """Net sink per region from the change of growing stock between two inventories.

    Parameters
    ----------
    regions : DataFrame
        Indexed by region: ``stock_start_m3``, ``stock_end_m3``, ``years`` (between the two
        inventories) or directly ``change_m3_per_yr``; ``group`` (default ``all``) and optionally
        ``forest_ha``.
    params : DataFrame
        The parameter table (see :func:`conversion_draws`).

    Returns
    -------
    DataFrame
        ``net_sink_tco2_per_yr_{low,central,high}`` (removals and losses empty: the stock
        difference gives only their balance), ``net_sink_tco2_per_ha_yr_central`` and ``method``.
        With ``return_draws`` also the net sink draws, shape ``(regions, draws)``, shared by the
        regions, for totals (:func:`atlas.carbon.sinks.summarise_total`).
    """
    change = stock_change_per_year(regions)
    rng = np.random.default_rng(seed)
    groups = regions["group"] if "group" in regions else pd.Series("all", index=regions.index)
    conv = {g: conversion_draws(params, g, draws, rng) for g in sorted(set(groups))}
    central = np.array([change[i] * conv[g][0] for i, g in enumerate(groups)])
    sample = np.stack([change[i] * conv[g][1] for i, g in enumerate(groups)]) if len(groups) else np.zeros((0, draws))
    out = pd.DataFrame(index=regions.index)
    for name in ("gross_removal", "gross_loss"):
        for bound in ("low", "central", "high"):
            out[f"{name}_tco2_per_yr_{bound}"] = np.nan
    lo, hi = percentiles
    out["net_sink_tco2_per_yr_low"] = np.percentile(sample, lo, axis=1) if len(out) else []
    out["net_sink_tco2_per_yr_central"] = central
    out["net_sink_tco2_per_yr_high"] = np.percentile(sample, hi, axis=1) if len(out) else []
    if "forest_ha" in regions:
        area = regions["forest_ha"].to_numpy(dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["net_sink_tco2_per_ha_yr_central"] = np.where(area > 0, central / area, np.nan)
    out["method"] = STOCK_DIFFERENCE_METHOD
    return (out, sample) if return_draws else out


def per_hectare_rates(province_sinks: pd.DataFrame, province_forest_ha: pd.Series) -> pd.DataFrame:
    """A province's removals, losses and net sink per hectare of forest (low / central / high),
    for regions inside it that have no stock figures of their own."""
    cols = [c for c in province_sinks.columns if c.endswith(("_low", "_central", "_high"))]
    area = province_forest_ha.reindex(province_sinks.index)
    return province_sinks[cols].div(area.where(area > 0), axis=0)


def inherit(per_ha: pd.DataFrame, region_province: pd.Series, region_forest_ha: pd.Series) -> pd.DataFrame:
    """Regions' sinks from their province's per-hectare rates × their own forest area.

    (The low and high bounds scale the same way: a region's bounds are its province's
    per-hectare bounds times its area, so they are as wide, relatively, as its province's.)
    """
    rates = per_ha.reindex(region_province.reindex(region_forest_ha.index).to_numpy())
    rates.index = region_forest_ha.index
    out = rates.mul(region_forest_ha.to_numpy(dtype=float), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["net_sink_tco2_per_ha_yr_central"] = rates["net_sink_tco2_per_yr_central"]
    out["method"] = METHOD + "; province per-ha rates × the region's forest area"
    return out
