"""The site of a run on the user's own outlines (``[regions].file`` with ``[site].publish``).

The pages are the pilot site's (:mod:`atlas.publish.site`): one overview map, one page per
region with its map, sinks, compensation panel and facts, and an index. What only the registry
knows — batch, level, province, declared targets, 2010 statistics — is shown as ``—`` or left
out; names come from ``[regions].name_column`` (the id otherwise) and, like everything the
user's file holds, reach the pages only through the autoescaping templates and the JSON blocks
(:func:`atlas.publish.pages.json_block`), so a name such as ``<script>…`` is shown as text.
Page file names are never taken from a name: an id that is not a safe file name gets
``region-N``.

Written here with the site's own page functions rather than through
:func:`atlas.publish.site.publish_site`, which expects registry batches (it names pages and
titles after them). The targets section of a region page is marked ``targets=False`` in its
context for the template to leave out.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import geopandas as gpd
import pandas as pd

from atlas.publish import pages, records
from atlas.publish.pilot_page import pilot_context
from atlas.publish.site import RasterLayer, SiteData, _Shared, _write_page, index_page, map_page
from atlas.regions import boundaries
from atlas.workflow.config import RunConfig
from atlas.workflow.outputs import SINKS_NOTE
from atlas.workflow.steps import emissions_of_year, factor_library

log = logging.getLogger(__name__)

NONE = "—"
#: Folder of the region pages (where the index links them) and name of the overview map.
PAGES_DIR, OVERVIEW = "pilots", "regions.html"
#: Choropleths of registry facts, which the user's regions do not have.
REGISTRY_COLUMNS = ("batch", "co2_per_capita_t", "population_10k", "gdp_100m_yuan", "target_status")
#: Facts shown per region (the pilot pages' list less the registry's).
FACTS = ["pilot_id", "level_label", "province_zh", "land_area_km2"]
#: Wider than this (degrees of longitude), an overview is a national map and gets the South China Sea inset.
NATIONAL_WIDTH = 20.0
_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def page_keys(ids: list) -> dict:
    """Region id → the stem of its page file: the id itself when it is a safe, unique file name
    (letters, digits, ``_``, ``-``; case-insensitive file systems considered), else ``region-N``."""
    keys, taken = {}, set()
    for n, region in enumerate(ids, start=1):
        text = str(region)
        key = text if _SAFE.fullmatch(text) and text.lower() not in taken else f"region-{n}"
        while key.lower() in taken:
            key = f"{key}-{n}"
        keys[region] = key
        taken.add(key.lower())
    return keys


def _keyed(frame: pd.DataFrame, id_column: str, keys: dict) -> pd.DataFrame:
    """A per-region table re-keyed by page key under ``pilot_id`` (the name the site uses)."""
    frame = frame.reset_index() if id_column not in frame.columns else frame
    page = frame[id_column].map(keys)
    out = frame.drop(columns=[c for c in (id_column, "pilot_id", "name_zh") if c in frame.columns])
    return out.assign(pilot_id=page.to_numpy())


def region_table(regions: gpd.GeoDataFrame, id_column: str, name_column: str | None, tables: dict,
                 keys: dict, raster_emissions: pd.Series | None = None) -> pd.DataFrame:
    """One row per region, indexed by page key, with the columns the pages read.

    Registry columns the templates need get neutral values: ``batch`` 0 (no batch),
    ``level`` ``region``; ``level_label`` and ``province_zh`` show ``—``. ``pilot_id`` holds the
    user's id as text (the facts show it), ``name_zh`` the display name, ``name_en`` and
    ``pinyin`` are empty.
    """
    names = regions[name_column] if name_column else regions[id_column]
    base = pd.DataFrame({"pilot_id": regions[id_column].map(keys).to_numpy(),
                         "name_zh": [NONE if pd.isna(v) else str(v) for v in names],
                         "name_en": "", "pinyin": "", "batch": 0, "level": "region",
                         "land_area_km2": regions["land_area_km2"].to_numpy()
                         if "land_area_km2" in regions else float("nan")})
    no_targets = pd.DataFrame({"pilot_id": pd.Series(dtype=str), "status": pd.Series(dtype=str)})
    if raster_emissions is not None:
        raster_emissions = raster_emissions.rename(index=keys)
    table = records.pilot_table(base, _keyed(tables["forest"], id_column, keys),
                                _keyed(tables["sinks"], id_column, keys),
                                _keyed(tables["compensation"], id_column, keys), no_targets, raster_emissions)
    table = table.drop(columns=["target_status", "target_summary"])
    table.index.name = "page"
    table["pilot_id"] = regions[id_column].astype(str).to_numpy()  # the user's id, shown as a fact
    table["level_label"] = NONE
    table["province_zh"] = NONE
    return table


def regions_site_data(cfg: RunConfig, regions: gpd.GeoDataFrame, tables: dict, layers: dict, summary: dict,
                      downloads: list[str], keys: dict) -> SiteData:
    """The :class:`~atlas.publish.site.SiteData` of the user's regions (see the module docstring)."""
    forest = layers["forest"]
    rasters = {"forest": RasterLayer(forest.readers, forest.spec, forest.label)}
    notes = [getattr(forest.spec, "caveat", None) or f"森林 Forest: {forest.label}", SINKS_NOTE]
    credits = [f"森林 Forest: {forest.label}"]
    raster_emissions = None
    if "emissions" in layers:
        emissions = layers["emissions"]
        rasters["emissions"] = RasterLayer(emissions.readers, emissions.spec, emissions.label)
        raster_emissions, _ = emissions_of_year(emissions.table, f"{emissions.spec.name}_tco2_per_yr",
                                                cfg.id_column, forest.config.year)
        notes.append(f"排放来自栅格 Emissions from the raster {emissions.label}, summed exactly per region.")
        credits.append(f"排放 Emissions: {emissions.label}")
    table = region_table(regions, cfg.id_column, cfg.name_column, tables, keys, raster_emissions)
    outlines = gpd.GeoDataFrame({"pilot_id": table.index, "level": "region"},
                                geometry=regions.geometry.to_crs(4326).to_numpy(), crs=4326)
    west, _, east, _ = outlines.total_bounds
    return SiteData(table=table, targets=records.target_rows(pd.DataFrame(columns=["pilot_id", "status"]),
                                                             pd.DataFrame(columns=["indicator"])),
                    outlines=outlines, provinces=boundaries.load_provinces(display=True), rasters=rasters,
                    summary=summary, downloads=sorted(downloads), notes=notes,
                    review_number=cfg.review_number or "",
                    compensation={"price": cfg.price, "rate": cfg.rate, "years": cfg.years, "growth": cfg.growth,
                                  "scheme": cfg.scheme, "estimate": cfg.estimate,
                                  "contribution_share": cfg.contribution_share},
                    factors=factor_library(cfg.factors), credits=credits,
                    inset=bool(east - west > NATIONAL_WIDTH))


