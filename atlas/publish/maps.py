"""Folium maps of the pilots, self-contained: no script, style or font from another host.

A page embeds its data once (outlines and per-pilot facts, :func:`page_payload`); each
choropleth layer of ``layers/*.toml`` restyles the same outlines in the browser, so ten
layers cost little more than one. Raster layers are PNG images in Web Mercator
(:mod:`atlas.publish.overlays`). Basemap tiles are off unless a provider is chosen;
providers in GCJ-02 (AMap/高德) get every vector and raster layer shifted into GCJ-02 so
nothing is drawn misaligned.

:func:`build_map` returns the :class:`folium.Map`; writing it is the caller's business.
"""

from __future__ import annotations

import html
import json
import logging
from dataclasses import dataclass
from importlib import resources

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from folium.elements import ElementAddToElement
from folium.template import Template

from atlas.regions import datum as datum_mod
from atlas.errors import SiteError
from atlas.publish.fields import LABELS, field
from atlas.publish.layers import LayerDef, classify
from atlas.publish.overlays import Overlay

log = logging.getLogger(__name__)

COORD_GRID_DEG = 1e-4  # about 10 m: far finer than the display simplification


@dataclass(frozen=True)
class TileProvider:
    """A basemap tile service and the datum its tiles are drawn in."""

    name_zh: str
    name_en: str
    url: str
    attribution: str
    datum: str  # "wgs84" or "gcj02"
    subdomains: str = "abc"
    max_zoom: int = 18


