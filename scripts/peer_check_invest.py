#!/usr/bin/env python3
"""Peer check: our forest-loss and NPV arithmetic against InVEST's carbon model.

InVEST (PyPI ``natcap.invest``, model ``natcap.invest.carbon``) is the public anchor for
land-cover-change carbon and its net present value. This script builds a small case,
runs InVEST's ``execute(args)`` on it and computes the same figures with the atlas's own
functions, then prints both side by side.

InVEST is NOT a dependency of the product or its tests. It lives in a throwaway
virtualenv (default ``/tmp/invest-venv``, see ``scripts/README.peer_check.md``) and is run
as a subprocess with that venv's Python; this script itself runs with the project's
Python (it imports ``atlas``).

The case
--------
Two 3×3 land-cover GeoTIFFs with 100 m pixels, baseline 2020 and alternate 2030:
class 1 = forest, class 2 = cleared land. Six pixels are forest in 2020; three of them
are cleared by 2030. The carbon pools table takes our factors for ``tree_cover`` in the
``subtropical`` domain (``geodata/sink_factors.csv``): forest
``c_above = B_W × CF`` and ``c_below = B_W × R × CF`` (Mg C/ha), ``c_soil = c_dead = 0``
(our Tier 1 loss counts biomass only); cleared land holds 0 in every pool.

Runs of InVEST (each with valuation on):

``A``  clearing, on an equal-area grid (EPSG:6933), 8 % discount, 3 % price change;
       the gated comparison.
``B``  the reverse change (regrowth: the 2030 map as baseline, the 2020 map as
       alternate), 0 % price change; compared with :func:`atlas.compensation.pay_for_removals`,
       which has no price growth and pays only positive flows.
``C``  case A with 0 % price change: shows that ``pay_for_removals`` pays nothing for
       a loss where InVEST reports a negative NPV (information, not gated).
``U``  case A on UTM zone 50N (EPSG:32650); informational: shows the pixel-area
       convention difference (not gated).

Our side: the cleared area from :func:`atlas.zonal.zonal_stats` on the transition map
(an :class:`~atlas.rasters.layer.ArraySource`), the loss from
:func:`atlas.sinks.estimate_sinks` (``A_loss × B_W × (1 + R) × CF × 44/12``), the NPV from
:func:`atlas.compensation.annuity_factor` and ``pay_for_removals``.

Conventions reconciled (see the README for details)
--------------------------------------------------
* Units: InVEST works in Mg C; its totals are multiplied by 44/12 (``CO2_PER_C``) and its
  price per Mg C is ours per t CO2 × 44/12.
* Percentages: InVEST's ``discount_rate`` and ``rate_change`` are percentages; ours are
  fractions.
* Price change: InVEST's valuation is
  ``V = Δ/T × Σ_{t=0}^{T-1} p / ((1 + d)^t (1 + c)^t)``: its "annual price change" ``c``
  divides (a positive ``c`` lowers the value of later years). Our ``annuity_factor``
  multiplies by ``(1 + g)^t``, so InVEST's ``c`` is our ``g = 1/(1 + c) − 1``. With
  ``g = +c`` (what the docstring of ``atlas/compensation.py`` suggests) the NPV differs;
  that row is printed as information.
* Spreading: InVEST spreads the stock change evenly over ``T = yr_alt − yr_bas`` years
  and values the first year undiscounted (t = 0), as our annuity factor does.
* Pixel area: InVEST takes the planar pixel area (``|pixel_size_x × pixel_size_y|``),
  our zonal engine the ellipsoidal area (planar / areal scale). They agree on an
  equal-area grid (run A) and differ by the areal scale on UTM (run U).
* Float32: InVEST stores every per-pixel value (pool densities, stocks, change, NPV) as
  float32, so its totals differ from float64 arithmetic by up to ~1e-7 relative. The
  script applies the same float32 storage to our per-hectare figures ("f32 part", computed
  from our inputs only, never from InVEST's outputs) and gates on what remains
  ("unexplained"), which must be ≤ 1e-9 relative. InVEST also rounds its valuation
  constant to float32 when it multiplies the change raster, so its NPV totals resolve the
  discounting only to ~6e-8; the discounting itself is checked to 1e-9 on the
  "valuation constant" rows, which InVEST computes in float64.

Exit status: 0 if every gated row agrees within the tolerance, 1 if not, 2 if InVEST
could not be run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from affine import Affine
from pyproj import CRS

from atlas.rasters.cellarea import areal_scale
from atlas.carbon.compensation import DEFAULT_DISCOUNT_RATE, DEFAULT_PRICE_CNY_PER_TCO2, annuity_factor, pay_for_removals
from atlas.carbon.factors import factor_lookup, read_factors
from atlas.rasters.layer import ArraySource, LayerSpec
from atlas.rasters.units import CO2_PER_C
from atlas.carbon.sinks import estimate_sinks
from atlas.zonal import zonal_stats

TOLERANCE = 1e-9
DEFAULT_INVEST_PYTHON = "/tmp/invest-venv/bin/python"
FOREST, CLEARED = 1, 2
FOREST_TYPE, DOMAIN = "tree_cover", "subtropical"
YEAR_BAS, YEAR_ALT = 2020, 2030
PRICE_CHANGE_PCT = 3.0
PIXEL_M = 100.0
#: 2020 and 2030 land cover: six forest pixels, three of them cleared.
LULC_2020 = np.array([[1, 1, 1],
                      [1, 1, 2],
                      [1, 2, 2]], dtype=np.uint8)
LULC_2030 = np.array([[1, 2, 1],
                      [2, 1, 2],
                      [2, 2, 2]], dtype=np.uint8)
#: Upper-left corners (100 m aligned) near 24.0 N, 117.3 E (Fujian/Guangdong hills).
GRIDS = {"EPSG:6933": (11317800.0, 2975300.0), "EPSG:32650": (530500.0, 2654300.0)}

#: Run inside the InVEST virtualenv: reads a JSON list of runs on stdin, prints one JSON line.
INVEST_RUNNER = textwrap.dedent(r"""
    import csv, json, logging, sys
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    import natcap.invest
    from natcap.invest.carbon import carbon
    out = {"version": natcap.invest.__version__, "runs": {}}
    for name, args in json.load(sys.stdin).items():
        registry = carbon.execute(args)
        with open(registry["summary_csv"], newline="") as f:
            rows = list(csv.reader(f))[1:]
        out["runs"][name] = {
            "totals": {r[3]: float(r[1]) for r in rows},   # keyed by raster file name
            "valuation_constant": carbon._calculate_valuation_constant(
                args["lulc_bas_year"], args["lulc_alt_year"], args["discount_rate"],
                args["rate_change"], args["price_per_metric_ton_of_c"]),
        }
    print(json.dumps(out))
