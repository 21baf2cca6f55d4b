"""The time axis of the site as inline SVG: emissions, carbon intensity and forest loss by year on
a pilot page, the event-study chart on the index page.

This module computes the geometry (pixel coordinates, ticks, texts) from frames and returns plain
dictionaries; ``templates/_charts.html.j2`` writes the SVG elements with Jinja's autoescaping, so
no text from data is ever markup.

Why hand-written SVG and no JavaScript charting library: every page must open offline from
``file://`` with nothing fetched from a CDN, so a library (Chart.js, ECharts, D3: 70–1000 kB)
would be inlined into each of the ~90 pages and run before a chart shows. What is drawn here —
lines, a dashed line, points, bars and interval bars on two linear axes — is a few dozen SVG
elements, which print and scale like the text around them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from atlas.publish.fields import fmt_number

#: Colours (ColorBrewer Set1/Dark2 tones readable in print).
OBSERVED, COMPARISON, TARGET, LOSS, EFFECT = "#c0392b", "#555555", "#1f5fa8", "#b35806", "#1f5fa8"
VERDICT_COLOURS = {"met": "#1a9850", "not met": "#d73027", "pending": "#e08a00"}
VERDICT_LABELS = {"met": "已达成 met", "not met": "未达成 not met", "pending": "待定 pending",
                  "not measurable": "不可测 not measurable"}
#: Declared indicators of carbon intensity and their base year (atlas.carbon.intensity.INTENSITY_INDICATORS).
INTENSITY_TARGETS = {"carbon_intensity_reduction_vs_2005": 2005, "carbon_intensity_reduction_vs_2010": 2010}
#: 1 亿元 (10^8 yuan) = 10^4 万元: emissions (t) = intensity (t / 万元) × GDP (亿元) × 10^4.
WAN_PER_100M = 1.0e4


@dataclass(frozen=True)
class Frame:
    """A plot area: data ranges ``x0…x1``, ``y0…y1`` mapped onto the pixel box inside the margins."""

    x0: float
    x1: float
    y0: float
    y1: float
    width: int = 680
    height: int = 260
    left: int = 56
    right: int = 16
    top: int = 30
    bottom: int = 42

    def x(self, value: float) -> float:
        """Pixel x of a data x (``x0`` at the left edge of the plot)."""
        span = (self.x1 - self.x0) or 1.0
        return round(self.left + (value - self.x0) / span * (self.width - self.left - self.right), 1)

    def y(self, value: float) -> float:
        """Pixel y of a data y (``y0`` at the bottom of the plot, SVG y grows downwards)."""
        span = (self.y1 - self.y0) or 1.0
        return round(self.height - self.bottom - (value - self.y0) / span * (self.height - self.top - self.bottom), 1)

    @property
    def box(self) -> dict:
        return {"left": self.left, "right": self.width - self.right, "top": self.top,
                "bottom": self.height - self.bottom}


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (steps of 1, 2 or 5 × 10^n) covering ``low…high``.

    Examples
    --------
    ``nice_ticks(0, 83)`` → ``[0, 20, 40, 60, 80, 100]``; ``nice_ticks(0, 2.08)`` steps by 0.5.
    """
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        high = low + 1.0
    power = 10.0 ** math.floor(math.log10((high - low) / count))
    for m in (1, 2, 2.5, 5, 10, 20, 25, 50):  # the finest round step giving at most count + 1 intervals
        step = m * power
        first = math.floor(low / step + 1e-9) * step
        last = math.ceil(high / step - 1e-9) * step
        if (last - first) / step <= count + 1 + 1e-9:
            break
    n = round((last - first) / step)
    return [round(first + i * step, 10) for i in range(n + 1)]


def tick_texts(values: list[float]) -> list[str]:
    """Tick labels with the decimals their step needs and thousands separators: 0, 50, 100 (not 50.0);
    0, 0.25, 0.5 → ``0.00 0.25 0.50``."""
    if len(values) < 2:
        return [fmt_number(v) for v in values]
    step = abs(values[1] - values[0]) or 1.0
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step < 1 else 0
    if step < 1 and round(step, decimals) != round(step, decimals + 1):
        decimals += 1
    return [f"{v:,.{decimals}f}".replace("-", "−") for v in values]


def _year_ticks(x0: int, x1: int) -> list[int]:
    step = next(s for s in (1, 2, 5, 10, 20) if (x1 - x0) / s <= 12)
    return [y for y in range(x0, x1 + 1) if y % step == 0]


