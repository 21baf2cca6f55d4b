"""The published site without a browser: layer specs, classification, overlays, escaping,
self-containment. (tests/test_site_browser.py opens the pages in headless Chromium.)"""

from __future__ import annotations

import base64
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile
from rasterio.warp import Resampling, reproject
from shapely.geometry import box

from atlas.regions import datum
from atlas.errors import SiteError
from atlas.publish import records
from atlas.publish.layers import classify, load_layers, parse_layer
from atlas.publish.maps import script_json, tile_provider
from atlas.publish.overlays import (Canvas, lonlat_to_mercator, mercator_frame, mercator_to_lonlat, png_data_uri,
                                    render_overlay, sample_layer)
from atlas.publish.site import RasterLayer, SiteData, external_resources, publish_site
from atlas.rasters.layer import ArraySource, LayerSpec


def layer(tmp_path: Path, **doc):
    base = {"id": "t", "title_zh": "测试", "title_en": "Test", "column": "v", "colours": {"scale": "YlGn"}}
    base.update(doc)
    return parse_layer(base, tmp_path / "t.toml")


# ---------------------------------------------------------------- layer specs

def test_project_layers_load_and_cover_the_issue_list():
    ids = {layer.id for layer in load_layers()}
    assert {"batch", "co2_per_capita_2010", "emissions_raster", "forest_share", "net_sink", "sink_per_ha",
            "offset_ratio", "compensation_balance", "target_status", "forest_raster",
            "emissions_density", "emissions_change"} <= ids


@pytest.mark.parametrize("doc, key", [
    ({"colour": "red"}, "colour"),                                   # unknown key
    ({"id": "Bad Id"}, "id"),
    ({"kind": "heatmap"}, "kind"),
    ({"classification": {"scheme": "jenks"}}, "classification.scheme"),
    ({"classification": {"k": 12}}, "classification.k"),
    ({"classification": {"scheme": "fixed", "breaks": [3, 1]}}, "classification.breaks"),
    ({"colours": {"scale": "NotABrewerScale"}}, "colours.scale"),
    ({"colours": {}}, "colours"),
    ({"kind": "raster", "source": "rainfall"}, "source"),
])
def test_bad_layer_spec_names_file_and_key(tmp_path, doc, key):
    with pytest.raises(SiteError) as err:
        layer(tmp_path, **doc)
    assert "t.toml" in str(err.value) and repr(key) in str(err.value)


