"""The two file-writing steps of a run: the tables (``OUT/data/``) and the site (``OUT/``).

Table files are named ``<table>_pilots.<format>`` for registry pilots and
``<table>_regions.<format>`` for the user's own outlines; province tables keep
``_provinces``. CSV files carry no geometry; GeoPackage and GeoParquet tables are joined to
the full-precision outlines so they open as layers.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import geopandas as gpd
import pandas as pd

from atlas._io import write_text_atomic
from atlas.export import write_frame
from atlas.publish import records
from atlas.publish.inventory_inputs import inventory_basis
from atlas.publish.site import RasterLayer, SiteData, publish_site
from atlas.regions import boundaries, registry
from atlas.workflow.config import RunConfig
from atlas.workflow.steps import emissions_of_year, factor_library, inventory_parameters

log = logging.getLogger(__name__)

DATA_DIR = "data"
#: SiteData.series key → the run's table drawn over time on the pages.
SERIES_TABLES = {"emissions": "emissions_series", "intensity": "carbon_intensity",
                 "trajectories": "emissions_trajectories", "effects": "evaluation_effects",
                 "loss_by_year": "forest_loss_by_year", "validation_provinces": "validation_provinces",
                 "validation_mainland": "validation_mainland", "validation_pilots": "validation"}
SINKS_NOTE = ("碳汇首选中国省级清单方法（森林蓄积量变化，净汇）；无此数据时为 IPCC Tier 1 增量-损失法，无损失图层时仅为总清除量。 "
              "Sinks: China's provincial inventory method (change of growing stock, a net sink) where its inputs "
              "exist; otherwise IPCC Tier 1 gain-loss, which without a loss layer gives gross removals only.")
CALIBRATION_NOTE = ("森林面积：栅格分布按各省森林资源清查面积校准，试点自有官方数据优先。 Forest area: the raster's pattern "
                    "calibrated to each province's national-forest-inventory area; a pilot's own official figure wins.")


def summary_json(summary: dict) -> str:
    """The run's headline figures as printed and written (``data/summary.json``)."""
    return json.dumps(summary, ensure_ascii=False, indent=2)


#: Tables whose file name is not suffixed with ``_pilots`` / ``_regions``.
UNSUFFIXED = ("targets_tracking", "evaluation_effects", "validation_mainland")


def _file_name(name: str, uses_registry: bool) -> str:
    if name.endswith("_provinces") or name in UNSUFFIXED:
        return name
    return f"{name}_{'pilots' if uses_registry else 'regions'}"


def write_tables(cfg: RunConfig, reg: registry.Registry | None, regions: gpd.GeoDataFrame, id_column: str,
                 tables: dict[str, pd.DataFrame], summary: dict) -> list[Path]:
    """Write the run's tables into ``OUT/data`` in every configured format; return the files.

    CSV files are UTF-8, with a byte-order mark and CRLF line ends for Excel when ``[outputs].excel``.
    """
    data = cfg.out / DATA_DIR
    written: list[Path] = []
    outlines = regions[[id_column, "geometry"]]
    if reg is not None:
        pilots = registry.join_stats(boundaries.area_table(regions), reg.stats_2010)
        written.append(write_frame(pilots, data / "pilots.csv", overwrite=True, excel=cfg.excel))
        written.append(write_frame(registry.join_targets(reg.pilots[reg.pilots["pilot_id"].isin(regions["pilot_id"])],
                                                         reg.targets), data / "targets.csv", overwrite=True,
                                   excel=cfg.excel))
        written.append(write_frame(regions, data / "pilots.gpkg", overwrite=True, layer="pilots"))
        display = boundaries.load_pilot_boundaries(reg, display=True)
        display = display[display["pilot_id"].isin(regions["pilot_id"])]
        written.append(write_frame(display, data / "pilots.geojson", overwrite=True))
        written.append(write_frame(boundaries.load_provinces(display=True), data / "provinces.geojson",
                                   overwrite=True))
    else:
        written.append(write_frame(boundaries.area_table(regions), data / "regions.csv", overwrite=True,
                                   excel=cfg.excel))
        written.append(write_frame(regions, data / "regions.gpkg", overwrite=True, layer="regions"))
    for name, frame in tables.items():
        stem = _file_name(name, reg is not None)
        for fmt in cfg.formats:
            spatial = fmt != "csv" and id_column in frame and not name.endswith("_provinces")
            table = gpd.GeoDataFrame(outlines.merge(frame, on=id_column), geometry="geometry",
                                     crs=regions.crs) if spatial else frame
            written.append(write_frame(table, data / f"{stem}.{fmt}", fmt, overwrite=True,
                                       excel=cfg.excel and fmt == "csv"))
    written.append(write_text_atomic(data / "summary.json", summary_json(summary) + "\n", overwrite=True))
    return written


