"""Official forest statistics: the loader, its validation, and the shipped table (atlas.regions.official)."""

from __future__ import annotations

import csv

import pandas as pd
import pytest

from atlas.errors import RegistryError
from atlas.regions.official import (
    COLUMNS,
    INDICATOR_UNITS,
    OFFICIAL_FILE,
    latest_figure,
    load_official_stats,
    province_nfi,
)

MAINLAND = [110000, 120000, 130000, 140000, 150000, 210000, 220000, 230000, 310000, 320000, 330000, 340000,
            350000, 360000, 370000, 410000, 420000, 430000, 440000, 450000, 460000, 500000, 510000, 520000,
            530000, 540000, 610000, 620000, 630000, 640000, 650000]


def _row(**over):
    row = {"region_level": "province", "adcode": 530000, "pilot_id": "P1-05", "name_zh": "云南省",
           "indicator": "forest_coverage", "value": 55.04, "unit": "%", "period": "NFI9 2014-2018", "year": 2018,
           "includes_special_shrubland": "yes", "source_document": "doc", "publisher": "NFGA", "source_year": 2019,
           "url_or_page": "p. 1", "status": "secondary"}
    row.update(over)
    return row


def _write(tmp_path, rows, columns=COLUMNS):
    path = tmp_path / "stats.csv"
    pd.DataFrame(rows).reindex(columns=list(columns)).to_csv(path, index=False, encoding="utf-8")
    return path


# --- loader and validation on hand-made tables -------------------------------------------------

def test_loads_and_types_columns(tmp_path):
    path = _write(tmp_path, [_row(), _row(indicator="forest_area", value=2106.16, unit="万公顷", pilot_id="")])
    stats = load_official_stats(path)
    assert list(stats.columns) == list(COLUMNS)
    assert stats["adcode"].dtype.kind == "i" and stats["year"].dtype.kind == "i"
    assert stats["value"].dtype.kind == "f"
    assert stats.loc[1, "pilot_id"] == ""


@pytest.mark.parametrize("change, message", [
    ({"indicator": "tree_cover"}, "Unknown indicator"),
    ({"unit": "万亩"}, "Unit not matching"),
    ({"value": "about 55"}, "Non-numeric value"),
    ({"value": 120.0}, "above 100"),
    ({"value": -1.0}, "Negative value"),
    ({"region_level": "city"}, "Unknown region_level"),
    ({"includes_special_shrubland": "maybe"}, "includes_special_shrubland"),
    ({"status": "guessed"}, "Unknown status"),
    ({"source_document": ""}, "Empty source_document"),
    ({"publisher": ""}, "Empty publisher"),
    ({"url_or_page": ""}, "Empty url_or_page"),
    ({"year": "2018.5"}, "Non-integer year"),
    ({"adcode": 53}, "6-digit"),
    ({"adcode": 530100}, "Province adcode"),
])
def test_bad_rows_are_refused(tmp_path, change, message):
    path = _write(tmp_path, [_row(), _row(**change)])
    with pytest.raises(RegistryError, match=message) as err:
        load_official_stats(path)
    assert "line(s) [3]" in str(err.value)          # the second data row is line 3 of the file
    assert isinstance(err.value, ValueError)


def test_missing_column_and_missing_file(tmp_path):
    path = _write(tmp_path, [_row()], columns=[c for c in COLUMNS if c != "status"])
    with pytest.raises(RegistryError, match="Missing columns"):
        load_official_stats(path)
    with pytest.raises(RegistryError, match="No official statistics file"):
        load_official_stats(tmp_path / "absent.csv")


