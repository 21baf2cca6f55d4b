"""Merge the NBS provincial forest-resources table (7th-9th national forest inventories) into
geodata/official_forest_stats.csv.

Source: 国家统计局 分省年度数据 "森林资源" (NBS National Data, annual data by province, forest
resources: forest area, coverage, forest growing stock), which repeats each inventory's figures for
the years it stands for (2004-2008 = 7th, 2009-2013 = 8th, 2014-2019 = 9th inventory). It was read
in a public copy of the NBS export, GitHub 3112944976/National-Visualization-Web-Application,
file 源数据/国家统计局分省年度数据/资源和环境/森林资源.csv (commit 2e3008c), and transcribed, one row
per province and inventory, into scripts/data/nbs_forest_resources_by_province.csv. This script
turns that transcription into official-statistics rows (units of the table: 万公顷, %, 万立方米).

A row already in the table with the same region, indicator and inventory and the same value
(within rounding) is kept and not repeated; a different value is kept beside the NBS one, and
OFFICIAL_STATS.md lists such disagreements.

Run from the project root:  python scripts/merge_nbs_forest_inventories.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "scripts" / "data" / "nbs_forest_resources_by_province.csv"
TABLE = ROOT / "geodata" / "official_forest_stats.csv"
PERIODS = {"NFI7": ("NFI7 2004-2008", 2008), "NFI8": ("NFI8 2009-2013", 2013), "NFI9": ("NFI9 2014-2018", 2018)}
DOCUMENT = ("国家统计局 分省年度数据 森林资源 (第七/八/九次全国森林资源清查, 按清查期重复列于各年) / NBS National Data, "
            "annual by province, Forest Resources (7th/8th/9th national forest inventories, repeated for the years "
            "of each inventory period)")
PUBLISHER = "国家统计局 National Bureau of Statistics of China"
WHERE = ("https://data.stats.gov.cn (分省年度数据 > 资源和环境 > 森林资源); read in the public copy GitHub "
         "3112944976/National-Visualization-Web-Application, 源数据/国家统计局分省年度数据/资源和环境/森林资源.csv, "
         "commit 2e3008c")
#: The export holds years up to 2019, so it was released in 2020 at the earliest (the release is not dated).
SOURCE_YEAR = 2020
INDICATORS = {"forest_area": ("forest_area_10k_ha", "万公顷", 1.0),
              "forest_coverage": ("forest_coverage_pct", "%", 1.0),
              "forest_stock": ("forest_stock_100m_m3", "万立方米", 1e4)}   # 亿立方米 → 万立方米


def nbs_rows(source: pd.DataFrame, pilots: pd.DataFrame) -> pd.DataFrame:
    """One official-statistics row per province, inventory and indicator."""
    province_pilots = pilots[pilots["level"] == "province"].set_index("adcode")["pilot_id"]
    rows = []
    for rec in source.itertuples():
        period, year = PERIODS[rec.inventory]
        for indicator, (column, unit, factor) in INDICATORS.items():
            rows.append({"region_level": "province", "adcode": rec.adcode,
                         "pilot_id": province_pilots.get(rec.adcode, ""), "name_zh": rec.province,
                         "indicator": indicator, "value": round(getattr(rec, column) * factor, 4), "unit": unit,
                         "period": period, "year": year, "includes_special_shrubland": "yes",
                         "source_document": DOCUMENT, "publisher": PUBLISHER, "source_year": SOURCE_YEAR,
                         "url_or_page": WHERE, "status": "secondary"})
    return pd.DataFrame(rows)


def merge(table: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """``table`` plus the rows of ``new`` it does not already hold (same key, same value)."""
    key = ["adcode", "indicator", "period"]
    have = table.assign(number=table["value"].astype(float)).merge(new[key + ["value"]], on=key,
                                                                  suffixes=("", "_new"))
    same = have[(have["number"] - have["value_new"]).abs() <= 0.01 * have["number"].abs().clip(lower=1)]
    dup = new.merge(same[key], on=key, how="left", indicator=True)["_merge"] == "both"
    return pd.concat([table, new[~dup.to_numpy()]], ignore_index=True)


def main() -> None:
    table = pd.read_csv(TABLE, dtype=str, keep_default_na=False, encoding="utf-8")  # rows kept as written
    table["adcode"] = table["adcode"].astype(int)
    pilots = pd.read_csv(ROOT / "geodata" / "pilots.csv", dtype={"pilot_id": str}, encoding="utf-8")
    source = pd.read_csv(SOURCE, encoding="utf-8")
    if len(source) != 93 or source["adcode"].nunique() != 31:
        sys.exit(f"{SOURCE}: expected 31 provinces x 3 inventories, found {len(source)} rows")
    before = len(table)
    new = nbs_rows(source, pilots)
    new["value"] = new["value"].map(lambda v: f"{v:.4f}".rstrip("0").rstrip("."))
    new = new.astype({"year": str, "source_year": str})
    merged = merge(table, new.assign(value=new["value"].astype(float)))
    merged["value"] = merged["value"].map(lambda v: v if isinstance(v, str) else f"{v:.4f}".rstrip("0").rstrip("."))
    merged.to_csv(TABLE, index=False, encoding="utf-8", lineterminator="\n")
    print(f"{TABLE.name}: {before} → {len(merged)} rows")


if __name__ == "__main__":
    main()