def _segments(frame: Frame, xs, ys) -> list[str]:
    """Polyline ``points`` of a yearly series, broken where a year is missing or a value is blank."""
    out, run, last = [], [], None
    for x, y in zip(xs, ys):
        if y is None or not np.isfinite(y):
            continue
        if last is not None and x - last > 1:
            out.append(run)
            run = []
        run.append(f"{frame.x(x)},{frame.y(y)}")
        last = x
    if run:
        out.append(run)
    return [" ".join(r) for r in out]


def _chart(frame: Frame, kind: str, title: str, y_label: str, x_label: str, xticks, yticks) -> dict:
    return {"kind": kind, "title": title, "width": frame.width, "height": frame.height, "box": frame.box,
            "x_label": x_label, "y_label": y_label,
            "xticks": [{"x": frame.x(v), "text": str(v).replace("-", "−")} for v in xticks],
            "yticks": [{"y": frame.y(v), "text": t} for v, t in zip(yticks, tick_texts(yticks))],
            "lines": [], "points": [], "bars": [], "intervals": [], "markers": [], "shade": None, "zero": None,
            "legend": []}


def _designation(chart: dict, frame: Frame, year: int | None) -> None:
    if year is not None:
        chart["markers"].append({"x": frame.x(year), "year": int(year),
                                 "label": f"{int(year)} 指定为试点 designated"})
        chart["legend"].append({"kind": "marker", "colour": "#333", "text": "指定年份 designation year"})


def _frame_for(years: list[float], values: list[float], width: int, height: int, pad_years: float = 0.0,
               **margins) -> tuple[Frame, list[float]]:
    top = max([v for v in values if np.isfinite(v)] or [1.0])
    yticks = nice_ticks(0.0, top * 1.04)
    frame = Frame(min(years) - pad_years, max(years) + pad_years, yticks[0], yticks[-1], width, height, **margins)
    return frame, yticks


# ---------------------------------------------------------------- pilot pages

def intensity_targets(targets: pd.DataFrame, intensity: pd.DataFrame) -> pd.DataFrame:
    """Declared carbon-intensity targets as levels: ``target_year``, ``intensity`` (I(base) × (1 − value_low/100),
    the "at least" goal), ``intensity_strict`` (at ``value_high``), ``status``, ``label``, and ``allowed_tco2``:
    the emissions the target allows at the real GDP of the target year, where that GDP is known.

    Hand-worked: I(2010) = 2.0 t/万元 and a 17 % cut give 1.66 t/万元; at 30,000 亿元 of GDP in
    the target year that allows 1.66 × 30,000 × 10^4 t = 498 Mt CO₂.
    """
    columns = ["target_year", "intensity", "intensity_strict", "status", "label", "allowed_tco2"]
    if targets is None or targets.empty or intensity is None or intensity.empty:
        return pd.DataFrame(columns=columns)
    by_year = intensity.dropna(subset=["intensity_tco2_per_10k_yuan_2005"]).set_index(
        intensity["year"].astype(int))
    rows = targets[targets["indicator"].isin(list(INTENSITY_TARGETS))]
    rows = rows.drop_duplicates(subset=["indicator", "target_year", "value_low", "value_high"])
    out = []
    for t in rows.itertuples(index=False):
        base = INTENSITY_TARGETS[t.indicator]
        if pd.isna(t.target_year) or pd.isna(t.value_low) or base not in by_year.index:
            continue
        base_i = float(by_year.loc[base, "intensity_tco2_per_10k_yuan_2005"])
        year = int(t.target_year)
        level = base_i * (1 - float(t.value_low) / 100)
        strict = base_i * (1 - float(t.value_high) / 100) if pd.notna(t.value_high) else level
        gdp = by_year["gdp_real_100m_yuan_2005"].get(year) if "gdp_real_100m_yuan_2005" in by_year else None
        allowed = level * float(gdp) * WAN_PER_100M if gdp is not None and pd.notna(gdp) else np.nan
        cut = f"{t.value_low:g}" if pd.isna(t.value_high) or t.value_high == t.value_low else \
            f"{t.value_low:g}–{t.value_high:g}"
        out.append({"target_year": year, "intensity": level, "intensity_strict": strict, "status": str(t.status),
                    "label": f"{year} 目标：比 {base} 年下降 {cut} % target: −{cut} % vs {base}",
                    "allowed_tco2": allowed})
    return pd.DataFrame(out, columns=columns)