def test_latest_figure_respects_bounds_and_prefers_verified(tmp_path):
    stats = load_official_stats(_write(tmp_path, [
        _row(value=50.03, period="NFI8 2009-2013", year=2013),
        _row(value=55.04, year=2018),
        _row(value=62.4, period="annual", year=2020, status="secondary"),
        _row(value=62.5, period="annual", year=2020, status="verified", source_year=2021),
        _row(adcode=530100, region_level="prefecture", pilot_id="P2-26", value=52.62, year=2020),
    ]))
    assert latest_figure(stats, "forest_coverage", adcode=530000)["value"] == 62.5
    assert latest_figure(stats, "forest_coverage", adcode=530000, before=2020)["value"] == 55.04
    assert latest_figure(stats, "forest_coverage", adcode=530000, at_or_after=2014, before=2019)["year"] == 2018
    assert latest_figure(stats, "forest_coverage", pilot_id="P2-26")["adcode"] == 530100
    assert latest_figure(stats, "forest_coverage", adcode=530000, at_or_after=2030) is None
    assert latest_figure(stats, "forest_stock", adcode=530000) is None
    with pytest.raises(RegistryError):
        latest_figure(stats, "forest_coverage")
    with pytest.raises(RegistryError):
        latest_figure(stats, "canopy", adcode=530000)


def test_province_nfi_picks_the_inventory(tmp_path):
    stats = load_official_stats(_write(tmp_path, [
        _row(value=50.03, period="NFI8 2009-2013", year=2013),
        _row(value=55.04),
        _row(adcode=440000, pilot_id="P1-01", value=53.52),
        _row(adcode=530100, region_level="prefecture", pilot_id="P2-26", value=52.62),
    ]))
    nfi9 = province_nfi(stats, "forest_coverage")
    assert nfi9.to_dict() == {440000: 53.52, 530000: 55.04}
    assert province_nfi(stats, "forest_coverage", "NFI8").to_dict() == {530000: 50.03}
    assert province_nfi(stats, "forest_area").empty
    with pytest.raises(RegistryError):
        province_nfi(stats, "forest_coverage", "NFI10")


# --- the shipped table -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shipped():
    return load_official_stats()


