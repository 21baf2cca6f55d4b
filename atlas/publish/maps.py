"""The data of the pilots' Leaflet maps, self-contained: no script, style or font from another host.

A page embeds its data once as JSON (outlines and per-pilot facts, :func:`page_payload`);
the page script (``assets/atlas.js``) builds the Leaflet map from it: each choropleth
layer of ``layers/*.toml`` restyles the same outlines in the browser, so ten layers cost
little more than one. Raster layers are PNG images in Web Mercator
(:mod:`atlas.publish.overlays`). Basemap tiles are off unless a provider is chosen;
providers in GCJ-02 (AMap/高德) get every vector and raster layer shifted into GCJ-02 so
nothing is drawn misaligned.

The page HTML around the map comes from the Jinja templates (:mod:`atlas.publish.pages`);
the map itself is plain Leaflet driven by :func:`map_config` (no folium: its element tree
parsed data as templates and needed workarounds reading private attributes).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from importlib import resources

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

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


def inline_assets(names: tuple[str, ...] = ("leaflet.js", "atlas.js")) -> list[str]:
    """Texts of the page scripts to inline, checked to be inlinable (no ``</script``)."""
    scripts = [asset_text(name) for name in names]
    for name, text in zip(names, scripts):
        if "</script" in text.lower():
            raise SiteError(f"The asset {name} contains '</script'", "scripts that can be inlined",
                            "re-run scripts/vendor_assets.py, or escape the text in the asset")
    return scripts


def nested_ids(outlines: gpd.GeoDataFrame, id_column: str = "pilot_id") -> set[str]:
    """Pilots of ``outlines`` that lie inside a province-level pilot of the same frame.

    A pilot city inside a pilot province is drawn as an outline over the province's fill,
    so that no two translucent fills blend into a colour the legend does not have.
    """
    if "level" not in outlines.columns:
        return set()
    provinces = outlines[outlines["level"] == "province"]
    others = outlines[outlines["level"] != "province"]
    if provinces.empty or others.empty:
        return set()
    points = shapely.point_on_surface(others.geometry.values)
    # an index of the provinces rather than their union: dissolving detailed outlines cost 0.3 s a site
    hits, _ = shapely.STRtree(provinces.geometry.values).query(points, predicate="intersects")
    inside = np.zeros(len(points), dtype=bool)
    inside[hits] = True
    return set(others[id_column].astype(str)[inside])


def prepare_outlines(frame: gpd.GeoDataFrame, id_column: str, tolerance: float = 0.0,
                     page_datum: str = "wgs84", nested: set[str] | None = None) -> dict:
    """GeoJSON FeatureCollection of ``frame``'s outlines for a page, largest first.

    Features whose id is in ``nested`` carry ``"nested": true`` (drawn as outlines).

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
    nested = nested or set()
    features = []
    for i in order:
        key = str(frame[id_column].iloc[i])
        props = {"id": key, "nested": True} if key in nested else {"id": key}
        features.append({"type": "Feature", "properties": props, "geometry": shapely.geometry.mapping(snapped[i])})
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
            notes.append(f"{layer.title}: 本次构建无此数据 not in this build")
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




def map_config(payload: dict, specs: list[dict], overlays: list[Overlay], bounds: tuple[float, float, float, float],
               tiles: str = "none", small: bool = False) -> dict:
    """Everything ``AtlasPage.mount`` (assets/atlas.js) needs to build one page's map.

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
    small
        A small map (pilot pages): the layer control starts folded.
    """
    provider = tile_provider(tiles)
    west, south, east, north = bounds
    shown = next((i for i, spec in enumerate(specs) if spec["show"]), 0)
    thematic = [dict(spec, show=i == shown) for i, spec in enumerate(specs)]
    images = [{"url": o.data_uri, "bounds": [[o.bounds[1], o.bounds[0]], [o.bounds[3], o.bounds[2]]],
               "opacity": o.layer.opacity, "show": o.layer.show, "legend": overlay_spec(o)} for o in overlays]
    basemap = None
    if provider is not None:
        basemap = {"url": provider.url, "attribution": provider.attribution, "subdomains": provider.subdomains,
                   "max_zoom": provider.max_zoom, "title": f"底图 Basemap: {provider.name_zh} {provider.name_en}"}
    return dict(payload, bounds=[[south, west], [north, east]], thematic=thematic, overlays=images,
                basemap=basemap, small=small)
