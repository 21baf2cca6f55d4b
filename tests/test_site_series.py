"""The site's time axis (issue 13 item 5): chart geometry by hand, escaping, the emissions-change
layer, the pages with and without series, and the built pages in headless Chromium."""

from __future__ import annotations

import math
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from atlas.publish import charts, pages
from atlas.publish.layers import classify, load_layers
from atlas.publish.records import (
    designation_year,
    emissions_change,
    with_emissions_change,
)
from atlas.publish.site import SiteData, external_resources, publish_site

HOSTILE = "<script>window.pwned=1</script>{{ 7*7 }}"


def _series(pid: str, years, mt) -> pd.DataFrame:
    return pd.DataFrame({"pilot_id": pid, "year": list(years), "emissions_tco2": [v * 1e6 for v in mt],
                         "source": "CEADs test"})


# ---------------------------------------------------------------- ticks and geometry

def test_nice_ticks_by_hand():
    # the finest step of 1, 2, 2.5, 5 × 10^n giving at most 6 intervals
    assert charts.nice_ticks(0, 83) == [0, 20, 40, 60, 80, 100]       # 10 would need 9 intervals
    assert charts.nice_ticks(0, 600) == [0, 100, 200, 300, 400, 500, 600]
    assert charts.nice_ticks(-16, 20) == [-20, -10, 0, 10, 20]        # 5 would need 8
    assert charts.nice_ticks(0, 2.08) == [0, 0.5, 1, 1.5, 2, 2.5]
    assert charts.tick_texts([0, 50, 100]) == ["0", "50", "100"]      # never "50.0"
    assert charts.tick_texts([0, 0.25, 0.5]) == ["0.00", "0.25", "0.50"]
    assert charts.tick_texts([-10, 0, 10000]) == ["−10", "0", "10,000"]


@settings(max_examples=60, deadline=None)
@given(st.floats(-1e6, 1e6), st.floats(1e-3, 1e6))
def test_nice_ticks_cover_the_range(low, width):
    ticks = charts.nice_ticks(low, low + width)
    steps = np.diff(ticks)
    slack = 1e-6 * steps[0]                                          # within a millionth of a step
    assert ticks[0] <= low + slack and ticks[-1] >= low + width - slack
    assert 2 <= len(ticks) <= 7 and np.allclose(steps, steps[0])


def test_emissions_chart_geometry_by_hand():
    # 2000–2010, 10…100 Mt, designated 2005. x: 1999.5…2010.5 onto 56…664 (608 px): 2005 → 56 + 5.5/11·608 = 360.
    # y: ticks 0…120 by 20 (top 104 Mt), plot 30…228 (198 px): 100 Mt → 228 − 100/120·198 = 63.
    s = _series("P", range(2000, 2011), [10 * (i + 1) for i in range(11)][:10] + [100])
    chart = charts.emissions_chart(s, 2005)
    assert chart["box"] == {"left": 56, "right": 664, "top": 30, "bottom": 228}
    assert chart["markers"] == [{"x": 360.0, "year": 2005, "label": "2005 指定为试点 designated"}]
    assert [t["text"] for t in chart["yticks"]] == ["0", "20", "40", "60", "80", "100", "120"]
    assert chart["yticks"][5]["y"] == 63.0
    first = chart["lines"][0]["segments"][0].split(" ")
    assert len(first) == 11 and first[0] == f"{56 + 0.5 / 11 * 608:.1f},{228 - 10 / 120 * 198:.1f}"
    assert first[-1] == "636.4,63.0"                                # 2010: 56 + 10.5/11 × 608 = 636.4
    assert chart["y_label"].endswith("Mt CO₂/yr") and chart["x_label"] == "年份 Year"


def test_missing_years_break_the_line():
    s = _series("P", [2000, 2001, 2002, 2005, 2006], [1, 2, 3, 4, 5])
    segments = charts.emissions_chart(s, None)["lines"][0]["segments"]
    assert [len(seg.split(" ")) for seg in segments] == [3, 2]      # no line drawn across 2003–2004


