"""Forest area that agrees with the official statistics, from a coarse land-cover map.

A 0.05° majority-class map sees forest only where forest dominates a cell, so its forest
area is 13–65 % of the national forest inventory's per province and zero in many cities.
It still carries the *pattern*: which land-cover classes hold how much forest. This module
turns that pattern into areas that sum to the official provincial totals:

1. **Class fractions.** For every land-cover class ``c`` a forest fraction ``f_c`` in [0, 1]
   (the share of a class's area that is forest by China's definition, crown cover ≥ 0.2)
   is fitted so that ``Σ_c f_c · A_pc`` matches each province's official forest area
   ``F_p`` as closely as possible, every province weighted alike (relative residuals).
   A bounded least-squares problem (:func:`scipy.optimize.lsq_linear`): a few classes
   against 31 provinces.
2. **Provincial scale.** ``s_p = F_p / Σ_c f_c · A_pc`` makes every province's total exact.
3. **Regions.** A region inside province ``p`` gets ``s_p · Σ_c f_c · A_rc``: the fitted
   pattern, scaled to its province's official total.

Pure functions: frames in, frames out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from atlas.errors import FactorError

#: Source labels of a region's forest area (``forest_area_source``).
SOURCE_OFFICIAL_AREA = "official forest area of the region"
SOURCE_OFFICIAL_COVERAGE = "official forest coverage × land area"
SOURCE_CALIBRATED = "raster pattern calibrated to provincial inventory totals"
SOURCE_RASTER = "raster (measured)"


def class_columns(table: pd.DataFrame) -> list[str]:
    """The ``class_<code>_ha`` columns of a zonal class table, water and no-data excluded
    (IGBP 0 = water, 17 = water in some versions, 255 = fill)."""
    cols = [c for c in table.columns if c.startswith("class_") and c.endswith("_ha")]
    return [c for c in cols if int(c.split("_")[1]) not in (0, 17, 255)]


def fit_class_fractions(class_ha: pd.DataFrame, official_ha: pd.Series) -> pd.Series:
    """Forest fraction per land-cover class, fitted to official provincial forest areas.

    Parameters
    ----------
    class_ha : DataFrame
        Province × class area (ha), indexed like ``official_ha``.
    official_ha : Series
        Province → official forest area (ha). Provinces missing here are left out of the fit.

    Returns
    -------
    Series
        Class column → fraction in [0, 1].
    """
    common = class_ha.index.intersection(official_ha.dropna().index)
    if len(common) < 3:
        raise FactorError(f"Only {len(common)} provinces have both a class table and an official forest area",
                          "at least 3 provinces to fit class fractions", "check the official statistics table")
    a = class_ha.loc[common].to_numpy(dtype=float)
    f = official_ha.loc[common].to_numpy(dtype=float)
    weight = 1.0 / np.maximum(f, 1.0)  # relative residuals: every province counts alike
    from scipy.optimize import lsq_linear  # here: scipy.optimize costs 0.4 s to import

    result = lsq_linear(a * weight[:, None], f * weight, bounds=(0.0, 1.0), method="bvls")
    return pd.Series(result.x, index=class_ha.columns, name="forest_fraction")


def calibrate(province_class_ha: pd.DataFrame, official_province_ha: pd.Series, region_class_ha: pd.DataFrame,
              region_province: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Calibrated forest area of provinces and regions.

    Parameters
    ----------
    province_class_ha : DataFrame
        Province adcode × class area (ha).
    official_province_ha : Series
        Province adcode → official forest area (ha).
    region_class_ha : DataFrame
        Region id × class area (ha), the same class columns.
    region_province : Series
        Region id → province adcode.

    Returns
    -------
    provinces : DataFrame
        Per province: ``modelled_forest_ha`` (fitted fractions only), ``official_forest_ha``,
        ``scale`` and ``calibrated_forest_ha`` (equal to the official figure where there is one).
    regions : DataFrame
        Per region: ``modelled_forest_ha``, ``scale`` of its province and ``calibrated_forest_ha``.
    fractions are in ``provinces.attrs["fractions"]``.
    """
    fractions = fit_class_fractions(province_class_ha, official_province_ha)
    modelled = province_class_ha[fractions.index].to_numpy(dtype=float) @ fractions.to_numpy()
    prov = pd.DataFrame({"modelled_forest_ha": modelled}, index=province_class_ha.index)
    prov["official_forest_ha"] = official_province_ha.reindex(prov.index)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(prov["modelled_forest_ha"] > 0, prov["official_forest_ha"] / prov["modelled_forest_ha"],
                         np.nan)
    prov["scale"] = pd.Series(scale, index=prov.index).fillna(1.0)
    prov["calibrated_forest_ha"] = prov["modelled_forest_ha"] * prov["scale"]
    region_modelled = region_class_ha.reindex(columns=fractions.index, fill_value=0.0).fillna(0.0)
    reg = pd.DataFrame({"modelled_forest_ha": region_modelled.to_numpy(dtype=float) @ fractions.to_numpy()},
                       index=region_class_ha.index)
    reg["scale"] = region_province.reindex(reg.index).map(prov["scale"]).fillna(1.0).to_numpy()
    reg["calibrated_forest_ha"] = reg["modelled_forest_ha"] * reg["scale"]
    prov.attrs["fractions"] = fractions.to_dict()
    return prov, reg


def best_forest_area(calibrated_ha: pd.Series, official_area_ha: pd.Series, official_coverage_pct: pd.Series,
                     land_ha: pd.Series) -> pd.DataFrame:
    """The forest area each region's estimate uses, and where it comes from.

    The region's own official forest area wins; else its official coverage × land area;
    else the calibrated raster area.

    Returns
    -------
    DataFrame
        ``forest_ha`` and ``forest_area_source`` per region (index of ``calibrated_ha``).
    """
    index = calibrated_ha.index
    area = official_area_ha.reindex(index)
    from_coverage = official_coverage_pct.reindex(index) / 100.0 * land_ha.reindex(index)
    forest = area.fillna(from_coverage).fillna(calibrated_ha)
    source = np.where(area.notna(), SOURCE_OFFICIAL_AREA,
                      np.where(from_coverage.notna(), SOURCE_OFFICIAL_COVERAGE, SOURCE_CALIBRATED))
    return pd.DataFrame({"forest_ha": forest.to_numpy(dtype=float), "forest_area_source": source}, index=index)


def split_by_type(total_ha: pd.Series, type_ha: pd.DataFrame, fallback_shares: pd.DataFrame | None = None,
                  default_type: str = "igbp_mixed") -> pd.DataFrame:
    """Share a region's forest area among forest types in the proportions the raster shows.

    Regions whose raster shows no forest take ``fallback_shares`` (e.g. their province's
    proportions), else all of it goes to ``default_type``.
    """
    shares = type_ha.reindex(total_ha.index).fillna(0.0)
    sums = shares.sum(axis=1)
    shares = shares.div(sums.where(sums > 0), axis=0)
    if fallback_shares is not None:
        shares = shares.fillna(fallback_shares.reindex(shares.index))
    empty = shares.isna().all(axis=1) | (shares.sum(axis=1) == 0)
    shares = shares.fillna(0.0)
    if default_type not in shares:
        shares[default_type] = 0.0
    shares.loc[empty, :] = 0.0
    shares.loc[empty, default_type] = 1.0
    return shares.mul(total_ha.to_numpy(dtype=float), axis=0)