def _target_points(chart: dict, frame: Frame, rows: pd.DataFrame, column: str, unit: str, digits: int) -> None:
    for r in rows.itertuples(index=False):
        value = getattr(r, column)
        if pd.isna(value):
            continue
        verdict = VERDICT_LABELS.get(r.status, r.status)
        chart["points"].append({"x": frame.x(r.target_year), "y": frame.y(value), "shape": "diamond",
                                "colour": VERDICT_COLOURS.get(r.status, "#888"), "cls": "atlas-target",
                                "title": f"{r.label}: {fmt_number(value, digits)} {unit} · {verdict}",
                                "text": verdict})
        if column == "intensity" and pd.notna(r.intensity_strict) and r.intensity_strict != r.intensity:
            chart["intervals"].append({"x": frame.x(r.target_year), "y1": frame.y(r.intensity),
                                       "y2": frame.y(r.intensity_strict), "colour": TARGET})


def emissions_chart(series: pd.DataFrame | None, designation_year: int | None,
                    trajectory: pd.DataFrame | None = None, targets: pd.DataFrame | None = None,
                    width: int = 680, height: int = 270) -> dict | None:
    """The pilot's emissions by year (Mt CO₂/yr), its matched comparison path dashed, a vertical
    marker at the designation year and the emissions its intensity targets allow (diamonds).

    Parameters
    ----------
    series : DataFrame
        ``year``, ``emissions_tco2`` of one pilot (``emissions_series_pilots.csv``).
    designation_year : int or None
    trajectory : DataFrame, optional
        ``year``, ``comparison_tco2`` (``emissions_trajectories_pilots.csv``), plus ``n_matches``.
    targets : DataFrame, optional
        :func:`intensity_targets` of the pilot (rows with ``allowed_tco2`` are drawn).

    Returns None when the series is empty. Hand-worked: years 2000–2010 padded by half a year on a
    680-wide chart with margins 56 / 16 put 2005 at x = 56 + 5.5/11 × 608 = 360.
    """
    if series is None:
        return None
    s = series.dropna(subset=["year", "emissions_tco2"]).sort_values("year")
    if s.empty:
        return None
    years = s["year"].astype(int).tolist()
    mt = (s["emissions_tco2"].astype(float) / 1e6).tolist()
    comp = None
    if trajectory is not None and not trajectory.empty:
        comp = trajectory.dropna(subset=["comparison_tco2"]).sort_values("year")
        comp = comp if not comp.empty else None
    allowed = targets.dropna(subset=["allowed_tco2"]) if targets is not None and not targets.empty else None
    all_years = years + ([designation_year] if designation_year else []) + \
        (comp["year"].astype(int).tolist() if comp is not None else []) + \
        (allowed["target_year"].tolist() if allowed is not None else [])
    all_values = mt + ((comp["comparison_tco2"] / 1e6).tolist() if comp is not None else []) + \
        ((allowed["allowed_tco2"] / 1e6).tolist() if allowed is not None else [])
    frame, yticks = _frame_for(all_years, all_values, width, height, pad_years=0.5)
    chart = _chart(frame, "emissions", "年排放量 Annual emissions", "百万吨 CO₂/年 Mt CO₂/yr", "年份 Year",
                   _year_ticks(math.ceil(frame.x0), math.floor(frame.x1)), yticks)
    chart["lines"].append({"cls": "atlas-observed", "segments": _segments(frame, years, mt), "colour": OBSERVED,
                           "dash": "", "stroke": 2.2})
    chart["legend"].append({"kind": "line", "colour": OBSERVED, "text": "CEADs 排放 emissions"})
    for x, y, v in zip(years, mt, mt):
        chart["points"].append({"x": frame.x(x), "y": frame.y(y), "shape": "dot", "colour": OBSERVED,
                                "cls": "atlas-observed-point", "title": f"{x}: {fmt_number(v)} Mt CO₂", "text": ""})
    if comp is not None:
        n = comp["n_matches"].iloc[0] if "n_matches" in comp else None
        chart["lines"].append({"cls": "atlas-comparison", "colour": COMPARISON, "dash": "6 4", "stroke": 1.8,
                               "segments": _segments(frame, comp["year"].astype(int).tolist(),
                                                     (comp["comparison_tco2"] / 1e6).tolist())})
        chart["legend"].append({"kind": "dash", "colour": COMPARISON, "text":
                                "匹配的从未指定城市对照路径 matched never-designated comparison"
                                + (f" (n = {int(n)})" if n is not None and pd.notna(n) else "")})
    if allowed is not None and not allowed.empty:
        _target_points(chart, frame, allowed.assign(allowed_mt=allowed["allowed_tco2"] / 1e6), "allowed_mt",
                       "Mt CO₂", 3)
        chart["legend"].append({"kind": "diamond", "colour": TARGET,
                                "text": "碳强度目标在实际 GDP 下允许的排放 emissions the intensity target allows at "
                                        "actual GDP (颜色＝判定 colour = verdict)"})
    _designation(chart, frame, designation_year)
    return chart


