"""Forest area calibrated to official provincial totals (atlas.carbon.calibration)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atlas.carbon import calibration as cal
from atlas.errors import FactorError


def test_fractions_recover_an_exact_pattern():
    # class A is all forest, class B half forest:
    #   P1: 100 ha A          → 100 ha forest
    #   P2: 200 ha B          → 100 ha forest
    #   P3: 50 ha A + 100 ha B → 50 + 50 = 100 ha forest
    classes = pd.DataFrame({"class_1_ha": [100.0, 0.0, 50.0], "class_12_ha": [0.0, 200.0, 100.0]},
                           index=[11, 12, 13])
    official = pd.Series([100.0, 100.0, 100.0], index=[11, 12, 13])
    fractions = cal.fit_class_fractions(classes, official)
    assert fractions.to_dict() == pytest.approx({"class_1_ha": 1.0, "class_12_ha": 0.5}, abs=1e-9)
    prov, regions = cal.calibrate(classes, official, pd.DataFrame({"class_1_ha": [10.0], "class_12_ha": [20.0]},
                                                                  index=["R"]), pd.Series({"R": 13}))
    assert prov["scale"].to_numpy() == pytest.approx([1, 1, 1])
    # a region of P3 with 10 ha A and 20 ha B: 10 × 1 + 20 × 0.5 = 20 ha
    assert regions.loc["R", "calibrated_forest_ha"] == pytest.approx(20.0)


def test_provincial_totals_are_made_exact_and_regions_scaled():
    classes = pd.DataFrame({"class_1_ha": [100.0, 0.0, 50.0], "class_12_ha": [0.0, 200.0, 100.0]},
                           index=[11, 12, 13])
    # P3's official figure is 20 % above the pattern's 100 ha; the fit cannot match every
    # province, so each is scaled to its own official total
    official = pd.Series([100.0, 100.0, 120.0], index=[11, 12, 13])
    prov, regions = cal.calibrate(classes, official, pd.DataFrame({"class_1_ha": [10.0], "class_12_ha": [20.0]},
                                                                  index=["R"]), pd.Series({"R": 13}))
    assert prov["calibrated_forest_ha"].to_numpy() == pytest.approx(official.to_numpy())
    expected = regions.loc["R", "modelled_forest_ha"] * prov.loc[13, "scale"]
    assert regions.loc["R", "calibrated_forest_ha"] == pytest.approx(expected)


def test_too_few_provinces_is_an_error():
    with pytest.raises(FactorError, match="at least 3"):
        cal.fit_class_fractions(pd.DataFrame({"class_1_ha": [1.0]}, index=[11]), pd.Series({11: 1.0}))


def test_official_figures_win_over_calibration():
    calibrated = pd.Series({"a": 50.0, "b": 50.0, "c": 50.0})
    out = cal.best_forest_area(calibrated, official_area_ha=pd.Series({"a": 70.0}),
                               official_coverage_pct=pd.Series({"a": 10.0, "b": 40.0}),
                               land_ha=pd.Series({"a": 200.0, "b": 200.0, "c": 200.0}))
    # a: its own area; b: 40 % of 200 ha = 80 ha; c: the calibrated raster area
    assert out["forest_ha"].to_dict() == {"a": 70.0, "b": 80.0, "c": 50.0}
    assert out.loc["a", "forest_area_source"] == cal.SOURCE_OFFICIAL_AREA
    assert out.loc["b", "forest_area_source"] == cal.SOURCE_OFFICIAL_COVERAGE
    assert out.loc["c", "forest_area_source"] == cal.SOURCE_CALIBRATED


def test_split_by_type_keeps_totals():
    totals = pd.Series({"a": 100.0, "b": 30.0})
    types = pd.DataFrame({"igbp_ebf": [1.0, 0.0], "igbp_enf": [3.0, 0.0]}, index=["a", "b"])
    out = cal.split_by_type(totals, types)
    # a keeps the raster's 1:3 proportions; b has no forest in the raster and takes the default type
    assert out.loc["a", "igbp_ebf"] == pytest.approx(25.0) and out.loc["a", "igbp_enf"] == pytest.approx(75.0)
    assert out.loc["b", "igbp_mixed"] == pytest.approx(30.0)
    assert out.sum(axis=1).to_numpy() == pytest.approx(totals.to_numpy())


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(1, 1e5), st.floats(1, 1e5), st.floats(1, 1e5)), min_size=3, max_size=8))
def test_calibrated_provinces_always_equal_official(rows):
    classes = pd.DataFrame([(a, b) for a, b, _ in rows], columns=["class_1_ha", "class_8_ha"])
    official = pd.Series([f for _, _, f in rows])
    prov, _ = cal.calibrate(classes, official, classes.iloc[:1], pd.Series({0: 0}))
    positive = prov["modelled_forest_ha"] > 0
    assert np.allclose(prov.loc[positive, "calibrated_forest_ha"], official[positive], rtol=1e-9)
