"""The officer's report: an A4 PDF per pilot from the tables of a build (``OUT/data``).

Chinese text with English labels: map of the pilot with its forest, sink (low / central /
high) by method, sink factors and sources, official statistics, targets and verdicts, the
compensation ledger with its parameters, emissions series, method notes and data credits.

The HTML comes from ``templates/report.html.j2`` with the print stylesheet the site's pages
use (``assets/print.css``); the PDF is Chromium's print-to-PDF of it, offline (Playwright
driving ``/usr/bin/chromium`` where Playwright is installed, else Chromium's own
``--print-to-pdf``). Tables a build did not write degrade to "not available".
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from markupsafe import Markup

from atlas.carbon import compensation as comp
from atlas.carbon.stock_change import read_parameters as inventory_parameters
from atlas.errors import ConfigError, SiteError
from atlas.publish import pages, panel
from atlas.publish.fields import fmt_number
from atlas.publish.inventory_inputs import inventory_basis
from atlas.publish.pilot_page import FACTS, SINK_FACTS, pilot_context
from atlas.publish.records import pilot_table, target_rows

log = logging.getLogger(__name__)

CHROMIUM = Path("/usr/bin/chromium")
#: Tables of a build the report reads (``OUT/data/<name>``); all but pilots.csv may be missing.
TABLES = {"pilots": "pilots.csv", "forest": "forest_pilots.csv", "sinks": "sinks_pilots.csv",
          "ledger": "compensation_pilots.csv", "tracked": "targets_tracking.csv",
          "official": "official_forest_stats.csv", "emissions": "emissions_series_pilots.csv",
          "trajectories": "emissions_trajectories_pilots.csv", "intensity": "carbon_intensity_pilots.csv"}
OFFICIAL_LABELS = {"year": "年份 Year", "indicator": "指标 Indicator", "value": "数值 Value", "unit": "单位 Unit",
                   "forest_area_ha": "森林面积 Forest area (ha)", "forest_coverage_pct": "森林覆盖率 Forest coverage (%)",
                   "growing_stock_m3": "活立木蓄积 Growing stock (m³)", "source": "来源 Source",
                   "inventory": "清查 Inventory", "period": "时期 Period",
                   "includes_special_shrubland": "含特灌林 Incl. special shrubland", "note": "说明 Note",
                   "source_document": "来源 Source", "status": "核对 Checked"}


@dataclass
class Build:
    """The tables of one build, read from ``OUT/data``; absent tables are None."""

    folder: Path
    tables: dict[str, pd.DataFrame | None] = field(default_factory=dict)
    outlines: gpd.GeoDataFrame | None = None
    summary: dict = field(default_factory=dict)

    def get(self, name: str) -> pd.DataFrame | None:
        return self.tables.get(name)


def read_build(out: str | Path) -> Build:
    """Read the tables a build wrote under ``out`` (the build's folder or its ``data``)."""
    folder = Path(out)
    data = folder / "data" if (folder / "data").is_dir() else folder
    if not (data / TABLES["pilots"]).is_file():
        raise ConfigError(f"No {TABLES['pilots']} under {folder}", "the out folder of `atlas build` or `atlas run`",
                          "run `atlas build --out DIR` first and pass --build DIR")
    tables = {}
    for key, name in TABLES.items():
        path = data / name
        tables[key] = pd.read_csv(path, encoding="utf-8") if path.is_file() else None
        if tables[key] is None:
            log.info("report: %s not in this build", name)
    outlines = None
    if (data / "pilots.geojson").is_file():
        outlines = gpd.read_file(data / "pilots.geojson")
    summary = json.loads((data / "summary.json").read_text(encoding="utf-8")) if (data / "summary.json").is_file() else {}
    return Build(folder, tables, outlines, summary)


def _sink_methods(sinks: pd.DataFrame | None) -> pd.DataFrame | None:
    if sinks is None or "method" not in sinks:
        return None
    return sinks


def site_like(build: Build):
    """A :class:`atlas.publish.site.SiteData`-shaped view of the build for :func:`pilot_context`."""
    from atlas.publish.site import SiteData
    from atlas.regions import registry

    reg = registry.load_registry()
    sinks = build.get("sinks")
    if sinks is not None and "method" in sinks:  # one row per pilot for the table: the IPCC method's
        first = sinks[sinks["method"] == sinks["method"].iloc[0]]
        sinks_one = first
    else:
        sinks_one = sinks
    empty = pd.DataFrame({"pilot_id": build.get("pilots")["pilot_id"]})
    tracked = build.get("tracked") if build.get("tracked") is not None else \
        pd.DataFrame(columns=["pilot_id", "status", "indicator", "value_low", "value_high", "unit", "measured_value",
                              "measured_year", "target_year", "caveat", "source_table"])
    table = pilot_table(build.get("pilots"), build.get("forest") if build.get("forest") is not None else
                        empty.assign(forest_ha=np.nan, forest_share_of_land=np.nan),
                        sinks_one if sinks_one is not None else empty, build.get("ledger") if build.get("ledger")
                        is not None else empty, tracked)
    params = _ledger_parameters(build.get("ledger"))
    series = {key: build.get(key) for key in ("emissions", "trajectories", "intensity") if build.get(key) is not None}
    return SiteData(table=table, targets=target_rows(tracked, reg.indicators), outlines=build.outlines,
                    provinces=gpd.GeoDataFrame(geometry=[]), compensation=params,
                    sink_methods=_sink_methods(sinks), series=series)


def _ledger_parameters(ledger: pd.DataFrame | None) -> dict:
    """The parameters a ledger file records (older ledgers record none: the defaults)."""
    if ledger is None or ledger.empty:
        return {}
    row = ledger.iloc[0]
    names = {"price_cny_per_tco2": "price", "discount_rate": "rate", "years": "years", "price_growth": "growth",
             "scheme": "scheme", "estimate": "estimate", "contribution_share": "contribution_share"}
    out = {}
    for column, key in names.items():
        if column in ledger and pd.notna(row[column]):
            value = row[column]
            out[key] = value if isinstance(value, str) else (int(value) if key == "years" else float(value))
    return out


# ---------------------------------------------------------------- figures

def pilot_map_svg(outline, width: int = 640, max_height: int = 420) -> Markup:
    """SVG of one pilot: its forest (the embedded MODIS layer, as on the site) under its outline."""
    from atlas.paths import geodata_dir
    from atlas.publish.layers import load_layers
    from atlas.publish.overlays import Canvas, lonlat_to_mercator, render_overlay
    from atlas.rasters import modis
    from atlas.rasters.layer import RasterSource

    west, south, east, north = outline.bounds
    pad_x, pad_y = (east - west) * 0.06 + 0.01, (north - south) * 0.06 + 0.01
    box = (west - pad_x, south - pad_y, east + pad_x, north + pad_y)
    layer = next(lay for lay in load_layers() if lay.id == "forest_raster")
    overlay = render_overlay(layer, [RasterSource(geodata_dir() / "mcd12c1_2019_igbp_china.tif")],
                             modis.spec("MCD12C1"), Canvas.over(box, "wgs84", 900, outline))
    (x0, x1), (y0, y1) = lonlat_to_mercator(np.array([box[0], box[2]]), np.array([box[1], box[3]]))
    scale = min(width / (x1 - x0), max_height / (y1 - y0))
    w, h = (x1 - x0) * scale, (y1 - y0) * scale

    def px(xy: np.ndarray) -> np.ndarray:
        mx, my = lonlat_to_mercator(xy[:, 0], xy[:, 1])
        return np.column_stack([(mx - x0) * scale, (y1 - my) * scale])

    rings = []
    for poly in getattr(outline, "geoms", [outline]):
        for ring in [poly.exterior, *poly.interiors]:
            pts = px(np.asarray(ring.coords))
            rings.append("M" + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + "Z")
    parts = [f'<svg class="atlas-report-map" xmlns="http://www.w3.org/2000/svg" width="{w:.0f}" height="{h:.0f}" '
             f'viewBox="0 0 {w:.1f} {h:.1f}" role="img" aria-label="map">',
             f'<rect width="{w:.1f}" height="{h:.1f}" fill="#f4f6f8"/>']
    legend = []
    if overlay is not None:
        (ix0, ix1), (iy0, iy1) = lonlat_to_mercator(np.array([overlay.bounds[0], overlay.bounds[2]]),
                                                    np.array([overlay.bounds[1], overlay.bounds[3]]))
        parts.append(f'<image href="{overlay.data_uri}" x="{(ix0 - x0) * scale:.1f}" y="{(y1 - iy1) * scale:.1f}" '
                     f'width="{(ix1 - ix0) * scale:.1f}" height="{(iy1 - iy0) * scale:.1f}" '
                     'preserveAspectRatio="none" style="image-rendering: pixelated"/>')
        legend = list(zip(overlay.classes.labels, overlay.classes.colours))
    parts.append(f'<path d="{" ".join(rings)}" fill="none" stroke="#222" stroke-width="1.6" fill-rule="evenodd"/>')
    parts.append("</svg>")
    return Markup("".join(parts)), legend


def official_rows(official: pd.DataFrame | None, pilot: pd.Series) -> tuple[list[str], list[list[str]]] | None:
    """Header and rows of the pilot's official forest statistics (by pilot id, else its province)."""
    if official is None:
        return None
    if "pilot_id" in official:
        mine = official[official["pilot_id"] == pilot.name]
    elif "adcode" in official and "adcode" in pilot.index:
        mine = official[official["adcode"].astype(str) == str(pilot["adcode"])]
    else:
        mine = official.iloc[:0]
    columns = [c for c in mine.columns if c in OFFICIAL_LABELS]
    if mine.empty or not columns:
        return [], []
    def text(column: str, v) -> str:
        if pd.isna(v):
            return "—"
        if column == "year":
            return str(int(v))  # 2016, not 2,016
        return fmt_number(v) if isinstance(v, (int, float, np.number)) and not isinstance(v, bool) else str(v)

    rows = [[text(c, v) for c, v in zip(columns, r)] for r in mine[columns].itertuples(index=False)]
    return [OFFICIAL_LABELS[c] for c in columns], rows


def ledger_rows(record: pd.Series, params: dict) -> list[dict]:
    """Low / central / high ledger rows of one pilot at ``params`` (atlas.carbon.compensation)."""
    p = dict(panel.DEFAULT_PARAMETERS, **params)
    one = pd.DataFrame([record])
    out = []
    for estimate in comp.ESTIMATES:
        if pd.isna(record.get(f"net_sink_tco2_per_yr_{estimate}")):
            continue
        row = comp.ledger(one, "removals", p["price"], p["rate"], int(p["years"]), 1.0, None, estimate,
                          p["growth"]).iloc[0]
        out.append({"estimate": estimate, "sink": row["net_sink_tco2_per_yr"], "annual": row["payment_cny_per_yr"],
                    "npv": row["payment_npv_cny"]})
    return out


# ---------------------------------------------------------------- the document

def report_html(build: Build, pilot_ids: list[str], params: dict | None = None, review_number: str = "") -> str:
    """The report's HTML (one section per pilot, each starting on a new page)."""
    data = site_like(build)
    if params:
        data.compensation.update(params)
    unknown = [p for p in pilot_ids if p not in data.table.index]
    if unknown:
        raise ConfigError(f"Pilot ids {unknown} are not in the build in {build.folder}",
                          f"ids such as {', '.join(list(data.table.index[:3]))}", "check the ids (atlas regions)")
    from atlas.carbon.factors import read_factors
    factors = read_factors()
    official = build.get("official")
    if official is None:  # a build reads the bundled statistics and does not copy them into its tables
        from atlas.regions.official import load_official_stats
        official = load_official_stats()
    data.inventory = inventory_basis(official, inventory_parameters())
    outlines = build.outlines.set_index("pilot_id") if build.outlines is not None else None
    sections = []
    for pid in pilot_ids:
        record = data.table.loc[pid]
        targets = data.targets[data.targets["pilot_id"] == pid]
        ctx = pilot_context(record, targets, data, factors)
        svg, legend = pilot_map_svg(outlines.loc[pid].geometry) if outlines is not None else (None, [])
        ctx.update(map_svg=svg, legend=legend, official=official_rows(official, record),
                   ledger=ledger_rows(record, data.compensation),
                   parameters=dict(panel.DEFAULT_PARAMETERS, **data.compensation))
        sections.append(ctx)
    styles = [Markup(pages.asset_text(name)) for name in ("atlas.css", "print.css", "report.css")]
    return pages.render("report.html.j2", styles=styles, scripts=[], title="碳汇报告 Carbon-sink report",
                        body_class="atlas-report", sections=sections, review_number=review_number,
                        credits_extra=[], sink_facts_cols=SINK_FACTS, facts_cols=FACTS,
                        scheme_labels=panel.SCHEME_LABELS, parameter_sources=panel.PARAMETER_SOURCES,
                        estimate_labels=panel.ESTIMATE_LABELS,
                        build_folder=str(build.folder), notes=build.summary.get("forest_caveat", ""))


def print_pdf(html_path: Path, pdf_path: Path, chromium: Path = CHROMIUM) -> Path:
    """Print an HTML file to PDF with headless Chromium, offline (no request leaves the machine)."""
    if not chromium.exists():
        raise SiteError(f"{chromium} is missing", "Debian's chromium for printing the report",
                        "apt-get install chromium, or write HTML with --html")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if sync_playwright is not None:
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(chromium), args=["--no-sandbox"])
                try:
                    page = browser.new_context(offline=True).new_page()
                    page.goto(html_path.resolve().as_uri(), wait_until="load")
                    page.pdf(path=str(pdf_path), format="A4", print_background=True, prefer_css_page_size=True)
                finally:
                    browser.close()
            return pdf_path
        except Exception as exc:  # e.g. a Playwright session already running in this thread
            log.info("Playwright could not print (%s); using chromium --print-to-pdf", exc)
    with tempfile.TemporaryDirectory() as profile:
        cmd = [str(chromium), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--proxy-server=127.0.0.1:9",
               f"--user-data-dir={profile}", "--no-pdf-header-footer", f"--print-to-pdf={pdf_path.resolve()}",
               html_path.resolve().as_uri()]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    if not pdf_path.is_file() or pdf_path.stat().st_size == 0:
        raise SiteError(f"Chromium wrote no PDF (exit {result.returncode}): {result.stderr[-400:]}",
                        "a PDF from headless Chromium", "write HTML with --html and print it from a browser")
    return pdf_path


def write_report(build_dir: str | Path, pilot_ids: list[str], output: str | Path, params: dict | None = None,
                 review_number: str = "") -> Path:
    """Write the report of ``pilot_ids`` to ``output`` (.pdf, or .html for the HTML alone)."""
    from atlas._io import atomic_path, write_text_atomic

    build = read_build(build_dir)
    text = report_html(build, pilot_ids, params, review_number)
    output = Path(output)
    if output.suffix.lower() in (".html", ".htm"):
        return write_text_atomic(output, text, overwrite=True)
    with tempfile.TemporaryDirectory() as tmp:
        html_path = Path(tmp) / "report.html"
        html_path.write_text(text, encoding="utf-8")
        with atomic_path(output, overwrite=True) as part:
            pdf = Path(tmp) / "report.pdf"
            print_pdf(html_path, pdf)
            shutil.copyfile(pdf, part)
    return output