def test_shipped_file_format():
    from atlas.paths import geodata_dir

    raw = (geodata_dir() / OFFICIAL_FILE).read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf"), "no BOM"
    assert b"\r\n" not in raw, "LF line ends"
    with open(geodata_dir() / OFFICIAL_FILE, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == COLUMNS
    assert all(len(r) == len(COLUMNS) for r in rows)


def test_shipped_rows_are_sourced_and_plausible(shipped):
    assert len(shipped) > 100
    for col in ("source_document", "publisher", "url_or_page"):
        assert (shipped[col].str.len() > 0).all()
    assert set(shipped["indicator"]) <= set(INDICATOR_UNITS)
    cov = shipped[shipped["indicator"] == "forest_coverage"]["value"]
    assert cov.between(0, 100).all()
    assert not shipped.duplicated(["adcode", "indicator", "period", "year", "source_document"]).any()


def test_national_nfi9_figures(shipped):
    nat = shipped[(shipped["region_level"] == "national") & shipped["period"].str.startswith("NFI9")]
    areas = sorted(nat[nat["indicator"] == "forest_area"]["value"])
    # Two sources: the brochure's rounded "220 million ha" and the precise 22,044.62 万公顷.
    assert areas == pytest.approx([22000.0, 22044.62])
    assert areas[1] == pytest.approx(areas[0], rel=0.005)       # they agree to the rounding
    by = nat[nat["indicator"] != "forest_area"].set_index("indicator")["value"]
    assert by["forest_coverage"] == pytest.approx(22.96)
    assert by["forest_stock"] == pytest.approx(1_756_000)      # 万立方米 (17.560 billion m³)


def test_national_inventories_increase(shipped):
    nat = shipped[(shipped["region_level"] == "national") & shipped["period"].str.startswith("NFI")]
    cov = nat[nat["indicator"] == "forest_coverage"].sort_values("year")["value"].tolist()
    assert cov == sorted(cov) and len(cov) == 4              # NFI6 … NFI9: 18.21 → 22.96


def test_pilot_ids_match_the_registry(shipped):
    from atlas.paths import geodata_dir

    pilots = pd.read_csv(geodata_dir() / "pilots.csv", dtype={"pilot_id": str})
    code = dict(zip(pilots["pilot_id"], pilots["adcode"].astype(int)))
    tagged = shipped[shipped["pilot_id"] != ""]
    assert set(tagged["pilot_id"]) <= set(code)
    assert all(code[p] == a for p, a in zip(tagged["pilot_id"], tagged["adcode"]))
    untagged = shipped[(shipped["pilot_id"] == "") & (shipped["region_level"] != "national")]
    assert not untagged["adcode"].isin(list(code.values())).any()


def test_nfi6_covers_the_mainland_but_xinjiang(shipped):
    # The NBS 2009 table was read in full except the truncated Xinjiang row.
    for indicator in ("forest_area", "forest_coverage", "forest_stock"):
        got = set(province_nfi(shipped, indicator, "NFI6").index)
        assert got == set(MAINLAND) - {650000}


def test_nfi6_provincial_sum_near_national_total(shipped):
    # Provinces sum to more than the national sample estimate (documented in OFFICIAL_STATS.md):
    # 18,451 万公顷 for 30 provinces against 17,491 nationally.
    provinces = province_nfi(shipped, "forest_area", "NFI6").sum()
    national = shipped[(shipped["region_level"] == "national") & (shipped["indicator"] == "forest_area")
                       & shipped["period"].str.startswith("NFI6")]["value"].iloc[0]
    assert provinces == pytest.approx(national, rel=0.10)


# Counts of mainland provinces that have (area, coverage, stock) for each inventory; see OFFICIAL_STATS.md.
RECENT_COUNTS = {"NFI7": (31, 31, 31), "NFI8": (31, 31, 31), "NFI9": (31, 31, 31)}


@pytest.mark.parametrize("inventory", sorted(RECENT_COUNTS))
def test_recent_inventory_counts_are_documented(shipped, inventory):
    got = tuple(len(province_nfi(shipped, ind, inventory)) for ind in ("forest_area", "forest_coverage", "forest_stock"))
    assert got == RECENT_COUNTS[inventory]          # update this table and OFFICIAL_STATS.md together


@pytest.mark.parametrize("inventory", ["NFI7", "NFI8", "NFI9"])
def test_area_over_coverage_gives_a_stable_land_area(shipped, inventory):
    # forest area / coverage = land area, which does not change between inventories. Against NFI6 the
    # ratios agree within 2.1 % (内蒙古), except 上海 NFI9 at +7.5 %, whose area (9 万公顷) is rounded to a
    # whole number. A value filed under the wrong inventory or indicator breaks this. 宁夏 is left out: in the
    # NBS table its coverage counts special shrubland while its forest area does not (area / coverage gives
    # 519 万公顷 of land in NFI9 against 664 in NFI6, the same 0.78 in NFI7, NFI8 and NFI9).
    area6, cov6 = province_nfi(shipped, "forest_area", "NFI6"), province_nfi(shipped, "forest_coverage", "NFI6")
    area, cov = province_nfi(shipped, "forest_area", inventory), province_nfi(shipped, "forest_coverage", inventory)
    both = area.index.intersection(cov.index).intersection(area6.index)
    assert len(both) >= 2
    ratio = (area[both] / cov[both]) / (area6[both] / cov6[both])
    ratio = ratio.drop(640000, errors="ignore")
    assert ratio.between(0.92, 1.08).all(), ratio[~ratio.between(0.92, 1.08)]


def test_provinces_annual_coverage_sits_near_their_ninth_inventory(shipped):
    # Provinces publish coverage between inventories by their own monitoring (OFFICIAL_STATS.md, round 6);
    # it runs from 1.7 points under the NFI9 figure (福建 2024, the 2023 national method) to 18.4 over it
    # (贵州 2021, whose monitoring counts economic forest and shrubland). A figure outside -5 … +20 points
    # is a misfiled region, unit or decimal point (新疆 5.02 filed as 50.2 would be +45).
    cov = shipped[(shipped["region_level"] == "province") & (shipped["indicator"] == "forest_coverage")]
    nfi9 = cov[cov["period"].str.startswith("NFI9")].set_index("adcode")["value"]
    annual = cov[cov["period"] == "annual"]
    gap = annual["value"] - annual["adcode"].map(nfi9)
    assert annual["adcode"].nunique() == 26 and gap.notna().all()  # 26 of 31 provinces publish one here
    assert gap.between(-5, 20).all(), annual.loc[~gap.between(-5, 20), ["name_zh", "year", "value"]]


def test_pilot_coverage_count(shipped):
    cov = shipped[(shipped["indicator"] == "forest_coverage") & (shipped["pilot_id"] != "")]
    # 10 provinces + 61 cities, districts and counties; the 16 without one are listed in OFFICIAL_STATS.md
    assert cov["pilot_id"].nunique() == 71


def test_pilot_area_over_coverage_is_the_outlines_land_area(shipped):
    # A pilot's official forest area / its coverage of the same year is the land area the figures
    # describe; it must match the land area of the atlas' outline (coastal outlines hold sea, so the
    # outline's land area, geodata/README.md). The 58 pairs agree within -5 % (上海 NFI6) and +9.3 %
    # (北京 NFI6); a figure filed under the wrong region, year or unit breaks this. 吴忠 is the
    # exception: 31.07 万公顷 at 15 % (2015) describe 20,700 km² against 16,806 km² of land inside the
    # outline (OFFICIAL_STATS.md).
    from atlas.regions import boundaries

    land = boundaries.area_table(boundaries.load_pilot_boundaries()).set_index("pilot_id")["land_area_km2"]
    rows = shipped[shipped["pilot_id"] != ""]
    area = rows[rows["indicator"] == "forest_area"].groupby(["pilot_id", "year"])["value"].first()
    cov = rows[rows["indicator"] == "forest_coverage"].groupby(["pilot_id", "year"])["value"].first()
    both = area.index.intersection(cov.index)
    assert len(both) == 59  # 58 and 吴忠
    implied_km2 = area[both] / cov[both] * 100 * 100  # 万公顷 / % → km²
    ratio = implied_km2 / land.reindex(both.get_level_values(0)).to_numpy()
    ratio = ratio.drop("P3-41", level=0)
    assert ratio.between(0.94, 1.10).all(), ratio[~ratio.between(0.94, 1.10)]


@pytest.mark.parametrize("inventory", ["NFI7", "NFI8", "NFI9"])
def test_every_province_in_every_recent_inventory(shipped, inventory):
    for indicator in ("forest_area", "forest_coverage", "forest_stock"):
        assert set(province_nfi(shipped, indicator, inventory).index) == set(MAINLAND)


def test_nfi9_provincial_sum_near_national_total(shipped):
    # The provinces' own inventory figures add up to more than the national estimate (NBS table:
    # 24,145.31 万公顷 against 22,044.62, +9.5 %; NFI6 +5.5 % without 新疆): each province is estimated
    # from its own sample, the nation from the national one. The sum must stay within 12 %.
    provinces = province_nfi(shipped, "forest_area", "NFI9").sum()
    assert provinces == pytest.approx(22044.62, rel=0.12)


def test_guangdong_rates_of_stock_feed_the_inventory_method(shipped):
    # 李洁华 et al. 2018 (生态科学 37(6)): Guangdong's gross growth 9.61 %/yr and consumption 5.54 %/yr of
    # standing stock in 2015 (7.98 and 6.94 in 2005). The latest pair is used; a province without
    # published rates falls back to its net change of stock between inventories (net_only).
    from atlas.workflow.inventory import province_rates

    rates = province_rates(shipped, pd.Series({"深圳": 440000, "三明": 350000}))
    assert rates.loc["深圳", "gross_growth_rate"] == pytest.approx(0.0961)
    assert rates.loc["深圳", "consumption_rate"] == pytest.approx(0.0554) and not rates.loc["深圳", "net_only"]
    assert rates.loc["三明", "consumption_rate"] == 0.0 and rates.loc["三明", "net_only"]
