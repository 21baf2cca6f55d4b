"""What each step of a run computes, as plain functions the CLI commands call too.

``atlas run`` (and ``atlas build``, a run of the packaged default config) wraps these in
content-keyed cache steps (:mod:`atlas.workflow.runner`); ``atlas sinks`` and ``atlas targets``
call them directly. Every function takes tables and returns tables.
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from atlas.carbon import compensation, factors, targets
from atlas.carbon.sink_tables import NOT_MAINLAND, province_sinks, sink_table  # noqa: F401 (re-exported)
from atlas.carbon.forest_area import forest_areas_by_type, forest_table
from atlas.carbon.stock_change import PARAMETERS_FILE as INVENTORY_PARAMETERS_FILE  # noqa: F401 (re-exported)
from atlas.carbon.stock_change import read_parameters as inventory_parameters  # noqa: F401 (re-exported)
from atlas.errors import ConfigError
from atlas.paths import geodata_dir
from atlas.rasters import open_layer
from atlas.rasters.layer import LayerSpec
from atlas.regions import boundaries, registry
from atlas.regions.official import in_preference_order
from atlas.workflow.config import LayerConfig
from atlas.zonal import zonal_stats

log = logging.getLogger(__name__)

#: The embedded default forest layer (see geodata/README.md, MCD12C1 section).
DEFAULT_FOREST = "mcd12c1_2019_igbp_china.tif"
DEFAULT_FOREST_LABEL = "MODIS MCD12C1 2019 (embedded)"
DEFAULT_FOREST_YEAR = 2019
OFFICIAL_FILE = "official_forest_stats.csv"
EMISSIONS_SERIES_FILE = "emissions_series_pilots.csv"
GDP_FILE = "gdp_constant_prices.csv"
CEADS_LABEL = "CEADs inventory (Shan et al. 2018, 2019, 2022), year-matched to the sink year"
REPORTED_EMISSIONS_LABEL = "reported 2010 (seed Tables 1-2: per-capita × population)"


# -- regions -------------------------------------------------------------------------------------

def select_regions(reg: registry.Registry, selection: dict) -> gpd.GeoDataFrame:
    """Registry pilots with full-precision outlines, filtered by a ``[regions]`` selection."""
    frame = boundaries.load_pilot_boundaries(reg)
    frame = registry.select_pilots(frame, batch=selection.get("batch") or None, level=selection.get("level") or None,
                                   province=selection.get("province"), year=selection.get("year"),
                                   ids=selection.get("ids") or None)
    if frame.empty:
        raise ConfigError("[regions] selects no pilot", "at least one pilot", "loosen the selection")
    return frame


def user_regions(path: Path, id_column: str, encoding: str | None, layer: str | None = None) -> gpd.GeoDataFrame:
    """The user's outlines with ``land_area_km2``: their area on the WGS84 ellipsoid, by the
    zonal engine's own definition (edges straight in lon/lat), so a raster of ones sums to it."""
    from atlas.zonal import ellipsoidal_areas_m2

    frame = boundaries.read_regions(path, id_column, encoding=encoding, layer=layer)
    lonlat = gpd.GeoSeries(frame.geometry, crs=frame.crs).to_crs(4326)
    return frame.assign(land_area_km2=ellipsoidal_areas_m2(lonlat) / 1e6)


def land_ha(regions: pd.DataFrame, id_column: str) -> pd.Series:
    """Region id → land area in ha."""
    return regions.set_index(id_column)["land_area_km2"] * 100.0


# -- layers --------------------------------------------------------------------------------------

def default_forest_config() -> LayerConfig:
    """The embedded forest layer as a run layer (so its file is fingerprinted like any other)."""
    return LayerConfig(paths=(geodata_dir() / DEFAULT_FOREST,), product="modis", year=DEFAULT_FOREST_YEAR)


def open_configured(layer: LayerConfig, default_product: str | None = None):
    """``(readers, spec)`` of a run layer."""
    return open_layer(list(layer.paths), product=layer.product or default_product, kind=layer.kind,
                      units=layer.units, nodata=layer.nodata, threshold=layer.threshold, bands=layer.bands,
                      series=layer.series, name=layer.name, groups=dict(layer.groups) or None)


