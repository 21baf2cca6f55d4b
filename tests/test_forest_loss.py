"""Forest loss by year from a loss-year layer (atlas.carbon.forest_loss)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from atlas.carbon.forest_loss import loss_around_designation, loss_by_year


def test_classes_become_years_and_designation_splits_them():
    # region A lost 10 ha in 2009, 20 ha in 2010, 30 ha in 2011 and 0 in 2012 (classes 9-12); class 0 is "no loss"
    table = pd.DataFrame({"pilot_id": ["A"], "class_0_ha": [999.0], "class_9_ha": [10.0], "class_10_ha": [20.0],
                          "class_11_ha": [30.0], "class_12_ha": [np.nan]})
    long = loss_by_year(table, "pilot_id")
    assert long["year"].tolist() == [2009, 2010, 2011, 2012]
    assert long["loss_ha"].tolist() == [10.0, 20.0, 30.0, 0.0]
    # designated in 2010: before = 2009 only (10 ha/yr); from 2010 on: (20 + 30 + 0) / 3 = 16.67 ha/yr, +66.7 %
    out = loss_around_designation(long, pd.Series({"A": 2010}), "pilot_id").set_index("pilot_id")
    assert out.loc["A", "loss_ha_per_yr_before"] == 10.0 and out.loc["A", "years_after"] == 3
    assert out.loc["A", "loss_ha_per_yr_after"] == pytest.approx(50 / 3)
    assert out.loc["A", "change_pct"] == pytest.approx(200 / 3)
