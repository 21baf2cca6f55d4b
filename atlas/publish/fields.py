"""Bilingual labels and number formats for the columns shown on the published pages.

Every value a reader sees on a map, a tooltip, a popup or a pilot page is formatted
here, so units are written the same way everywhere. Formatting returns plain text; the
pages escape it when they put it into HTML.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


def _missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(np.isnan(value))  # type: ignore[arg-type]
    except TypeError:
        return value == ""


def fmt_number(value: float, digits: int = 3) -> str:
    """``1234567`` → ``1,234,567``; ``0.01234`` → ``0.0123``; ``4.8123`` → ``4.81``
    (``digits`` significant digits, whole numbers kept whole)."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(0, digits - 1 - magnitude)
    return f"{value:,.{decimals}f}"


def fmt_mass_t(value: float) -> str:
    """Tonnes with an SI prefix and the Chinese 万吨 figure: ``83.3 Mt（8,330 万吨）``."""
    size = abs(value)
    if size >= 1e9:
        text = f"{value / 1e9:.3g} Gt"
    elif size >= 1e6:
        text = f"{value / 1e6:.3g} Mt"
    elif size >= 1e3:
        text = f"{value / 1e3:.3g} kt"
    else:
        return f"{fmt_number(value)} t"
    if size >= 1e4:
        text += f"（{fmt_number(value / 1e4)} 万吨）"
    return text


def fmt_money_zh(value: float, digits: int = 3) -> str:
    """Yuan in 亿元 / 万元 / 元 with ``digits`` significant digits and thousands separators:
    ``4.81 亿元``, ``1,770 万元``, ``950 元``. ``assets/atlas.js`` (``AtlasFormat.money``) writes
    the same text in the browser."""
    size = abs(value)
    if size >= 1e8:
        return f"{fmt_number(value / 1e8, digits)} 亿元"
    if size >= 1e4:
        return f"{fmt_number(value / 1e4, digits)} 万元"
    return f"{fmt_number(value, digits)} 元"


def fmt_money_en(value: float, digits: int = 3) -> str:
    """The English figure: ``CNY 481 M``, ``CNY 17.7 M``, ``CNY 9.5 k``."""
    size = abs(value)
    if size >= 1e9:
        return f"CNY {fmt_number(value / 1e9, digits)} bn"
    if size >= 1e6:
        return f"CNY {fmt_number(value / 1e6, digits)} M"
    if size >= 1e3:
        return f"CNY {fmt_number(value / 1e3, digits)} k"
    return f"CNY {fmt_number(value, digits)}"


def fmt_money_cny(value: float) -> str:
    """Yuan in 亿元 / 万元 with the English figure: ``4.81 亿元 (CNY 481 M)``."""
    return f"{fmt_money_zh(value)} ({fmt_money_en(value)})"


def fmt_percent(value: float, digits: int = 3) -> str:
    """A fraction as percent with ``digits`` significant digits: 0.000403 → ``0.0403 %``, 0.272 → ``27.2 %``."""
    return f"{fmt_number(value * 100, digits)} %"


def _short_mass_t(value: float) -> str:
    return fmt_mass_t(value).split("（")[0]


FORMATTERS: dict[str, Callable[[float], str]] = {
    "number": fmt_number,
    "integer": lambda v: f"{int(round(v)):,d}",
    "mass_t": fmt_mass_t,
    "money_cny": fmt_money_cny,
    "share": fmt_percent,                              # a fraction 0-1 shown as percent
    "percent": lambda v: f"{fmt_number(v)} %",        # already in percent
    "ratio": lambda v: fmt_number(v),
    "text": str,
}
#: Compact forms for legends, where the unit is in the legend title.
SHORT_FORMATTERS: dict[str, Callable[[float], str]] = {"mass_t": _short_mass_t, "money_cny": fmt_money_zh,
                                                       "share": lambda v: fmt_number(v * 100)}


@dataclass(frozen=True)
class Field:
    """How one column is named and written.

    Parameters
    ----------
    zh, en : str
        Label in Chinese and English.
    format : str
        A key of :data:`FORMATTERS`.
    unit : str
        Written after the formatted value (empty when the formatter already says it).
    """

    zh: str
    en: str
    format: str = "number"
    unit: str = ""

    @property
    def label(self) -> str:
        """``中文 English`` as shown in tables."""
        return f"{self.zh} {self.en}"

    def text(self, value: object) -> str:
        """The value formatted with its unit; ``—`` (no data) for missing values."""
        if _missing(value):
            return "— 无数据 no data"
        if self.format == "text" or not isinstance(value, (int, float, np.integer, np.floating)):
            return str(value)
        body = FORMATTERS[self.format](float(value))
        return f"{body} {self.unit}".rstrip()

    def short(self, value: float) -> str:
        """The value in compact form, without the unit (for legend class labels)."""
        return SHORT_FORMATTERS.get(self.format, FORMATTERS.get(self.format, fmt_number))(float(value))

    @property
    def unit_label(self) -> str:
        """The unit as written in a legend title: explicit unit, or the one the format implies."""
        implied = {"mass_t": "t", "money_cny": "CNY", "share": "%", "percent": "%"}.get(self.format, "")
        return " ".join(part for part in (implied, self.unit) if part)


