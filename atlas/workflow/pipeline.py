"""The default job behind ``atlas build``: everything from the embedded data, no network.

Each step is a function that takes what it needs and writes its outputs atomically
into the output folder; :func:`build` runs them in order and returns a summary.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from atlas.regions import boundaries, registry
from atlas.carbon import compensation, factors, sinks, targets
from atlas.errors import FactorError, UnitsError
from atlas.export import write_frame
from atlas.paths import geodata_dir
from atlas.publish import records
from atlas.publish.maps import tile_provider
from atlas.publish.site import RasterLayer, SiteData, publish_site
from atlas.rasters import modis, open_layer
from atlas.rasters.layer import LayerSpec, RasterSource
from atlas.zonal import zonal_stats

log = logging.getLogger(__name__)

Progress = Callable[[str], None]

#: The embedded default forest layer (see geodata/README.md, MCD12C1 section).
DEFAULT_FOREST = "mcd12c1_2019_igbp_china.tif"
#: Province-level units outside the mainland, left out of "national" totals.
NOT_MAINLAND = (710000, 810000, 820000)


@dataclass(frozen=True)
class BuildOptions:
    """Choices of a build beyond the embedded defaults.

    Attributes
    ----------
    tiles : str
        Basemap of the published maps (:data:`atlas.publish.maps.TILE_PROVIDERS`).
    emissions : tuple of paths
        An emissions raster (or the tiles of a mosaic): summed exactly over each pilot,
        it replaces the reported 2010 emissions in offset ratios and is drawn on the maps.
    emissions_product, emissions_kind, emissions_units : str, optional
        How to read it (product adapter, or kind/units of a generic raster).
    workers : int, optional
        Threads of the zonal engine.
    """

    tiles: str = "none"
    emissions: tuple[str, ...] = ()
    emissions_product: str | None = None
    emissions_kind: str | None = None
    emissions_units: str | None = None
    workers: int | None = None


@dataclass
class BuildResult:
    """What :func:`build` wrote and the headline figures it found."""

    out_dir: Path
    options: BuildOptions = field(default_factory=BuildOptions)
    files: list[Path] = field(default_factory=list)
    summary: dict[str, object] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    rasters: dict[str, RasterLayer] = field(default_factory=dict)


def publish_registry(reg: registry.Registry, out_dir: Path, result: BuildResult) -> None:
    """Write the registry tables (with areas and 2010 statistics) into ``out_dir/data``."""
    data = out_dir / "data"
    pilots = boundaries.load_pilot_boundaries(reg)
    result.tables["pilot_outlines"] = pilots
    result.tables["province_outlines"] = boundaries.load_provinces()
    table = registry.join_stats(boundaries.area_table(pilots), reg.stats_2010)
    result.tables["pilots"] = table
    result.files.append(write_frame(table, data / "pilots.csv", overwrite=True))
    result.files.append(write_frame(registry.join_targets(reg.pilots, reg.targets),
                                    data / "targets.csv", overwrite=True))
    result.files.append(write_frame(pilots, data / "pilots.gpkg", overwrite=True, layer="pilots"))
    display = boundaries.load_pilot_boundaries(reg, display=True)
    result.tables["pilot_display"] = display
    result.files.append(write_frame(display, data / "pilots.geojson", overwrite=True))
    provinces = boundaries.load_provinces(display=True)
    result.tables["province_display"] = provinces
    result.files.append(write_frame(provinces, data / "provinces.geojson", overwrite=True))
    counts = reg.pilots.groupby("batch").size().to_dict()
    result.summary["pilots_per_batch"] = {int(k): int(v) for k, v in counts.items()}
    result.summary["pilots_total"] = int(len(reg.pilots))


def default_forest_layer() -> tuple[list[RasterSource], LayerSpec]:
    """The embedded MODIS MCD12C1 2019 forest layer (readers, spec), no network needed."""
    return [RasterSource(geodata_dir() / DEFAULT_FOREST)], modis.spec("MCD12C1")


def forest_table(regions: gpd.GeoDataFrame, id_column: str, workers: int | None = None) -> pd.DataFrame:
    """Forest area per region from the embedded MODIS MCD12C1 2019 map, with land shares.

    ``forest_share_of_land`` divides by the land area (sea inside coastal outlines
    excluded), never by the outline area.
    """
    readers, spec = default_forest_layer()
    table = zonal_stats(regions, readers, spec, id_column=id_column, workers=workers)
    land_ha = regions.set_index(id_column)["land_area_km2"].reindex(table[id_column]).to_numpy() * 100.0
    table.insert(table.columns.get_loc("forest_ha") + 1, "forest_share_of_land", table["forest_ha"] / land_ha)
    table.insert(1, "land_area_ha", land_ha)
    table.attrs["caveat"] = modis.UNDERCOUNT_CAVEAT
    return table


def forest_tables(pilots: gpd.GeoDataFrame, provinces: gpd.GeoDataFrame,
                  workers: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Forest area per pilot and per province from the embedded MODIS layer."""
    per_pilot = forest_table(pilots, "pilot_id", workers)
    per_pilot.insert(1, "name_zh", pilots["name_zh"].to_numpy())
    per_province = forest_table(provinces, "adcode", workers)
    per_province.insert(1, "name_zh", provinces["name_zh"].to_numpy())
    return per_pilot, per_province