def test_comparison_path_is_dashed_and_targets_on_the_emissions_axis():
    s = _series("P", range(2005, 2016), [100] * 11)
    trajectory = pd.DataFrame({"year": range(2005, 2016), "comparison_tco2": [110e6] * 11, "n_matches": 5})
    intensity = pd.DataFrame({"pilot_id": "P", "year": [2010, 2015], "intensity_tco2_per_10k_yuan_2005": [2.0, 1.5],
                              "gdp_real_100m_yuan_2005": [25000.0, 30000.0]})
    targets = pd.DataFrame({"indicator": ["carbon_intensity_reduction_vs_2010"], "target_year": [2015.0],
                            "value_low": [17.0], "value_high": [17.0], "status": ["met"]})
    goals = charts.intensity_targets(targets, intensity)
    # 2.0 × (1 − 0.17) = 1.66 t/万元; × 30,000 亿元 × 10^4 = 498 Mt allowed in 2015
    assert goals["intensity"].iloc[0] == pytest.approx(1.66)
    assert goals["allowed_tco2"].iloc[0] == pytest.approx(498e6)
    chart = charts.emissions_chart(s, 2010, trajectory, goals)
    comparison = [line for line in chart["lines"] if line["cls"] == "atlas-comparison"]
    assert comparison and comparison[0]["dash"]
    diamonds = [p for p in chart["points"] if p["shape"] == "diamond"]
    assert len(diamonds) == 1 and diamonds[0]["colour"] == charts.VERDICT_COLOURS["met"]
    frame_top = chart["yticks"][-1]
    assert float(frame_top["text"].replace(",", "")) >= 498                 # the axis reaches the target
    svg = _render(chart)
    assert 'stroke-dasharray="6 4"' in svg and "atlas-target" in svg


def test_intensity_chart_marks_targets_at_their_year_with_verdict():
    intensity = pd.DataFrame({"pilot_id": "P", "year": range(2005, 2020),
                              "intensity_tco2_per_10k_yuan_2005": np.linspace(2.0, 1.0, 15),
                              "gdp_real_100m_yuan_2005": 1e4})
    targets = pd.DataFrame({"indicator": ["carbon_intensity_reduction_vs_2005"] * 2, "target_year": [2020.0] * 2,
                            "value_low": [45.0] * 2, "value_high": [45.0] * 2, "status": ["pending"] * 2})
    goals = charts.intensity_targets(targets, intensity)
    assert len(goals) == 1                                                  # the duplicate row drawn once
    assert goals["intensity"].iloc[0] == pytest.approx(1.1) and np.isnan(goals["allowed_tco2"].iloc[0])
    chart = charts.intensity_chart(intensity, goals, 2010)
    diamond = next(p for p in chart["points"] if p["shape"] == "diamond")
    frame = charts.Frame(2004.5, 2020.5, 0.0, 2.5, height=230)              # ticks 0…2.5 (top 2.08)
    assert [t["text"] for t in chart["yticks"]][-1] == "2.5"
    assert (diamond["x"], diamond["y"]) == (frame.x(2020), frame.y(1.1))
    assert diamond["text"] == "待定 pending" and diamond["colour"] == charts.VERDICT_COLOURS["pending"]


def test_loss_chart_bars_by_hand():
    loss = pd.DataFrame({"pilot_id": "P", "year": [2001, 2002, 2003], "loss_ha": [100.0, 0.0, 300.0]})
    chart = charts.loss_chart(loss, 2002, width=400, height=200)
    # top 312: step 50 would need 7 intervals, so 100 → 0…400; plot 30…158 (128 px)
    assert [t["text"] for t in chart["yticks"]] == ["0", "100", "200", "300", "400"]
    bars = chart["bars"]
    assert [b["year"] for b in bars] == [2001, 2002, 2003]
    assert bars[2]["h"] == pytest.approx(300 / 400 * 128, abs=0.11) and bars[1]["h"] == 0
    assert chart["markers"][0]["x"] == pytest.approx(bars[1]["x"] + bars[1]["w"] / 2, abs=0.11)