def site_notes(forest_label: str, forest_caveat: str | None, emissions_label: str | None,
               calibrated: bool) -> list[str]:
    """The caveats every page shows: forest layer, forest area, sink method, emissions source."""
    forest = forest_caveat or f"森林 Forest: {forest_label}"
    emissions = ("排放：CEADs 清单（与碳汇年份匹配），未覆盖的试点用 NCSC 2013 报告表 1–2 的 2010 年人均排放 × 人口。 "
                 "Emissions: CEADs inventories matched to the sink year; pilots CEADs does not cover use the 2010 "
                 "per-capita emissions × population of the NCSC 2013 report, Tables 1–2." if emissions_label is None
                 else f"排放来自栅格 Emissions from the raster {emissions_label}, summed exactly per pilot.")
    return [forest] + ([CALIBRATION_NOTE] if calibrated else []) + [SINKS_NOTE, emissions]


def write_site(cfg: RunConfig, reg: registry.Registry | None, regions: gpd.GeoDataFrame,
               tables: dict[str, pd.DataFrame], layers: dict, summary: dict, downloads: list[str],
               official: pd.DataFrame | None = None) -> list[Path]:
    """Write the static site into ``OUT`` from the run's tables; return the pages.

    ``official`` is the run's official statistics: pilot pages list the inventory inputs they hold.

    ``reg`` is None for the user's own outlines (``[regions].file``): their site is written by
    :func:`atlas.workflow.regions_site.write_regions_site`.
    """
    if reg is None:
        from atlas.workflow.regions_site import write_regions_site

        return write_regions_site(cfg, regions, tables, layers, summary, downloads)
    forest = layers["forest"]
    rasters = {"forest": RasterLayer(forest.readers, forest.spec, forest.label)}
    emissions_label = None
    raster_emissions = None
    if "emissions" in layers:
        emissions = layers["emissions"]
        rasters["emissions"] = RasterLayer(emissions.readers, emissions.spec, emissions.label)
        emissions_label = emissions.label
        column = f"{emissions.spec.name}_tco2_per_yr"
        raster_emissions, _ = emissions_of_year(emissions.table, column, "pilot_id", forest.config.year)
    pilots = registry.join_stats(boundaries.area_table(regions), reg.stats_2010)
    table = records.pilot_table(pilots, tables["forest"], tables["sinks"], tables["compensation"],
                                tables["targets_tracking"], raster_emissions)
    display = boundaries.load_pilot_boundaries(reg, display=True).set_index("pilot_id").loc[table.index]
    data = SiteData(table=table, targets=records.target_rows(tables["targets_tracking"], reg.indicators),
                    outlines=display.reset_index(), provinces=boundaries.load_provinces(display=True),
                    rasters=rasters, summary=summary, downloads=sorted(downloads),
                    notes=site_notes(forest.label, getattr(forest.spec, "caveat", None), emissions_label,
                                     "raster_forest_ha" in tables["forest"]),
                    review_number=cfg.review_number or "",
                    compensation={"price": cfg.price, "rate": cfg.rate, "years": cfg.years, "growth": cfg.growth,
                                  "scheme": cfg.scheme, "estimate": cfg.estimate,
                                  "contribution_share": cfg.contribution_share},
                    factors=factor_library(cfg.factors),
                    inventory=inventory_basis(official, inventory_parameters()),
                    credits=[f"森林 Forest: {forest.label}"] + ([f"排放 Emissions: {emissions_label}"]
                                                                if emissions_label else []),
                    series={key: tables[name] for key, name in SERIES_TABLES.items()
                            if tables.get(name) is not None})
    return publish_site(data, cfg.out, tiles=cfg.tiles)
