"""Forest carbon sinks by the IPCC Tier 1 gain-loss method, with Monte Carlo uncertainty.

For each region and forest type (IPCC 2006 Guidelines, Vol. 4, Ch. 2 and 4):

- gross removals ΔC_G = A × G_W × (1 + R) × CF × 44/12 (Eq. 2.9, 2.10), in t CO2/yr;
- losses from disturbance L = A_loss × B_W × (1 + R) × CF × 44/12 (Eq. 2.12 with f_d = 1);
- net sink = removals − losses.

``A`` is the forest area of the type (ha), ``G_W`` the above-ground growth
(t d.m./ha/yr), ``R`` the root-to-shoot ratio, ``CF`` the carbon fraction (0.47),
``B_W`` the above-ground biomass stock (t d.m./ha).

Uncertainty: every factor is drawn from a triangular distribution over its
(low, value, high) range, one draw per factor per iteration shared by all regions (so
totals over regions keep the factors' correlation), with a fixed seed. ``low`` and
``high`` are the 2.5th and 97.5th percentiles; ``central`` uses the factors' central
values. Monte Carlo is used rather than IPCC error propagation (Vol. 1, Ch. 3, Approach
1) because products of factors with ranges of ±50 % and more are skewed, which
Approach 1 assumes away.

Pure functions: frames in, frames out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from atlas.errors import FactorError
from atlas.carbon.factors import factor_lookup, triangular_draws
from atlas.rasters.units import CO2_PER_C

#: Fixed seed for reproducible Monte Carlo draws.
DEFAULT_SEED = 20130601
DEFAULT_DRAWS = 10_000
def _check_areas(areas: pd.DataFrame) -> None:
    values = areas.to_numpy(dtype=float)
    if np.isnan(values).any():
        raise FactorError("Forest areas contain missing values", "an area (≥ 0 ha) for every region and type",
                          "fill regions without data with 0 or drop them")
    if (values < 0).any():
        bad = areas.index[(values < 0).any(axis=1)].tolist()
        raise FactorError(f"Negative forest area for regions {bad}", "areas ≥ 0 ha")


def _factor_draws(factors: pd.DataFrame, ftype: str, domain: str, n: int, rng: np.random.Generator):
    """Central removal and loss factors (t CO2/ha/yr and t CO2/ha) and their draws."""
    f = factor_lookup(factors, ftype, domain)
    g, r, cf, b = (f[p] for p in ("aboveground_growth_t_dm_per_ha_yr", "root_shoot_ratio", "carbon_fraction",
                                  "aboveground_biomass_stock_t_dm_per_ha"))
    central_gain = g[1] * (1 + r[1]) * cf[1] * CO2_PER_C
    central_loss = b[1] * (1 + r[1]) * cf[1] * CO2_PER_C
    gd, rd, cd, bd = (triangular_draws(*p, n, rng) for p in (g, r, cf, b))
    return central_gain, central_loss, gd * (1 + rd) * cd * CO2_PER_C, bd * (1 + rd) * cd * CO2_PER_C


def estimate_sinks(
    areas: pd.DataFrame,
    domains: pd.Series,
    factors: pd.DataFrame,
    loss_ha: pd.Series | None = None,
    loss_type: str = "tree_cover",
    draws: int = DEFAULT_DRAWS,
    seed: int = DEFAULT_SEED,
    percentiles: tuple[float, float] = (2.5, 97.5),
    return_draws: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, np.ndarray]:
    """Gross removals, losses and net sink per region, each as low / central / high.

    Parameters
    ----------
    areas : DataFrame
        Index: region id; columns: forest types of the factor table; values: ha.
    domains : Series
        Region id → climate domain (tropical, subtropical, temperate, boreal).
    factors : DataFrame
        From :func:`atlas.factors.read_factors` (optionally with Tier 2 rows applied).
    loss_ha : Series, optional
        Region id → forest area lost per year (ha/yr), e.g. Hansen loss over a period
        divided by its years. Valued with the ``loss_type`` stock.
    draws, seed : int
        Monte Carlo size and seed.
    return_draws : bool
        Also return the net-sink draws (regions × draws) so that totals over regions
        can be summarised with :func:`summarise_total`.

    Returns
    -------
    DataFrame
        Index: region id. ``forest_ha``, ``gross_removal_tco2_per_yr_{low,central,high}``,
        ``gross_loss_tco2_per_yr_*``, ``net_sink_tco2_per_yr_*`` and
        ``net_sink_tco2_per_ha_yr_central`` (per ha of forest).
    """
    _check_areas(areas)
    missing = areas.index.difference(domains.index)
    if len(missing):
        raise FactorError(f"No climate domain for regions {missing.tolist()[:10]}", "a domain for every region",
                          "add them to climate_domains.csv")
    rng = np.random.default_rng(seed)
    n_regions = len(areas)
    gain_c = np.zeros(n_regions)
    loss_c = np.zeros(n_regions)
    gain_d = np.zeros((n_regions, draws))
    loss_d = np.zeros((n_regions, draws))
    region_domain = domains.reindex(areas.index).to_numpy()
    cache: dict[tuple[str, str], tuple] = {}

    def factors_for(ftype: str, domain: str):
        if (ftype, domain) not in cache:  # one draw per factor, shared by every region
            cache[(ftype, domain)] = _factor_draws(factors, ftype, domain, draws, rng)
        return cache[(ftype, domain)]

    for ftype in areas.columns:
        a = areas[ftype].to_numpy(dtype=float)
        for domain in sorted(set(region_domain)):
            rows = np.flatnonzero((region_domain == domain) & (a > 0))
            if rows.size == 0:
                continue
            cg, _, dg, _ = factors_for(ftype, domain)
            gain_c[rows] += a[rows] * cg
            gain_d[rows] += a[rows, None] * dg[None, :]
    if loss_ha is not None:
        lost = loss_ha.reindex(areas.index).fillna(0.0).to_numpy(dtype=float)
        if (lost < 0).any():
            raise FactorError("Negative forest loss area", "loss areas ≥ 0 ha/yr")
        for domain in sorted(set(region_domain)):
            rows = np.flatnonzero((region_domain == domain) & (lost > 0))
            if rows.size:
                _, cl, _, dl = factors_for(loss_type, domain)
                loss_c[rows] += lost[rows] * cl
                loss_d[rows] += lost[rows, None] * dl[None, :]
    lo, hi = percentiles
    forest_ha = areas.sum(axis=1).to_numpy(dtype=float)
    out = pd.DataFrame(index=areas.index)
    out["climate_domain"] = region_domain
    out["forest_ha"] = forest_ha
    for name, central, sample in (("gross_removal", gain_c, gain_d), ("gross_loss", loss_c, loss_d),
                                  ("net_sink", gain_c - loss_c, gain_d - loss_d)):
        out[f"{name}_tco2_per_yr_low"] = np.percentile(sample, lo, axis=1)
        out[f"{name}_tco2_per_yr_central"] = central
        out[f"{name}_tco2_per_yr_high"] = np.percentile(sample, hi, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["net_sink_tco2_per_ha_yr_central"] = np.where(forest_ha > 0, (gain_c - loss_c) / forest_ha, np.nan)
    out.attrs.update({"method": "IPCC 2006 Tier 1 gain-loss; Monte Carlo triangular", "draws": draws,
                      "seed": seed})
    if return_draws:
        return out, gain_d - loss_d
    return out


def summarise_total(frame: pd.DataFrame, net_draws: np.ndarray, mask: np.ndarray | None = None,
                    percentiles: tuple[float, float] = (2.5, 97.5)) -> dict[str, float]:
    """Low / central / high of the net sink summed over regions (``mask`` selects rows).

    The percentiles are taken on the summed draws: a percentile of a sum is not the sum
    of the regions' percentiles, because the regions share their factors.
    """
    mask = np.ones(len(frame), bool) if mask is None else np.asarray(mask, bool)
    summed = net_draws[mask].sum(axis=0)
    return {"low": float(np.percentile(summed, percentiles[0])),
            "central": float(frame.loc[mask, "net_sink_tco2_per_yr_central"].sum()),
            "high": float(np.percentile(summed, percentiles[1]))}
