"""The sinks tables of a run: both estimates, the headline, per-hectare figures and offset ratios.

Pure functions: frames in, frames out (see :mod:`atlas.carbon.headline` for the naming rules).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from atlas.carbon import headline, sinks

#: Province-level units outside the mainland, left out of "national" totals.
NOT_MAINLAND = (710000, 810000, 820000)


def sink_table(forest_frame: pd.DataFrame, by_type: pd.DataFrame, domains: pd.Series, lib: pd.DataFrame, *,
               emissions: pd.Series | pd.DataFrame | None, emissions_source: str, forest_source: str,
               loss_ha_per_yr: pd.Series | None = None, inventory: pd.DataFrame | None = None,
               draws: int = sinks.DEFAULT_DRAWS, seed: int = sinks.DEFAULT_SEED) -> pd.DataFrame:
    """Sinks per region: Tier 1, the inventory method where given, the headline, offset ratios.

    Parameters
    ----------
    forest_frame : DataFrame
        The forest table (indexed by region id; names, land areas, ``forest_area_source``).
    by_type : DataFrame
        Forest area per forest type (ha) for Tier 1, indexed by region id.
    emissions : Series or DataFrame, optional
        Region id → emissions (t CO2/yr) for the offset ratio; a frame may also give each
        region's ``emissions_year`` and ``emissions_source``.
    inventory : DataFrame, optional
        ``inventory_net_sink_tco2_per_yr_*`` and ``inventory_period`` per region.
    """
    estimate = sinks.estimate_sinks(by_type, domains, lib, loss_ha=loss_ha_per_yr, draws=draws, seed=seed)
    losses = loss_ha_per_yr is not None
    table = pd.DataFrame(index=estimate.index)
    if "name_zh" in forest_frame:
        table["name_zh"] = forest_frame["name_zh"].reindex(table.index)
    table["climate_domain"] = estimate["climate_domain"]
    table["forest_ha"] = estimate["forest_ha"]
    table["forest_area_source"] = (forest_frame["forest_area_source"].reindex(table.index)
                                   if "forest_area_source" in forest_frame else "raster (measured)")
    table["land_area_ha"] = forest_frame["land_area_ha"].reindex(table.index)
    table = table.join(headline.tier1_columns(estimate, losses))
    if inventory is not None:
        table = table.join(inventory)
    table = headline.with_headline(table, losses)
    if isinstance(emissions, pd.Series):
        emissions = pd.DataFrame({"emissions_tco2_per_yr": emissions, "emissions_source": emissions_source})
    if emissions is not None:
        table["emissions_tco2_per_yr"] = emissions["emissions_tco2_per_yr"].reindex(table.index)
        if "emissions_year" in emissions:
            table["emissions_year"] = emissions["emissions_year"].reindex(table.index)
        table["offset_ratio_central"] = table["sink_tco2_per_yr_central"] / table["emissions_tco2_per_yr"]
        source = emissions["emissions_source"].reindex(table.index).fillna("")
        table["emissions_source"] = np.where(table["emissions_tco2_per_yr"].notna(), source, "")
    table["forest_source"] = forest_source
    return table


def province_sinks(forest_frame: pd.DataFrame, by_type: pd.DataFrame, domains: pd.Series, lib: pd.DataFrame,
                   official: pd.DataFrame | None, params: pd.DataFrame | None, draws: int, seed: int
                   ) -> tuple[pd.DataFrame, dict[str, dict[str, float]]]:
    """Sinks per province-level unit and the mainland totals of each estimate (t CO2/yr).

    Returns
    -------
    table : DataFrame
        As :func:`sink_table` (no emissions), indexed by adcode.
    totals : dict
        ``"headline"``, ``"tier1"`` and, where available, ``"inventory"`` → low / central / high
        over the 31 mainland provinces.
    """
    mainland = ~by_type.index.astype(int).isin(NOT_MAINLAND)
    inventory, inventory_total = None, None
    if official is not None and params is not None:
        inventory, inventory_total = headline.inventory_provinces(
            official, forest_frame["forest_ha"], params, draws, seed,
            total_of=pd.Series(mainland, index=by_type.index).reindex(forest_frame.index).fillna(False))
    table = sink_table(forest_frame, by_type, domains, lib, emissions=None, emissions_source="",
                       forest_source="", inventory=inventory, draws=draws, seed=seed).drop(columns="forest_source")
    gross, net_draws = sinks.estimate_sinks(by_type, domains, lib, draws=draws, seed=seed, return_draws=True)
    tier1 = sinks.summarise_total(gross, net_draws, mainland)  # no losses: net draws are the removals
    totals = {"tier1_gross_removal": tier1}
    if inventory_total is not None and table.loc[mainland, "inventory_net_sink_tco2_per_yr_central"].notna().all():
        totals["inventory"] = inventory_total
        totals["headline"] = inventory_total
    else:
        totals["headline"] = tier1
    return table, totals