""")


# ------------------------------------------------------------------------------ the case
def pools(factors: pd.DataFrame) -> dict[str, float]:
    """Forest carbon pools (Mg C/ha) from our factor values."""
    f = factor_lookup(factors, FOREST_TYPE, DOMAIN)
    b_w, r, cf = (f[p][1] for p in ("aboveground_biomass_stock_t_dm_per_ha", "root_shoot_ratio",
                                     "carbon_fraction"))
    return {"B_W": b_w, "R": r, "CF": cf, "c_above": b_w * cf, "c_below": b_w * r * cf}


def transform_for(crs: str) -> Affine:
    x0, y0 = GRIDS[crs]
    return Affine(PIXEL_M, 0.0, x0, 0.0, -PIXEL_M, y0)


def write_lulc(path: Path, array: np.ndarray, crs: str) -> None:
    with rasterio.open(path, "w", driver="GTiff", width=array.shape[1], height=array.shape[0], count=1,
                       dtype=array.dtype, crs=CRS.from_user_input(crs).to_wkt(),
                       transform=transform_for(crs)) as dst:
        dst.write(array, 1)


def invest_args(work: Path, name: str, crs: str, bas: np.ndarray, alt: np.ndarray, pool_csv: Path,
                price_c: float, rate: float, change_pct: float, years: int) -> dict:
    d = work / name
    d.mkdir(parents=True)
    write_lulc(d / "lulc_bas.tif", bas, crs)
    write_lulc(d / "lulc_alt.tif", alt, crs)
    return {"workspace_dir": str(d / "workspace"), "results_suffix": "", "n_workers": -1,
            "lulc_bas_path": str(d / "lulc_bas.tif"), "lulc_alt_path": str(d / "lulc_alt.tif"),
            "carbon_pools_path": str(pool_csv), "calc_sequestration": True, "do_valuation": True,
            "lulc_bas_year": YEAR_BAS, "lulc_alt_year": YEAR_BAS + years,
            "price_per_metric_ton_of_c": price_c,
            "discount_rate": rate * 100.0,            # InVEST: percent
            "rate_change": change_pct}                # InVEST: percent


def run_invest(python: str, runs: dict) -> dict:
    proc = subprocess.run([python, "-c", INVEST_RUNNER], input=json.dumps(runs), capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"InVEST run failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -------------------------------------------------------------------------------- our side
def zonal_areas(crs: str, bas: np.ndarray, alt: np.ndarray) -> dict[str, float]:
    """Areas (ha) of the transitions, by our zonal engine over the whole grid."""
    code = (10 * bas.astype(np.int16) + alt).astype(np.int16)   # 11 kept, 12 cleared, 21 regrown, 22 open
    src = ArraySource(code, transform_for(crs), crs, label=f"transitions {crs}")
    left, bottom, right, top = src.grid.bounds
    regions = gpd.GeoDataFrame({"case": ["case"]}, geometry=[shapely.box(left, bottom, right, top)], crs=crs)
    spec = LayerSpec("transition", "classes", "class", groups={"forest_bas": (11, 12), "forest_alt": (11, 21),
                                                               "cleared": (12,)})
    row = zonal_stats(regions, src, spec, id_column="case", workers=1).iloc[0]
    return {k: float(row[f"{k}_ha"]) for k in ("forest_bas", "forest_alt", "cleared")}


def our_losses(factors: pd.DataFrame, loss_ha_per_yr: dict[str, float]) -> pd.Series:
    """Our gross loss (t CO2/yr, central) for each named loss area (ha/yr)."""
    ids = list(loss_ha_per_yr)
    areas = pd.DataFrame({FOREST_TYPE: 0.0}, index=ids)        # no standing forest: losses only
    out = estimate_sinks(areas, pd.Series(DOMAIN, index=ids), factors, loss_ha=pd.Series(loss_ha_per_yr),
                         loss_type=FOREST_TYPE, draws=100)
    return out["gross_loss_tco2_per_yr_central"]


def f32(x: float) -> float:
    return float(np.float32(x))


def stored_density(p: dict[str, float]) -> float:
    """Forest stock (Mg C/ha) as InVEST stores it: each pool and the sum in float32."""
    return float(np.float32(p["c_above"]) + np.float32(p["c_below"]) + np.float32(0.0) + np.float32(0.0))


def stored_npv_factor(change_per_ha_c: float, constant: float) -> float:
    """NPV per ha as InVEST stores it: float32 change × float32 constant, in float32."""
    return float(np.float32(change_per_ha_c) * np.float32(constant))


# ---------------------------------------------------------------------------- comparison
class Table:
    def __init__(self):
        self.rows = []

    def add(self, label: str, unit: str, invest: float, ours: float, ours_stored: float | None = None,
            gated: bool = True, note: str = ""):
        ours_stored = ours if ours_stored is None else ours_stored
        scale = abs(ours) if ours != 0 else 1.0
        rel = (invest - ours) / scale
        f32_part = (ours_stored - ours) / scale
        unexplained = (invest - ours_stored) / scale
        ok = abs(unexplained) <= TOLERANCE
        status = ("ok" if ok else "FAIL") if gated else "info"
        self.rows.append(dict(label=label, unit=unit, invest=invest, ours=ours, rel=rel, f32=f32_part,
                              unexplained=unexplained, status=status, note=note))

    @property
    def failed(self) -> bool:
        return any(r["status"] == "FAIL" for r in self.rows)

    def print(self, title: str) -> None:
        print(f"\n{title}")
        head = (f"  {'quantity':<46} {'unit':<10} {'InVEST':>20} {'ours':>20} {'rel. diff':>10} "
                f"{'f32 part':>10} {'unexplained':>11}  status")
        print(head)
        print("  " + "-" * (len(head) - 2))
        for r in self.rows:
            print(f"  {r['label']:<46} {r['unit']:<10} {r['invest']:>20.10f} {r['ours']:>20.10f} "
                  f"{r['rel']:>10.2e} {r['f32']:>10.2e} {r['unexplained']:>11.2e}  {r['status']}")
            if r["note"]:
                for line in textwrap.wrap(r["note"], 100):
                    print(f"      {line}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--invest-python", default=os.environ.get("INVEST_PYTHON", DEFAULT_INVEST_PYTHON),
                    help="Python of the virtualenv holding natcap.invest (default: $INVEST_PYTHON or "
                         f"{DEFAULT_INVEST_PYTHON})")
    ap.add_argument("--price", type=float, default=DEFAULT_PRICE_CNY_PER_TCO2, help="CNY per t CO2")
    ap.add_argument("--rate", type=float, default=DEFAULT_DISCOUNT_RATE, help="discount rate, fraction")
    ap.add_argument("--price-change", type=float, default=PRICE_CHANGE_PCT,
                    help="InVEST's annual price change in percent for run A (default 3)")
    ap.add_argument("--years", type=int, default=YEAR_ALT - YEAR_BAS, help="yr_alt − yr_bas (default 10)")
    ap.add_argument("--keep", type=Path, help="write the case and InVEST's workspaces here and keep them")
    a = ap.parse_args(argv)

    if not Path(a.invest_python).exists():
        print(f"No InVEST Python at {a.invest_python}: set up the venv (scripts/README.peer_check.md) "
              "or pass --invest-python", file=sys.stderr)
        return 2

    factors = read_factors()
    p = pools(factors)
    T = a.years
    price_co2 = a.price
    price_c = price_co2 * CO2_PER_C                      # CNY per Mg C
    c_pct = a.price_change
    g = 1.0 / (1.0 + c_pct / 100.0) - 1.0                # InVEST's c as our price growth

    tmp = None
    if a.keep:
        a.keep.mkdir(parents=True, exist_ok=True)
        work = a.keep
    else:
        tmp = tempfile.TemporaryDirectory(prefix="peer_check_invest_")
        work = Path(tmp.name)
    pool_csv = work / "carbon_pools.csv"
    pd.DataFrame({"lucode": [FOREST, CLEARED], "LULC_name": ["forest", "cleared"],
                  "c_above": [p["c_above"], 0.0], "c_below": [p["c_below"], 0.0],
                  "c_soil": [0.0, 0.0], "c_dead": [0.0, 0.0]}).to_csv(pool_csv, index=False, float_format="%.17g")
    runs = {
        "A": invest_args(work, "A", "EPSG:6933", LULC_2020, LULC_2030, pool_csv, price_c, a.rate, c_pct, T),
        "B": invest_args(work, "B", "EPSG:6933", LULC_2030, LULC_2020, pool_csv, price_c, a.rate, 0.0, T),
        "C": invest_args(work, "C", "EPSG:6933", LULC_2020, LULC_2030, pool_csv, price_c, a.rate, 0.0, T),
        "U": invest_args(work, "U", "EPSG:32650", LULC_2020, LULC_2030, pool_csv, price_c, a.rate, c_pct, T),
    }
    try:
        inv = run_invest(a.invest_python, runs)
    except (RuntimeError, json.JSONDecodeError, IndexError) as exc:
        print(exc, file=sys.stderr)
        if tmp is not None:
            tmp.cleanup()
        return 2

    def tot(run: str, key: str) -> float:
        return inv["runs"][run]["totals"][key]

    print(f"Peer check: atlas loss and NPV arithmetic vs InVEST {inv['version']} carbon model "
          f"(natcap.invest.carbon)")
    print(f"Factors ({FOREST_TYPE}, {DOMAIN}): B_W = {p['B_W']:g} t d.m./ha, R = {p['R']:g}, CF = {p['CF']:g} → "
          f"c_above = {p['c_above']:.10g}, c_below = {p['c_below']:.10g} Mg C/ha; soil, dead = 0")
    print(f"Case: 3×3 pixels of {PIXEL_M:g} m; forest {int((LULC_2020 == FOREST).sum())} px in {YEAR_BAS}, "
          f"{int(((LULC_2020 == FOREST) & (LULC_2030 == CLEARED)).sum())} px cleared by {YEAR_BAS + T}; "
          f"T = {T} years")
    print(f"Valuation: price {price_co2:g} CNY/t CO2 = {price_c:.10g} CNY/Mg C; discount {a.rate:g} "
          f"(InVEST {a.rate * 100:g} %); InVEST price change {c_pct:g} % ≙ our price_growth g = 1/(1+c) − 1 = "
          f"{g:.12g}")

    # ---------------------------------------------------------------- run A (gated)
    area = zonal_areas("EPSG:6933", LULC_2020, LULC_2030)
    loss = our_losses(factors, {"cleared": area["cleared"] / T, "stock_bas": area["forest_bas"],
                                "stock_alt": area["forest_alt"]})
    d64 = p["c_above"] + p["c_below"]
    s_density = stored_density(p) / d64                  # float32 storage of the stock density
    af = annuity_factor(T, a.rate, g)
    k_ours = price_c / T * af                            # CNY per Mg C of total change
    k_inv = inv["runs"]["A"]["valuation_constant"]
    net_per_yr = -float(loss["cleared"])                 # t CO2/yr (a source)
    npv_ours = net_per_yr * price_co2 * af
    s_npv = stored_npv_factor(-f32(stored_density(p)), k_ours) / (-d64 * k_ours)
    px_ha = PIXEL_M * PIXEL_M / 1e4                      # InVEST: planar pixel area in ha
    n_cleared = int(((LULC_2020 == FOREST) & (LULC_2030 == CLEARED)).sum())

    t = Table()
    t.add("cleared area (InVEST: pixels × planar area)", "ha", n_cleared * px_ha, area["cleared"],
          note="ours: zonal_stats class area of the 2020→2030 transition map on the equal-area grid")
    t.add("baseline stock (our loss if all were cleared)", "t CO2", tot("A", "c_storage_bas.tif") * CO2_PER_C,
          float(loss["stock_bas"]), float(loss["stock_bas"]) * s_density)
    t.add("alternate stock", "t CO2", tot("A", "c_storage_alt.tif") * CO2_PER_C,
          float(loss["stock_alt"]), float(loss["stock_alt"]) * s_density)
    t.add("change 2020→2030 (ours: −loss/yr × T)", "t CO2", tot("A", "c_change_bas_alt.tif") * CO2_PER_C,
          net_per_yr * T, net_per_yr * T * s_density)
    t.add("valuation constant price/T × annuity", "CNY/Mg C", k_inv, k_ours,
          note=f"InVEST _calculate_valuation_constant (float64) vs ours price_C / T × annuity_factor(T, r, g); "
               f"annuity factor = {af:.12g}")
    t.add(f"NPV, {c_pct:g} % price change", "CNY", tot("A", "npv_alt.tif"), npv_ours, npv_ours * s_npv,
          note="ours: net sink (t CO2/yr) × price (CNY/t CO2) × annuity_factor(T, r, g = 1/(1+c) − 1)")
    npv_plus = net_per_yr * price_co2 * annuity_factor(T, a.rate, c_pct / 100.0)
    t.add("NPV with g = +c (compensation.py docstring)", "CNY", tot("A", "npv_alt.tif"), npv_plus, gated=False,
          note="InVEST's price change divides ((1+d)(1+c))^t; taking g = +c multiplies by (1+c)^t instead, "
               "so the two conventions differ unless the price change is 0")
    t.print(f"Run A: clearing on EPSG:6933 (equal area), discount {a.rate * 100:g} %, price change {c_pct:g} % "
            f"[gated, tolerance {TOLERANCE:g} relative on 'unexplained']")

    # ---------------------------------------------------------------- run B (gated)
    k_inv0 = inv["runs"]["B"]["valuation_constant"]
    paid = pay_for_removals(pd.Series({"regrowth": -net_per_yr, "clearing": net_per_yr}), price=price_co2,
                            years=T, rate=a.rate)
    k_ours0 = price_c / T * annuity_factor(T, a.rate)
    s_npv0 = stored_npv_factor(f32(stored_density(p)), k_ours0) / (d64 * k_ours0)
    npv_b = float(paid.loc["regrowth", "payment_npv_cny"])
    tb = Table()
    tb.add("change 2030→2020 map (regrowth)", "t CO2", tot("B", "c_change_bas_alt.tif") * CO2_PER_C,
           -net_per_yr * T, -net_per_yr * T * s_density)
    tb.add("valuation constant, 0 % price change", "CNY/Mg C", k_inv0, k_ours0)
    tb.add("NPV: pay_for_removals payment_npv_cny", "CNY", tot("B", "npv_alt.tif"), npv_b, npv_b * s_npv0,
           note="ours: pay_for_removals(net sink = stock change / T, price, years = T, rate); it has no price "
                "growth, so InVEST runs with 0 % price change")
    tb.add("NPV of the clearing (run C): pay_for_removals", "CNY", tot("C", "npv_alt.tif"),
           float(paid.loc["clearing", "payment_npv_cny"]), gated=False,
           note="run C = run A's clearing at 0 % price change. InVEST values a loss as a negative NPV; "
                "pay_for_removals pays nothing for a net source (0) by design, so a clearing is not comparable "
                "through that ledger")
    tb.print("Run B: reverse change (regrowth) on EPSG:6933, price change 0 %, vs pay_for_removals [gated]")

    # ---------------------------------------------------------------- run U (information)
    area_u = zonal_areas("EPSG:32650", LULC_2020, LULC_2030)
    loss_u = our_losses(factors, {"cleared": area_u["cleared"] / T})
    x0, y0 = GRIDS["EPSG:32650"]
    xs = x0 + PIXEL_M * (np.arange(3) + 0.5)
    ys = y0 - PIXEL_M * (np.arange(3) + 0.5)
    xx, yy = np.meshgrid(xs, ys)
    scale = areal_scale(CRS.from_user_input("EPSG:32650"), xx.ravel(), yy.ravel())
    tu = Table()
    tu.add("cleared area (ours: ellipsoidal)", "ha", n_cleared * px_ha, area_u["cleared"], gated=False)
    tu.add("change (ours: −loss/yr × T)", "t CO2", tot("U", "c_change_bas_alt.tif") * CO2_PER_C,
           -float(loss_u["cleared"]) * T, gated=False)
    tu.add("InVEST: change on UTM vs on equal-area grid", "t CO2", tot("U", "c_change_bas_alt.tif") * CO2_PER_C,
           tot("A", "c_change_bas_alt.tif") * CO2_PER_C, gated=False,
           note="InVEST's result does not depend on the CRS: it takes the planar pixel area")
    tu.print(f"Run U: clearing on EPSG:32650 (UTM 50N) [information: UTM areal scale here "
             f"{scale.mean():.8f}, so our ellipsoidal pixel area is planar × {1 / scale.mean():.8f}]")

    failed = t.failed or tb.failed
    print(f"\nrel. diff = (InVEST − ours) / |ours|; f32 part = the share of it that InVEST's float32 storage of "
          f"per-pixel values explains;\nunexplained = rel. diff − f32 part, gated at {TOLERANCE:g}.")
    print("RESULT:", "FAIL: some gated rows differ by more than the tolerance" if failed else
          f"ok: every gated row agrees within {TOLERANCE:g} relative")
    if tmp is not None:
        tmp.cleanup()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
