"""What an inventory-method sink rests on, as pilot pages and reports list it."""

from __future__ import annotations

import pandas as pd

from atlas.carbon.headline import METHOD_INVENTORY, METHOD_TIER1_GROSS
from atlas.publish.inventory_inputs import inventory_basis, inventory_rows

COLUMNS = ["region_level", "adcode", "pilot_id", "indicator", "period", "year", "value", "source_document",
           "publisher", "source_year", "url_or_page", "status"]
OFFICIAL = pd.DataFrame([
    # province 350000: 50,000 → 60,000 万m³ between NFI7 (2008) and NFI9 (2018)
    ("province", 350000, "", "forest_stock", "NFI7 2004-2008", 2008, 50000.0, "NFI7 results", "NFGA", 2009,
     "https://example.gov.cn/nfi7", "secondary"),
    ("province", 350000, "", "forest_stock", "NFI9 2014-2018", 2018, 60000.0, "NFI9 results", "NFGA", 2019,
     "https://example.gov.cn/nfi9", "verified"),
], columns=COLUMNS)
PARAMETERS = pd.DataFrame([{"group": "all", "parameter": "carbon_per_stock_t_c_per_m3", "value": 0.45, "low": 0.40,
                            "high": 0.50, "source_document": "Yang et al. 2022", "source_table": "Table 2",
                            "status": "secondary"}])


def record(**values) -> pd.Series:
    base = {"sink_method": METHOD_INVENTORY, "inventory_period": "NFI7→NFI9 (2008–2018)", "level": "prefecture",
            "province_adcode": 350000, "adcode": 350400, "forest_ha": 100_000.0,
            "inventory_net_sink_tco2_per_yr_central": 400_000.0, "forest_area_source": "official coverage × land"}
    return pd.Series({**base, **values}, name="P3-16")


def test_a_city_lists_its_provinces_inventories_the_conversion_and_its_own_area():
    rows = inventory_rows(record(), inventory_basis(OFFICIAL, PARAMETERS))
    by = {row["en"]: row for row in rows}
    assert by["Growing stock, start (NFI7)"]["value"] == "50,000 万m³"
    assert by["Growing stock, start (NFI7)"]["source"] == "NFI7 results; NFGA, 2009; https://example.gov.cn/nfi7 (secondary)"
    assert by["Growing stock, end (NFI9)"]["value"] == "60,000 万m³"
    # (60,000 − 50,000) 万m³ over 10 years
    assert by["Net change per year"]["value"] == "1,000 万m³/yr (10 年 years)"
    # 0.45 t C/m³ × 44/12 = 1.650 t CO2/m³
    assert by["Growing stock to carbon"]["value"].endswith("= 1.650 t CO₂/m³")
    assert by["Growing stock to carbon"]["source"] == "Yang et al. 2022; Table 2 (secondary)"
    # 400,000 t CO2/yr over 100,000 ha of forest: 4.00 t CO2/ha/yr, the province's rate applied to the city
    assert by["Net sink per ha of forest, the province's, applied to the pilot (central)"]["value"] == "4.00 t CO₂/ha/yr"
    assert by["Forest area"]["source"] == "official coverage × land"


def test_nothing_to_list_for_another_method_or_without_statistics():
    basis = inventory_basis(OFFICIAL, PARAMETERS)
    assert inventory_rows(record(sink_method=METHOD_TIER1_GROSS), basis) == []
    assert inventory_rows(record(), None) == [] and inventory_basis(None, PARAMETERS) is None
    # a province's own inventories, and a department's sub-compartments, say so
    own = {row["en"]: row["value"] for row in inventory_rows(record(level="province", adcode=350000), basis)}
    assert own["Net sink per ha of forest, the region's own (central)"] == "4.00 t CO₂/ha/yr"
    department = inventory_rows(record(inventory_period="sub-compartment inventory of the department"), basis)
    assert [row["en"] for row in department] == ["Method", "Inputs"]


def test_a_popup_names_the_method_its_sink_comes_from():
    """The map popups used to head every sink "IPCC Tier 1", also where the build used China's inventory
    method; the method is now the pilot's own, and Tier 1 only where the table names none."""
    from atlas.publish.records import METHOD_LABELS, popup_sections

    targets = pd.DataFrame(columns=["pilot_id"])
    pilot = record(batch=3, net_sink_tco2_per_yr_low=1.0e5, net_sink_tco2_per_yr_central=2.0e5,
                   net_sink_tco2_per_yr_high=3.0e5)
    sink = dict(popup_sections(pilot, targets)[2][1])
    assert sink["方法 Method"] == METHOD_INVENTORY and "Tier 1" not in popup_sections(pilot, targets)[2][0]
    older = dict(popup_sections(pilot.drop("sink_method"), targets)[2][1])
    assert older["方法 Method"] == METHOD_LABELS["ipcc_tier1"]