def intensity_chart(intensity: pd.DataFrame | None, targets: pd.DataFrame | None, designation_year: int | None,
                    width: int = 680, height: int = 230) -> dict | None:
    """Carbon intensity by year (t CO₂ per 10⁴ CNY of GDP at 2005 prices) with the declared targets as
    points at their target year, coloured by verdict (a line to the stricter end of a range)."""
    if intensity is None:
        return None
    s = intensity.dropna(subset=["year", "intensity_tco2_per_10k_yuan_2005"]).sort_values("year")
    if s.empty:
        return None
    years = s["year"].astype(int).tolist()
    values = s["intensity_tco2_per_10k_yuan_2005"].astype(float).tolist()
    goals = targets if targets is not None else pd.DataFrame(columns=["target_year", "intensity"])
    all_years = years + goals["target_year"].tolist() + ([designation_year] if designation_year else [])
    frame, yticks = _frame_for(all_years, values + goals["intensity"].tolist(), width, height, pad_years=0.5)
    chart = _chart(frame, "intensity", "碳强度 Carbon intensity", "吨 CO₂/万元（2005 年价） t CO₂ per 10⁴ CNY (2005 prices)",
                   "年份 Year", _year_ticks(math.ceil(frame.x0), math.floor(frame.x1)), yticks)
    chart["lines"].append({"cls": "atlas-observed", "segments": _segments(frame, years, values), "colour": TARGET,
                           "dash": "", "stroke": 2.2})
    chart["legend"].append({"kind": "line", "colour": TARGET, "text": "CEADs 排放 / 实际 GDP emissions / real GDP"})
    if not goals.empty:
        _target_points(chart, frame, goals, "intensity", "t CO₂/万元", 3)
        chart["legend"].append({"kind": "diamond", "colour": "#888", "text": "声明的碳强度目标 declared target "
                                "(绿 met · 红 not met · 橙 pending)"})
    _designation(chart, frame, designation_year)
    return chart


def loss_chart(loss: pd.DataFrame | None, designation_year: int | None, width: int = 680,
               height: int = 220) -> dict | None:
    """Tree-cover loss by year as bars (ha/yr) with the designation year marked."""
    if loss is None:
        return None
    s = loss.dropna(subset=["year", "loss_ha"]).sort_values("year")
    if s.empty:
        return None
    years = s["year"].astype(int).tolist()
    values = s["loss_ha"].astype(float).tolist()
    frame, yticks = _frame_for(years + ([designation_year] if designation_year else []), values, width, height,
                               pad_years=0.6)
    chart = _chart(frame, "loss", "森林损失 Tree-cover loss", "公顷/年 ha/yr", "年份 Year",
                   _year_ticks(math.ceil(frame.x0), math.floor(frame.x1)), yticks)
    bar = max(2.0, (frame.x(1) - frame.x(0)) * 0.7)
    for x, v in zip(years, values):
        top = frame.y(max(v, 0.0))
        chart["bars"].append({"x": round(frame.x(x) - bar / 2, 1), "y": top, "w": round(bar, 1),
                              "h": round(frame.y(0.0) - top, 1), "colour": LOSS,
                              "title": f"{x}: {fmt_number(v)} ha", "year": x})
    chart["legend"].append({"kind": "bar", "colour": LOSS, "text": "损失面积 area lost"})
    _designation(chart, frame, designation_year)
    return chart


# ---------------------------------------------------------------- the index page

def as_percent(log_difference: float) -> float:
    """A difference in log emissions as a percent difference: 100 × (e^β − 1) (0.1 → 10.5 %)."""
    return 100.0 * math.expm1(log_difference)


