"""What a pilot's inventory-method sink rests on, laid out for its page and its report.

The headline sink of most pilots is China's inventory method (:mod:`atlas.carbon.headline`):
the province's change of growing stock between two national forest inventories, converted to
carbon, per hectare of the province's forest, times the pilot's own forest area. A forestry
officer who checks the number needs each of those inputs with its source; the IPCC factors the
pages also list belong to the Tier 1 estimate shown beside it for comparison.

Pure: frames in, rows of texts out (the templates escape them).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from atlas.carbon.headline import METHOD_INVENTORY, nfi_stock_pairs, own_stock_pairs
from atlas.publish.fields import field
from atlas.rasters.units import CO2_PER_C

CONVERSION_PARAMETER = "carbon_per_stock_t_c_per_m3"


@dataclass(frozen=True)
class InventoryBasis:
    """The inputs every pilot's inventory estimate draws on, prepared once per site or report.

    Attributes
    ----------
    stocks : DataFrame
        :func:`atlas.carbon.headline.nfi_stock_pairs` of every province (``adcode`` index).
    own : DataFrame
        :func:`atlas.carbon.headline.own_stock_pairs`: pilots with two stock figures of their own.
    conversion : Series, optional
        The ``carbon_per_stock_t_c_per_m3`` row of ``cn_inventory_parameters.csv``.
    """

    stocks: pd.DataFrame
    own: pd.DataFrame
    conversion: pd.Series | None


def inventory_basis(official: pd.DataFrame | None, parameters: pd.DataFrame | None) -> InventoryBasis | None:
    """The basis of the pilots' inventory estimates, or None without official statistics."""
    if official is None:
        return None
    provinces = official.loc[official["region_level"] == "province", "adcode"]
    stocks = nfi_stock_pairs(official, pd.Index(sorted(provinces.unique()), name="adcode"))
    conversion = None
    if parameters is not None:
        rows = parameters[parameters["parameter"] == CONVERSION_PARAMETER]
        conversion = rows.iloc[0] if len(rows) else None
    return InventoryBasis(stocks, own_stock_pairs(official), conversion)


def _number(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _row(zh: str, en: str, value: str, source: str = "") -> dict:
    return {"zh": zh, "en": en, "value": value, "source": source}


def inventory_rows(record: pd.Series, basis: InventoryBasis | None) -> list[dict]:
    """Rows (``zh``, ``en``, ``value``, ``source``) of what one pilot's inventory-method
    headline rests on; empty when its headline is another method or the basis is missing.

    Examples
    --------
    A city of a province whose stock grew from 50,000 to 60,000 万m³ over 10 years, converted at
    0.45 t C/m³, reads: growing stock at both inventories, 1,000 万m³/yr of net change, the
    conversion, the province's net sink per hectare of forest, the city's forest area, and the
    product of the last two.
    """
    if basis is None or record.get("sink_method") != METHOD_INVENTORY:
        return []
    period = str(record.get("inventory_period") or "")
    central = record.get("inventory_net_sink_tco2_per_yr_central")
    forest_ha = record.get("forest_ha")
    rows = [_row("方法", "Method", f"省级温室气体清单指南 蓄积量变化法 Provincial GHG inventory guidelines, "
                                   f"stock-change method · {period}")]
    if period.startswith("sub-compartment"):
        return rows + [_row("输入", "Inputs", "本部门二类调查小班数据 The department's own sub-compartment inventory")]
    province = record.get("province_adcode")
    province = record.get("adcode") if pd.isna(province) else province
    own = record.get("level") == "province" or period.startswith("own")
    if period.startswith("own") and record.name in basis.own.index:  # the pilot's own two figures
        stocks = basis.own.loc[record.name]
        start = end = "本地统计 own statistics"
    elif pd.notna(province) and int(province) in basis.stocks.index:  # its province's inventories
        stocks = basis.stocks.loc[int(province)]
        start, end = str(stocks["inventory_period"]).split()[0].split("→")  # e.g. "NFI7→NFI9 (2008–2018)"
    else:
        stocks = None
    if stocks is not None and pd.notna(stocks["stock_start_m3"]):
        rows += [
            _row("森林蓄积（期初）", f"Growing stock, start ({start})", f"{_number(stocks['stock_start_m3'] / 1e4)} 万m³",
                 str(stocks["stock_start_source"])),
            _row("森林蓄积（期末）", f"Growing stock, end ({end})", f"{_number(stocks['stock_end_m3'] / 1e4)} 万m³",
                 str(stocks["stock_end_source"])),
            _row("年均净变化", "Net change per year",
                 f"{_number((stocks['stock_end_m3'] - stocks['stock_start_m3']) / stocks['years'] / 1e4)} 万m³/yr "
                 f"({int(stocks['years'])} 年 years)"),
        ]
    elif period.startswith("national"):
        rows.append(_row("蓄积变化", "Change of growing stock",
                         "本省无两次清查蓄积：采用全国每公顷森林的蓄积净变化 No two inventories of this province: "
                         "the national net change of growing stock per hectare of forest"))
    if basis.conversion is not None:
        c = basis.conversion
        rows.append(_row("蓄积转换为碳", "Growing stock to carbon",
                         f"{c['value']:g} t C/m³（{c['low']:g}–{c['high']:g}）× 44/12 = "
                         f"{float(c['value']) * CO2_PER_C:.3f} t CO₂/m³",
                         f"{c['source_document']}; {c['source_table']} ({c['status']})"))
    if pd.notna(central) and pd.notna(forest_ha) and float(forest_ha) > 0:
        per_ha = float(central) / float(forest_ha)
        zh, en = (("本地每公顷森林净碳汇（中值）", "Net sink per ha of forest, the region's own (central)") if own else
                  ("所在省每公顷森林净碳汇（中值，本试点沿用）",
                   "Net sink per ha of forest, the province's, applied to the pilot (central)"))
        rows += [
            _row(zh, en, f"{per_ha:,.2f} t CO₂/ha/yr"),
            _row("森林面积", "Forest area", field("forest_ha").text(forest_ha),
                 str(record.get("forest_area_source") or "")),
            _row("净碳汇（中值）= 每公顷 × 面积", "Net sink (central) = per ha × area",
                 field("net_sink_tco2_per_yr_central").text(central)),
        ]
    return rows
