"""Headline sinks: the inventory method where its inputs exist, Tier 1 named honestly otherwise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from atlas.carbon import headline as hl
from atlas.carbon.stock_change import LUMPED_PARAMETER

PARAMS = pd.DataFrame([{"group": "all", "parameter": LUMPED_PARAMETER, "value": 0.5, "low": 0.5, "high": 0.5}])


def _official(rows):
    return pd.DataFrame(rows, columns=["region_level", "adcode", "indicator", "period", "year", "value"])


def test_province_stock_difference_and_pilot_inheritance():
    official = _official([
        # province A: 100 → 150 万m³ between NFI7 (2008) and NFI9 (2018): +50e4 m³ in 10 years
        ("province", 110000, "forest_stock", "NFI7 2004-2008", 2008, 100.0),
        ("province", 110000, "forest_stock", "NFI8 2009-2013", 2013, 120.0),
        ("province", 110000, "forest_stock", "NFI9 2014-2018", 2018, 150.0),
        # province B: only one inventory, so no stock change
        ("province", 120000, "forest_stock", "NFI9 2014-2018", 2018, 80.0),
        ("province", 120000, "forest_stock", "NFI6 1999-2003", 2003, 60.0),
    ])
    forest = pd.Series({110000: 1000.0, 120000: 500.0})
    prov, total = hl.inventory_provinces(official, forest, PARAMS, draws=200, seed=1)
    # 5e4 m³/yr × 0.5 t C/m³ × 44/12 = 91,666.7 t CO2/yr
    assert prov.loc[110000, "inventory_net_sink_tco2_per_yr_central"] == pytest.approx(5e4 * 0.5 * 44 / 12)
    assert prov.loc[110000, "inventory_period"].startswith("NFI7→NFI9")
    assert np.isnan(prov.loc[120000, "inventory_net_sink_tco2_per_yr_central"])   # NFI6 is not used
    assert total["central"] == pytest.approx(5e4 * 0.5 * 44 / 12)
    # a pilot with 100 ha of forest in province A gets a tenth of its province's sink
    pilots = hl.inventory_regions(prov, forest, pd.Series({"P": 110000, "Q": 120000}), pd.Series({"P": 100.0,
                                                                                                "Q": 50.0}))
    assert pilots.loc["P", "inventory_net_sink_tco2_per_yr_central"] == pytest.approx(5e4 * 0.5 * 44 / 12 / 10)
    assert np.isnan(pilots.loc["Q", "inventory_net_sink_tco2_per_yr_central"])


def test_a_pilots_own_two_stock_figures_win_over_its_province():
    official = pd.DataFrame([
        # pilot P: 100 → 120 万m³ between 2016 and 2020: +5e4 m³/yr
        ("prefecture", 110100, "P", "forest_stock", "bulletin", 2016, 100.0, "city report A", "A daily", 2016),
        ("prefecture", 110100, "P", "forest_stock", "bulletin", 2020, 120.0, "city report B", "B daily", 2021),
        # pilot Q: one figure only; R: two figures of the same year — neither has a change
        ("prefecture", 110200, "Q", "forest_stock", "bulletin", 2016, 50.0, "Q report", "Q daily", 2016),
        ("county", 110300, "R", "forest_stock", "bulletin", 2018, 10.0, "R one", "R daily", 2018),
        ("county", 110300, "R", "forest_stock", "annual", 2018, 11.0, "R two", "R daily", 2019),
        # a province's figures are not a pilot's own
        ("province", 110000, "", "forest_stock", "NFI7 2004-2008", 2008, 100.0, "NFI7", "NFGA", 2009),
        ("province", 110000, "", "forest_stock", "NFI9 2014-2018", 2018, 150.0, "NFI9", "NFGA", 2019),
    ], columns=["region_level", "adcode", "pilot_id", "indicator", "period", "year", "value", "source_document",
                "publisher", "source_year"])
    pairs = hl.own_stock_pairs(official)
    assert list(pairs.index) == ["P"] and pairs.loc["P", "years"] == 4
    assert pairs.loc["P", "inventory_period"] == "own stock figures (2016–2020)"
    assert pairs.loc["P", "stock_end_source"] == "city report B; B daily, 2021"
    own = hl.own_stock_regions(official, pd.Series({"P": 200.0, "Q": 100.0}), PARAMS, draws=200, seed=1)
    # 5e4 m³/yr × 0.5 t C/m³ × 44/12 = 91,666.7 t CO2/yr, whatever its forest area
    assert list(own.index) == ["P"]
    assert own.loc["P", "inventory_net_sink_tco2_per_yr_central"] == pytest.approx(5e4 * 0.5 * 44 / 12)


def test_headline_prefers_the_inventory_and_names_tier1_honestly():
    estimate = pd.DataFrame({f"{n}_tco2_per_yr_{b}": [10.0, 20.0] for n in ("gross_removal", "gross_loss", "net_sink")
                             for b in hl.BOUNDS}, index=["P", "Q"])
    tier1 = hl.tier1_columns(estimate, losses_assessed=False)
    assert tier1["tier1_gross_loss_tco2_per_yr_central"].isna().all()    # not assessed: empty, not 0
    table = tier1.assign(forest_ha=[5.0, 10.0], land_area_ha=[50.0, 100.0],
                         inventory_net_sink_tco2_per_yr_low=[3.0, np.nan],
                         inventory_net_sink_tco2_per_yr_central=[4.0, np.nan],
                         inventory_net_sink_tco2_per_yr_high=[5.0, np.nan])
    out = hl.with_headline(table, losses_assessed=False)
    assert out.loc["P", "sink_tco2_per_yr_central"] == 4.0 and out.loc["P", "sink_method"] == hl.METHOD_INVENTORY
    assert out.loc["Q", "sink_tco2_per_yr_central"] == 20.0 and out.loc["Q", "sink_method"] == hl.METHOD_TIER1_GROSS
    assert out.loc["P", "sink_tco2_per_ha_yr_central"] == pytest.approx(0.8)
    with_loss = hl.with_headline(hl.tier1_columns(estimate, True).assign(forest_ha=[5.0, 10.0]), True)
    assert (with_loss["sink_method"] == hl.METHOD_TIER1_NET).all()


def test_provinces_without_two_inventories_take_the_national_rate_per_hectare():
    official = _official([
        # nation: 1000 → 2000 万m³ (+1e7 m³) in 10 years over 100 万公顷 (1e6 ha): 1e6 m³/yr / 1e6 ha = 1 m³/ha/yr
        ("national", 100000, "forest_stock", "NFI7 2004-2008", 2008, 1000.0),
        ("national", 100000, "forest_stock", "NFI9 2014-2018", 2018, 2000.0),
        ("national", 100000, "forest_area", "NFI9 2014-2018", 2018, 100.0),
        ("province", 120000, "forest_stock", "NFI9 2014-2018", 2018, 80.0),
    ])
    prov, total = hl.inventory_provinces(official, pd.Series({120000: 2000.0}), PARAMS, draws=100, seed=1)
    # 2000 ha × 1 m³/ha/yr × 0.5 t C/m³ × 44/12 = 3,666.7 t CO2/yr
    assert prov.loc[120000, "inventory_net_sink_tco2_per_yr_central"] == pytest.approx(2000 * 0.5 * 44 / 12)
    assert prov.loc[120000, "inventory_period"].startswith("national per-ha rate")
    assert total["central"] == pytest.approx(2000 * 0.5 * 44 / 12)