def _region_context(record: pd.Series, data: SiteData, factors) -> dict:
    """The pilot-page context of one region, registry facts and targets taken out."""
    context = pilot_context(record, data.targets.iloc[:0], data, factors)
    context.update(batch_label=NONE, facts=pages.facts(record, FACTS), targets=False)
    return context


def write_regions_site(cfg: RunConfig, regions: gpd.GeoDataFrame, tables: dict, layers: dict, summary: dict,
                       downloads: list[str]) -> list[Path]:
    """Write the site of the user's regions into ``cfg.out``; return the pages written."""
    from atlas.publish.layers import load_layers

    keys = page_keys(regions[cfg.id_column].tolist())
    data = regions_site_data(cfg, regions, tables, layers, summary, downloads, keys)
    shown = [layer for layer in load_layers() if layer.kind != "choropleth" or (
        layer.column not in REGISTRY_COLUMNS and layer.column in data.table and data.table[layer.column].notna().any())]
    shared = _Shared(data, shown, cfg.tiles)
    out, ids = Path(cfg.out), list(data.table.index)
    nav = [("index.html", "目录 Index"), (OVERVIEW, "地区 Regions")]
    written = [_write_page(out / OVERVIEW, map_page(shared, ids, "national" if data.inset else "batch",
                                                    f"{len(ids)} 个地区 regions", nav, f"{PAGES_DIR}/"))]
    up = [("../" + href, text) for href, text in nav]
    for key in ids:
        record = data.table.loc[key]
        html_text = map_page(shared, [key], "pilot", f"{record['name_zh']} · {record['pilot_id']}", up, "",
                             pilot=_region_context(record, data, shared.factors))
        written.append(_write_page(out / PAGES_DIR / f"{key}.html", html_text))
    written.append(_write_page(out / "index.html", index_page(data, [(OVERVIEW, "地区地图 Map of the regions")])))
    log.info("site of %d regions written to %s", len(ids), out)
    return written