def publish_forest(reg: registry.Registry, out_dir: Path, result: BuildResult) -> None:
    """Write forest area per pilot and per province; keep the tables for later steps."""
    data = out_dir / "data"
    per_pilot, per_province = forest_tables(result.tables["pilot_outlines"], result.tables["province_outlines"],
                                            result.options.workers)
    readers, spec = default_forest_layer()
    result.rasters["forest"] = RasterLayer(readers, spec, "MODIS MCD12C1 2019")
    result.files.append(write_frame(per_pilot, data / "forest_modis2019_pilots.csv", overwrite=True))
    result.files.append(write_frame(per_province, data / "forest_modis2019_provinces.csv", overwrite=True))
    mainland = per_province[~per_province["adcode"].astype(int).isin(NOT_MAINLAND)]
    result.summary["forest_mainland_km2_modis2019"] = round(float(mainland["forest_ha"].sum()) / 100.0)
    result.summary["forest_caveat"] = modis.UNDERCOUNT_CAVEAT
    result.tables["forest_pilots"] = per_pilot
    result.tables["forest_provinces"] = per_province


def publish_emissions(reg: registry.Registry, out_dir: Path, result: BuildResult) -> None:
    """Sum the emissions raster of the options (if any) exactly over every pilot."""
    opts = result.options
    if not opts.emissions:
        return
    readers, spec = open_layer(list(opts.emissions), product=opts.emissions_product, kind=opts.emissions_kind,
                               units=opts.emissions_units)
    if spec.unit.output != "tco2_per_yr":
        raise UnitsError(f"The emissions raster gives {spec.unit.output}, not CO2 per year",
                         "an emissions layer in t CO2 or t C per cell and year, or a CO2 flux density",
                         "pass --emissions-kind/--emissions-units that describe the file")
    table = zonal_stats(result.tables["pilot_outlines"], readers, spec, id_column="pilot_id", workers=opts.workers)
    column = f"{spec.name}_tco2_per_yr"
    series = table.set_index("pilot_id")[column]
    label = ", ".join(Path(p).name for p in opts.emissions[:3]) + (" …" if len(opts.emissions) > 3 else "")
    result.tables["raster_emissions"] = series
    result.rasters["emissions"] = RasterLayer(readers, spec, label)
    result.files.append(write_frame(table, out_dir / "data" / "emissions_raster_pilots.csv", overwrite=True))
    result.summary["emissions_raster"] = label


def domain_by_latitude(lat: float) -> str:
    """Fallback climate domain for regions without a documented one (provinces that are not
    pilots): tropical south of 20°N, subtropical to the Qinling-Huaihe line (33.5°N),
    temperate to 50°N, boreal beyond. Pilots use geodata/climate_domains.csv instead."""
    if lat < 20.0:
        return "tropical"
    if lat < 33.5:
        return "subtropical"
    return "temperate" if lat < 50.0 else "boreal"


def reported_emissions(reg: registry.Registry) -> pd.Series:
    """Pilot id → reported 2010 emissions (t CO2/yr) = per-capita emissions × population (Tables 1-2)."""
    stats = reg.stats_2010[reg.stats_2010["pilot_id"] != ""].set_index("pilot_id")
    return (stats["co2_per_capita_t"] * stats["population_10k"] * 1e4).dropna()


def forest_areas_by_type(table: pd.DataFrame, spec, id_column: str) -> pd.DataFrame:
    """Forest area (ha) per factor-table forest type from a zonal table of any forest layer.

    IGBP class tables give one column per IGBP forest type; Hansen cover (area at or
    above the threshold) and WorldCover tree cover give ``tree_cover``.
    """
    if spec.name == "igbp":
        return sinks.forest_by_type_from_igbp(table, id_column).set_index(id_column)
    if spec.kind.value == "fraction" and spec.threshold is not None:
        col = f"{spec.name}_ge{spec.threshold:g}{spec.unit.slug}_ha"
    elif "forest_ha" in table.columns:
        col = "forest_ha"
    else:
        raise FactorError(f"Layer {spec.name!r} gives no forest area",
                                  "a land-cover layer with a forest group or a cover layer with a threshold",
                                  "use MODIS, Hansen treecover2000 or WorldCover")
    return pd.DataFrame({"tree_cover": table[col].fillna(0.0).to_numpy()}, index=table[id_column])


