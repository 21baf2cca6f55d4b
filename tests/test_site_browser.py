"""The published site in a real headless Chromium, opened from file:// with the network cut.

The default site is the session's `built_site` (the same job as `atlas build`); the browser is
tests/browser.py's `browser_page`. Render times are measured by scripts/bench_site.py, not asserted here.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import shapely
from test_publish import HOSTILE, tiny_site_data  # noqa: F401  (fixture)

from atlas.publish.site import publish_site
from atlas.regions import boundaries

pytestmark = pytest.mark.browser

READY = "window.atlasReady === true"


@pytest.fixture(scope="session")
def screenshots() -> Path | None:
    """``$ATLAS_SCREENSHOT_DIR`` (``maps/screenshots`` for the README) when set; otherwise none are taken,
    as in tests/test_site_features_browser.py."""
    where = os.environ.get("ATLAS_SCREENSHOT_DIR")
    return Path(where) if where else None


def shoot(page, screenshots: Path | None, name: str) -> None:
    if screenshots is not None:
        page.screenshot(screenshots / name)


def open_page(browser_page, path: Path):
    browser_page.open(path, ready=READY)
    browser_page.assert_offline()
    browser_page.assert_no_console_errors()
    return browser_page


def tooltip_at(browser_page, lon: float, lat: float, expect: str) -> str:
    """Hover a place with the real mouse; return the text of the tooltip that shows ``expect``."""
    browser_page.hover_at(1, 1)  # start off the map: no tooltip left over
    hover_lonlat(browser_page, lon, lat)
    shown = ("(e) => Array.from(document.querySelectorAll('.leaflet-tooltip'))"
             ".map(t => t.textContent).find(t => t.indexOf(e) >= 0)")
    browser_page.page.wait_for_function(shown, arg=expect, timeout=5000)
    return browser_page.js(shown, expect)


def hover_lonlat(browser_page, lon: float, lat: float) -> None:
    """Move the real mouse to a place on the map."""
    x, y = browser_page.js(
        "([lon, lat]) => { const m = window.atlasPage.map; const p = m.latLngToContainerPoint([lat, lon]);"
        "const r = m.getContainer().getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }", [lon, lat])
    browser_page.hover_at(x, y)


def click_layer(browser_page, title: str) -> None:
    """Click the layer-control input whose label contains ``title`` (a real mouse click)."""
    browser_page.hover(".leaflet-control-layers")  # a collapsed control opens on hover, as for a person
    label = browser_page.page.locator(".leaflet-control-layers label", has_text=title)
    assert label.count() == 1, f"no layer titled {title!r} in the layer control"
    label.locator("input").click()


def free_point(pilot_id: str) -> tuple[float, float]:
    """A point inside a pilot that no smaller pilot covers (so the hover lands on it)."""
    outlines = boundaries.load_pilot_boundaries(display=True).set_index("pilot_id")
    mine = outlines.loc[pilot_id].geometry
    others = shapely.buffer(shapely.union_all(outlines.drop(index=pilot_id).geometry.values), 0.05)
    spot = mine.buffer(-0.1).difference(others).representative_point()
    return spot.x, spot.y


def test_national_map(browser_page, built_site, screenshots):
    page = open_page(browser_page, built_site / "national.html")
    # every pilot drawn once in the visible layer (pilots by batch)
    assert page.count("path.atlas-pilot") == 87
    ids = page.js("new Set(Array.from(document.querySelectorAll('path.atlas-pilot'))"
                  ".map(p => p.getAttribute('data-pilot'))).size")
    assert ids == 87
    assert page.count("path.atlas-context") == 34          # provinces as context
    assert page.count(".atlas-legend-part[data-layer='batch'] .atlas-legend-row:not(.atlas-legend-nested)") == 3
    assert page.count(".leaflet-control-scale") == 1
    assert page.count(".atlas-fullscreen a") == 1
    shoot(page, screenshots, "national.png")

    # tooltip on a real hover: Yunnan, away from the pilot cities inside it
    tooltip = tooltip_at(page, *free_point("P1-05"), "云南省")
    assert "云南省" in tooltip and "Yunnan" in tooltip and "Batch 1" in tooltip

    # switch to the net-sink layer: its legend replaces the batch legend
    click_layer(page, "Net forest sink")
    page.wait_for("document.querySelector(\".atlas-legend-part[data-layer='net_sink']\") !== null", 5)
    assert page.count(".atlas-legend-part[data-layer='batch']") == 0
    assert page.count("path.atlas-layer-net_sink") == 87

    # the forest raster overlay: an inlined image and its own legend next to the choropleth's
    click_layer(page, "Forest type (raster)")
    page.wait_for("document.querySelector(\".atlas-legend-part[data-layer='forest_raster']\") !== null", 5)
    src = page.js("document.querySelector('img.leaflet-image-layer').getAttribute('src')")
    assert src.startswith("data:image/png;base64,")
    assert page.count(".atlas-legend-part") == 2
    shoot(page, screenshots, "national-net-sink-forest.png")
    page.assert_offline()
    page.assert_no_console_errors()


SEARCHES = [("深圳", "深圳市"), ("Shenzhen", "深圳市"), ("shen zhen", "深圳市"), ("guangdong", "广东省"),
            ("大兴安岭", "大兴安岭地区")]


def test_search_by_chinese_english_pinyin(browser_page, built_site):
    """One page, the searches in turn: each finds its pilot first, a click opens its popup and the popup
    stays open once the map has moved there (a click on the map would close it)."""
    page = open_page(browser_page, built_site / "national.html")
    box = page.page.locator(".atlas-search input")
    popup_has = "(e) => (document.querySelector('.leaflet-popup-content') || {textContent: ''}).textContent.includes(e)"
    for query, expected in SEARCHES:
        box.fill("")
        box.press_sequentially(query)
        hits = page.js("Array.from(document.querySelectorAll('.atlas-search-hit')).map(h => h.textContent)")
        assert hits and expected in hits[0], query
        page.js("() => { window.moved = new Promise((done) => window.atlasPage.map.once('moveend', done)); }")
        page.click(".atlas-search-hit")
        page.page.wait_for_function(popup_has, arg=expected, timeout=5000)
        # the fly-to ends (or 3 s pass); the event itself is not sent back: serialising the map takes seconds
        page.js("Promise.race([window.moved, new Promise((done) => setTimeout(done, 3000))]).then(() => null)")
        popup = page.js("document.querySelector('.leaflet-popup-content').textContent")
        assert expected in popup and "Net sink" in popup and "China inventory method" in popup, query
        link = page.js("document.querySelector('.leaflet-popup-content a.atlas-page-link').getAttribute('href')")
        assert (built_site / link).is_file()
        page.js("document.querySelector('.leaflet-popup-close-button').click()")  # it may lie above the view
        page.wait_for("document.querySelector('.leaflet-popup-content') === null", 5)
    page.assert_offline()
    page.assert_no_console_errors()


@pytest.mark.parametrize("batch, pilots", [(1, 13), (2, 29), (3, 45)])
def test_batch_maps(browser_page, built_site, batch, pilots):
    page = open_page(browser_page, built_site / f"batch-{batch}.html")
    assert page.count("path.atlas-pilot") == pilots


def test_pilot_page_and_links(browser_page, built_site, screenshots):
    # Baoding declared a forest-coverage target; no official coverage figure of Baoding is in the atlas, so it is
    # not judged, and the raster share is shown beside it as a remote-sensing estimate only
    page = open_page(browser_page, built_site / "pilots" / "P1-13.html")
    assert page.count("path.atlas-pilot") == 1
    assert page.count("svg.atlas-chart rect") >= 3
    text = page.js("document.body.innerText")
    assert "保定市" in text and "森林覆盖率" in text and "not measurable" in text and "not met" not in text
    hrefs = page.js("Array.from(document.querySelectorAll('.atlas-bar a')).map(a => a.getAttribute('href'))")
    assert hrefs and all((built_site / "pilots" / h).resolve().is_file() for h in hrefs)
    shoot(page, screenshots, "pilot-P1-13.png")


def test_index_filters_and_links(browser_page, built_site):
    page = browser_page.open(built_site / "index.html")
    page.assert_offline()
    page.assert_no_console_errors()
    assert page.count("#pilot-list tr[data-search]") == 87
    page.page.locator("#pilot-filter").press_sequentially("xiamen")
    visible = page.js("Array.from(document.querySelectorAll('#pilot-list tr[data-search]'))"
                      ".filter(r => r.style.display !== 'none').map(r => r.textContent)")
    assert len(visible) == 1 and "厦门" in visible[0]
    hrefs = page.js("Array.from(document.querySelectorAll('a')).map(a => a.getAttribute('href'))")
    assert all((built_site / h).is_file() for h in hrefs)


def test_hostile_names_stay_text(browser_page, tiny_site_data, tmp_path):  # noqa: F811
    publish_site(tiny_site_data, tmp_path)
    page = open_page(browser_page, tmp_path / "national.html")
    assert page.js("window.pwned === undefined")
    # inside the hostile pilot (drawn above the larger one around it)
    tooltip = tooltip_at(page, 110.75, 22.75, "pwned")
    assert HOSTILE in tooltip and "Yi & <b>Co</b>" in tooltip
    assert page.js("document.querySelector('.leaflet-tooltip b') === null")
    page.open(tmp_path / "index.html")
    page.assert_no_console_errors()
    assert page.js("window.pwned === undefined")