TILE_PROVIDERS: dict[str, TileProvider | None] = {
    "none": None,
    "osm": TileProvider("OpenStreetMap", "OpenStreetMap", "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                        "&copy; OpenStreetMap contributors", "wgs84", max_zoom=19),
    "amap": TileProvider("高德地图", "AMap (Gaode)",
                         "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
                         "&copy; 高德地图 AutoNavi (GCJ-02)", "gcj02", subdomains="1234"),
}


def tile_provider(name: str) -> TileProvider | None:
    """Look up a provider by name ("none", "osm", "amap")."""
    if name not in TILE_PROVIDERS:
        raise SiteError(f"Unknown tile provider {name!r}", f"one of {sorted(TILE_PROVIDERS)}",
                        "pass --tiles none (vector only, the default), osm or amap")
    return TILE_PROVIDERS[name]


def script_json(value: object) -> str:
    """JSON that is safe inside a ``<script>`` element (no ``</script>``, no ``<!--``)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def asset_text(name: str) -> str:
    """Text of a file in ``atlas/publish/assets/``."""
    return resources.files("atlas.publish").joinpath("assets", name).read_text(encoding="utf-8")


def inline_assets() -> str:
    """``<style>``/``<script>`` elements holding Leaflet and the atlas page code."""
    scripts = [asset_text("leaflet.js"), asset_text("atlas.js")]
    for text in scripts:
        if "</script" in text.lower():
            raise SiteError("A vendored script contains '</script'", "scripts that can be inlined",
                            "re-run scripts/vendor_assets.py")
    return ("<style>" + asset_text("leaflet.css") + "</style>\n<style>" + asset_text("atlas.css") + "</style>\n"
            + "".join(f"<script>{text}</script>\n" for text in scripts))


class RawHTML(Element):
    """Text put into a page as it is. Unlike ``branca.element.Element(text)``, the text is
    not parsed as a Jinja template, so ``{{ … }}`` in data or in a library stays inert."""

    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def render(self, **kwargs) -> str:
        return self.text


def render_inert(element: MacroElement, **kwargs) -> None:
    """Render a MacroElement like branca does, but put its macro output into the page
    with :class:`RawHTML`. branca wraps that output in ``Element(...)``, which compiles it
    as a template a second time: data such as ``{{ 7*7 }}`` in a payload would run."""
    figure = element.get_root()
    module = element._template.module.__dict__
    for part, target in (("header", figure.header), ("html", figure.html), ("script", figure.script)):
        macro = module.get(part)
        if macro is not None:
            target.add_child(RawHTML(macro(element, kwargs)), name=element.get_name())
    for child in element._children.values():
        child.render(**kwargs)


def control_name(text: str) -> str:
    """A layer-control label: Leaflet inserts it as HTML and folium re-reads it as a template,
    so escape both ``<&>`` and braces."""
    return html.escape(text).replace("{", "&#123;").replace("}", "&#125;")


class _InertMacro(MacroElement):
    def render(self, **kwargs):
        render_inert(self, **kwargs)


class _InertLayer(folium.map.Layer):
    def render(self, **kwargs):
        if self.show:
            self.add_child(ElementAddToElement(element_name=self.get_name(),
                                               element_parent_name=self._parent.get_name()),
                           name=self.get_name() + "_add")
        render_inert(self, **kwargs)


class AtlasMap(folium.Map):
    """A :class:`folium.Map` that inlines Leaflet instead of linking CDNs (jQuery,
    Bootstrap and Font Awesome are not used at all)."""

    default_js: list = []
    default_css: list = []

    def render(self, **kwargs):
        self.get_root().header.add_child(RawHTML(inline_assets()), name="atlas_assets", index=0)
        super().render(**kwargs)


class _Script(_InertMacro):
    """A script line bound to the map (names are filled in at render time)."""

    _template = Template("{% macro script(this, kwargs) %}{{ this.code() }}{% endmacro %}")

    def __init__(self, code):
        super().__init__()
        self.code = code


class PagePayload(_InertMacro):
    """Creates the page object ``AtlasPage.create(map, payload)`` once per map."""

    _template = Template("""{% macro script(this, kwargs) %}
var {{ this.get_name() }} = AtlasPage.create({{ this._parent.get_name() }}, {{ this.payload_json }});
{% endmacro %}""")

    def __init__(self, payload: dict):
        super().__init__()
        self._name = "atlas_page"
        self.payload_json = script_json(payload)


class ThematicLayer(_InertLayer):
    """A choropleth: the page's outlines styled by one layer spec, in the layer control."""

    _template = Template("""{% macro script(this, kwargs) %}
var {{ this.get_name() }} = {{ this.page.get_name() }}.thematicLayer({{ this.spec_json }});
{% endmacro %}""")

    def __init__(self, page: PagePayload, spec: dict, name: str, show: bool):
        # choropleths are exclusive (radio buttons): one colouring of the outlines at a time
        super().__init__(name=control_name(name), overlay=False, control=True, show=show)
        self._name = "atlas_layer"
        self.page = page
        self.spec_json = script_json(spec)


class ContextLayer(_InertLayer):
    """Province outlines under the pilots, not in the layer control."""

    _template = Template("""{% macro script(this, kwargs) %}
var {{ this.get_name() }} = {{ this.page.get_name() }}.contextLayer();
{% endmacro %}""")

    def __init__(self, page: PagePayload):
        super().__init__(name="context", overlay=True, control=False, show=True)
        self._name = "atlas_context"
        self.page = page


def prepare_outlines(frame: gpd.GeoDataFrame, id_column: str, tolerance: float = 0.0,
                     page_datum: str = "wgs84") -> dict:
    """GeoJSON FeatureCollection of ``frame``'s outlines for a page, largest first.

    Outlines are simplified as a coverage per ``level`` (shared borders stay shared),
    shifted to GCJ-02 for GCJ-02 basemaps, and snapped to a 1e-4° grid to keep pages
    small. A part that would vanish keeps its unsnapped shape.
    """
    geoms = np.asarray(frame.geometry.values, dtype=object)
    if tolerance > 0:
        groups = frame["level"].to_numpy() if "level" in frame.columns else np.zeros(len(frame))
        simplified = geoms.copy()
        for group in pd.unique(groups):
            pick = groups == group
            simplified[pick] = shapely.coverage_simplify(geoms[pick], tolerance)
        bad = shapely.is_empty(simplified) | ~shapely.is_valid(simplified)
        simplified[bad] = geoms[bad]
        geoms = simplified
    if page_datum == "gcj02":
        geoms = np.asarray(datum_mod.wgs84_to_gcj02_geometry(geoms), dtype=object)
    snapped = shapely.set_precision(geoms, COORD_GRID_DEG)
    keep = shapely.is_empty(snapped)
    snapped[keep] = geoms[keep]
    order = np.argsort(-shapely.area(snapped), kind="stable")
    features = [{"type": "Feature", "properties": {"id": str(frame[id_column].iloc[i])},
                 "geometry": shapely.geometry.mapping(snapped[i])} for i in order]
    return {"type": "FeatureCollection", "features": features}


def _nodata(classes_index: np.ndarray) -> dict:
    return {"label": "无数据 No data", "colour": "#d9d9d9", "shown": bool((classes_index < 0).any())}


def layer_values(table: pd.DataFrame, layer: LayerDef) -> tuple[dict, dict]:
    """Classify one choropleth over ``table``: the JS spec and per-pilot ``[class, text, rows]``."""
    classes = classify(table[layer.column].to_numpy(), layer)
    spec = {"id": layer.id, "title": layer.title, "legend_title": layer.legend_title,
            "legend_note": layer.legend_note, "fill_opacity": layer.opacity,
            "classes": [{"label": lab, "colour": col} for lab, col in zip(classes.labels, classes.colours)],
            "nodata": _nodata(classes.index)}
    values = {}
    for (pid, record), cls in zip(table.iterrows(), classes.index):
        value = record[layer.column]
        if layer.scheme == "categories" and cls >= 0:
            text = layer.categories[cls].label
        else:
            text = layer.field.text(value)
        rows = [[field(c).label, field(c).text(record.get(c))] for c in layer.tooltip if c in record.index]
        values[pid] = [int(cls), text, rows]
    return spec, values


def usable_layers(table: pd.DataFrame, layers: list[LayerDef]) -> tuple[list[LayerDef], list[str]]:
    """Choropleths whose column holds data here, and notes on the ones left out."""
    kept, notes = [], []
    for layer in layers:
        if layer.kind != "choropleth":
            continue
        if layer.column not in table.columns or table[layer.column].isna().all():
            notes.append(f"{layer.title}: 本次构建无此数据 not in this build ({layer.column})")
            log.info("layer %s left out: no data in column %s", layer.id, layer.column)
            continue
        kept.append(layer)
    return kept, notes


def page_payload(table: pd.DataFrame, outlines: dict, context: dict | None, layers: list[LayerDef],
                 popups: dict[str, list], page_prefix: str) -> tuple[dict, list[dict]]:
    """Everything one map page embeds: pilots, outlines, context, labels; plus layer specs.

    ``page_prefix`` is the relative path from this page to the pilot pages ("pilots/"
    from the national map, "" from a pilot page).
    """
    pilots = {}
    for pid, record in table.iterrows():
        pilots[pid] = {"name_zh": str(record["name_zh"]), "name_en": str(record["name_en"]),
                       "pinyin": str(record.get("pinyin", "")), "page": f"{page_prefix}{pid}.html",
                       "popup": popups[pid], "values": {}}
    specs = []
    for layer in layers:
        spec, values = layer_values(table, layer)
        spec["show"] = layer.show
        specs.append(spec)
        for pid, value in values.items():
            pilots[pid]["values"][layer.id] = value
    payload = {"pilots": pilots, "features": outlines, "context": context, "labels": LABELS}
    return payload, specs


def overlay_spec(overlay: Overlay) -> dict:
    """Legend spec of a raster overlay for the page script."""
    layer = overlay.layer
    return {"id": layer.id, "title": layer.title, "legend_title": layer.legend_title,
            "legend_note": layer.legend_note,
            "classes": [{"label": lab, "colour": col} for lab, col in zip(overlay.classes.labels,
                                                                          overlay.classes.colours)],
            "nodata": {"label": "", "colour": "#ffffff", "shown": False}}


def build_map(payload: dict, specs: list[dict], overlays: list[Overlay], bounds: tuple[float, float, float, float],
              tiles: str = "none", height: str = "100%", collapsed: bool = False) -> AtlasMap:
    """Assemble the folium map of one page.

    Parameters
    ----------
    payload, specs
        From :func:`page_payload`.
    overlays
        Rendered raster layers (already in the page's datum).
    bounds
        (west, south, east, north) to fit the view to, in the page's datum.
    tiles
        A key of :data:`TILE_PROVIDERS`; "none" draws vectors only and requests nothing.
    height
        CSS height of the map.
    collapsed
        Fold the layer control into an icon (small maps).
    """
    provider = tile_provider(tiles)
    west, south, east, north = bounds
    fmap = AtlasMap(location=[(south + north) / 2, (west + east) / 2], tiles=None, zoom_start=4,
                    control_scale=True, prefer_canvas=False, height=height, min_zoom=2, zoom_snap=0.25)
    if provider is not None:  # a checkbox under the vectors; the reader can switch it off
        folium.TileLayer(tiles=provider.url, attr=provider.attribution, name=control_name(
            f"底图 Basemap: {provider.name_zh} {provider.name_en}"), subdomains=provider.subdomains,
            max_zoom=provider.max_zoom, overlay=True, control=True, show=True).add_to(fmap)
    page = PagePayload(payload)
    page.add_to(fmap)
    if payload.get("context"):
        ContextLayer(page).add_to(fmap)
    shown = next((i for i, spec in enumerate(specs) if spec["show"]), 0)
    for i, spec in enumerate(specs):
        ThematicLayer(page, spec, spec["title"], i == shown).add_to(fmap)
    for overlay in overlays:
        w, s, e, n = overlay.bounds
        image = folium.raster_layers.ImageOverlay(image=overlay.data_uri, bounds=[[s, w], [n, e]],
                                                  opacity=overlay.layer.opacity, name=control_name(overlay.layer.title),
                                                  overlay=True, control=True, show=overlay.layer.show,
                                                  interactive=False, zindex=350)
        image.add_to(fmap)
        spec_json = script_json(overlay_spec(overlay))
        _Script(lambda image=image, spec_json=spec_json:
                f"{page.get_name()}.registerLegend({image.get_name()}, {spec_json});").add_to(fmap)
    folium.LayerControl(collapsed=collapsed, position="topright").add_to(fmap)
    _Script(lambda: f"{page.get_name()}.finish();").add_to(fmap)
    fmap.fit_bounds([[south, west], [north, east]])
    return fmap