def test_invalid_toml_and_duplicate_ids(tmp_path):
    (tmp_path / "a.toml").write_text('id = "x"\ntitle_zh = "甲"\ntitle_en = "A"\ncolumn = "v"\n'
                                     '[colours]\nscale = "YlGn"\n', encoding="utf-8")
    (tmp_path / "b.toml").write_text((tmp_path / "a.toml").read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(SiteError, match="more than one file"):
        load_layers(tmp_path)
    (tmp_path / "b.toml").write_text("id = [", encoding="utf-8")
    with pytest.raises(SiteError, match="b.toml is not valid"):
        load_layers(tmp_path)


def test_fixed_breaks_by_hand(tmp_path):
    spec = layer(tmp_path, classification={"scheme": "fixed", "breaks": [10, 20]})
    # upper bounds 10, 20 (and the maximum 30 appended): 5→0, 10→0 (inclusive), 15→1, 30→2, NaN→-1
    got = classify([5, 10, 15, 30, np.nan], spec)
    assert got.index.tolist() == [0, 0, 1, 2, -1]
    assert len(got.colours) == len(got.labels) == 3


def test_diverging_classes_split_at_the_centre(tmp_path):
    spec = layer(tmp_path, classification={"scheme": "quantiles", "k": 4, "centre": 0.0},
                 colours={"scale": "RdYlGn"})
    values = np.array([-40.0, -30.0, -2.0, -1.0, 3.0, 5.0, 50.0, 60.0])
    got = classify(values, spec)
    below = got.index[values <= 0]
    above = got.index[values > 0]
    assert below.max() < above.min()                       # no class straddles zero
    assert got.labels[below.max()].endswith("– 0")          # the last class below ends at the centre
    reds, greens = set(got.colours[i] for i in below), set(got.colours[i] for i in above)
    assert not reds & greens


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=2, max_size=300), st.integers(2, 7))
def test_quantile_classes_are_mapclassifys(values, k):
    """Quantile bins come from mapclassify's quantile function, without its classifier's fit statistics:
    the same upper bounds as its Quantiles classifier."""
    import warnings

    import mapclassify
    spec = layer(Path("layers"), classification={"scheme": "quantiles", "k": k})  # the path only names the spec
    got = classify(np.array(values), spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bins = np.unique(mapclassify.classify(np.array(values), "quantiles", k=min(k, len(set(values)))).bins)
    assert len(got.labels) == len(bins)
    assert got.index.tolist() == np.minimum(np.searchsorted(bins, values, side="left"), len(bins) - 1).tolist()


def test_only_negative_values_still_classify(tmp_path):
    spec = layer(tmp_path, classification={"scheme": "quantiles", "k": 6, "centre": 0.0},
                 colours={"scale": "RdYlGn"})
    got = classify(np.array([-5.0, -3.0, -1.0]), spec)
    assert (got.index >= 0).all() and len(got.colours) == len(got.labels)


def test_categories_match_numbers_and_strings():
    layers = {lay.id: lay for lay in load_layers()}
    assert classify(np.array([1, 3, 2, 7]), layers["batch"]).index.tolist() == [0, 2, 1, -1]
    status = classify(np.array(["met", "no targets", None], dtype=object), layers["target_status"])
    assert status.index.tolist() == [0, 4, -1]


# ---------------------------------------------------------------- overlays

def test_mercator_round_trip():
    lon = np.array([73.5, 100.0, 135.0])
    lat = np.array([18.0, 35.5, 53.5])
    back = mercator_to_lonlat(*lonlat_to_mercator(lon, lat))
    np.testing.assert_allclose(back, (lon, lat), atol=1e-9)


def test_overlay_sampling_matches_rasterio_reproject():
    """Our nearest-neighbour Mercator image equals GDAL's warp into the same EPSG:3857 grid."""
    rng = np.random.default_rng(7)
    classes = rng.integers(1, 6, size=(90, 120)).astype(np.uint8)
    transform = Affine(0.25, 0, 100.013, 0, -0.25, 40.017)   # odd origin: no ties at pixel centres
    source = ArraySource(classes, transform, "EPSG:4326", nodata=0)
    spec = LayerSpec("forest", "classes", "class", nodata=0)
    frame = mercator_frame(101.0, 19.0, 128.0, 39.0, max_side=300)
    ours = sample_layer([source], spec, frame)
    gdal = np.zeros((frame.height, frame.width), dtype=np.uint8)
    reproject(classes, gdal, src_transform=transform, src_crs="EPSG:4326", src_nodata=0,
              dst_transform=Affine(frame.pixel, 0, frame.x0, 0, -frame.pixel, frame.y0), dst_crs="EPSG:3857",
              dst_nodata=0, resampling=Resampling.nearest)
    same = np.nan_to_num(ours, nan=0).astype(np.uint8) == gdal
    assert same.mean() > 0.995  # differences only where a pixel centre sits on a cell edge


def test_amount_becomes_density_per_km2():
    # one tonne in every 0.1° cell; at the equator a 0.1° × 0.1° cell is about 123.6 km²
    # (WGS84: 11.132 km × 11.057 km), so the density is about 1/123.1 t/km²
    ones = np.ones((20, 20), dtype=np.float32)
    source = ArraySource(ones, Affine(0.1, 0, 0.0, 0, -0.1, 1.0), "EPSG:4326")
    spec = LayerSpec("emissions", "amount", "t CO2/cell/yr")
    frame = mercator_frame(0.05, -0.95, 1.95, 0.95, max_side=40)
    density = sample_layer([source], spec, frame)
    cell_km2 = 11.1319 * 11.0574
    assert np.nanmax(np.abs(density * cell_km2 - 1.0)) < 2e-3


def test_gcj02_page_samples_the_true_place():
    """On a GCJ-02 page the pixel at GCJ coordinates (x, y) shows the raster at the WGS84 place."""
    marker = np.zeros((200, 200), dtype=np.uint8)
    transform = Affine(0.001, 0, 116.3, 0, -0.001, 40.0)
    marker[100, 100] = 1                                   # WGS84 cell centred at 116.4005, 39.8995
    source = ArraySource(marker, transform, "EPSG:4326", nodata=0)
    spec = LayerSpec("forest", "classes", "class", nodata=0)
    gx, gy = datum.wgs84_to_gcj02(116.4005, 39.8995)
    frame = mercator_frame(float(gx) - 0.0005, float(gy) - 0.0005, float(gx) + 0.0005, float(gy) + 0.0005, 3)
    on_gcj_page = sample_layer([source], spec, frame, page_datum="gcj02")
    on_wgs_page = sample_layer([source], spec, frame, page_datum="wgs84")
    assert on_gcj_page[1, 1] == 1
    assert np.isnan(on_wgs_page[1, 1])                     # ~500 m off: the marker is elsewhere


def test_render_overlay_is_a_png_with_legend(tmp_path):
    layers = {lay.id: lay for lay in load_layers()}
    classes = np.array([[1, 2], [0, 5]], dtype=np.uint8)
    source = ArraySource(classes, Affine(1, 0, 100, 0, -1, 30), "EPSG:4326", nodata=0)
    spec = LayerSpec("forest", "classes", "class", nodata=0)
    overlay = render_overlay(layers["forest_raster"], [source], spec, Canvas.over((100, 28, 102, 30), max_side=20))
    assert overlay.data_uri.startswith("data:image/png;base64,")
    assert len(overlay.classes.labels) == 5
    assert render_overlay(layers["forest_raster"], [source], spec, Canvas.over((10, 10, 11, 11), max_side=5)) is None


@pytest.mark.parametrize("kind, units", [("classes", "class"), ("amount", "t CO2/cell/yr")])
def test_a_wgs84_page_samples_per_row_and_column_as_per_pixel(kind, units):
    """On a WGS84 page over a lon/lat grid the cell under each pixel is worked out once per row and
    column; the values are those of the per-pixel path, amounts (divided by cell areas) included."""
    from atlas.publish.overlays import _sample_at

    cells = np.random.default_rng(7).integers(0, 6, (90, 120)).astype(np.float32)
    source = ArraySource(cells, Affine(0.05, 0, 110.0, 0, -0.05, 26.0), "EPSG:4326", nodata=0)
    spec = LayerSpec("t", kind, units, nodata=0)
    for view in ((109.5, 21.0, 116.5, 26.5), (111.03, 22.71, 112.9, 24.44)):
        lon, lat = Canvas.over(view, max_side=300).wgs84_centres
        assert lon.strides[0] == 0 and lat.strides[1] == 0  # rows share longitudes, columns latitudes
        shared = _sample_at([source], spec, lon, lat)
        per_pixel = _sample_at([source], spec, np.ascontiguousarray(lon), np.ascontiguousarray(lat))
        np.testing.assert_array_equal(shared, per_pixel)
        assert np.isfinite(shared).any() and np.isnan(shared).any()


def test_overlay_png_is_a_palette_with_a_transparent_entry():
    # classes 0 and 1 in red and green, -1 (no class) transparent: a palette PNG of indices 0, 1 and 2
    uri = png_data_uri(np.array([[0, 1], [-1, 1]]), ["#ff0000", "#00ff00"])
    blob = base64.b64decode(uri.removeprefix("data:image/png;base64,"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with MemoryFile(blob) as mem, mem.open() as png:
            assert png.driver == "PNG" and png.count == 1
            np.testing.assert_array_equal(png.read(1), [[0, 1], [2, 1]])
            palette = png.colormap(1)
    assert palette[0] == (255, 0, 0, 255) and palette[1] == (0, 255, 0, 255) and palette[2][3] == 0
    with pytest.raises(SiteError, match="256 classes"):
        png_data_uri(np.zeros((1, 1), dtype=int), ["#000000"] * 256)


# ---------------------------------------------------------------- escaping and self-containment

def test_script_json_cannot_close_the_script():
    text = script_json({"name": "</script><script>alert(1)</script>", "amp": "a&b"})
    assert "</" not in text and "<" not in text and "&" not in text


def test_external_resources_found():
    page = ('<script src="https://cdn.example/x.js"></script><link rel="stylesheet" href="//cdn/y.css">'
            '<img src="data:image/png;base64,AAAA"><style>.a{background:url(https://e/i.png)} '
            '.b{background:url(data:image/png;base64,AA)}</style><a href="https://example.org">ok</a>')
    assert external_resources(page) == ["https://cdn.example/x.js", "//cdn/y.css", "https://e/i.png"]


def test_unknown_tile_provider():
    with pytest.raises(SiteError, match="Unknown tile provider"):
        tile_provider("google")
    assert tile_provider("amap").datum == "gcj02"


# ---------------------------------------------------------------- target status

def test_target_status_summary():
    tracked = pd.DataFrame({
        "pilot_id": ["A", "A", "B", "B", "C", "C"],
        "status": ["met", "not met", "met", "not measurable", "not measurable", "baseline (not a target)"],
    })
    got = records.target_status(tracked, pd.Index(["A", "B", "C", "D"]))
    assert got["target_status"].tolist() == ["partly met", "met", "not measurable", "no targets"]
    assert got.loc["A", "target_summary"].startswith("1 / 2")


# ---------------------------------------------------------------- a tiny site

HOSTILE = "<script>window.pwned=1</script>{{ 7*7 }}"


@pytest.fixture
def tiny_site_data() -> SiteData:
    """Three square pilots in south China, one named like an attack, and a forest raster."""
    ids = ["P1-01", "P1-02", "P2-01"]
    table = pd.DataFrame({
        "pilot_id": ids, "batch": [1, 1, 2], "year": [2010, 2010, 2012], "document": ["doc"] * 3,
        "name_zh": ["甲省", HOSTILE, "丙市"], "name_en": ["Jia", "Yi & <b>Co</b>", "Bing"],
        "pinyin": ["jia", "yi", "bing"], "level": ["province", "prefecture", "prefecture"],
        "province_zh": ["甲省", "甲省", "丙省"], "land_area_km2": [1e4, 2e3, 3e3],
        "population_10k": [100.0, np.nan, 50.0], "gdp_100m_yuan": [10.0, np.nan, 5.0],
        "co2_per_capita_t": [5.0, np.nan, 7.5],
        "forest_ha": [1e5, 2e4, 0.0], "forest_share_of_land": [0.1, 0.1, 0.0],
        "net_sink_tco2_per_yr_low": [1e5, 1e4, 0.0], "net_sink_tco2_per_yr_central": [2e5, 2e4, 0.0],
        "net_sink_tco2_per_yr_high": [3e5, 3e4, 0.0], "net_sink_tco2_per_ha_land_yr_central": [0.2, 0.1, 0.0],
        "climate_domain": ["subtropical"] * 3, "emissions_tco2_per_yr": [5e6, np.nan, 3.75e6],
        "offset_ratio_central": [0.04, np.nan, 0.0], "balance_tco2_per_yr": [-4.8e6, np.nan, -3.75e6],
        "payment_cny_per_yr": [1.9e7, 1.9e6, 0.0], "transfer_cny_per_yr": [0.0, np.nan, 0.0],
        "target_status": ["not met", "no targets", "not measurable"],
        "target_summary": ["0 / 1", "none", "none of 1"],
    }).set_index("pilot_id")
    table["level_label"] = table["level"]
    targets = pd.DataFrame({
        "pilot_id": ["P1-01", "P2-01"], "indicator": ["forest_coverage", "carbon_intensity_reduction_vs_2010"],
        "indicator_zh": ["森林覆盖率", "碳强度下降"], "indicator_en": ["Forest coverage <i>", "Carbon intensity"],
        "target_year": [2020.0, 2015.0], "value_low": [25.0, 18.0], "value_high": [25.0, 18.0],
        "unit": ["%", "%"], "declared_text": ["25 %", "18 %"], "measured_value": [10.0, np.nan],
        "measured_text": ["10.0 % (2019)", "—"], "status": ["not met", "not measurable"],
        "source_table": ["Table 3", "Table 9"], "caveat": ["<caveat>", ""],
    })
    outlines = gpd.GeoDataFrame({"pilot_id": ids, "level": table["level"].to_numpy()},
                                geometry=[box(110, 22, 112, 24), box(110.5, 22.5, 111, 23), box(113, 23, 114, 24)],
                                crs="EPSG:4326")
    provinces = gpd.GeoDataFrame({"adcode": [440000]}, geometry=[box(109, 21, 115, 25)], crs="EPSG:4326")
    forest = np.zeros((40, 60), dtype=np.uint8)
    forest[5:30, 5:40] = 2
    reader = ArraySource(forest, Affine(0.1, 0, 109.0, 0, -0.1, 25.0), "EPSG:4326", nodata=255)
    rasters = {"forest": RasterLayer([reader], LayerSpec("igbp", "classes", "class", nodata=255), "test forest")}
    return SiteData(table=table, targets=targets, outlines=outlines, provinces=provinces, rasters=rasters,
                    summary={"pilots_total": 3, "pilots_per_batch": {1: 2, 2: 1}}, downloads=["data/x.csv"],
                    notes=["a <note>"])


def test_tiny_site_pages_escape_and_stand_alone(tiny_site_data, tmp_path):
    pages = publish_site(tiny_site_data, tmp_path)
    names = sorted(p.relative_to(tmp_path).as_posix() for p in pages)
    assert names == ["batch-1.html", "batch-2.html", "index.html", "national.html",
                     "pilots/P1-01.html", "pilots/P1-02.html", "pilots/P2-01.html"]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert external_resources(text) == [], page
        assert "window.pwned=1</script>" not in text           # never as markup
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;{{ 7*7 }}" in index     # shown as text, not run
    national = (tmp_path / "national.html").read_text(encoding="utf-8")
    assert "\\u003cscript\\u003ewindow.pwned=1\\u003c/script\\u003e{{ 7*7 }}" in national  # JSON, not a template
    assert "https://cdn" not in national and "jquery" not in national.lower()
    pilot = (tmp_path / "pilots" / "P1-01.html").read_text(encoding="utf-8")
    assert "&lt;caveat&gt;" in pilot and "<svg" in pilot


def test_gcj02_site_shifts_vectors(tiny_site_data, tmp_path):
    publish_site(tiny_site_data, tmp_path / "wgs")
    publish_site(tiny_site_data, tmp_path / "gcj", tiles="amap")
    wgs = (tmp_path / "wgs" / "batch-2.html").read_text(encoding="utf-8")
    gcj = (tmp_path / "gcj" / "batch-2.html").read_text(encoding="utf-8")
    assert "[113.0,23.0]" in wgs
    gx, gy = datum.wgs84_to_gcj02(113.0, 23.0)
    assert f"[{float(np.round(gx, 4))},{float(np.round(gy, 4))}]" in gcj
    assert "autonavi" in gcj and "autonavi" not in wgs


def test_reading_raster_overlays_from_files(tif, tmp_path):
    """File sources give the same image as the in-memory array (GDAL picks the cells)."""
    rng = np.random.default_rng(3)
    data = rng.integers(1, 6, size=(300, 400)).astype(np.uint8)
    transform = Affine(0.01, 0, 110.003, 0, -0.01, 25.007)
    path = tif("f.tif", data, transform, nodata=0)
    from atlas.rasters.layer import RasterSource
    spec = LayerSpec("forest", "classes", "class", nodata=0)
    frame = mercator_frame(110.2, 22.5, 113.8, 24.8, max_side=500)
    from_file = sample_layer([RasterSource(path)], spec, frame)
    from_memory = sample_layer([ArraySource(data, transform, "EPSG:4326", nodata=0)], spec, frame)
    np.testing.assert_array_equal(from_file, from_memory)
    with rasterio.open(path) as ds:
        assert ds.read(1).sum() == data.sum()  # input untouched


def test_gcj02_inverse_on_a_grid_matches_the_exact_inverse():
    """The interpolated inverse used for big overlays stays within a metre of the exact one."""
    from atlas.publish.overlays import _interp_grid
    lon = np.linspace(113.0, 114.7, 700)
    lat = np.linspace(22.2, 23.1, 400)
    fast_lon, fast_lat = _interp_grid(lon, lat, 1 / 40)
    exact_lon, exact_lat = datum.gcj02_to_wgs84(*np.meshgrid(lon, lat))
    metres = 111_000 * np.hypot(fast_lon - exact_lon, fast_lat - exact_lat)
    assert metres.max() < 1.0


@pytest.mark.parametrize("box, side", [((73.0, 18.0, 135.5, 53.6), 1600),   # the national map
                                       ((113.7, 22.4, 114.7, 22.9), 600)])  # a city's page
def test_gcj02_pixels_are_placed_within_a_hundredth_of_a_pixel(box, side):
    """The inverse grid's spacing follows the pixel size and keeps every pixel centre within 1 % of a
    pixel (on the ground, at the box's northern edge) of the exact inverse."""
    import math

    from atlas.publish.overlays import (EARTH_RADIUS_M, GCJ_GRID_DEG, _display_to_wgs84, gcj_grid_spacing,
                                        mercator_frame)
    frame = mercator_frame(*box, max_side=side)
    fast_lon, fast_lat = (a[::7, ::7] for a in _display_to_wgs84(frame, "gcj02"))
    lon, lat = (a[::7, ::7] for a in frame.centres())  # every 49th pixel: the exact inverse is the slow part
    exact_lon, exact_lat = datum.gcj02_to_wgs84(lon, lat)
    north = float(lat.max())
    pixel_deg = math.degrees(frame.pixel / EARTH_RADIUS_M)
    pixel_m = pixel_deg * 111_320 * math.cos(math.radians(north))
    metres = np.hypot((fast_lon - exact_lon) * 111_320 * np.cos(np.radians(lat)), (fast_lat - exact_lat) * 110_574)
    assert metres.max() <= 0.01 * pixel_m
    spacing = gcj_grid_spacing(pixel_deg, north)
    # h = sqrt(4 × 0.01 × pixel_m / 5200): national 0.0391° pixels, 2,583 m at 53.6°N → 0.141°;
    # the city page's 0.00167° pixels, 171 m at 22.9°N → 0.036° (both coarser than 1/40°)
    assert spacing == pytest.approx(0.141 if side == 1600 else 0.036, abs=0.001) and spacing > GCJ_GRID_DEG


def test_site_served_over_http_resolves_every_link(tiny_site_data, tmp_path):
    """Relative links work from a static web server as well as from file://."""
    import functools
    import posixpath
    import re
    import threading
    import urllib.request
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    publish_site(tiny_site_data, tmp_path)
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    seen, todo = set(), ["index.html"]
    try:
        while todo:  # crawl every .html link from the index
            page = todo.pop()
            if page in seen:
                continue
            seen.add(page)
            with urllib.request.urlopen(base + page) as response:
                assert response.status == 200, page
                text = response.read().decode("utf-8")
            here = posixpath.dirname(page)
            todo += [posixpath.normpath(posixpath.join(here, href))
                     for href in re.findall(r'href="([^"#:]+\.html)"', text)]
    finally:
        server.shutdown()
    assert {"index.html", "national.html", "batch-1.html", "batch-2.html", "pilots/P1-02.html"} <= seen


def test_min_value_leaves_low_values_unclassified(tmp_path):
    spec = layer(tmp_path, classification={"scheme": "fixed", "breaks": [30, 100], "min_value": 10})
    # 5 is below the minimum (not drawn), 10 and 30 fall in the first class, 60 in the second
    assert classify([5, 10, 30, 60], spec).index.tolist() == [-1, 0, 0, 1]


# ---------------------------------------------------------------- reader-facing text, charts, inset

from atlas.publish import pages as page_mod  # noqa: E402
from atlas.publish.fields import FIELDS, fmt_money_cny, fmt_percent  # noqa: E402
from atlas.publish.maps import nested_ids  # noqa: E402


@pytest.mark.parametrize("value, text", [
    (4.81e8, "4.81 亿元 (CNY 481 M)"),          # 481,000,000 yuan = 4.81 × 10⁸
    (1.77e7, "1,770 万元 (CNY 17.7 M)"),        # was "1.77e+03 万元"
    (9500.0, "9,500 元 (CNY 9.50 k)"),
])
def test_money_is_written_for_readers(value, text):
    assert fmt_money_cny(value) == text


def test_ratios_are_percent():
    assert fmt_percent(0.000403) == "0.0403 %"                 # was "0.000403"
    assert FIELDS["offset_ratio_central"].text(0.140571) == "14.1 %"


def test_targets_chart_one_scale_per_unit():
    targets = pd.DataFrame({
        "indicator_zh": ["甲", "乙", "丙"], "indicator_en": ["a", "b", "c"], "target_year": [2020.0] * 3,
        "value_low": [15.0, 56.0, 3.0], "value_high": [15.0, 56.0, 3.0], "unit": ["%", "%", "t"],
        "measured_value": [np.nan, 28.0, np.nan], "declared_text": ["15 %", "56 %", "3 t"],
        "measured_text": ["—", "28.0 % (2019)", "—"], "status": ["not measurable", "not met", "pending"]})
    chart = page_mod.target_chart(targets)
    percent, tonnes = chart["groups"]
    assert [g["unit"] for g in chart["groups"]] == ["%", "t"]
    plot = chart["plot_w"]
    # one % scale up to 56: 15 % is 15/56 of the plot, 56 % all of it, the measured 28 % half of it
    assert percent["rows"][0]["declared_w"] == pytest.approx(plot * 15 / 56)
    assert percent["rows"][1]["declared_w"] == pytest.approx(plot)
    assert percent["rows"][1]["measured_w"] == pytest.approx(plot / 2)
    assert tonnes["rows"][0]["declared_w"] == pytest.approx(plot)     # its own unit, its own scale
    assert percent["rows"][0]["measured_w"] is None


def test_nested_pilots_are_found():
    frame = gpd.GeoDataFrame({"pilot_id": ["prov", "city", "away"], "level": ["province", "prefecture", "prefecture"]},
                             geometry=[box(0, 0, 10, 10), box(2, 2, 3, 3), box(20, 20, 21, 21)], crs="EPSG:4326")
    assert nested_ids(frame) == {"city"}


def test_pages_speak_without_internal_names(tiny_site_data, tmp_path):
    tiny_site_data.review_number = "GS(2024)1234号 <b>"
    publish_site(tiny_site_data, tmp_path)
    for page in ["index.html", "national.html", "batch-1.html", "pilots/P1-01.html"]:
        text = (tmp_path / page).read_text(encoding="utf-8")
        assert "seed" not in text.lower(), page
        assert "审图号 Map review No.: GS(2024)1234号 &lt;b&gt;" in text, page       # escaped, on every page
    national = (tmp_path / "national.html").read_text(encoding="utf-8")
    assert 'data-inset="south-china-sea"' in national and "atlas-inset-line" in national
    pilot = (tmp_path / "pilots" / "P1-01.html").read_text(encoding="utf-8")
    assert 'data-inset="south-china-sea"' not in pilot
    for name in ("price", "rate", "years", "growth"):
        assert f'data-param="{name}"' in pilot
    assert 'data-output="payment-central"' in pilot and "NCSC 2013" in pilot
    assert "net_sink_tco2" not in pilot.split('id="atlas-map-data"')[0]   # no raw column names in the text


def test_compensation_panel_values_match_the_ledger(tiny_site_data):
    """The values a pilot page first shows are atlas.carbon.compensation's."""
    from atlas.carbon.compensation import ledger
    from atlas.publish import panel
    params = {"price": 100.0, "rate": 0.05, "years": 3, "growth": 0.02}
    table = tiny_site_data.table
    data = panel.compensation_data(table.loc["P1-01"], panel.pools(table), params)
    rows = {r["estimate"]: r for r in panel.compensation_rows(data)}
    for estimate in ("low", "central", "high"):
        want = ledger(table, "removals", 100.0, 0.05, 3, estimate=estimate, growth=0.02).loc["P1-01"]
        assert rows[estimate]["annual"] == pytest.approx(want["payment_cny_per_yr"])
        assert rows[estimate]["npv"] == pytest.approx(want["payment_npv_cny"])
    balance = panel.compensation_rows(dict(data, defaults=dict(data["defaults"], scheme="balance")))
    known = table[table["emissions_tco2_per_yr"].notna()]
    want = ledger(known, "balance", 100.0, 0.05, 3, estimate="central", growth=0.02).loc["P1-01"]
    assert balance[1]["annual"] == pytest.approx(want["transfer_cny_per_yr"])


def test_templates_autoescape():
    html_text = page_mod.render("_parts.html.j2")  # imports fine
    env = page_mod.environment()
    assert env.autoescape is True and html_text.strip() == ""
    out = env.from_string("{{ x }}").render(x="<script>{{ 7*7 }}</script>")
    assert out == "&lt;script&gt;{{ 7*7 }}&lt;/script&gt;"


def test_display_provinces_are_a_valid_coverage():
    # The site clips overlays to the provinces' coverage union (publish/site.py), which equals their
    # union only for outlines that neither overlap nor leave slivers between shared edges.
    import shapely

    from atlas.regions import boundaries

    provinces = boundaries.load_provinces(display=True).geometry.values
    assert shapely.coverage_is_valid(provinces)
    assert shapely.coverage_union_all(provinces).equals(shapely.union_all(provinces))