def band_of_year(table: pd.DataFrame, year: int | None) -> tuple[pd.DataFrame, str]:
    """The rows of one band of a stacked zonal table (``band`` and maybe ``time`` columns, one row
    per region and band): the band whose time falls in ``year``, else the last band; with the
    choice as a label (empty for a single-band table, returned as it is)."""
    if "band" not in table:
        return table, ""
    number = pd.to_numeric(table["band"], errors="coerce")  # the engine may label bands as text
    bands = table.assign(number=number)[["number"] + (["time"] if "time" in table else [])].drop_duplicates("number")
    chosen = bands["number"].max()
    if "time" in bands and year is not None:
        match = bands[pd.to_datetime(bands["time"].astype(str), errors="coerce").dt.year == year]
        chosen = match["number"].iloc[-1] if len(match) else chosen
    rows = table[number == chosen]
    label = f"band {int(chosen)}" + (f" ({rows['time'].iloc[0]})" if "time" in rows and len(rows) else "")
    return rows.drop(columns=[c for c in ("band", "time") if c in rows]).reset_index(drop=True), label


def emissions_of_year(table: pd.DataFrame, column: str, id_column: str, year: int | None) -> tuple[pd.Series, str]:
    """Region → emissions (t CO2/yr) from an emissions layer's zonal table (:func:`band_of_year` for
    a stack), and which band was used."""
    rows, label = band_of_year(table, year)
    return rows.set_index(id_column)[column], label


def forest_by_band(stack: pd.DataFrame, spec: LayerSpec, regions: pd.DataFrame, id_column: str) -> pd.DataFrame:
    """Forest area per region and band (year) of a stacked land-cover or cover layer: long form
    ``id, band, [time,] forest_ha, forest_share_of_land``."""
    keys = ["band"] + (["time"] if "time" in stack else [])
    parts = []
    for key, rows in stack.groupby(keys, sort=True):
        frame = forest(rows.drop(columns=keys).reset_index(drop=True), spec, regions, id_column)
        part = frame[["forest_ha", "forest_share_of_land"]].reset_index()
        for name, value in zip(keys, key if isinstance(key, tuple) else (key,)):
            part.insert(1, name, value)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def layer_label(layer: LayerConfig) -> str:
    """How outputs name a layer: the embedded default by name, else its first files."""
    if layer.paths == default_forest_config().paths:
        return DEFAULT_FOREST_LABEL
    names = [p.name for p in layer.paths]
    return ", ".join(names[:2]) + (" …" if len(names) > 2 else "")


def check_emissions_units(spec: LayerSpec, where: str) -> str:
    """The emissions column of a layer's zonal table; refuses layers that are not CO2 per year."""
    if spec.unit.output != "tco2_per_yr":
        raise ConfigError(f"{where} gives {spec.unit.output}, not CO2 per year",
                          "an emissions raster in t CO2 or t C per cell and year, or a CO2 flux density",
                          "give the kind and units that describe the file")
    return f"{spec.name}_tco2_per_yr"


def zonal(regions: gpd.GeoDataFrame, readers, spec: LayerSpec, id_column: str, workers: int | None = None,
          client=None) -> pd.DataFrame:
    """The zonal table of a layer over the regions."""
    return zonal_stats(regions, readers, spec, id_column=id_column, workers=workers, client=client)


# -- forest and sinks ----------------------------------------------------------------------------

def forest(zonal_table: pd.DataFrame, spec: LayerSpec, regions: pd.DataFrame, id_column: str) -> pd.DataFrame:
    """Forest area per region (the area the sinks use) with its share of land."""
    names = regions.set_index(id_column)["name_zh"] if "name_zh" in regions else None
    by_type = forest_areas_by_type(zonal_table, spec, id_column)
    return forest_table(zonal_table, by_type, land_ha(regions, id_column), id_column, names)


def climate_domains(regions: gpd.GeoDataFrame, id_column: str, uses_registry: bool) -> pd.Series:
    """Region id → climate domain: the documented domain of each pilot, else by latitude."""
    if uses_registry and id_column == "pilot_id":
        return factors.read_climate_domains().set_index("pilot_id")["climate_domain"]
    lat = regions.set_index(id_column).geometry.to_crs(4326).representative_point().y
    return lat.map(factors.domain_by_latitude)