def event_study(effects: pd.DataFrame | None, cohort: str = "all", outcome: str | None = None,
                width: int = 680, height: int = 280) -> dict | None:
    """The event-study chart of one cohort: estimates with 95 % interval bars by event time (as %
    difference from the comparison units, 100 × (e^β − 1)), the zero line, the pre-period shaded,
    event time −1 marked as the reference. ``caption`` holds the post-period average.

    Parameters
    ----------
    effects : DataFrame
        ``outcome``, ``cohort``, ``event_time`` (blank: post-period average), ``estimate``, ``ci_low``,
        ``ci_high``, ``n_treated``, ``n_control`` (``evaluation_effects.csv``).
    cohort : str
        ``"all"`` or a designation year.
    outcome : str, optional
        Default: ``log_emissions`` if present, else the first outcome.
    """
    if effects is None or effects.empty:
        return None
    frame_in = effects.copy()
    frame_in["cohort"] = frame_in["cohort"].astype(str)
    if outcome is None:
        outcomes = frame_in["outcome"].astype(str).unique().tolist()
        outcome = "log_emissions" if "log_emissions" in outcomes else outcomes[0]
    mine = frame_in[(frame_in["outcome"].astype(str) == outcome) & (frame_in["cohort"] == str(cohort))]
    event = pd.to_numeric(mine["event_time"], errors="coerce")
    rows = mine[event.notna()].assign(t=event[event.notna()].astype(int)).dropna(subset=["estimate"]).sort_values("t")
    if rows.empty:
        return None
    est = [as_percent(v) for v in rows["estimate"]]
    low = [as_percent(v) if pd.notna(v) else np.nan for v in rows["ci_low"]]
    high = [as_percent(v) if pd.notna(v) else np.nan for v in rows["ci_high"]]
    finite = [v for v in est + low + high if np.isfinite(v)] + [0.0]
    yticks = nice_ticks(min(finite), max(finite), 6)
    ts = rows["t"].tolist()
    frame = Frame(min(ts) - 0.5, max(ts) + 0.5, yticks[0], yticks[-1], width, height)
    title = "全部批次 All cohorts" if str(cohort) == "all" else f"{cohort} 年批次 Cohort {cohort}"
    chart = _chart(frame, "event_study", title, "与对照组之差 % difference from controls",
                   "距指定年份的年数 Years since designation (event time)", ts, yticks)
    chart["zero"] = frame.y(0.0)
    if min(ts) < 0:
        chart["shade"] = {"x": frame.x(frame.x0), "w": round(frame.x(-0.5) - frame.x(frame.x0), 1),
                          "label": "指定前 pre-designation"}
    for t, e, lo, hi, n in zip(ts, est, low, high, rows["n_treated"]):
        ref = t == -1 and np.isnan(lo) and np.isnan(hi)
        if np.isfinite(lo) and np.isfinite(hi):
            chart["intervals"].append({"x": frame.x(t), "y1": frame.y(lo), "y2": frame.y(hi), "colour": EFFECT})
        ci = "" if ref else f" (95 % CI {lo:+.1f} … {hi:+.1f} %)"
        chart["points"].append({
            "x": frame.x(t), "y": frame.y(e), "shape": "ring" if ref else "dot", "colour": EFFECT,
            "cls": "atlas-reference" if ref else "atlas-effect", "t": t, "text": "参照 ref." if ref else "",
            "title": f"t = {t}: {e:+.1f} %{ci}; {int(n) if pd.notna(n) else '—'} 个试点 treated"})
    chart["legend"] = [{"kind": "dot", "colour": EFFECT, "text": "估计值 estimate"},
                       {"kind": "interval", "colour": EFFECT, "text": "95 % 置信区间 interval"},
                       {"kind": "ring", "colour": EFFECT, "text": "t = −1 参照年（定为 0） reference year (set to 0)"}]
    average = mine[event.isna()].dropna(subset=["estimate"])
    chart["caption"] = None
    if not average.empty:
        a = average.iloc[0]
        ci = (f"{as_percent(a['ci_low']):+.1f} % … {as_percent(a['ci_high']):+.1f} %"
              if pd.notna(a["ci_low"]) and pd.notna(a["ci_high"]) else "—")
        chart["caption"] = {"estimate": f"{as_percent(a['estimate']):+.1f} %", "ci": ci,
                            "n_treated": int(a["n_treated"]) if pd.notna(a["n_treated"]) else None,
                            "n_control": int(a["n_control"]) if pd.notna(a["n_control"]) else None}
    return chart