def sink_table(areas: pd.DataFrame, domains: pd.Series, factor_table: pd.DataFrame,
               emissions: pd.Series | None = None, land_ha: pd.Series | None = None,
               loss_ha_per_yr: pd.Series | None = None, **kw) -> pd.DataFrame:
    """Sinks per region with per-ha figures and the offset ratio against ``emissions``."""
    table = sinks.estimate_sinks(areas, domains, factor_table, loss_ha=loss_ha_per_yr, **kw)
    if land_ha is not None:
        table["land_area_ha"] = land_ha.reindex(table.index)
        table["net_sink_tco2_per_ha_land_yr_central"] = table["net_sink_tco2_per_yr_central"] / table["land_area_ha"]
    if emissions is not None:
        table["emissions_tco2_per_yr"] = emissions.reindex(table.index)
        table["offset_ratio_central"] = table["net_sink_tco2_per_yr_central"] / table["emissions_tco2_per_yr"]
    return table


def labelled_sinks(areas: pd.DataFrame, domains: pd.Series, factor_table: pd.DataFrame,
                   names: pd.Series | None, emissions: pd.Series | None, emissions_source: str,
                   forest_source: str, **kw) -> pd.DataFrame:
    """:func:`sink_table` with the region names and the sources of its emissions and forest."""
    table = sink_table(areas, domains, factor_table, emissions=emissions, **kw)
    if names is not None:
        table.insert(0, "name_zh", names.reindex(table.index))
    if "emissions_tco2_per_yr" in table:
        table["emissions_source"] = np.where(table["emissions_tco2_per_yr"].notna(), emissions_source, "")
    table["forest_source"] = forest_source
    return table


def track_forest_targets(reg: registry.Registry, forest_pilots: pd.DataFrame) -> pd.DataFrame:
    """Registry targets next to the forest share of land measured from the embedded layer."""
    share = forest_pilots.set_index("pilot_id")["forest_share_of_land"] * 100.0
    return targets.track_targets(reg.targets, share, 2019, "MODIS MCD12C1 2019 (embedded)")


def publish_sinks(reg: registry.Registry, out_dir: Path, result: BuildResult) -> None:
    """Tier 1 sinks per pilot and for the mainland, offset ratios, compensation ledgers, targets."""
    data = out_dir / "data"
    lib = factors.read_factors()
    forest = result.tables["forest_pilots"]
    areas = sinks.forest_by_type_from_igbp(forest, "pilot_id").set_index("pilot_id")
    domains = factors.read_climate_domains().set_index("pilot_id")["climate_domain"]
    by_id = forest.set_index("pilot_id")
    raster = result.tables.get("raster_emissions")
    emissions = raster if raster is not None else reported_emissions(reg)
    source = (f"raster: {result.rasters['emissions'].label}" if raster is not None
              else "reported 2010 (seed Tables 1-2: per-capita × population)")
    per_pilot = labelled_sinks(areas, domains, lib, by_id["name_zh"], emissions, source,
                               "MODIS MCD12C1 2019 (majority class; undercounts sparse forest)",
                               land_ha=by_id["land_area_ha"])
    result.files.append(write_frame(per_pilot.reset_index(), data / "sinks_pilots.csv", overwrite=True))

    provinces = result.tables["province_outlines"]
    prov_forest = result.tables["forest_provinces"]
    prov_areas = sinks.forest_by_type_from_igbp(prov_forest, "adcode").set_index("adcode")
    lat = provinces.set_index("adcode").geometry.representative_point().y
    prov_domains = lat.map(domain_by_latitude)
    for _, pilot in reg.pilots[reg.pilots["level"] == "province"].iterrows():
        prov_domains[pilot["adcode"]] = domains[pilot["pilot_id"]]
    per_prov, draws = sinks.estimate_sinks(prov_areas, prov_domains, lib, return_draws=True)
    mainland = ~per_prov.index.astype(int).isin(NOT_MAINLAND)
    total = sinks.summarise_total(per_prov, draws, mainland)
    result.files.append(write_frame(per_prov.reset_index(), data / "sinks_provinces.csv", overwrite=True))
    result.summary["mainland_net_sink_tco2_per_yr"] = {k: round(v) for k, v in total.items()}
    result.summary["mainland_net_sink_pg_c_per_yr"] = {k: round(v / sinks.CO2_PER_C / 1e9, 4)  # 1 Pg = 1e9 t
                                                       for k, v in total.items()}
    result.tables["sinks_pilots"] = per_pilot

    with_emissions = per_pilot.dropna(subset=["emissions_tco2_per_yr"])
    ledger = compensation.net_balance_transfers(with_emissions["emissions_tco2_per_yr"],
                                                with_emissions["net_sink_tco2_per_yr_central"])
    payments = compensation.pay_for_removals(per_pilot["net_sink_tco2_per_yr_central"])
    ledger = payments.join(ledger, how="left")
    ledger.insert(0, "name_zh", per_pilot["name_zh"])
    result.tables["ledger"] = ledger
    result.files.append(write_frame(ledger.reset_index(), data / "compensation_pilots.csv", overwrite=True))

    tracked = track_forest_targets(reg, forest)
    result.tables["targets_tracking"] = tracked
    result.files.append(write_frame(tracked, data / "targets_tracking.csv", overwrite=True))
    counts = tracked["status"].value_counts().to_dict()
    result.summary["target_status_counts"] = {k: int(v) for k, v in counts.items()}


