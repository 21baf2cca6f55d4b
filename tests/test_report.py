"""`atlas report`: the officer's A4 PDF from the tables of a build, offline."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from atlas.cli.report import report_cmd
from atlas.publish import report

pytestmark = pytest.mark.skipif(not report.CHROMIUM.exists(), reason="needs Debian's chromium")


@pytest.fixture
def build(built_site) -> Path:
    """The default build (the session's shared `built_site`, tests/conftest.py; read only)."""
    return built_site


def pdf_pages(path: Path) -> int:
    return len(re.findall(rb"/Type\s*/Page(?!s)", path.read_bytes()))


def test_report_of_sanming_is_a_multipage_pdf(build, tmp_path):
    out = tmp_path / "sanming.pdf"
    result = CliRunner().invoke(report_cmd, ["P3-16", "-o", str(out), "--build", str(build)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF") and pdf_pages(out) >= 2
    keep = Path(__file__).resolve().parents[1] / "maps" / "screenshots"
    if shutil.which("pdftoppm") and keep.is_dir() and __import__("os").environ.get("ATLAS_KEEP_SCREENSHOTS"):
        __import__("subprocess").run(["pdftoppm", "-r", "90", "-png", "-f", "1", "-l", "1", "-singlefile",
                                      str(out), str(keep / "report-P3-16-page1")], check=True)


def test_report_html_has_every_section_and_degrades(build, tmp_path):
    out = tmp_path / "r.html"
    path = report.write_report(build, ["P3-16", "P1-13"], out, {"price": 200.0}, review_number="GS(2024)1号")
    text = path.read_text(encoding="utf-8")
    assert text.count('class="atlas-report-pilot"') == 2
    for heading in ("碳汇 Sink", "碳汇补偿台账 Compensation ledger", "官方统计 Official forest statistics",
                    "目标与判定 Targets and verdicts", "排放序列 Emissions series", "碳汇因子及来源 Sink factors",
                    "方法说明 Method notes", "审图号 Map review No.: GS(2024)1号", "<svg class=\"atlas-report-map\""):
        assert heading in text, heading
    assert "200.0 元/吨" in text                                  # the price asked for, shown
    # the official statistics the build read (bundled, geodata/official_forest_stats.csv): 三明 78.73 % in 2020
    assert "Not available in this build" not in text and "78.73" in text
    assert "<td>2020</td>" in text and "2,020" not in text          # years are not thousands
    # the headline is the inventory method: its inputs with sources, and the method note says so; 三明
    # publishes two stock figures of its own (16,500 and 18,200 万m³, 2016 and 2020), which it uses
    assert "Inventory method: what the sink in this report rests on" in text
    assert "own stock figures (2016–2020)" in text and "16,500 万m³" in text and "18,200 万m³" in text
    assert "stock-change method of the provincial GHG inventory guidelines" in text
    assert "IPCC Tier 1 gross removals (losses not assessed)" in text   # the comparison estimate, listed
    # the emissions chart is the site's: both pilots have a CEADs series, drawn with the designation marker
    assert text.count('<svg class="atlas-chart atlas-series" data-chart="emissions"') == 2


def test_ledger_rows_follow_the_formulas(build):
    # central sink S t/yr at 100 CNY over 2 years at 25 %, no growth: annual 100 S, NPV 100 S × (1 + 1/1.25)
    b = report.read_build(build)
    record = report.site_like(b).table.loc["P3-16"]
    rows = {r["estimate"]: r for r in report.ledger_rows(record, {"price": 100.0, "rate": 0.25, "years": 2})}
    sink = record["net_sink_tco2_per_yr_central"]
    assert rows["central"]["annual"] == pytest.approx(100 * sink)
    assert rows["central"]["npv"] == pytest.approx(100 * sink * 1.8)


def test_method_rows_when_the_build_has_several(build, tmp_path):
    """A sinks table with a `method` column gives one row per method."""
    b = report.read_build(build)
    sinks = b.get("sinks")
    both = pd.concat([sinks.assign(method="ipcc_tier1"), sinks.assign(method="china_inventory")])
    b.tables["sinks"] = both
    text = report.report_html(b, ["P3-16"])
    assert "IPCC Tier 1 gain-loss" in text and "China provincial inventory" in text


def test_unknown_pilot_and_missing_build(build, tmp_path):
    result = CliRunner().invoke(report_cmd, ["P9-99", "-o", str(tmp_path / "x.pdf"), "--build", str(build)])
    assert result.exit_code != 0 and "P9-99" in str(result.exception)
    result = CliRunner().invoke(report_cmd, ["P3-16", "-o", str(tmp_path / "x.pdf"), "--build", str(tmp_path)])
    assert result.exit_code != 0 and "atlas build" in str(result.exception)