def test_event_study_chart_by_hand():
    effects = pd.DataFrame({
        "outcome": "log_emissions", "cohort": "all",
        "event_time": [-2, -1, 0, 1, np.nan],
        "estimate": [0.05, 0.0, -0.1, math.log(1.2), -0.05],
        "ci_low": [-0.05, np.nan, -0.2, 0.0, -0.1], "ci_high": [0.15, np.nan, 0.0, 0.3, 0.0],
        "n_treated": [10, 10, 10, 9, 10], "n_control": [50] * 5})
    chart = charts.event_study(effects)
    assert [p["t"] for p in chart["points"]] == [-2, -1, 0, 1]
    ref = [p for p in chart["points"] if p["cls"] == "atlas-reference"]
    assert len(ref) == 1 and ref[0]["t"] == -1 and ref[0]["shape"] == "ring"
    assert len(chart["intervals"]) == 3                                     # none at the reference year
    assert chart["points"][3]["title"].startswith("t = 1: +20.0 %")       # 100 × (e^ln 1.2 − 1)
    frame = charts.Frame(-2.5, 1.5, chart_y0(chart), chart_y1(chart), height=280)
    assert chart["zero"] == frame.y(0.0)
    assert chart["shade"]["x"] == frame.x(-2.5) and chart["shade"]["w"] == pytest.approx(frame.x(-0.5) - frame.x(-2.5))
    assert chart["caption"] == {"estimate": "−4.9 %".replace("−", "-"), "ci": "-9.5 % … +0.0 %",
                                "n_treated": 10, "n_control": 50}


def chart_y0(chart) -> float:
    return float(chart["yticks"][0]["text"].replace("−", "-"))


def chart_y1(chart) -> float:
    return float(chart["yticks"][-1]["text"].replace("−", "-"))


def test_no_data_gives_no_chart():
    assert charts.emissions_chart(None, 2010) is None
    assert charts.emissions_chart(_series("P", [], []), 2010) is None
    assert charts.event_study(pd.DataFrame(columns=["outcome", "cohort", "event_time", "estimate"])) is None
    assert charts.loss_chart(None, 2010) is None


def _render(chart: dict) -> str:
    return pages.environment().from_string(
        '{% import "_charts.html.j2" as c %}{{ c.series_chart(chart) }}').render(chart=chart)


def test_texts_in_charts_are_escaped():
    s = _series("P", [2000, 2001], [1, 2]).assign(source=HOSTILE)
    chart = charts.emissions_chart(s, 2000)
    chart["title"] = HOSTILE
    chart["legend"][0]["text"] = HOSTILE
    svg = _render(chart)
    assert "<script>" not in svg and "&lt;script&gt;window.pwned=1&lt;/script&gt;{{ 7*7 }}" in svg


# ---------------------------------------------------------------- the emissions-change layer

def test_emissions_change_by_hand():
    series = pd.concat([
        _series("A", [2009, 2010, 2019], [90, 100, 80]),          # 2010 → 2019: −20 %
        _series("B", [2011, 2013, 2019], [100, 50, 150]),         # designated 2012: 2011 and 2013 tie → 2011: +50 %
        _series("C", [2017], [10]),                               # one year: no change
        _series("D", [2016, 2018, 2020], [10, 12, 99])])          # 2017 → nearest 2016 (tie), end 2018: +20 %
    designated = pd.Series({"A": 2010, "B": 2012, "C": 2017, "D": 2017, "E": 2010})
    got = emissions_change(series, designated)
    assert got["emissions_change_pct"].round(6).tolist()[:2] == [-20.0, 50.0]
    assert np.isnan(got.loc["C", "emissions_change_pct"]) and np.isnan(got.loc["E", "emissions_change_pct"])
    assert got.loc["D", "emissions_change_pct"] == pytest.approx(20.0)
    assert got.loc["B", "emissions_change_years"] == "2011 → 2019"


def test_designation_year_from_the_table_or_the_batch():
    assert designation_year(pd.Series({"year": 2012, "batch": 2})) == 2012
    assert designation_year(pd.Series({"year": np.nan, "batch": 3})) == 2017
    assert designation_year(pd.Series({"name": "x"})) is None


def test_emissions_change_layer_diverges_at_zero():
    layer = {lay.id: lay for lay in load_layers()}["emissions_change"]
    assert layer.column == "emissions_change_pct" and layer.centre == 0.0
    values = np.array([-30.0, -10.0, -2.0, 5.0, 20.0, 40.0, np.nan])
    got = classify(values, layer)
    assert got.index[-1] == -1                                    # no series: the no-data class
    below, above = got.index[:3], got.index[3:6]
    assert below.max() < above.min()
    blues = {"#2166ac", "#67a9cf", "#d1e5f0"}
    assert {got.colours[i] for i in below} <= blues and not {got.colours[i] for i in above} & blues
    assert re.search(r"– 0( %)?$", got.labels[below.max()])      # the last class below ends at 0