def province_domains(provinces: gpd.GeoDataFrame, reg: registry.Registry) -> pd.Series:
    """Province adcode → climate domain: the documented domain where the province is itself a
    pilot, else by the latitude of a point inside it."""
    lat = provinces.set_index("adcode").geometry.representative_point().y
    domains = lat.map(factors.domain_by_latitude)
    documented = factors.read_climate_domains().set_index("pilot_id")["climate_domain"]
    for _, pilot in reg.pilots[reg.pilots["level"] == "province"].iterrows():
        domains[pilot["adcode"]] = documented[pilot["pilot_id"]]
    return domains


def reported_emissions(reg: registry.Registry) -> pd.Series:
    """Pilot id → reported 2010 emissions (t CO2/yr) = per-capita emissions × population (seed
    Tables 1-2)."""
    stats = reg.stats_2010[reg.stats_2010["pilot_id"] != ""].set_index("pilot_id")
    return (stats["co2_per_capita_t"] * stats["population_10k"] * 1e4).dropna()


def emissions_series() -> pd.DataFrame | None:
    """The bundled CEADs emissions series per pilot (long form), or None where absent."""
    path = geodata_dir() / EMISSIONS_SERIES_FILE
    if not path.exists():
        return None
    return pd.read_csv(path, dtype={"pilot_id": str, "source": str}, encoding="utf-8")


def year_matched_emissions(series: pd.DataFrame, year: int) -> pd.DataFrame:
    """Pilot → emissions (t CO2/yr) of ``year``, or of the latest earlier year with a figure,
    with that year (``emissions_year``) so the match is stated, never silent."""
    known = series.dropna(subset=["emissions_tco2"])
    known = known[known["year"] <= year].sort_values("year")
    last = known.groupby("pilot_id").last()
    return pd.DataFrame({"emissions_tco2_per_yr": last["emissions_tco2"],
                         "emissions_year": last["year"].astype("Int64")})


def emissions_for_offsets(reg: registry.Registry, sink_year: int | None) -> tuple[pd.DataFrame, str]:
    """Emissions the offset ratios divide by: CEADs matched to the sink year where the series
    covers the pilot, else the seed's reported 2010 figure; per pilot, with year and source."""
    reported = reported_emissions(reg)
    out = pd.DataFrame({"emissions_tco2_per_yr": reported, "emissions_year": pd.array([2010] * len(reported),
                                                                                     dtype="Int64")})
    out["emissions_source"] = REPORTED_EMISSIONS_LABEL
    series = emissions_series()
    if series is not None and sink_year is not None:
        matched = year_matched_emissions(series, sink_year)
        matched["emissions_source"] = CEADS_LABEL
        out = pd.concat([out.drop(index=matched.index, errors="ignore"), matched])
    return out, CEADS_LABEL


def factor_library(user_factors: Path | None = None) -> pd.DataFrame:
    """The default factor table, with a user's Tier 2 rows applied."""
    lib = factors.read_factors()
    if user_factors is not None:
        lib = factors.apply_tier2(lib, factors.read_factors(user_factors))
    return lib


def ledger(sink_frame: pd.DataFrame, scheme: str, price: float, rate: float, years: int,
           contribution_share: float, baseline: pd.Series | None, growth: float = 0.0,
           estimate: str = "central") -> pd.DataFrame:
    """The compensation ledger of the run's scheme (see :func:`atlas.carbon.compensation.ledger`),
    paying for the headline sink."""
    out = compensation.ledger(sink_frame, scheme, price, rate, years, contribution_share, baseline,
                              estimate=estimate, growth=growth)
    out.index.name = sink_frame.index.name
    return out


def official_statistics() -> pd.DataFrame | None:
    """The bundled official forest statistics, or None where this build ships none."""
    path = geodata_dir() / OFFICIAL_FILE
    if not path.exists():
        return None
    from atlas.regions.official import load_official_stats

    return load_official_stats(path)


