"""The atlas' figures next to official statistics and published estimates (validation tables).

Pure functions: frames in, frames out. Every row says what is compared with what, the
ratio, and where the reference comes from; the explanations of the gaps are in the README.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from atlas.rasters.units import CO2_PER_C


def province_validation(forest_provinces: pd.DataFrame, sinks_provinces: pd.DataFrame,
                        official_area_ha: pd.Series, tier1: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per province: official forest area against the raster and the atlas' area, and the sinks.

    Parameters
    ----------
    forest_provinces : DataFrame
        Indexed by adcode: ``name_zh``, ``forest_ha`` (the area the estimates use) and,
        when calibrated, ``raster_forest_ha``.
    sinks_provinces : DataFrame
        Indexed by adcode: the headline ``sink_tco2_per_yr_{low,central,high}`` and
        ``sink_method``.
    official_area_ha : Series
        Adcode → official forest area (ha) of the latest national forest inventory.
    tier1 : DataFrame, optional
        Indexed by adcode: the IPCC Tier 1 gross removals (``tier1_gross_removal_tco2_per_yr_central``).
    """
    out = pd.DataFrame(index=forest_provinces.index)
    out["name_zh"] = forest_provinces.get("name_zh")
    out["official_forest_ha"] = official_area_ha.reindex(out.index)
    raster = forest_provinces.get("raster_forest_ha", forest_provinces["forest_ha"])
    out["raster_forest_ha"] = raster
    out["atlas_forest_ha"] = forest_provinces["forest_ha"]
    with np.errstate(invalid="ignore", divide="ignore"):
        out["raster_over_official"] = out["raster_forest_ha"] / out["official_forest_ha"]
        out["atlas_over_official"] = out["atlas_forest_ha"] / out["official_forest_ha"]
    for col in ("sink_tco2_per_yr_low", "sink_tco2_per_yr_central", "sink_tco2_per_yr_high", "sink_method"):
        if col in sinks_provinces:
            out[col] = sinks_provinces[col].reindex(out.index)
    if tier1 is not None and "tier1_gross_removal_tco2_per_yr_central" in tier1:
        out["tier1_gross_removal_tco2_per_yr_central"] = tier1["tier1_gross_removal_tco2_per_yr_central"].reindex(
            out.index)
    return out


def pilot_validation(forest_pilots: pd.DataFrame) -> pd.DataFrame:
    """Pilots with their own official forest figure against the calibrated raster area.

    The calibration fits class fractions to the provinces only, so a city's or county's own
    figure is an independent check of it. Province-level pilots (which take their inventory
    area) and pilots without a figure are left out.

    Parameters
    ----------
    forest_pilots : DataFrame
        Indexed by pilot_id: ``name_zh``, ``forest_ha``, ``forest_area_source``,
        ``raster_forest_ha`` and ``calibrated_forest_ha`` (the calibration step's output).

    Returns
    -------
    DataFrame
        Per pilot: ``official_forest_ha`` (its own area, or coverage × land), its source,
        the raster-only and the calibrated areas and their ratios to the official figure.
    """
    from atlas.carbon.calibration import SOURCE_OFFICIAL_AREA, SOURCE_OFFICIAL_COVERAGE

    own = forest_pilots["forest_area_source"].isin([SOURCE_OFFICIAL_AREA, SOURCE_OFFICIAL_COVERAGE])
    rows = forest_pilots[own]
    out = pd.DataFrame({"name_zh": rows.get("name_zh"), "official_forest_ha": rows["forest_ha"],
                        "official_source": rows["forest_area_source"], "raster_forest_ha": rows["raster_forest_ha"],
                        "calibrated_forest_ha": rows["calibrated_forest_ha"]}, index=rows.index)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["raster_over_official"] = out["raster_forest_ha"] / out["official_forest_ha"]
        out["calibrated_over_official"] = out["calibrated_forest_ha"] / out["official_forest_ha"]
    return out


def mainland_validation(totals_tco2: dict[str, dict[str, float]], references: pd.DataFrame) -> pd.DataFrame:
    """The atlas' mainland totals against each published or derived reference.

    Parameters
    ----------
    totals_tco2 : dict
        Estimate name → ``{"low", "central", "high"}`` in t CO2/yr (positive = sink).
    references : DataFrame
        ``geodata/validation_references.csv`` (``value_tg_c_per_yr`` with its sign convention).

    Returns
    -------
    DataFrame
        One row per (estimate, reference): the atlas' low / central / high in Tg C/yr, the
        reference as a sink (positive = uptake), the ratio, and whether the reference lies
        inside the atlas' interval.
    """
    rows = []
    for name, total in totals_tco2.items():
        atlas = {k: v / CO2_PER_C / 1e6 for k, v in total.items()}  # t CO2 → Tg C
        for _, ref in references.iterrows():
            value = float(ref["value_tg_c_per_yr"])
            sink = -value if "negative = uptake" in str(ref["sign_convention"]) else value
            rows.append({"atlas_estimate": name, "atlas_tg_c_per_yr_low": atlas["low"],
                         "atlas_tg_c_per_yr_central": atlas["central"], "atlas_tg_c_per_yr_high": atlas["high"],
                         "reference_id": ref["reference_id"], "reference_quantity": ref["quantity"],
                         "reference_period": ref["period"], "reference_sink_tg_c_per_yr": sink,
                         "atlas_over_reference": atlas["central"] / sink if sink else np.nan,
                         "reference_inside_atlas_interval": bool(atlas["low"] <= sink <= atlas["high"]),
                         "citation": ref["citation"], "url": ref["url"]})
    return pd.DataFrame(rows)