def pilot_site_data(reg: registry.Registry, pilots: pd.DataFrame, forest: pd.DataFrame, sinks_table: pd.DataFrame,
                    ledger: pd.DataFrame, tracked: pd.DataFrame, raster_emissions: pd.Series | None,
                    rasters: dict[str, RasterLayer], summary: dict, downloads: list[str],
                    notes: list[str]) -> SiteData:
    """What the published pages show about the pilots in ``pilots`` (registry rows with areas).

    The per-pilot tables may carry ``pilot_id`` as a column or as their index.
    """
    table = records.pilot_table(registry.join_stats(pilots, reg.stats_2010) if "population_10k" not in pilots
                                else pilots, forest, sinks_table, ledger, tracked, raster_emissions)
    display = boundaries.load_pilot_boundaries(reg, display=True).set_index("pilot_id").loc[table.index]
    return SiteData(table=table, targets=records.target_rows(tracked, reg.indicators),
                    outlines=display.reset_index(), provinces=boundaries.load_provinces(display=True),
                    rasters=rasters, summary=summary, downloads=downloads, notes=notes)


def site_data(reg: registry.Registry, result: BuildResult) -> SiteData:
    """What the published pages show, from the tables the earlier steps left in ``result``."""
    t = result.tables
    downloads = sorted(str(f.relative_to(result.out_dir)) for f in result.files
                       if f.parent == result.out_dir / "data")
    notes = [modis.UNDERCOUNT_CAVEAT,
             "碳汇为 IPCC Tier 1 增量-损失法，无损失图层时为总清除量 Sinks: IPCC Tier 1 gain-loss; without a loss "
             "layer they are gross removals.",
             ("排放为报告表 1–2 的 2010 年人均排放 × 人口 Emissions: reported 2010 per-capita × population "
              "(seed Tables 1–2)." if "emissions" not in result.rasters else
              f"排放来自栅格 Emissions from the raster {result.rasters['emissions'].label}, summed exactly per pilot.")]
    return pilot_site_data(reg, t["pilots"], t["forest_pilots"], t["sinks_pilots"], t["ledger"],
                           t["targets_tracking"], t.get("raster_emissions"), result.rasters, result.summary,
                           downloads, notes)


def publish_pages(reg: registry.Registry, out_dir: Path, result: BuildResult) -> None:
    """Write the static site (index, national and batch maps, one page per pilot)."""
    pages = publish_site(site_data(reg, result), out_dir, tiles=result.options.tiles)
    result.files.extend(pages)
    result.summary["site_pages"] = len(pages)


#: The steps of the default build, in order: (label, function(registry, out_dir, result)).
STEPS = (
    ("registry and boundaries", publish_registry),
    ("forest cover (MODIS MCD12C1 2019)", publish_forest),
    ("emissions raster (when given)", publish_emissions),
    ("sinks, compensation, targets", publish_sinks),
    ("published site", publish_pages),
)


def build(out_dir: str | Path, progress: Progress | None = None, options: BuildOptions | None = None) -> BuildResult:
    """Run the default job on the embedded data and publish it into ``out_dir``.

    Parameters
    ----------
    out_dir : path
        Output folder (created if needed). Files the build owns are replaced atomically.
    progress : callable, optional
        Called with the label of each step of :data:`STEPS` before it runs.
    options : BuildOptions, optional
        Basemap, emissions raster, workers; the embedded defaults otherwise.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    options = options or BuildOptions()
    tile_provider(options.tiles)  # an unknown basemap fails before any work
    result = BuildResult(out, options)
    say = progress or (lambda label: None)
    reg = registry.load_registry()
    for label, step in STEPS:
        say(label)
        step(reg, out, result)
    return result