def track(reg: registry.Registry, pilot_ids: pd.Series, forest_frame: pd.DataFrame, year: int | None,
          source: str, official: pd.DataFrame | None) -> pd.DataFrame:
    """Declared targets of the selected pilots judged against official statistics, with the
    run's raster forest share beside coverage targets (never judged on it)."""
    mine = reg.targets[reg.targets["pilot_id"].isin(pilot_ids)]
    raster = forest_frame.get("raster_forest_ha", forest_frame.get("forest_ha"))  # the raster's own area
    share = raster / forest_frame["land_area_ha"] * 100.0 if year is not None and raster is not None else None
    tracked = targets.track_targets(mine, official, reg.pilots, share, year, source)
    intensity = intensity_table()
    if intensity is None:
        return tracked
    from atlas.carbon.intensity import judge_intensity_targets

    judged = judge_intensity_targets(mine, intensity, int(intensity["year"].max())).set_index("target_id")
    rows = tracked["target_id"].isin(judged.index)
    for col in ("measured_value", "measured_unit", "measured_year", "measured_source", "status", "caveat"):
        tracked.loc[rows, col] = tracked.loc[rows, "target_id"].map(judged[col]).to_numpy()
    return tracked


def intensity_table() -> pd.DataFrame | None:
    """Carbon intensity per pilot and year (CEADs emissions over real GDP at 2005 prices), or
    None where the bundled series are absent."""
    series, gdp_path = emissions_series(), geodata_dir() / GDP_FILE
    if series is None or not gdp_path.exists():
        return None
    from atlas.carbon.intensity import intensity_series

    gdp = pd.read_csv(gdp_path, dtype={"pilot_id": str}, encoding="utf-8")
    return intensity_series(series.dropna(subset=["emissions_tco2"]), gdp.dropna(subset=["gdp_real_100m_yuan_2005"]))


def official_year_by_region(official: pd.DataFrame | None, indicator: str, ids: pd.Index) -> pd.Series:
    """Province adcode → period and year of its latest national-inventory figure of ``indicator``."""
    if official is None:
        return pd.Series("", index=ids)
    rows = official[(official["indicator"] == indicator) & (official["region_level"] == "province")
                    & official["period"].astype(str).str.startswith("NFI")].sort_values("year")
    last = rows.groupby("adcode").last()
    return (last["period"].astype(str)).reindex(ids).fillna("")


def official_by_region(official: pd.DataFrame | None, indicator: str, key: str, ids: pd.Index,
                       latest_year: int | None = None, inventories_only: bool = False) -> pd.Series:
    """Region → the latest official figure of ``indicator`` (at or before ``latest_year``),
    keyed by ``pilot_id`` or by province ``adcode``; with ``inventories_only`` only figures of the
    national forest inventories count (the calibration's provincial totals)."""
    if official is None:
        return pd.Series(np.nan, index=ids)
    rows = official[official["indicator"] == indicator]
    if inventories_only:
        rows = rows[rows["period"].astype(str).str.startswith("NFI")]
    if key == "adcode":
        rows = rows[rows["region_level"] == "province"]
    else:
        rows = rows[rows["pilot_id"].fillna("") != ""]
    if latest_year is not None:
        rows = rows[rows["year"] <= latest_year]
    latest = in_preference_order(rows).groupby(key)["value"].last()
    latest.index = latest.index.astype(ids.dtype) if len(latest) else latest.index
    return latest.reindex(ids)


