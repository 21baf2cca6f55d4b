#!/usr/bin/env python
"""Benchmark the exact zonal engine (:func:`atlas.zonal.zonal_stats`) on a China-sized raster.

What it measures
----------------
1. **Build** (once, cached under ``--workdir``, default ``/tmp/atlas-bench``, never in the
   repository): a deterministic 25200 × 14800 = 372.96 M-cell ``uint8`` GeoTIFF over China,
   EPSG:4326, 0.0025° cells, origin (73.0°E, 54.0°N), tiled **512 × 512** (``--block 256``
   for 256), DEFLATE (GDAL defaults: zlevel 6, no predictor), no nodata value. Content: a
   smooth pattern (separable sines with periods of about 9°, 1.3° and 0.2°) plus seeded
   uniform integer noise in [-6, 6], clipped to 0..100. Every block is generated from its
   own seed, so the file does not depend on the order of writing; it is written one block
   row at a time (memory stays small). Its size and a SHA-256 of the cell values are
   recorded in ``<name>.json`` next to it.
2. **decode**: read every block of the file once (rasterio, ``block_windows``, one thread);
   the floor for any engine that streams blocks on one core.
3. **ours-serial / ours-parallel**: ``zonal_stats`` on the 34 provinces with a
   ``flux_density`` layer in t CO2/ha/yr (``value_tco2_per_yr`` = Σ coverage · value ·
   geodesic cell area m² / 1e4), ``workers=1`` and ``workers=None`` (all cores).
4. **exactextract** (0.3, the reference): op ``weighted_sum`` (Σ coverage · value · weight)
   with a *weights raster that holds each cell's WGS84-ellipsoid area in m²*, produced on
   the fly by a small Python ``RasterSource`` (same grid as the values, one area per row,
   computed here independently of ``atlas.cellarea`` and checked against ``pyproj.Geod``).
   exactextract's built-in area weighting (``coverage_weight=area_spherical_m2``) uses a
   *sphere* of radius 6378137 m and float32 cell areas, 0.03-0.5 % away from the ellipsoid
   over China, so it is not like for like. It is run as **exactextract-sph**
   (``sum(coverage_weight=area_spherical_m2)``) only to show that gap and exactextract's
   speed without a Python weights source.
5. **rasterstats** (centre-point rule, ``stats="sum"``): an *unweighted* sum of the values of
   cells whose centre lies in the outline, a different quantity: timed for speed only.
6. A table: wall time (min over ``--repeat`` runs), CPU time, both as ratios to the decode
   pass, exactextract time / ours, RSS before the timed call and peak RSS, the
   ``GDAL_CACHEMAX`` each contender ran with, and the largest relative difference of
   per-province sums against exactextract (and the province where it occurs); then
   PASS/FAIL lines for the targets: within 1e-6 relative of exactextract; ours ≤ 1.5 ×
   the decode time; peak RSS < 1 GB.

Every contender (and every repeat) runs in a fresh subprocess
(``python scripts/bench_zonal.py --only NAME``) on the same files, so no phase inherits
another's GDAL block cache or memory. Peak RSS is the child's ``ru_maxrss`` from
``os.wait4``: the whole process, with interpreter, imports, outlines and GDAL's block
cache (GDAL's default is 5 % of RAM; ``--gdal-cachemax`` sets it for every contender).
The files are in the OS page cache (they were just written or read), so the times are
decode plus compute. The header names the engine's source by a hash of ``atlas/zonal.py``,
``coverage.py``, ``cellarea.py`` and ``rasters/layer.py``, and the run warns if those files
change while it runs. The 1-minute load average is recorded before each phase: on a
shared machine, compare the CPU-time columns.

``--hansen-tile`` instead builds a 40000 × 40000 ``uint8`` tile (10° × 10°, 1 arcsec,
like Hansen GFC ``30N_110E``: 110-120°E, 20-30°N; same content generator and tiling) and
runs only the decode pass and our engine (serial and parallel) on the provinces that
intersect the tile, reporting wall time and peak RSS (target < 1 GB).

How to run
----------
::

    python scripts/bench_zonal.py                      # full benchmark (34 provinces)
    python scripts/bench_zonal.py --hansen-tile        # Hansen-tile speed/memory run
    python scripts/bench_zonal.py --repeat 3           # min time of 3 runs per contender
    python scripts/bench_zonal.py --wait-boundaries 1800   # poll for geodata/boundaries.gpkg
    python scripts/bench_zonal.py --regions synthetic  # development without the GeoPackage
    python scripts/bench_zonal.py --only ours-serial --profile   # one contender, cProfiled

The first run builds the raster (China: under 10 s, Hansen tile: about 30 s on 2 cores);
later runs reuse it if its recorded parameters match. The full benchmark takes about a
minute per repeat. Results are also written to ``<workdir>/results[-hansen].json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# --------------------------------------------------------------------------- constants
SEED = 20240611
NOISE = 6  # uniform integer noise in [-NOISE, NOISE]
GENERATOR_VERSION = 2  # bump when the content generator changes (invalidates the cache)

CHINA = dict(name="china_0p0025_u8", tag=0, width=25200, height=14800, west=73.0, north=54.0,
             res=0.0025)
HANSEN = dict(name="hansen_30N_110E_u8", tag=1, width=40000, height=40000, west=110.0, north=30.0,
              res=0.00025)

PHASES = ("decode", "ours-serial", "ours-parallel", "exactextract", "exactextract-sph", "rasterstats")
HANSEN_PHASES = ("decode", "ours-serial", "ours-parallel")
REFERENCE = "exactextract"

TARGET_REL = 1e-6
TARGET_DECODE_RATIO = 1.5
TARGET_RSS_MB = 1024.0

#: The engine's source files: hashed into a fingerprint so a results table names the code it timed.
ENGINE_FILES = ("zonal/coverage.py", "zonal/ellipsoid.py", "zonal/prepare.py", "zonal/accumulate.py",
                "zonal/execute.py", "zonal/engine.py", "rasters/cellarea.py", "rasters/layer.py")

# WGS84
_A = 6378137.0
_F = 1.0 / 298.257223563
_E2 = _F * (2.0 - _F)
_E = np.sqrt(_E2)


# --------------------------------------------------------------------------- helpers
def rss_mb() -> float:
    """Current resident set size of this process in MiB."""
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def peak_rss_self_mb() -> float:
    """Peak RSS of this process so far in MiB (Linux ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def engine_fingerprint() -> str:
    """Short SHA-256 over the engine's source files, plus their latest modification time."""
    import importlib.util

    root = Path(importlib.util.find_spec("atlas").origin).parent
    digest = hashlib.sha256()
    latest = 0.0
    for name in ENGINE_FILES:
        path = root / name
        digest.update(path.read_bytes())
        latest = max(latest, path.stat().st_mtime)
    return f"{digest.hexdigest()[:12]} (newest file {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(latest))} UTC)"


def raster_spec(args) -> dict:
    spec = dict(HANSEN if args.hansen_tile else CHINA)
    spec["block"] = args.block
    spec["seed"] = SEED
    spec["noise"] = NOISE
    spec["generator"] = GENERATOR_VERSION
    spec["compress"] = "deflate"
    spec["south"] = spec["north"] - spec["height"] * spec["res"]
    spec["east"] = spec["west"] + spec["width"] * spec["res"]
    spec["name"] = f"{spec['name']}_b{args.block}"
    return spec


def raster_paths(workdir: Path, spec: dict) -> tuple[Path, Path]:
    return workdir / f"{spec['name']}.tif", workdir / f"{spec['name']}.json"


def ellipsoid_row_areas(north: float, res: float, height: int) -> np.ndarray:
    """Area (m²) of one cell of each row of a north-up geographic grid, WGS84 ellipsoid.

    A cell spanning ``res`` degrees of longitude between latitudes φ1 and φ2 has area
    ``(res / 360) · (Z(φ1) − Z(φ2))`` with the ellipsoidal zone area (equator to φ)
    ``Z(φ) = π b² [ sin φ / (1 − e² sin² φ) + ln((1 + e sin φ) / (1 − e sin φ)) / (2e) ]``.
    """
    edges = north - res * np.arange(height + 1, dtype=np.float64)
    s = np.sin(np.radians(edges))
    b2 = _A * _A * (1.0 - _E2)
    zone = np.pi * b2 * (s / (1.0 - _E2 * s * s) + np.log((1.0 + _E * s) / (1.0 - _E * s)) / (2.0 * _E))
    return (zone[:-1] - zone[1:]) * (res / 360.0)


def check_row_areas(spec: dict, rows: np.ndarray) -> float:
    """Largest relative difference of a few row areas against pyproj.Geod polygon areas."""
    from pyproj import Geod

    geod = Geod(ellps="WGS84")
    worst = 0.0
    for r in np.linspace(0, spec["height"] - 1, 7).astype(int):
        top = spec["north"] - r * spec["res"]
        bot = top - spec["res"]
        x0, x1 = spec["west"], spec["west"] + spec["res"]
        area, _ = geod.polygon_area_perimeter([x0, x1, x1, x0], [bot, bot, top, top])
        worst = max(worst, abs(abs(area) - rows[r]) / rows[r])
    return worst


# --------------------------------------------------------------------------- raster build
def synth_block(spec: dict, r0: int, c0: int, h: int, w: int) -> np.ndarray:
    """Deterministic uint8 values 0..100 for the window (r0, c0, h, w) of ``spec``'s grid."""
    res = spec["res"]
    lo = np.radians(spec["west"] + (c0 + np.arange(w) + 0.5) * res)
    la = np.radians(spec["north"] - (r0 + np.arange(h) + 0.5) * res)
    # periods of about 9°, 1.3° and 0.2°: every 10° tile spans the whole 0..100 range
    smooth = (50.0
              + 15.0 * np.outer(np.sin(40.0 * la), np.cos(37.0 * lo))
              + 30.0 * np.outer(np.cos(270.0 * la), np.sin(290.0 * lo))
              + 10.0 * np.outer(np.sin(1700.0 * la), np.cos(1900.0 * lo)))
    rng = np.random.default_rng([SEED, spec["tag"], r0, c0])
    noise = rng.integers(-NOISE, NOISE + 1, size=(h, w), dtype=np.int16)
    return np.clip(np.rint(smooth).astype(np.int16) + noise, 0, 100).astype(np.uint8)


def ensure_raster(workdir: Path, spec: dict, log=print) -> dict:
    """Build the raster unless a matching one is cached; return its metadata."""
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    tif, meta_path = raster_paths(workdir, spec)
    if tif.is_file() and meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if meta.get("spec") == spec and tif.stat().st_size == meta.get("file_bytes"):
            meta["cached"] = True
            return meta
    workdir.mkdir(parents=True, exist_ok=True)
    log(f"building {tif} ({spec['width']} x {spec['height']} = {spec['width'] * spec['height'] / 1e6:.1f} M cells) ...")
    t0 = time.perf_counter()
    tmp = tif.with_suffix(".tif.part")
    bs = spec["block"]
    W, H = spec["width"], spec["height"]
    digest = hashlib.sha256()
    hist = np.zeros(256, dtype=np.int64)
    profile = dict(driver="GTiff", width=W, height=H, count=1, dtype="uint8", crs="EPSG:4326",
                   transform=from_origin(spec["west"], spec["north"], spec["res"], spec["res"]),
                   tiled=True, blockxsize=bs, blockysize=bs, compress="deflate", BIGTIFF="IF_SAFER",
                   NUM_THREADS="ALL_CPUS")
    with rasterio.Env(GDAL_CACHEMAX=256), rasterio.open(tmp, "w", **profile) as ds:
        for r0 in range(0, H, bs):
            h = min(bs, H - r0)
            strip = np.empty((h, W), dtype=np.uint8)
            for c0 in range(0, W, bs):
                w = min(bs, W - c0)
                block = synth_block(spec, r0, c0, h, w)
                digest.update(block.tobytes())
                strip[:, c0:c0 + w] = block
            hist += np.bincount(strip.ravel(), minlength=256)
            ds.write(strip, 1, window=Window(0, r0, W, h))
    os.replace(tmp, tif)
    build_s = time.perf_counter() - t0
    values = np.arange(256)
    meta = dict(spec=spec, path=str(tif), file_bytes=tif.stat().st_size, cells=W * H,
                content_sha256=digest.hexdigest(), build_s=round(build_s, 2),
                value_min=int(values[hist > 0].min()), value_max=int(values[hist > 0].max()),
                value_mean=float((hist * values).sum() / hist.sum()),
                gdal=rasterio.__gdal_version__)
    meta_path.write_text(json.dumps(meta, indent=1))
    log(f"built in {build_s:.1f} s, {meta['file_bytes'] / 2**20:.1f} MiB")
    meta["cached"] = False
    return meta


# --------------------------------------------------------------------------- regions
def boundaries_path() -> Path:
    from atlas.paths import geodata_dir

    return geodata_dir() / "boundaries.gpkg"


def synthetic_regions():
    """A few deterministic many-vertex outlines over China (development only)."""
    import geopandas as gpd
    import shapely

    rng = np.random.default_rng(SEED)
    specs = [("S01", 88.0, 40.0, 7.0), ("S02", 104.0, 35.0, 5.0), ("S03", 113.0, 30.0, 4.0),
             ("S04", 120.5, 24.0, 1.5), ("S05", 126.0, 47.0, 4.0), ("S06", 110.0, 19.5, 3.5),
             ("S07", 115.0, 27.0, 2.5)]
    geoms = []
    for code, lon, lat, rad in specs:
        t = np.linspace(0, 2 * np.pi, 40000, endpoint=False)
        wob = 1 + 0.15 * np.sin(7 * t) + 0.05 * np.sin(53 * t) + 0.0005 * rng.standard_normal(t.size)
        ring = np.column_stack([lon + rad * wob * np.cos(t), lat + 0.8 * rad * wob * np.sin(t)])
        poly = shapely.make_valid(shapely.Polygon(ring))
        if code == "S02":  # a hole
            poly = poly.difference(shapely.Point(lon, lat).buffer(rad / 3, 256))
        if code == "S04":  # a multipolygon
            poly = shapely.union(poly, shapely.Point(lon + 2.5, lat - 1).buffer(0.4, 512))
        geoms.append(poly)
    return gpd.GeoDataFrame({"adcode": [s[0] for s in specs], "name": [s[0] for s in specs]},
                            geometry=geoms, crs="EPSG:4326")


def load_regions(args, spec: dict):
    """The 34 provinces (or synthetic outlines), restricted to those touching the raster."""
    import shapely

    if args.regions == "synthetic":
        frame = synthetic_regions()
    else:
        from atlas.regions.boundaries import load_provinces

        frame = load_provinces()
        name_col = next((c for c in ("name_zh", "name", "name_en") if c in frame), None)
        frame = frame.assign(name=frame[name_col] if name_col else frame["adcode"].astype(str))
    frame = frame[["adcode", "name", frame.geometry.name]].reset_index(drop=True)
    if args.hansen_tile:
        tile = shapely.box(spec["west"], spec["south"], spec["east"], spec["north"])
        frame = frame[frame.intersects(tile)].reset_index(drop=True)
    return frame


def wait_for_boundaries(seconds: float) -> bool:
    path = boundaries_path()
    deadline = time.time() + seconds
    while True:
        if path.is_file():
            try:
                from atlas.regions.boundaries import load_provinces

                if len(load_provinces()) > 0:
                    return True
            except Exception as exc:  # still being written
                print(f"  boundaries not readable yet ({type(exc).__name__}); waiting", flush=True)
        if time.time() >= deadline:
            return path.is_file()
        print(f"  waiting for {path} ...", flush=True)
        time.sleep(min(60.0, max(1.0, deadline - time.time())))


# --------------------------------------------------------------------------- contenders
def run_decode(tif: Path, regions, spec) -> dict:
    """Decode every block (``wall_s``/``cpu_s``) and, apart, only the blocks the engine reads:
    those the regions' cell bounds touch (``touched_wall_s``/``touched_cpu_s``; found with the
    engine's own preparation, outside the timing)."""
    import rasterio

    from atlas.rasters.layer import RasterSource
    from atlas.zonal import prepare_tile

    tile = prepare_tile(RasterSource(tif), regions.geometry)

    def touched(window) -> bool:
        r0, c0 = window.row_off, window.col_off
        return any(p is not None and p.bounds[0] < r0 + window.height and p.bounds[2] > r0 and
                   p.bounds[1] < c0 + window.width and p.bounds[3] > c0 for p in tile.pieces)

    out = {}
    with rasterio.open(tif) as ds:
        windows = [w for _, w in ds.block_windows(1)]
    for key, chosen in (("", windows), ("touched_", [w for w in windows if touched(w)])):
        t0, c0 = time.perf_counter(), time.process_time()
        n_blocks = n_cells = 0
        total = 0
        with rasterio.open(tif) as ds:
            for window in chosen:
                a = ds.read(1, window=window)
                n_blocks += 1
                n_cells += a.size
                total += int(a[0, 0])  # touch the data
        out.update({f"{key}wall_s": time.perf_counter() - t0, f"{key}cpu_s": time.process_time() - c0,
                    f"{key}n_blocks": n_blocks, f"{key}n_cells": n_cells})
    return out


def run_ours(tif: Path, regions, spec, workers) -> dict:
    from atlas.rasters.layer import LayerSpec, RasterSource
    from atlas.zonal import zonal_stats

    layer = LayerSpec("value", "flux_density", "t CO2/ha/yr")
    t0, c0 = time.perf_counter(), time.process_time()
    table = zonal_stats(regions, RasterSource(tif), layer, id_column="adcode", workers=workers)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    col = "value_tco2_per_yr"
    return dict(wall_s=wall, cpu_s=cpu,
                sums={str(k): float(v) for k, v in zip(table["adcode"], table[col])},
                inside={str(k): float(v) for k, v in zip(table["adcode"], table["inside_raster_share"])},
                status={str(k): str(v) for k, v in zip(table["adcode"], table["status"])})


def make_area_source(spec: dict, wkt: str):
    """An exactextract RasterSource of ellipsoidal cell areas (m²) on the value grid."""
    from exactextract.raster import RasterSource as EESource

    rows = ellipsoid_row_areas(spec["north"], spec["res"], spec["height"])

    class EllipsoidalCellArea(EESource):
        def __init__(self):
            super().__init__()
            self.set_name("cell_area_m2")

        def res(self):
            return (spec["res"], spec["res"])

        def extent(self):
            return (spec["west"], spec["south"], spec["east"], spec["north"])

        def srs_wkt(self):
            return wkt

        def nodata_value(self):
            return None

        def read_window(self, x0, y0, nx, ny):
            return np.repeat(rows[y0:y0 + ny, None], nx, axis=1)

    return EllipsoidalCellArea()


def run_exactextract(tif: Path, regions, spec, args, spherical: bool) -> dict:
    import rasterio
    from exactextract import exact_extract
    from exactextract.raster import RasterioRasterSource

    vec = regions[["adcode", regions.geometry.name]]
    t0, c0 = time.perf_counter(), time.process_time()
    values = RasterioRasterSource(rasterio.open(tif), name="value")
    if spherical:
        op, weights = "s=sum(coverage_weight=area_spherical_m2)", None
    else:
        op, weights = "s=weighted_sum", make_area_source(spec, values.srs_wkt())
    df = exact_extract(values, vec, [op], weights=weights, include_cols=["adcode"], output="pandas",
                       strategy=args.ee_strategy)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return dict(wall_s=wall, cpu_s=cpu, op=op, strategy=args.ee_strategy,
                sums={str(k): float(v) * 1e-4 for k, v in zip(df["adcode"], df["s"])})


def run_rasterstats(tif: Path, regions, spec) -> dict:
    from rasterstats import zonal_stats as rs_zonal_stats

    geoms = list(regions.geometry)
    t0, c0 = time.perf_counter(), time.process_time()
    out = rs_zonal_stats(geoms, str(tif), stats=["sum", "count"], nodata=255, all_touched=False)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return dict(wall_s=wall, cpu_s=cpu,
                raw_sums={str(k): (float(o["sum"]) if o["sum"] is not None else 0.0)
                          for k, o in zip(regions["adcode"], out)},
                counts={str(k): int(o["count"] or 0) for k, o in zip(regions["adcode"], out)})


def child(args) -> int:
    """Run one contender once; write its result JSON."""
    if args.gdal_cachemax is not None:
        os.environ["GDAL_CACHEMAX"] = str(args.gdal_cachemax)
    spec = raster_spec(args)
    tif, _ = raster_paths(Path(args.workdir), spec)
    if not tif.is_file():
        print(f"{tif} missing: run without --only first", file=sys.stderr)
        return 2
    regions = load_regions(args, spec)
    import rasterio  # noqa: F401  (imports outside the timed section)

    if args.only.startswith("ours"):
        import atlas.zonal  # noqa: F401
    elif args.only.startswith("exactextract"):
        import exactextract  # noqa: F401
    elif args.only == "rasterstats":
        import rasterstats  # noqa: F401
    engine = engine_fingerprint()
    base = rss_mb()
    load_before = os.getloadavg()[0]
    runners = {
        "decode": lambda: run_decode(tif, regions, spec),
        "ours-serial": lambda: run_ours(tif, regions, spec, 1),
        "ours-parallel": lambda: run_ours(tif, regions, spec, None),
        "exactextract": lambda: run_exactextract(tif, regions, spec, args, spherical=False),
        "exactextract-sph": lambda: run_exactextract(tif, regions, spec, args, spherical=True),
        "rasterstats": lambda: run_rasterstats(tif, regions, spec),
    }
    if args.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        result = prof.runcall(runners[args.only])
        out = Path(args.workdir) / f"{args.only}{'-hansen' if args.hansen_tile else ''}.prof"
        prof.dump_stats(out)
        print(f"profile written to {out}")
        stats = pstats.Stats(prof)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(30)
    else:
        result = runners[args.only]()
    result.update(phase=args.only, base_rss_mb=base, peak_rss_self_mb=peak_rss_self_mb(),
                  n_regions=len(regions), engine=engine,
                  gdal_cachemax=os.environ.get("GDAL_CACHEMAX", "default"),
                  load_before=load_before, load_after=os.getloadavg()[0])
    if args.result_json:
        Path(args.result_json).write_text(json.dumps(result))
    else:
        brief = {k: v for k, v in result.items() if not isinstance(v, dict)}
        print(json.dumps(brief, indent=1))
    return 0


# --------------------------------------------------------------------------- orchestration
def spawn(args, phase: str) -> dict:
    """Run ``--only phase`` in a fresh interpreter; return its result plus its peak RSS."""
    with tempfile.NamedTemporaryFile(suffix=".json", dir=args.workdir, delete=False) as fh:
        out = Path(fh.name)
    cmd = [sys.executable, os.path.abspath(__file__), "--only", phase, "--workdir", args.workdir,
           "--regions", args.regions, "--block", str(args.block), "--ee-strategy", args.ee_strategy,
           "--result-json", str(out)]
    if args.hansen_tile:
        cmd.append("--hansen-tile")
    env = dict(os.environ)
    if args.gdal_cachemax is not None:
        env["GDAL_CACHEMAX"] = str(args.gdal_cachemax)
    proc = subprocess.Popen(cmd, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        out.unlink(missing_ok=True)
        raise RuntimeError(f"phase {phase} failed with exit code {proc.returncode}")
    result = json.loads(out.read_text())
    out.unlink()
    result["peak_rss_mb"] = usage.ru_maxrss / 1024.0
    return result


def aggregate(runs: list[dict]) -> dict:
    best = min(runs, key=lambda r: r["wall_s"])
    agg = dict(best)
    agg["walls"] = [r["wall_s"] for r in runs]
    agg["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    agg["base_rss_mb"] = min(r["base_rss_mb"] for r in runs)
    agg["cpu_s"] = min(r["cpu_s"] for r in runs)
    agg["load_before"] = max(r["load_before"] for r in runs)
    agg["engines"] = sorted({r["engine"] for r in runs})
    return agg


def rel_diffs(a: dict, b: dict) -> dict:
    out = {}
    for k in b:
        if k in a and np.isfinite(a[k]) and np.isfinite(b[k]) and b[k] != 0:
            out[k] = abs(a[k] - b[k]) / abs(b[k])
        elif k in a:
            out[k] = 0.0 if a[k] == b[k] else float("inf")
    return out


def orchestrate(args) -> int:
    import platform

    import rasterio
    import shapely

    workdir = Path(args.workdir)
    repo = Path(__file__).resolve().parent.parent
    if workdir.resolve().is_relative_to(repo):
        print(f"--workdir {workdir} is inside the repository; choose another", file=sys.stderr)
        return 2
    workdir.mkdir(parents=True, exist_ok=True)
    spec = raster_spec(args)
    if args.regions == "provinces" and not wait_for_boundaries(args.wait_boundaries):
        print(f"{boundaries_path()} is missing (use --wait-boundaries SECONDS or --regions synthetic)",
              file=sys.stderr)
        return 2
    meta = ensure_raster(workdir, spec)
    regions = load_regions(args, spec)
    n_vertices = int(shapely.get_num_coordinates(np.asarray(regions.geometry.values)).sum())
    rows = ellipsoid_row_areas(spec["north"], spec["res"], spec["height"])
    geod_check = check_row_areas(spec, rows)
    phases = HANSEN_PHASES if args.hansen_tile else PHASES
    cachemax = (f"{args.gdal_cachemax} MB" if args.gdal_cachemax is not None
                else os.environ.get("GDAL_CACHEMAX", "default (5% of RAM)"))

    print()
    print("=" * 100)
    title = "Hansen-tile run (10° × 10°, 1 arcsec)" if args.hansen_tile else "China raster benchmark"
    print(f"{title} — atlas.zonal vs decode / exactextract / rasterstats")
    print(f"machine: {os.cpu_count()} cores, python {platform.python_version()}, GDAL {rasterio.__gdal_version__},"
          f" GDAL_CACHEMAX={cachemax} (GDAL's block cache counts in every peak RSS below; the"
          " 'GDAL cache' column is GDAL_CACHEMAX as each contender left it, MB)")
    print(f"raster : {meta['path']}  {spec['width']} x {spec['height']} = {meta['cells'] / 1e6:.2f} M cells uint8, "
          f"{spec['res']}°, origin ({spec['west']}, {spec['north']}), tiles {spec['block']}x{spec['block']}, DEFLATE")
    print(f"         {meta['file_bytes']:,} bytes ({meta['file_bytes'] / 2**20:.1f} MiB), "
          f"values {meta['value_min']}..{meta['value_max']} (mean {meta['value_mean']:.2f}), "
          f"sha256(cells) {meta['content_sha256'][:16]}…, "
          + ("cached" if meta["cached"] else f"built in {meta['build_s']:.1f} s"))
    print(f"regions: {len(regions)} {args.regions} outlines, {n_vertices:,} vertices"
          + (f" (those intersecting {spec['west']:.0f}-{spec['east']:.0f}°E, {spec['south']:.0f}-{spec['north']:.0f}°N)"
             if args.hansen_tile else ""))
    print(f"cell areas: WGS84 ellipsoid, {rows.min():.2f}..{rows.max():.2f} m²/cell; "
          f"vs pyproj.Geod max rel diff {geod_check:.1e}")
    engine = engine_fingerprint()
    print(f"engine : atlas/{{{','.join(ENGINE_FILES)}}} sha256 {engine}")
    print(f"repeat : {args.repeat} fresh subprocess(es) per contender; time = min, RSS = max")
    print("=" * 100, flush=True)

    results = {}
    import importlib.util

    for phase in phases:
        if phase == "rasterstats" and importlib.util.find_spec("rasterstats") is None:
            print("--- rasterstats: not installed, skipped", flush=True)
            continue
        runs = []
        for i in range(args.repeat):
            print(f"--- {phase} (run {i + 1}/{args.repeat})", flush=True)
            runs.append(spawn(args, phase))
            print(f"    {runs[-1]['wall_s']:.2f} s wall, {runs[-1]['cpu_s']:.2f} s cpu, peak RSS "
                  f"{runs[-1]['peak_rss_mb']:.0f} MiB, 1-min load {runs[-1]['load_before']:.1f} -> "
                  f"{runs[-1]['load_after']:.1f}", flush=True)
        results[phase] = aggregate(runs)

    changed = sorted({e for r in results.values() for e in r["engines"]} - {engine})
    if changed:
        print(f"\nWARNING: the engine's source changed during the run ({engine} -> {', '.join(changed)}); "
              "the phases did not all time the same code", flush=True)
    report(args, spec, meta, regions, results)
    out = workdir / f"results{'-hansen' if args.hansen_tile else ''}.json"
    out.write_text(json.dumps(dict(spec=spec, meta=meta, results=results, repeat=args.repeat, engine=engine,
                                   regions=args.regions, n_vertices=n_vertices), indent=1))
    print(f"\nfull results: {out}")
    return 0


def report(args, spec, meta, regions, results) -> None:
    names = dict(zip(regions["adcode"].astype(str), regions["name"].astype(str)))
    decode = results["decode"]["wall_s"]
    ref = results.get(REFERENCE)
    ours_best = min(results[p]["wall_s"] for p in ("ours-serial", "ours-parallel"))
    notes = {
        "decode": f"{results['decode']['n_blocks']} blocks, 1 thread",
        "ours-serial": "workers=1",
        "ours-parallel": f"workers=None ({os.cpu_count()} threads)",
        "exactextract": "weighted_sum, ellipsoidal area weights",
        "exactextract-sph": "sum(coverage_weight=area_spherical_m2)",
        "rasterstats": "centre rule, unweighted sum",
    }
    diffs = {}
    if ref is not None:
        for phase in ("ours-serial", "ours-parallel", "exactextract-sph"):
            if phase in results:
                diffs[phase] = rel_diffs(results[phase]["sums"], ref["sums"])

    print()
    hdr = (f"{'contender':<17} {'wall s':>8} {'cpu s':>8} {'x decode':>9} {'cpu x dec':>9} {'ee/this':>8} "
           f"{'base MiB':>9} {'peak MiB':>9} {'GDAL cache':>10} {'max rel diff vs ee':>19}  {'(region)':<18} note")
    print(hdr)
    print("-" * len(hdr))
    for phase, r in results.items():
        ratio_dec = r["wall_s"] / decode
        ee_ratio = f"{ref['wall_s'] / r['wall_s']:8.2f}" if ref is not None and phase.startswith("ours") else f"{'':>8}"
        if phase in diffs and diffs[phase]:
            k = max(diffs[phase], key=diffs[phase].get)
            d, where = f"{diffs[phase][k]:19.2e}", f"{k} {names.get(k, '')}"[:18]
        elif phase == REFERENCE:
            d, where = f"{'(reference)':>19}", ""
        else:
            d, where = f"{'n/a':>19}", ""
        cpu_dec = r["cpu_s"] / results["decode"]["cpu_s"]
        print(f"{phase:<17} {r['wall_s']:8.2f} {r['cpu_s']:8.2f} {ratio_dec:9.2f} {cpu_dec:9.2f} {ee_ratio} "
              f"{r['base_rss_mb']:9.0f} {r['peak_rss_mb']:9.0f} {str(r.get('gdal_cachemax', '?')):>10} {d}  "
              f"{where:<18} {notes[phase]}")
    loads = [r.get("load_before", 0.0) for r in results.values()]
    print(f"1-min load average before the phases: {min(loads):.1f}..{max(loads):.1f} on {os.cpu_count()} cores"
          + ("  (other processes were competing for the CPU: wall times are inflated, compare cpu s)"
             if max(loads) > (os.cpu_count() or 1) else ""))
    if args.repeat > 1:
        print("all wall times: " + "; ".join(f"{p}: " + ", ".join(f"{w:.2f}" for w in r["walls"])
                                             for p, r in results.items()))

    if "ours-serial" in results and "ours-parallel" in results:
        same = results["ours-serial"]["sums"] == results["ours-parallel"]["sums"]
        print(f"\nours serial vs parallel sums bit-identical: {same}")
    partial = {k: s for k, s in results["ours-serial"]["status"].items() if s != "ok"}
    if partial:
        print("regions not fully inside the raster (both engines count only cells inside it): "
              + ", ".join(f"{k} {names.get(k, '')} ({results['ours-serial']['inside'][k]:.4f} inside, {s})"
                          for k, s in partial.items()))
    if ref is not None:
        top = sorted(diffs["ours-serial"].items(), key=lambda kv: -kv[1])[:5]
        print("largest per-region relative differences, ours vs exactextract: "
              + ", ".join(f"{k} {names.get(k, '')} {v:.2e}" for k, v in top))
        if "exactextract-sph" in diffs:
            dsph = diffs["exactextract-sph"]
            print(f"exactextract spherical vs ellipsoidal weights: {min(dsph.values()):.2e} .. "
                  f"{max(dsph.values()):.2e} relative (why the built-in area weighting is not like for like)")
        total = sum(ref["sums"].values())
        ours_total = sum(results["ours-serial"]["sums"].values())
        print(f"total over regions: exactextract {total:.6e} t CO2/yr, ours {ours_total:.6e}")

    print("\ntargets:")
    lines = []
    if ref is not None:
        worst = max(max(diffs[p].values()) for p in ("ours-serial", "ours-parallel"))
        lines.append((worst <= TARGET_REL,
                      f"exact: max relative difference vs exactextract {worst:.2e} ≤ {TARGET_REL:g}"))
    for phase in ("ours-serial", "ours-parallel"):
        ratio = results[phase]["wall_s"] / decode
        lines.append((ratio <= TARGET_DECODE_RATIO,
                      f"speed: {phase} {results[phase]['wall_s']:.2f} s = {ratio:.2f} × decode "
                      f"({decode:.2f} s) ≤ {TARGET_DECODE_RATIO}   [cpu time: "
                      f"{results[phase]['cpu_s'] / results['decode']['cpu_s']:.2f} × decode]"))
    dec = results["decode"]
    if "touched_cpu_s" in dec:
        for phase in ("ours-serial", "ours-parallel"):
            text = (f"against decoding only the {dec['touched_n_blocks']} blocks the regions touch "
                    f"({dec['touched_wall_s']:.2f} s wall, {dec['touched_cpu_s']:.2f} s cpu): {phase} "
                    f"{results[phase]['wall_s'] / dec['touched_wall_s']:.2f} × wall, "
                    f"{results[phase]['cpu_s'] / dec['touched_cpu_s']:.2f} × cpu")
            lines.append((None, text))
    for phase in ("ours-serial", "ours-parallel"):
        peak = results[phase]["peak_rss_mb"]
        lines.append((peak < TARGET_RSS_MB, f"memory: {phase} peak RSS {peak:.0f} MiB < {TARGET_RSS_MB:.0f} MiB"))
    if ref is not None:
        lines.append((None,
                      f"exactextract / ours (best of serial, parallel) = {ref['wall_s'] / ours_best:.2f}"))
    for ok, text in lines:
        print(f"  {'INFO' if ok is None else 'PASS' if ok else 'FAIL'}  {text}")


# --------------------------------------------------------------------------- main
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", default="/tmp/atlas-bench",
                        help="where the rasters and results are cached (never inside the repo)")
    parser.add_argument("--only", choices=PHASES,
                        help="run one contender once in this process and print/write its result")
    parser.add_argument("--hansen-tile", action="store_true",
                        help="use a 40000x40000 1-arcsec tile (30N_110E) and only our engine")
    parser.add_argument("--repeat", type=int, default=1, help="runs per contender (min time, max RSS)")
    parser.add_argument("--regions", choices=("provinces", "synthetic"), default="provinces",
                        help="the 34 provinces (default) or synthetic outlines for development")
    parser.add_argument("--wait-boundaries", type=float, default=0.0, metavar="SECONDS",
                        help="poll this long for geodata/boundaries.gpkg to appear")
    parser.add_argument("--block", type=int, choices=(256, 512), default=512, help="GeoTIFF tile size")
    parser.add_argument("--ee-strategy", choices=("feature-sequential", "raster-sequential"),
                        default="feature-sequential", help="exactextract processing strategy")
    parser.add_argument("--gdal-cachemax", type=int, metavar="MB",
                        help="GDAL block cache size for the contenders (default: GDAL's, 5%% of RAM)")
    parser.add_argument("--profile", action="store_true", help="with --only: run under cProfile")
    parser.add_argument("--result-json", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.only:
        return child(args)
    return orchestrate(args)


if __name__ == "__main__":
    sys.exit(main())
