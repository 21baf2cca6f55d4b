"""Write the static site: ``index.html``, ``national.html``, ``batch-N.html`` and
``pilots/<pilot_id>.html``, every page standing on its own (no request to any other host).

Links between pages are relative, so the folder opens by double-click (file://) and
from any static web server. Each page is checked for external references before it is
written, and written atomically.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from atlas._io import write_text_atomic
from atlas.errors import SiteError
from atlas.publish import pages, panel
from atlas.publish.layers import LayerDef, load_layers
from atlas.publish.maps import map_config, nested_ids, page_payload, prepare_outlines, tile_provider, usable_layers
from atlas.publish.inventory_inputs import InventoryBasis
from atlas.publish.overlays import Canvas, Overlay, render_overlay
from atlas.publish.pilot_page import pilot_context, series_by_pilot
from atlas.publish.records import BATCH_LABELS, batch_label, popup_sections, sink_range_text, with_emissions_change
from atlas.rasters.layer import BlockReader, LayerSpec
from atlas.regions.datum import wgs84_to_gcj02, wgs84_to_gcj02_geometry

log = logging.getLogger(__name__)

CHINA_BOX = (73.0, 17.5, 135.5, 54.0)  # west, south, east, north: the mainland with Hainan
#: Display simplification (degrees) per kind of page: coarser where the view is wider.
TOLERANCE = {"national": 0.01, "batch": 0.005, "pilot": 0.0}
#: Longest side (pixels) of raster overlays per kind of page.
OVERLAY_SIDE = {"national": 1600, "batch": 1400, "pilot": 600}

_RESOURCE = re.compile(
    r"<(?:script|img|iframe|embed|source|audio|video|link)\b[^>]*?\s(?:src|href)\s*=\s*[\"']?(?!data:)([^\"'\s>]+)",
    re.I)
_CSS_URL = re.compile(r"url\(\s*[\"']?(?!data:|#)([^)\"']+)", re.I)


def external_resources(text: str) -> list[str]:
    """Everything a page would load from outside itself: ``src``/``href`` of resource
    elements and CSS ``url()``/``@import`` that are not ``data:`` URIs."""
    found = [m.group(1) for m in _RESOURCE.finditer(text)]
    for style in re.findall(r"<style[^>]*>(.*?)</style>", text, flags=re.S | re.I):
        found += [m.group(1) for m in _CSS_URL.finditer(style)]
        found += re.findall(r"@import\s+[\"']?([^\"';\s]+)", style)
    return found


@dataclass
class RasterLayer:
    """A raster the site may draw: its readers and what its values mean."""

    readers: list[BlockReader]
    spec: LayerSpec
    label: str


@dataclass
class SiteData:
    """Everything the pages show, prepared by the build.

    Attributes
    ----------
    table : DataFrame
        :func:`atlas.publish.records.pilot_table`, indexed by ``pilot_id``.
    targets : DataFrame
        :func:`atlas.publish.records.target_rows`.
    outlines : GeoDataFrame
        Display outlines of the pilots (``pilot_id``, ``level``, geometry), WGS84.
    provinces : GeoDataFrame
        Display outlines of the provinces, drawn as context.
    rasters : dict
        ``"forest"`` / ``"emissions"`` → :class:`RasterLayer` (either may be missing).
    summary : dict
        Headline figures of the build (shown on the index page).
    downloads : list of str
        Data files of the build, relative to the site folder.
    notes : list of str
        Caveats shown on every page.
    review_number : str
        The map's review number (审图号, ``[site].review_number``), printed on every page;
        empty when the maps have none.
    credits : list of str
        Lines added to the data credits of every page (e.g. a user's own rasters).
    compensation : dict
        The build's compensation parameters, the panel's starting values: ``price``
        (CNY/t CO2), ``rate`` and ``growth`` (fractions), ``years``, ``scheme``, ``estimate``,
        ``contribution_share``. Missing keys take :data:`atlas.publish.panel.DEFAULT_PARAMETERS`.
    factors : DataFrame, optional
        The sink factor table the build used (:func:`atlas.carbon.factors.read_factors`);
        listed per pilot with sources. Default: the bundled table.
    sink_methods : DataFrame, optional
        Sinks by method, long form: ``pilot_id``, ``method`` and
        ``net_sink_tco2_per_yr_low`` / ``_central`` / ``_high`` (e.g. ``sinks_pilots.csv`` with
        its ``method`` column). Default: the table's IPCC Tier 1 columns.
    inset : bool
        Draw the South China Sea islands inset on national and batch maps (default True).
    series : dict of str to DataFrame
        The time axis (optional; every key may be missing, the pages then say "not in this build"):
        ``"emissions"`` (``emissions_series_pilots.csv``: ``pilot_id``, ``year``, ``emissions_tco2``,
        ``source``), ``"intensity"`` (``carbon_intensity_pilots.csv``), ``"trajectories"``
        (``emissions_trajectories_pilots.csv``), ``"effects"`` (``evaluation_effects.csv``) and
        ``"loss_by_year"`` (``forest_loss_by_year_pilots.csv``: ``pilot_id``, ``year``, ``loss_ha``).
        With ``"emissions"`` the table gains the emissions-change columns of the national map
        (:func:`atlas.publish.records.with_emissions_change`).
    inventory : InventoryBasis, optional
        What the inventory-method sinks rest on (:func:`atlas.publish.inventory_inputs.inventory_basis`);
        pilot pages whose headline is that method list it. None: they do not.
    """

    table: pd.DataFrame
    targets: pd.DataFrame
    outlines: gpd.GeoDataFrame
    provinces: gpd.GeoDataFrame
    rasters: dict[str, RasterLayer] = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    downloads: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    review_number: str = ""
    credits: list[str] = field(default_factory=list)
    compensation: dict = field(default_factory=dict)
    factors: pd.DataFrame | None = None
    sink_methods: pd.DataFrame | None = None
    inset: bool = True
    series: dict[str, pd.DataFrame] = field(default_factory=dict)
    inventory: InventoryBasis | None = None


def _write_page(path: Path, text: str) -> Path:
    external = external_resources(text)
    if external:
        raise SiteError(f"Page {path.name} would load {len(external)} resource(s) from outside itself, "
                        f"first {external[0]!r}", "every script, style and image inlined",
                        "report this: a map element linked a resource instead of inlining it")
    return write_text_atomic(path, text, overwrite=True)


def _overlays(data: SiteData, layers: list[LayerDef], box, page_datum: str, side: int,
              notes: list[str], clip, show: bool) -> list[Overlay]:
    out = []
    canvas = Canvas.over(box, page_datum, side, clip)  # shared by the page's raster layers
    for layer in layers:
        if layer.kind != "raster":
            continue
        raster = data.rasters.get(layer.source)
        if raster is None:
            notes.append(f"{layer.title}: 本次构建无此栅格 no {layer.source} raster in this build")
            continue
        if layer.rasters and raster.spec.name not in layer.rasters:
            continue  # a spec for another product (e.g. IGBP classes vs percent cover)
        if show and not layer.show:
            layer = replace(layer, show=True)
        overlay = render_overlay(layer, raster.readers, raster.spec, canvas)
        if overlay is None:
            notes.append(f"{layer.title}: 此范围内无数据 no data in this view")
        else:
            out.append(overlay)
    return out


def _bounds(frame: gpd.GeoDataFrame, pad: float) -> tuple[float, float, float, float]:
    west, south, east, north = frame.total_bounds
    dx, dy = (east - west) * pad + 0.01, (north - south) * pad + 0.01
    return west - dx, south - dy, east + dx, north + dy


@dataclass
class _Shared:
    """What every page of one site shares, computed once: datum, province context, clip."""

    data: SiteData
    layers: list[LayerDef]
    tiles: str
    provider: object = None
    datum: str = "wgs84"
    contexts: dict[str, dict] = field(default_factory=dict)
    popups: dict[str, list] = field(default_factory=dict)
    outlines: gpd.GeoDataFrame | None = None
    provinces_clip: object = None
    inset: str = ""
    factors: pd.DataFrame | None = None

    def __post_init__(self) -> None:
        self.provider = tile_provider(self.tiles)
        self.datum = self.provider.datum if self.provider else "wgs84"
        self.outlines = self.data.outlines.set_index("pilot_id")  # each page picks its pilots from it
        provinces = self.data.provinces.assign(level="province")
        # the grey province outlines behind the pilots: a batch map spans most of China as the national
        # one does, so one simplification (1 km, under a pixel of either) serves both
        context = prepare_outlines(provinces, "adcode", TOLERANCE["national"], self.datum)
        self.contexts = {"national": context, "batch": context}
        # The display provinces tile the map without gaps or overlaps (a valid polygonal coverage,
        # tests/test_publish.py), so their coverage union is their union, at a twentieth of the cost.
        self.provinces_clip = self.to_page(shapely.coverage_union_all(self.data.provinces.geometry.values))
        if self.data.inset:
            from atlas.publish.inset import inset_svg
            self.inset = inset_svg(self.data.provinces)
        if self.data.factors is not None:
            self.factors = self.data.factors
        else:
            from atlas.carbon.factors import read_factors
            self.factors = read_factors()

    def popup(self, pilot_id: str) -> list:
        """A pilot's popup: the same on the national, batch and pilot pages, so made once a site."""
        if pilot_id not in self.popups:
            self.popups[pilot_id] = popup_sections(self.data.table.loc[pilot_id], self.data.targets)
        return self.popups[pilot_id]

    def to_page(self, geom):
        """A WGS84 geometry in the page's datum."""
        return wgs84_to_gcj02_geometry(geom) if self.datum == "gcj02" else geom

    def box_to_page(self, box):
        if self.datum != "gcj02":
            return box
        (w, e), (s, n) = wgs84_to_gcj02([box[0], box[2]], [box[1], box[3]])
        return float(w), float(s), float(e), float(n)


def map_page(shared: _Shared, ids: list[str], kind: str, title: str, links: list[tuple[str, str]],
             page_prefix: str, pilot: dict | None = None) -> str:
    """HTML of one map page showing the pilots ``ids`` (``kind``: national, batch or pilot)."""
    data = shared.data
    table = data.table.loc[ids]
    outlines = shared.outlines.loc[ids].reset_index()
    nested = nested_ids(outlines) if kind != "pilot" else set()
    features = prepare_outlines(outlines, "pilot_id", TOLERANCE[kind], shared.datum, nested)
    chosen, notes = usable_layers(table, shared.layers)
    if kind == "pilot":  # one outline: classes say nothing, the forest raster inside it does
        chosen = chosen[:1]
    popups = {pid: shared.popup(pid) for pid in ids}
    payload, specs = page_payload(table, features, shared.contexts.get(kind), chosen, popups, page_prefix)
    for spec in specs:
        spec["fills_note"] = "栅格图层显示时，填色改为轮廓 Fills become outlines while a raster layer is shown"
        if nested:
            spec["nested_note"] = "试点省内的试点城市：轮廓颜色同图例 Pilots inside a pilot province: outline in the legend colour"
    if kind == "pilot":
        for entry in payload["pilots"].values():
            entry["page"] = ""  # no link to the page the reader is on
        for spec in specs:  # an outline over the pilot's own forest raster
            spec.update(fill_opacity=0.12, weight=2.5)
    box = shared.box_to_page(CHINA_BOX if kind == "national" else _bounds(outlines, 0.08))
    clip = shared.to_page(outlines.geometry.iloc[0]) if kind == "pilot" else shared.provinces_clip
    overlays = _overlays(data, shared.layers, box, shared.datum, OVERLAY_SIDE[kind], notes, clip,
                         show=kind == "pilot")
    if shared.datum == "gcj02":
        notes.append(f"底图 {shared.provider.name_en}: 所有图层已转换为 GCJ-02 every layer shifted to GCJ-02")
    config = map_config(payload, specs, overlays, box, tiles=shared.tiles, small=kind == "pilot")
    config["labels"] = dict(config["labels"], layers="图层 Layers")
    scripts = ("leaflet.js", "atlas.js")
    context = dict(pages.assets(scripts), title=title, links=links, notes=data.notes + notes,
                   height="430px" if kind == "pilot" else "100%", map_json=pages.json_block(config),
                   inset=pages.Markup(shared.inset) if kind != "pilot" and shared.inset else "",
                   review_number=data.review_number, credits_extra=data.credits, pilot=pilot,
                   body_class=f"atlas-map-page atlas-{kind}")
    if pilot is not None:
        from atlas.publish.panel import ESTIMATE_LABELS, PARAMETER_SOURCES, SCHEME_LABELS
        context.update(compensation_js=pages.Markup(pages.inline_assets(("compensation.js",))[0]),
                       scheme_labels=SCHEME_LABELS, parameter_sources=PARAMETER_SOURCES,
                       estimate_labels=ESTIMATE_LABELS)
    return pages.render("map_page.html.j2", **context)


def index_page(data: SiteData, maps: list[tuple[str, str]]) -> str:
    """HTML of ``index.html``: headline figures, links to the maps, the pilot list, sources."""
    summary, table = data.summary, data.table
    per_batch = summary.get("pilots_per_batch", {})
    cards = [("试点 Pilots", f"{summary.get('pilots_total', len(table))}",
              " · ".join(f"{BATCH_LABELS[int(b)].split(' ')[0]} {n}" for b, n in sorted(per_batch.items())))]
    sink = summary.get("mainland_sink_pg_c_per_yr", {}).get("headline")
    if sink:
        method = "中国清单方法 China inventory method" if "inventory" in summary.get("mainland_sink_pg_c_per_yr", {}) \
            else "IPCC Tier 1"
        cards.append(("大陆森林碳汇 Mainland forest sink", f"{sink['central']:.3f} Pg C/yr",
                      f"{sink['low']:.3f}–{sink['high']:.3f} (95 %) · {method}"))
    forest = summary.get("forest_mainland_km2")
    if forest:
        how = ("按各省森林资源清查校准 calibrated to the provinces' inventories" if "forest_area_method" in summary
               else summary.get("forest_layer", ""))
        cards.append(("大陆森林面积 Mainland forest", f"{forest:,} km²", how))
    rows = []
    for pid, r in table.iterrows():
        rows.append({"search": " ".join(str(r.get(k, "")) for k in ("name_zh", "name_en", "pinyin")).lower(),
                     "href": f"pilots/{pid}.html", "name_zh": r["name_zh"], "name_en": r["name_en"],
                     "batch": int(r["batch"]), "level": str(r.get("level_label", "")),
                     "province": str(r.get("province_zh", "")), "sink": sink_range_text(r),
                     "share": field_text(r.get("forest_share_of_land"), "forest_share_of_land"),
                     "status": str(r.get("target_status", ""))})
    return pages.render("index.html.j2", **pages.assets(("atlas.js",)), title="低碳试点地区碳图集 Pilot-Region Carbon Atlas",
                        body_class="atlas-index", cards=cards, maps=maps, rows=rows, downloads=data.downloads,
                        notes=data.notes, review_number=data.review_number, credits_extra=data.credits,
                        evaluation=evaluation_context((data.series or {}).get("effects")))


def evaluation_context(effects: pd.DataFrame | None) -> dict | None:
    """The index page's event study: the chart of all cohorts, one per cohort, and the caveats."""
    from atlas.carbon.evaluation import CAVEATS
    from atlas.publish.charts import event_study

    main = event_study(effects, "all")
    if main is None:
        return None
    cohorts = sorted({str(c) for c in effects["cohort"]} - {"all"})
    small = [c for c in (event_study(effects, cohort, width=440, height=240) for cohort in cohorts) if c]
    return {"chart": main, "cohorts": small, "caveats": list(CAVEATS)}


def field_text(value, column: str) -> str:
    from atlas.publish.fields import field
    return "—" if value is None or pd.isna(value) else field(column).text(value)


def publish_site(data: SiteData, out_dir: str | Path, layers: list[LayerDef] | None = None, tiles: str = "none",
                 progress: Callable[[int, int], None] | None = None) -> list[Path]:
    """Write the whole site into ``out_dir`` and return the pages written.

    Parameters
    ----------
    data : SiteData
    out_dir : path
    layers : list of LayerDef, optional
        Default: the project's ``layers/*.toml``.
    tiles : str
        Basemap provider (:data:`atlas.publish.maps.TILE_PROVIDERS`); "none" by default.
    progress : callable, optional
        Called with (pages done, pages in all) after each page.
    """
    out = Path(out_dir)
    data = replace(data, table=with_emissions_change(data.table, (data.series or {}).get("emissions")))
    shared = _Shared(data, load_layers() if layers is None else layers, tiles)
    ids = list(data.table.index)
    batches = sorted(int(b) for b in data.table["batch"].unique())
    total = 2 + len(batches) + len(ids)
    written: list[Path] = []

    def done(path: Path) -> None:
        written.append(path)
        if progress:
            progress(len(written), total)

    nav = [("index.html", "目录 Index"), ("national.html", "全国 National")] + \
        [(f"batch-{b}.html", BATCH_LABELS[b]) for b in batches]
    done(_write_page(out / "national.html", map_page(
        shared, ids, "national", "全国低碳试点 National low-carbon pilots", nav, "pilots/")))
    for b in batches:
        members = [pid for pid in ids if int(data.table.loc[pid, "batch"]) == b]
        done(_write_page(out / f"batch-{b}.html", map_page(
            shared, members, "batch", f"{BATCH_LABELS[b]} · {len(members)} 个试点 pilots", nav, "pilots/")))
    up = [("../" + href, text) for href, text in nav]
    pool = panel.pools(data.table)
    own_series = series_by_pilot(data.series or {}, ids)
    for pid in ids:
        record = data.table.loc[pid]
        mine = data.targets[data.targets["pilot_id"] == pid]
        title = f"{record['name_zh']} {record['name_en']} · {batch_label(record['batch'])}"
        pilot = pilot_context(record, mine, data, shared.factors, pool=pool, series=own_series[str(pid)])
        html_text = map_page(shared, [pid], "pilot", title, up, "", pilot=pilot)
        done(_write_page(out / "pilots" / f"{pid}.html", html_text))
    maps = [("national.html", "全国地图 National map")] + \
        [(f"batch-{b}.html", f"{BATCH_LABELS[b]} 地图 map") for b in batches]
    series = data.series or {}
    if series.get("validation_provinces") is not None and series.get("validation_mainland") is not None:
        done(_write_page(out / "validation.html", validation_page(data)))
        maps.append(("validation.html", "数据核对 Validation against official statistics and published estimates"))
    done(_write_page(out / "index.html", index_page(data, maps)))
    return written


def validation_page(data: SiteData) -> str:
    """HTML of ``validation.html``: the run's validation tables, formatted for readers."""
    def num(value, digits: int = 0) -> str:
        return "—" if value is None or pd.isna(value) else f"{value:,.{digits}f}"

    names = {"inventory": "中国清单方法 China inventory method",
             "tier1_gross_removal": "IPCC Tier 1 总清除量 gross removals"}
    mainland = [{"estimate": names.get(r.atlas_estimate, r.atlas_estimate), "low": num(r.atlas_tg_c_per_yr_low, 1),
                 "central": num(r.atlas_tg_c_per_yr_central, 1), "high": num(r.atlas_tg_c_per_yr_high, 1),
                 "reference": f"{r.reference_quantity}, {r.reference_period}",
                 "value": num(r.reference_sink_tg_c_per_yr, 1), "ratio": num(r.atlas_over_reference, 2),
                 "inside": "是 yes" if r.reference_inside_atlas_interval else "否 no", "citation": r.citation}
                for r in data.series["validation_mainland"].itertuples()]
    provinces = [{"name": r.name_zh, "official": num(r.official_forest_ha) + " ha" if pd.notna(r.official_forest_ha)
                  else "—", "raster": num(r.raster_forest_ha) + " ha", "ratio": num(r.raster_over_official, 2),
                  "atlas": num(r.atlas_forest_ha) + " ha", "sink": num(getattr(r, "sink_tco2_per_yr_central", None)),
                  "method": getattr(r, "sink_method", ""),
                  "tier1": num(getattr(r, "tier1_gross_removal_tco2_per_yr_central", None))}
                 for r in data.series["validation_provinces"].itertuples()]
    held_out = data.series.get("validation_pilots")
    pilots = [] if held_out is None else [
        {"name": r.name_zh, "official": num(r.official_forest_ha) + " ha", "source": r.official_source,
         "raster": num(r.raster_forest_ha) + " ha", "raster_ratio": num(r.raster_over_official, 2),
         "calibrated": num(r.calibrated_forest_ha) + " ha", "ratio": num(r.calibrated_over_official, 2)}
        for r in held_out.itertuples()]
    pilot_summary = None if held_out is None or held_out.empty else {
        "n": len(held_out),
        "median_raster": num(held_out["raster_over_official"].median(), 2),
        "median": num(held_out["calibrated_over_official"].median(), 2),
        "within_raster": num(100 * held_out["raster_over_official"].between(0.75, 1.25).mean()),
        "within": num(100 * held_out["calibrated_over_official"].between(0.75, 1.25).mean())}
    return pages.render("validation.html.j2", **pages.assets(), title="数据核对 Validation",
                        body_class="atlas-index", mainland=mainland, provinces=provinces, pilots=pilots,
                        pilot_summary=pilot_summary,
                        review_number=data.review_number, credits_extra=data.credits)