def calibrated_forest(pilot_forest: pd.DataFrame, pilot_zonal: pd.DataFrame, province_forest: pd.DataFrame,
                      province_zonal: pd.DataFrame, official: pd.DataFrame, regions: pd.DataFrame,
                      id_column: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Forest areas that agree with the official statistics (see :mod:`atlas.carbon.calibration`).

    Provinces take their latest national-inventory forest area; regions take their own official
    area, else official coverage × land, else the raster pattern calibrated to their province.
    The raster-only area stays beside it (``raster_forest_ha``), and for regions the calibrated
    raster area even where an official figure wins (``calibrated_forest_ha``: a check of the
    calibration against figures it was not fitted to).
    """
    from atlas.carbon import calibration as cal

    classes = cal.class_columns(province_zonal)
    prov_classes = province_zonal.set_index("adcode")[classes].fillna(0.0)
    prov_official = official_by_region(official, "forest_area", "adcode", prov_classes.index,
                                       inventories_only=True) * 1e4  # 万公顷 → ha
    region_classes = pilot_zonal.set_index(id_column).reindex(columns=classes).fillna(0.0)
    region_province = (regions.set_index(id_column)["province_adcode"] if "province_adcode" in regions
                       else pd.Series(0, index=region_classes.index))
    prov_cal, reg_cal = cal.calibrate(prov_classes, prov_official, region_classes, region_province)
    ids = pilot_forest.index
    land = pilot_forest["land_area_ha"]
    best = cal.best_forest_area(reg_cal["calibrated_forest_ha"].reindex(ids),
                                official_by_region(official, "forest_area", id_column, ids) * 1e4,
                                official_by_region(official, "forest_coverage", id_column, ids), land)
    # a province-level pilot is its province: its inventory area wins
    province_level = regions.set_index(id_column).get("level", pd.Series("", index=ids)).reindex(ids) == "province"
    prov_area = region_province.reindex(ids).map(prov_official)
    use_prov = province_level & prov_area.notna()
    best.loc[use_prov, "forest_ha"] = prov_area[use_prov]
    best.loc[use_prov, "forest_area_source"] = "official forest area of the province (national forest inventory)"

    def finish(frame: pd.DataFrame, area: pd.Series, source, extra: dict) -> pd.DataFrame:
        out = frame.copy()
        out.insert(out.columns.get_loc("forest_ha"), "raster_forest_ha", out["forest_ha"])
        out["forest_ha"] = area.reindex(out.index).to_numpy(dtype=float)
        out.insert(out.columns.get_loc("forest_ha") + 1, "forest_area_source", source)
        out["forest_share_of_land"] = out["forest_ha"] / out["land_area_ha"]
        for name, values in extra.items():
            out.insert(out.columns.get_loc("forest_area_source") + 1, name, values)
        return out

    prov_cal["official_period"] = official_year_by_region(official, "forest_area", prov_cal.index)
    pilots_out = finish(pilot_forest, best["forest_ha"], best["forest_area_source"].to_numpy(),
                        {"calibration_scale": reg_cal["scale"].reindex(ids).to_numpy(),
                         "calibrated_forest_ha": reg_cal["calibrated_forest_ha"].reindex(ids).to_numpy()})
    prov_source = pd.Series(np.where(prov_cal["official_forest_ha"].notna(),
                                     "official forest area of the province (national forest inventory)",
                                     cal.SOURCE_CALIBRATED), index=prov_cal.index)
    provinces_out = finish(province_forest, prov_cal["calibrated_forest_ha"].reindex(province_forest.index),
                           prov_source.reindex(province_forest.index).to_numpy(),
                           {"calibration_scale": prov_cal["scale"].reindex(province_forest.index).to_numpy(),
                            "official_forest_period": prov_cal["official_period"].reindex(
                                province_forest.index).to_numpy()})
    fractions = pd.Series(prov_cal.attrs["fractions"])
    log.info("calibrated forest fractions per class: %s", fractions.round(3).to_dict())
    return pilots_out, provinces_out


def forest_by_type_for_sinks(forest_frame: pd.DataFrame, raster_by_type: pd.DataFrame,
                             fallback_by_type: pd.DataFrame | None = None) -> pd.DataFrame:
    """Forest area per forest type for the sinks: the raster's own areas, or, where the forest
    area was calibrated or taken from statistics, that area shared in the raster's proportions
    (or in ``fallback_by_type``'s, e.g. the province's, where the raster shows no forest)."""
    if "raster_forest_ha" not in forest_frame:
        return raster_by_type
    from atlas.carbon.calibration import split_by_type

    fallback = None
    if fallback_by_type is not None:
        sums = fallback_by_type.sum(axis=1)
        fallback = fallback_by_type.div(sums.where(sums > 0), axis=0)
    return split_by_type(forest_frame["forest_ha"], raster_by_type, fallback)