# ---------------------------------------------------------------- pages

@pytest.fixture
def series_site(tmp_path) -> tuple[SiteData, Path]:
    """Two pilots: a city with series, comparison, loss, and a hostile name; a province with none."""
    table = pd.DataFrame({
        "pilot_id": ["P1-01", "P2-01"], "batch": [1, 2], "year": [2010, 2012], "document": ["d", "d"],
        "name_zh": ["甲省", HOSTILE], "name_en": ["Jia", "Yi"], "pinyin": ["jia", "yi"],
        "level": ["province", "prefecture"], "province_zh": ["甲省", "甲省"], "land_area_km2": [1e4, 2e3],
        "net_sink_tco2_per_yr_low": [1.0, 1.0], "net_sink_tco2_per_yr_central": [2.0, 2.0],
        "net_sink_tco2_per_yr_high": [3.0, 3.0], "target_status": ["no targets"] * 2,
        "target_summary": ["none"] * 2, "forest_share_of_land": [0.1, 0.2]}).set_index("pilot_id")
    table["level_label"] = table["level"]
    targets = pd.DataFrame(columns=["pilot_id", "indicator", "indicator_zh", "indicator_en", "target_year",
                                    "value_low", "value_high", "unit", "declared_text", "measured_value",
                                    "measured_text", "status", "source_table", "caveat"])
    outlines = gpd.GeoDataFrame({"pilot_id": ["P1-01", "P2-01"], "level": ["province", "prefecture"]},
                                geometry=[box(110, 22, 112, 24), box(113, 23, 114, 24)], crs="EPSG:4326")
    provinces = gpd.GeoDataFrame({"adcode": [440000]}, geometry=[box(109, 21, 115, 25)], crs="EPSG:4326")
    years = list(range(2005, 2020))
    series = {
        "emissions": _series("P2-01", years, [50 + i for i in range(15)]).assign(source=HOSTILE),
        "trajectories": pd.DataFrame({"pilot_id": "P2-01", "year": years, "comparison_tco2": 55e6,
                                      "n_matches": 5, "matched_adcodes": "1;2", "method": "matched_controls"}),
        "loss_by_year": pd.DataFrame({"pilot_id": "P2-01", "year": [2001, 2002, 2003], "loss_ha": [5.0, 7.0, 1.0]}),
        "effects": pd.DataFrame({"outcome": "log_emissions", "cohort": ["all", "all", "all", "2012"],
                                 "event_time": [-1, 0, np.nan, 0], "estimate": [0.0, 0.1, 0.05, 0.2],
                                 "ci_low": [np.nan, 0.0, -0.1, 0.1], "ci_high": [np.nan, 0.2, 0.2, 0.3],
                                 "n_treated": 3, "n_control": 9})}
    data = SiteData(table=table, targets=targets, outlines=outlines, provinces=provinces, series=series,
                    summary={"pilots_total": 2, "pilots_per_batch": {1: 1, 2: 1}})
    publish_site(data, tmp_path)
    return data, tmp_path


def test_pages_show_the_time_axis(series_site):
    _, out = series_site
    city = (out / "pilots" / "P2-01.html").read_text(encoding="utf-8")
    assert external_resources(city) == []
    assert 'data-chart="emissions"' in city and 'data-chart="loss"' in city
    marker = re.search(r'<line class="atlas-designation" data-year="(\d+)" x1="([\d.]+)"', city)
    # emissions 2005–2019 padded: 2012 → 56 + 7.5/15 × 608 = 360
    assert marker.group(1) == "2012" and float(marker.group(2)) == 360.0
    assert 'class="atlas-comparison"' in city
    assert "<script>window.pwned" not in city and "&lt;script&gt;window.pwned=1&lt;/script&gt;{{ 7*7 }}" in city
    province = (out / "pilots" / "P1-01.html").read_text(encoding="utf-8")
    assert 'data-chart="emissions"' not in province and "No CEADs emissions series for this pilot" in province
    index = (out / "index.html").read_text(encoding="utf-8")
    assert index.count('data-chart="event_study"') == 4              # figure + svg, all and cohort 2012
    assert "Post-designation average" in index and "+5.1 %" in index  # 100 × (e^0.05 − 1)
    from atlas.carbon.evaluation import CAVEATS
    assert all(pages.environment().from_string("{{ c }}").render(c=c) in index for c in CAVEATS)
    national = (out / "national.html").read_text(encoding="utf-8")
    assert '"emissions_change"' in national                            # the layer is on the map


