"""Write geodata/validation_references.csv: published and derived national figures the atlas'
mainland totals are compared with (validation table of the build).

Two kinds of rows:

- published inventory-based estimates, typed in from the papers (cited in each row);
- an atmospheric view derived here from ../shared/realdata: the NOAA CarbonTracker CT2016
  optimised terrestrial biosphere flux (2001-2015 mean, mol CO2 m-2 s-1, negative = uptake)
  summed exactly over the 31 mainland provinces with the atlas' own zonal engine.

Run from the project root:  python scripts/derive_validation_references.py
The realdata test `tests/test_validation.py::test_carbontracker_reference_matches_realdata`
recomputes the derived row.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from atlas.rasters.units import CO2_PER_C  # noqa: E402

REALDATA = ROOT.parent / "shared" / "realdata"
CT_FILE = REALDATA / "carbontracker_ct2016" / "ct2016_flux1x1_2001-2015mean_china.tif"
OUT = ROOT / "geodata" / "validation_references.csv"
COLUMNS = ["reference_id", "quantity", "region", "period", "value_tg_c_per_yr", "sign_convention", "method",
           "citation", "url", "how_obtained"]
YANG = ("Yang C., Shi Y., Sun W., Zhu J., Ji C., Feng Y., Ma S., Guo Z., Fang J. (2022) Updated estimation of "
        "forest biomass carbon pools in China, 1977-2018. Biogeosciences 19: 2989-2999")
YANG_URL = "https://doi.org/10.5194/bg-19-2989-2022"
PUBLISHED = [
    ("yang2022_2009_2018", "forest biomass carbon sink", "mainland China", "2009-2018", 154.8,
     "positive = sink", "national forest inventories, continuous biomass expansion factor", YANG, YANG_URL,
     "abstract of the paper"),
    ("yang2022_1977_2018", "forest biomass carbon sink", "mainland China", "1977-2018", 88.0,
     "positive = sink", "national forest inventories, continuous biomass expansion factor", YANG, YANG_URL,
     "abstract of the paper"),
    ("yang2022_1977_2008", "forest biomass carbon sink", "mainland China", "1977-2008", 63.3,
     "positive = sink", "national forest inventories, continuous biomass expansion factor", YANG, YANG_URL,
     "abstract of the paper"),
]


def carbontracker_mainland_tg_c() -> float:
    """CT2016 biosphere flux summed over the mainland provinces, Tg C/yr (negative = uptake)."""
    from atlas.regions.boundaries import load_provinces
    from atlas.rasters import open_layer
    from atlas.zonal import zonal_stats

    provinces = load_provinces()
    mainland = provinces[~provinces["adcode"].isin([710000, 810000, 820000])]
    readers, spec = open_layer([CT_FILE], kind="flux_density", units="mol CO2 m-2 s-1")  # band 1: bio_flux_opt
    table = zonal_stats(mainland, readers, spec, id_column="adcode")
    return float(table["value_tco2_per_yr"].sum()) / CO2_PER_C / 1e6  # t CO2 → Tg C


def main() -> None:
    rows = [dict(zip(COLUMNS, row)) for row in PUBLISHED]
    ct = carbontracker_mainland_tg_c()
    rows.append(dict(zip(COLUMNS, (
        "carbontracker_ct2016_bio", "net terrestrial biosphere CO2 flux (all ecosystems, fire excluded)",
        "mainland China (31 provinces)", "2001-2015 mean", round(ct, 1), "negative = uptake by the surface",
        "atmospheric inversion (NOAA CarbonTracker CT2016, bio_flux_opt)",
        "Peters W. et al. (2007) PNAS 104: 18925; CarbonTracker CT2016, NOAA ESRL",
        "http://carbontracker.noaa.gov",
        "derived by scripts/derive_validation_references.py from ../shared/realdata/carbontracker_ct2016"))))
    with open(OUT, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {OUT} ({len(rows)} rows); CarbonTracker mainland biosphere flux {ct:.1f} Tg C/yr")


if __name__ == "__main__":
    main()
