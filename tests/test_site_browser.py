"""The published site in a real headless Chromium, opened from file:// with the network cut.

The default site is built once per session (the same job as `atlas build`). Render times
are measured by scripts/bench_site.py, not asserted here.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import shapely
from test_publish import HOSTILE, tiny_site_data  # noqa: F401  (fixture)

from atlas.regions import boundaries
from atlas.workflow import pipeline
from atlas.publish.site import publish_site

pytestmark = pytest.mark.browser

READY = "window.atlasReady === true"


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    pipeline.build(out)
    return out


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory) -> Path:
    where = os.environ.get("ATLAS_SCREENSHOT_DIR")
    return Path(where) if where else tmp_path_factory.mktemp("screenshots")


def open_page(chromium, path: Path):
    report = chromium.open(path, ready=READY, ready_js="window.atlasReadyAt")
    report.assert_offline()
    report.assert_no_console_errors()
    return report


def count(chromium, selector: str) -> int:
    return chromium.run_js(f"return document.querySelectorAll({selector!r}).length;")


def tooltip_at(chromium, lon: float, lat: float, expect: str) -> str:
    """Hover a place with the real mouse; return the text of the tooltip that shows ``expect``."""
    chromium.hover_at(1, 1)  # start off the map: no tooltip left over from an earlier test
    hover_lonlat(chromium, lon, lat)
    chromium.wait_for("Array.from(document.querySelectorAll('.leaflet-tooltip'))"
                      f".some(t => t.textContent.indexOf({expect!r}) >= 0)", timeout=5)
    return chromium.run_js("return Array.from(document.querySelectorAll('.leaflet-tooltip'))"
                           ".map(t => t.textContent).find(t => t.indexOf(arguments[0]) >= 0);", expect)


def hover_lonlat(chromium, lon: float, lat: float) -> None:
    """Move the real mouse to a place on the map."""
    x, y = chromium.run_js(
        "var m = window.atlasPage.map; var p = m.latLngToContainerPoint([arguments[1], arguments[0]]);"
        "var r = m.getContainer().getBoundingClientRect(); return [r.left + p.x, r.top + p.y];", lon, lat)
    chromium.hover_at(int(x), int(y))


def click_layer(chromium, title: str) -> None:
    """Click the layer-control input whose label contains ``title`` (a real mouse click)."""
    found = chromium.run_js(
        "var hit = Array.from(document.querySelectorAll('.leaflet-control-layers label'))"
        ".find(l => l.textContent.indexOf(arguments[0]) >= 0);"
        "if (!hit) { return false; } hit.querySelector('input').setAttribute('data-test-layer', '1'); return true;",
        title)
    assert found, f"no layer titled {title!r} in the layer control"
    chromium.click("input[data-test-layer]")
    chromium.run_js("document.querySelector('input[data-test-layer]').removeAttribute('data-test-layer');")


def free_point(pilot_id: str) -> tuple[float, float]:
    """A point inside a pilot that no smaller pilot covers (so the hover lands on it)."""
    outlines = boundaries.load_pilot_boundaries(display=True).set_index("pilot_id")
    mine = outlines.loc[pilot_id].geometry
    others = shapely.buffer(shapely.union_all(outlines.drop(index=pilot_id).geometry.values), 0.05)
    spot = mine.buffer(-0.1).difference(others).representative_point()
    return spot.x, spot.y


def test_national_map(chromium, site, screenshots):
    open_page(chromium, site / "national.html")
    # every pilot drawn once in the visible layer (pilots by batch)
    assert count(chromium, "path.atlas-pilot") == 87
    ids = chromium.run_js("return new Set(Array.from(document.querySelectorAll('path.atlas-pilot'))"
                          ".map(p => p.getAttribute('data-pilot'))).size;")
    assert ids == 87
    assert count(chromium, "path.atlas-context") == 34          # provinces as context
    assert count(chromium, ".atlas-legend-part[data-layer='batch'] .atlas-legend-row") == 3
    assert count(chromium, ".leaflet-control-scale") == 1
    assert count(chromium, ".atlas-fullscreen a") == 1
    chromium.screenshot(screenshots / "national.png")

    # tooltip on a real hover: Yunnan, away from the pilot cities inside it
    tooltip = tooltip_at(chromium, *free_point("P1-05"), "云南省")
    assert "云南省" in tooltip and "Yunnan" in tooltip and "Batch 1" in tooltip

    # switch to the net-sink layer: its legend replaces the batch legend
    click_layer(chromium, "Net forest sink")
    chromium.wait_for("document.querySelector(\".atlas-legend-part[data-layer='net_sink']\") !== null", 5)
    assert count(chromium, ".atlas-legend-part[data-layer='batch']") == 0
    assert count(chromium, "path.atlas-layer-net_sink") == 87

    # the forest raster overlay: an inlined image and its own legend next to the choropleth's
    click_layer(chromium, "Forest type (raster)")
    chromium.wait_for("document.querySelector(\".atlas-legend-part[data-layer='forest_raster']\") !== null", 5)
    src = chromium.run_js("return document.querySelector('img.leaflet-image-layer').getAttribute('src');")
    assert src.startswith("data:image/png;base64,")
    assert count(chromium, ".atlas-legend-part") == 2
    chromium.screenshot(screenshots / "national-net-sink-forest.png")
    chromium.collect().assert_offline()
    chromium.collect().assert_no_console_errors()


@pytest.mark.parametrize("query, expected", [
    ("深圳", "深圳市"), ("Shenzhen", "深圳市"), ("shen zhen", "深圳市"),
    ("guangdong", "广东省"), ("大兴安岭", "大兴安岭地区"),
])
def test_search_by_chinese_english_pinyin(chromium, site, query, expected):
    open_page(chromium, site / "national.html")
    box = chromium.find(".atlas-search input")
    box.send_keys(query)
    hits = chromium.run_js("return Array.from(document.querySelectorAll('.atlas-search-hit'))"
                           ".map(h => h.textContent);")
    assert hits and expected in hits[0]
    chromium.click(".atlas-search-hit")
    chromium.wait_for("document.querySelector('.leaflet-popup-content') !== null", 5)
    time.sleep(0.5)  # the popup stays open once the map has moved (a click that reached the map closed it)
    popup = chromium.run_js("return document.querySelector('.leaflet-popup-content').textContent;")
    assert expected in popup and "Net sink" in popup
    link = chromium.run_js("return document.querySelector('.leaflet-popup-content a.atlas-page-link')"
                           ".getAttribute('href');")
    assert (site / link).is_file()


@pytest.mark.parametrize("batch, pilots", [(1, 13), (2, 29), (3, 45)])
def test_batch_maps(chromium, site, batch, pilots):
    open_page(chromium, site / f"batch-{batch}.html")
    assert count(chromium, "path.atlas-pilot") == pilots


def test_pilot_page_and_links(chromium, site, screenshots):
    open_page(chromium, site / "pilots" / "P1-13.html")  # Baoding: a measurable forest target
    assert count(chromium, "path.atlas-pilot") == 1
    assert count(chromium, "svg.atlas-chart rect") >= 3
    text = chromium.run_js("return document.body.innerText;")
    assert "保定市" in text and "森林覆盖率" in text and "not met" in text
    hrefs = chromium.run_js("return Array.from(document.querySelectorAll('.atlas-bar a'))"
                            ".map(a => a.getAttribute('href'));")
    assert hrefs and all((site / "pilots" / h).resolve().is_file() for h in hrefs)
    chromium.screenshot(screenshots / "pilot-P1-13.png")


def test_index_filters_and_links(chromium, site):
    report = chromium.open(site / "index.html")
    report.assert_offline()
    report.assert_no_console_errors()
    assert count(chromium, "#pilot-list tr[data-search]") == 87
    chromium.find("#pilot-filter").send_keys("xiamen")
    visible = chromium.run_js("return Array.from(document.querySelectorAll('#pilot-list tr[data-search]'))"
                              ".filter(r => r.style.display !== 'none').map(r => r.textContent);")
    assert len(visible) == 1 and "厦门" in visible[0]
    hrefs = chromium.run_js("return Array.from(document.querySelectorAll('a')).map(a => a.getAttribute('href'));")
    assert all((site / h).is_file() for h in hrefs)


def test_hostile_names_stay_text(chromium, tiny_site_data, tmp_path):  # noqa: F811
    publish_site(tiny_site_data, tmp_path)
    open_page(chromium, tmp_path / "national.html")
    assert chromium.run_js("return window.pwned === undefined;")
    # inside the hostile pilot (drawn above the larger one around it)
    tooltip = tooltip_at(chromium, 110.75, 22.75, "pwned")
    assert HOSTILE in tooltip and "Yi & <b>Co</b>" in tooltip
    assert chromium.run_js("return document.querySelector('.leaflet-tooltip b') === null;")
    report = chromium.open(tmp_path / "index.html")
    report.assert_no_console_errors()
    assert chromium.run_js("return window.pwned === undefined;")