def test_pages_without_series_say_so(series_site, tmp_path):
    data, _ = series_site
    data.series = {}
    publish_site(data, tmp_path / "bare")
    city = (tmp_path / "bare" / "pilots" / "P2-01.html").read_text(encoding="utf-8")
    assert "No emissions series in this build" in city and 'data-chart' not in city
    index = (tmp_path / "bare" / "index.html").read_text(encoding="utf-8")
    assert "No evaluation in this build" in index
    assert '"emissions_change"' not in (tmp_path / "bare" / "national.html").read_text(encoding="utf-8")


def test_table_gains_the_change_columns_once():
    table = pd.DataFrame({"batch": [1], "year": [2010]}, index=pd.Index(["A"], name="pilot_id"))
    got = with_emissions_change(table, _series("A", [2010, 2019], [100, 110]))
    assert got.loc["A", "emissions_change_pct"] == pytest.approx(10.0)
    assert with_emissions_change(got, _series("A", [2010, 2019], [1, 9])) is got


# ---------------------------------------------------------------- in the browser

@pytest.mark.browser
def test_built_pages_show_series_and_event_study(browser_page, built_site):
    """深圳 (P1-08, CEADs values 2000–2019 with gaps, designated 2010) and the index's event study, offline."""
    page = browser_page.open(built_site / "pilots" / "P1-08.html", ready="window.atlasReady === true")
    svg = "svg.atlas-series[data-chart=emissions]"
    assert page.count(svg) == 1
    assert page.count(f"{svg} line.atlas-designation[data-year='2010']") == 1
    assert page.count(f"{svg} polyline.atlas-observed") >= 1
    geometry = page.js("""() => {
        const svg = document.querySelector("svg.atlas-series[data-chart=emissions]");
        const m = svg.querySelector("line.atlas-designation").getBBox();
        const box = svg.getBoundingClientRect();
        return {marker: m.x, width: svg.viewBox.baseVal.width, shown: box.width > 300 && box.height > 150};
    }""")
    # 2000–2019 padded by half a year: 2010 → 56 + 10.5/20 × 608 = 375.2
    assert geometry["shown"] and geometry["marker"] == pytest.approx(375.2, abs=0.2)
    page.open(built_site / "index.html")
    assert page.count("svg.atlas-series[data-chart=event_study]") >= 1
    assert page.count("svg.atlas-series[data-chart=event_study] circle.atlas-reference[data-t='-1']") >= 1
    assert page.count("svg.atlas-series[data-chart=event_study] rect.atlas-pre-period") >= 1
    assert "Post-designation average" in page.js("() => document.querySelector('[data-evaluation]').textContent")
    page.assert_offline()
    page.assert_no_console_errors()


@pytest.mark.browser
def test_loss_chart_in_the_browser(browser_page, series_site):
    """A hand-made loss table (3 years) drawn as 3 bars with the designation marker, offline."""
    _, out = series_site
    page = browser_page.open(out / "pilots" / "P2-01.html", ready="window.atlasReady === true")
    assert page.count("svg.atlas-series[data-chart=loss] rect.atlas-bar") == 3
    heights = page.js("() => [...document.querySelectorAll('svg[data-chart=loss] rect.atlas-bar')]"
                      ".map(r => r.getBBox().height)")
    assert heights[1] > heights[0] > heights[2] > 0                  # 7 > 5 > 1 ha
    page.assert_offline()
    page.assert_no_console_errors()


def test_validation_page_of_the_build(built_site):
    """The default build publishes the validation tables as a page, linked from the index, self-contained."""
    from atlas.publish.site import external_resources

    page = (built_site / "validation.html").read_text(encoding="utf-8")
    assert 'data-validation="mainland"' in page and 'data-validation="provinces"' in page
    assert "154.8" in page and "Biogeosciences" in page        # Yang et al. 2022, the inventory reference
    assert "中国清单方法 China inventory method" in page and page.count("<tr>") >= 8 + 34
    assert external_resources(page) == []
    assert 'href="validation.html"' in (built_site / "index.html").read_text(encoding="utf-8")