_CO2_YR = "CO₂/yr"

FIELDS: dict[str, Field] = {
    "pilot_id": Field("编号", "ID", "text"),
    "name_zh": Field("名称", "Name (zh)", "text"),
    "name_en": Field("英文名", "Name (en)", "text"),
    "batch": Field("批次", "Batch", "integer"),
    "year": Field("批准年份", "Year approved", "text"),
    "document": Field("批准文件", "Approving document", "text"),
    "level_label": Field("级别", "Level", "text"),
    "province_zh": Field("所在省份", "Province", "text"),
    "population_10k": Field("2010 年人口", "Population 2010", "number", "万人 (10⁴ persons)"),
    "gdp_100m_yuan": Field("2010 年 GDP", "GDP 2010", "number", "亿元 (10⁸ CNY)"),
    "co2_per_capita_t": Field("2010 年人均 CO₂ 排放（报告值）", "CO₂ per capita 2010 (reported)", "number",
                              "t CO₂/人 per person"),
    "land_area_km2": Field("陆地面积", "Land area", "integer", "km²"),
    "forest_ha": Field("森林面积", "Forest area", "number", "ha"),
    "forest_area_source": Field("森林面积来源", "Forest area from", "text"),
    "forest_share_of_land": Field("森林占陆地比例", "Forest share of land", "share"),
    "net_sink_tco2_per_yr_low": Field("净碳汇 低值 (2.5 %)", "Net sink, low (2.5 %)", "mass_t", _CO2_YR),
    "net_sink_tco2_per_yr_central": Field("净碳汇 中值", "Net sink, central", "mass_t", _CO2_YR),
    "net_sink_tco2_per_yr_high": Field("净碳汇 高值 (97.5 %)", "Net sink, high (97.5 %)", "mass_t", _CO2_YR),
    "net_sink_tco2_per_ha_land_yr_central": Field("单位陆地面积净碳汇", "Net sink per ha of land", "number",
                                                  "t CO₂/ha/yr"),
    "emissions_tco2_per_yr": Field("排放量（抵消比所用）", "Emissions (used in the offset ratio)", "mass_t", _CO2_YR),
    "emissions_source": Field("排放来源", "Emissions source", "text"),
    "raster_emissions_tco2_per_yr": Field("排放量（栅格）", "Emissions (raster)", "mass_t", _CO2_YR),
    "offset_ratio_central": Field("抵消比（净碳汇 / 排放）", "Offset ratio (net sink / emissions)", "share"),
    "balance_tco2_per_yr": Field("碳汇减排放", "Net sink minus emissions", "mass_t", _CO2_YR),
    "payment_cny_per_yr": Field("碳汇补偿（按清除量付费）", "Pay-for-removals", "money_cny", "/yr"),
    "transfer_cny_per_yr": Field("净平衡转移支付", "Net-balance transfer", "money_cny", "/yr"),
    "target_status": Field("目标状态", "Target status", "text"),
    "target_summary": Field("可测目标", "Measurable targets", "text"),
    "climate_domain": Field("气候带", "Climate domain", "text"),
    "sink_method": Field("页面所用碳汇方法", "Sink method used on this page", "text"),
    "emissions_change_pct": Field("排放变化（指定年→2019）", "Emissions change (designation year → 2019)",
                                  "percent"),
    "emissions_change_years": Field("比较年份", "Years compared", "text"),
}

LEVELS = {"province": "省 province", "prefecture": "市 prefecture", "county": "县/区 county"}

#: Page chrome in both languages, passed to the page script.
LABELS = {
    "page_link": "试点页面 Pilot page →",
    "search_placeholder": "搜索试点：中文 / English / pinyin",
    "search_none": "无匹配 No match",
    "fullscreen": "全屏 Fullscreen",
}


def field(column: str) -> Field:
    """The :class:`Field` of ``column``; an unknown column is labelled by its own name."""
    return FIELDS.get(column, Field(column, column))
