#!/usr/bin/env python
"""Scale benchmark: ``atlas run`` over a mosaic of Hansen-sized tiles on dask clusters.

What it measures
----------------
1. **Tiles** (generated once, cached under ``--workdir``, default ``/tmp/atlas-bench-scale``,
   never in the repository): ``--tiles N`` (default 4) Hansen GFC ``treecover2000`` tiles
   with the publisher's names and georeferencing, ``Hansen_GFC-2024-v1.12_treecover2000_30N_110E.tif``
   etc.: EPSG:4326, 0.00025° cells, 40000 × 40000 ``uint8`` percent canopy cover, upper-left
   corner as named. The first four form the 2 × 2 block 100-120°E, 10-30°N (38 pilots in
   Yunnan, Guizhou, Guangxi, Guangdong, Hainan, Jiangxi, Hunan, Fujian ...); more tiles
   extend it north and east. Written as GeoTIFF tiled 512 × 512, DEFLATE (GDAL defaults: level 6, no
   predictor). Content: a forest-potential field of value noise with lattices of 2°, 0.4°,
   0.08° and 0.016°, thresholded into forest patches (cover 60-100 %, texture at 0.004°),
   sparse trees around them and exact zeros elsewhere, plus ±2 noise on 5 % of the treed
   cells; per tile 7-16 % zeros, 48-78 % of cells ≥ 30 %, DEFLATE ratio about 0.28
   (0.42-0.47 GB a tile; real forested Hansen tiles are of that order). Values depend
   only on global cell indices and a fixed seed, so tiles join seamlessly. Tiles are
   written a strip of 512 rows at a time (bounded memory), in parallel subprocesses, and
   reused when their recorded parameters and size match.
2. **Config**: ``<workdir>/bench-wN.toml`` for ``atlas run``: the registry pilots whose
   outlines meet the mosaic (``[regions] ids``), ``[forest] product = "hansen"`` with the
   tiles, threshold 30, ``[outputs] formats = ["csv"]``, ``[site] publish = false``,
   ``[compute] cluster_workers = N`` (one file per worker count; otherwise identical).
3. **Our runs**: ``python -m atlas.cli -v run CONFIG --out DIR`` in a subprocess, each in a
   fresh output folder (nothing reused, tiles hashed again): on a LocalCluster of
   ``--workers`` processes (default 2), of 1 process, and with ``--scheduler threads``.
   Measured: wall time of the whole run; the ``zonal_forest`` step (from the ``regions``
   progress line to the ``zonal_forest`` one; it includes hashing the tiles, starting the
   cluster, preparing the outlines and running the tasks) and its task phase (from the
   engine's "N tasks" log line); throughput (mosaic cells / step time, tiles per minute);
   CPU time (user + system) and minor page faults of every process of the run (from
   ``/proc``, counted since the run started); and memory: every ``--sample`` seconds (0.2) the
   RSS and the kernel's peak-RSS mark (``VmHWM``) of the run process and every descendant
   (LocalCluster workers), reported as the peak per process.
4. **Baselines and peer** (fresh subprocesses, peak RSS from ``wait4``, ``GDAL_CACHEMAX``
   128 MB like the atlas sets for itself): *decode-all* reads every 512 × 512 block of the
   tiles once (one thread); *decode-touched* reads only the blocks that meet a pilot
   outline (one process, and ``--workers`` processes splitting the blocks) - the floor for
   any engine that must decode those cells; *exactextract* (0.3) over a VRT of the tiles,
   values = ``treecover2000 >= 30`` (a thin wrapper over its rasterio source), weights =
   WGS84-ellipsoid cell areas (``bench_zonal.make_area_source``), op ``weighted_sum``: the
   forest area at ≥ 30 % cover per pilot, the quantity the atlas reports as
   ``treecover2000_ge30percent_ha``. Our per-pilot figures are compared with it (largest
   relative difference) and across our runs (bit-identical or not).
5. **Multi-machine**: a scheduler and ``--workers`` worker processes started with the
   ``dask scheduler`` / ``dask worker`` CLIs, each in its own network namespace joined by
   veth pairs to a bridge (emulated hosts, links limited to ``--link``, default 1gbit); then
   ``atlas run CONFIG --scheduler tcp://…:8786`` from the host namespace, measured like 3 (the
   CPU time of the long-lived scheduler and workers counts from the run's start). Links are
   rate-limited with a token bucket (``tc tbf``) because ``netem`` is often not built into
   the kernel; there is no added latency. Needs root and ``ip``; otherwise the processes
   run on loopback and the table says so. The namespaces share the file system, so the
   workers open the tiles by the same path as the client; on real separate machines the
   tiles must be reachable at the same path on every worker and on the client (which hashes
   them): a shared file system such as NFS, or a bucket mounted with a FUSE driver. GDAL
   virtual paths (``/vsis3/...``, ``/vsicurl/...``) would suit the workers, but ``atlas run``
   rejects them today: the config loader requires existing local files and the runner
   hashes every file with ``open()``.
   The workers also need the same version of the atlas package installed (they unpickle its
   objects and run its code).
6. **Scatter size**: the pickled size of the prepared tiles (outline pieces on each tile
   grid) that ``atlas.zonal.execute`` scatters to the workers (each tile to one), and the time to prepare them.

Everything is printed as Markdown tables and saved to ``<workdir>/results.md`` / ``results.json``.
The machine is shared: compare ratios and CPU times more than raw seconds (the 1-minute
load average is recorded before each phase).

How to run
----------
::

    python3 scripts/bench_scale.py                       # 4 tiles, 2 workers, everything
    python3 scripts/bench_scale.py --tiles 4 --workers 2 --workdir /tmp/atlas-bench-scale
    python3 scripts/bench_scale.py --skip-peer --skip-multi   # only our runs and decode
    python3 scripts/bench_scale.py --repeat 2             # best of 2 per atlas run
    python3 scripts/bench_scale.py --tile-size 4000       # smoke test: 4000² tiles (0.0025°)

The first run writes the tiles (about 0.45 GB each, a few minutes on 2 cores); later runs
reuse them. Free the space with ``rm -r /tmp/atlas-bench-scale``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

PRODUCT = "Hansen_GFC-2024-v1.12"
LAYER = "treecover2000"
TILE_DEG = 10
FULL_SIZE = 40000
BLOCK = 512
THRESHOLD = 30
SEED = 20240612
GENERATOR_VERSION = 1
#: (top latitude, left longitude) of the tiles, in the order --tiles takes them.
TILE_ORDER = ((30, 100), (30, 110), (20, 100), (20, 110), (40, 100), (40, 110), (30, 120), (40, 120))
#: value-noise lattices (degrees) and weights of the forest-potential field
OCTAVES = ((2.0, 0.40), (0.4, 0.30), (0.08, 0.20), (0.016, 0.10))
TEXTURE_DEG = 0.004
GEN_COLUMNS = 8 * BLOCK  # columns generated at once (a 512 × 4096 chunk)
GDAL_CACHE_MB = "128"
NETNS_PREFIX = "atlbs"
SUBNET = "10.87.0"


# --------------------------------------------------------------------------- tiles
@dataclass(frozen=True)
class Tile:
    """One Hansen tile of the mosaic."""

    top: int
    left: int
    size: int

    @property
    def res(self) -> float:
        return TILE_DEG / self.size

    @property
    def name(self) -> str:
        ns, ew = ("N" if self.top >= 0 else "S"), ("E" if self.left >= 0 else "W")
        return f"{PRODUCT}_{LAYER}_{abs(self.top):02d}{ns}_{abs(self.left):03d}{ew}.tif"

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return self.left, self.top - TILE_DEG, self.left + TILE_DEG, self.top

    @property
    def origin(self) -> tuple[int, int]:
        """Global (row, column) of the tile's first cell on a grid starting at 90°N, 180°W."""
        return round((90 - self.top) / self.res), round((self.left + 180) / self.res)

    def spec(self) -> dict:
        return {"name": self.name, "top": self.top, "left": self.left, "size": self.size, "res": self.res,
                "block": BLOCK, "compress": "deflate", "seed": SEED, "generator": GENERATOR_VERSION}


def select_tiles(n: int, size: int) -> list[Tile]:
    return [Tile(top, left, size) for top, left in TILE_ORDER[:n]]


def mosaic_bounds(tiles: list[Tile]) -> tuple[float, float, float, float]:
    b = np.array([t.bounds for t in tiles])
    return float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())


def tile_dir(workdir: Path) -> Path:
    return workdir / "tiles"


def _hash_uniform(i: np.ndarray, j: np.ndarray, salt: int) -> np.ndarray:
    """Deterministic uniform [0, 1) values for integer lattice nodes (splitmix-style mixing)."""
    with np.errstate(over="ignore"):
        x = i.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        x ^= j.astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F)
        x ^= np.uint64((SEED * 1_000_003 + salt * 0x165667B1) & 0xFFFFFFFFFFFFFFFF)
        for mult in (0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53):
            x ^= x >> np.uint64(33)
            x *= np.uint64(mult)
        x ^= x >> np.uint64(33)
    return ((x >> np.uint64(40)).astype(np.float32) / np.float32(1 << 24))


def _interp_weights(idx: np.ndarray, spacing: float) -> tuple[np.ndarray, int]:
    """Smoothstep weights (len(idx), nodes) from lattice nodes k0.. to cell centres ``idx``."""
    pos = (idx + 0.5) / spacing
    base = np.floor(pos).astype(np.int64)
    k0 = int(base[0])
    f = (pos - base).astype(np.float32)
    f = f * f * (3 - 2 * f)
    weights = np.zeros((idx.size, int(base[-1]) - k0 + 2), dtype=np.float32)
    rows = np.arange(idx.size)
    weights[rows, base - k0] = 1 - f
    weights[rows, base - k0 + 1] = f
    return weights, k0


def value_noise(rows: np.ndarray, cols: np.ndarray, spacing: float, salt: int) -> np.ndarray:
    """Bilinear (smoothstep) value noise at global cell indices: separable, so two matmuls."""
    wr, r0 = _interp_weights(rows, spacing)
    wc, c0 = _interp_weights(cols, spacing)
    ii, jj = np.meshgrid(np.arange(r0, r0 + wr.shape[1]), np.arange(c0, c0 + wc.shape[1]), indexing="ij")
    return wr @ _hash_uniform(ii, jj, salt) @ wc.T


def treecover_chunk(row0: int, col0: int, h: int, w: int, res: float) -> np.ndarray:
    """Percent canopy cover (uint8 0..100) of the global cells [row0, row0+h) × [col0, col0+w)."""
    rows, cols = np.arange(row0, row0 + h), np.arange(col0, col0 + w)
    potential = sum(weight * value_noise(rows, cols, max(2.0, deg / res), k)
                    for k, (deg, weight) in enumerate(OCTAVES, start=1))
    texture = value_noise(rows, cols, max(2.0, TEXTURE_DEG / res), 9)
    forest = np.clip((potential - 0.47) / 0.06, 0, 1)
    sparse = np.clip((potential - 0.36) / 0.11, 0, 1)
    cover = forest * np.minimum(100, 60 + 50 * texture) + (1 - forest) * sparse * (40 * texture)
    draw = np.random.default_rng([SEED, row0, col0]).integers(0, 100, size=(h, w), dtype=np.int16)
    values = np.rint(cover).astype(np.int16)
    values += np.where((values > 0) & (draw < 5), draw - 2, 0).astype(np.int16)
    return np.clip(values, 0, 100).astype(np.uint8)


def generate_tile(tile: Tile, path: Path) -> dict:
    """Write one tile strip by strip (512 rows); return its metadata."""
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    t0 = time.perf_counter()
    part = path.with_suffix(".tif.part")
    g_row, g_col = tile.origin
    hist = np.zeros(256, dtype=np.int64)
    profile = {"driver": "GTiff", "width": tile.size, "height": tile.size, "count": 1, "dtype": "uint8",
               "crs": "EPSG:4326", "transform": from_origin(tile.left, tile.top, tile.res, tile.res), "tiled": True,
               "blockxsize": BLOCK, "blockysize": BLOCK, "compress": "deflate", "BIGTIFF": "IF_SAFER",
               "NUM_THREADS": "ALL_CPUS"}
    with rasterio.Env(GDAL_CACHEMAX=256), rasterio.open(part, "w", **profile) as ds:
        for r0 in range(0, tile.size, BLOCK):
            h = min(BLOCK, tile.size - r0)
            strip = np.empty((h, tile.size), dtype=np.uint8)
            for c0 in range(0, tile.size, GEN_COLUMNS):
                w = min(GEN_COLUMNS, tile.size - c0)
                strip[:, c0:c0 + w] = treecover_chunk(g_row + r0, g_col + c0, h, w, tile.res)
            hist += np.bincount(strip.ravel(), minlength=256)
            ds.write(strip, 1, window=Window(0, r0, tile.size, h))
    os.replace(part, path)
    cells = hist.sum()
    return {"spec": tile.spec(), "file_bytes": path.stat().st_size, "cells": int(cells),
            "build_s": round(time.perf_counter() - t0, 1),
            "mean": float((hist * np.arange(256)).sum() / cells), "share_zero": float(hist[0] / cells),
            "share_ge30": float(hist[THRESHOLD:].sum() / cells), "gdal": rasterio.__gdal_version__}


def cached_meta(workdir: Path, tile: Tile) -> dict | None:
    path = tile_dir(workdir) / tile.name
    meta_path = path.with_suffix(".json")
    if not (path.is_file() and meta_path.is_file()):
        return None
    meta = json.loads(meta_path.read_text())
    ok = meta.get("spec") == tile.spec() and meta.get("file_bytes") == path.stat().st_size
    return meta if ok else None


def ensure_tiles(workdir: Path, tiles: list[Tile], jobs: int) -> dict[str, dict]:
    """Generate missing tiles (``jobs`` subprocesses at a time); return metadata by name."""
    tile_dir(workdir).mkdir(parents=True, exist_ok=True)
    todo = [t for t in tiles if cached_meta(workdir, t) is None]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    running: list[tuple[Tile, subprocess.Popen]] = []
    t0 = time.perf_counter()
    while todo or running:
        while todo and len(running) < jobs:
            tile = todo.pop(0)
            log(f"  generating {tile.name} ({tile.size}² cells) ...")
            cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "generate", "--tile-name", tile.name,
                   "--workdir", str(workdir), "--tile-size", str(tile.size), "--tiles", str(len(TILE_ORDER))]
            running.append((tile, subprocess.Popen(cmd, env=env)))
        time.sleep(1.0)
        for tile, proc in list(running):
            if proc.poll() is not None:
                running.remove((tile, proc))
                if proc.returncode != 0:
                    raise RuntimeError(f"generating {tile.name} failed (exit {proc.returncode})")
                log(f"  {tile.name} written ({time.perf_counter() - t0:.0f} s since start)")
    return {t.name: dict(cached_meta(workdir, t), path=str(tile_dir(workdir) / t.name)) for t in tiles}


def write_vrt(workdir: Path, tiles: list[Tile]) -> Path:
    """A VRT mosaic of the tiles (for exactextract); written by hand, no GDAL CLI needed."""
    from rasterio.crs import CRS

    west, south, east, north = mosaic_bounds(tiles)
    res = tiles[0].res
    width, height = round((east - west) / res), round((north - south) / res)
    sources = []
    for t in tiles:
        x_off, y_off = round((t.left - west) / res), round((north - t.top) / res)
        sources.append(
            f'    <SimpleSource>\n      <SourceFilename relativeToVRT="1">tiles/{escape(t.name)}</SourceFilename>\n'
            f'      <SourceBand>1</SourceBand>\n'
            f'      <SourceProperties RasterXSize="{t.size}" RasterYSize="{t.size}" DataType="Byte" '
            f'BlockXSize="{BLOCK}" BlockYSize="{BLOCK}"/>\n'
            f'      <SrcRect xOff="0" yOff="0" xSize="{t.size}" ySize="{t.size}"/>\n'
            f'      <DstRect xOff="{x_off}" yOff="{y_off}" xSize="{t.size}" ySize="{t.size}"/>\n'
            f'    </SimpleSource>')
    text = (f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">\n'
            f'  <SRS dataAxisToSRSAxisMapping="2,1">{escape(CRS.from_epsg(4326).to_wkt())}</SRS>\n'
            f'  <GeoTransform>{west!r}, {res!r}, 0.0, {north!r}, 0.0, {-res!r}</GeoTransform>\n'
            f'  <VRTRasterBand dataType="Byte" band="1" blockXSize="{BLOCK}" blockYSize="{BLOCK}">\n'
            + "\n".join(sources) + "\n  </VRTRasterBand>\n</VRTDataset>\n")
    path = workdir / f"mosaic-{len(tiles)}.vrt"
    path.write_text(text)
    return path


# --------------------------------------------------------------------------- regions and config
def mosaic_pilots(tiles: list[Tile]):
    """Registry pilots whose outline meets a tile, with their share inside the mosaic."""
    import shapely

    from atlas.regions.boundaries import load_pilot_boundaries
    from atlas.regions.registry import load_registry

    pilots = load_pilot_boundaries(load_registry())
    cover = shapely.union_all([shapely.box(*t.bounds) for t in tiles])
    pilots = pilots[pilots.intersects(cover)].reset_index(drop=True)
    with warnings.catch_warnings():  # a ratio of planar areas in degrees is fine here
        warnings.simplefilter("ignore", UserWarning)
        inside = pilots.geometry.intersection(cover).area / pilots.geometry.area
    return pilots[["pilot_id", "name_zh", "level", "geometry"]].assign(inside=inside.to_numpy())


def write_config(workdir: Path, tiles: list[Tile], ids: list[str], cluster_workers: int) -> Path:
    paths = ",\n         ".join(f'"tiles/{t.name}"' for t in tiles)
    id_list = ", ".join(f'"{i}"' for i in ids)
    text = f"""# Written by scripts/bench_scale.py: the pilots meeting {len(tiles)} synthetic Hansen tiles.
[run]
out = "runs/default"

[regions]
ids = [{id_list}]

[forest]
paths = [{paths}]
product = "hansen"
threshold = {THRESHOLD}

[outputs]
formats = ["csv"]

[site]
publish = false

[compute]
cluster_workers = {cluster_workers}
"""
    path = workdir / f"bench-w{cluster_workers}.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- memory sampling
def _hwm_bytes(pid: int) -> int:
    """The kernel's peak-RSS mark of a process (VmHWM), 0 if unavailable."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _minor_faults(pid: int) -> int:
    """Minor page faults of a process so far (/proc/PID/stat field 10)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[7])
    except (OSError, IndexError, ValueError):
        return 0


def _role(cmdline: list[str]) -> str:
    text = " ".join(cmdline)
    if "resource_tracker" in text:
        return "resource_tracker"
    if "spawn_main" in text or "forkserver" in text:
        return "worker"
    return "process"


@dataclass
class ProcStats:
    label: str
    role: str
    peak_rss: int = 0
    peak_hwm: int = 0
    first: tuple[float, float, int] = (0.0, 0.0, 0)  # user s, system s, minor faults when first seen
    last: tuple[float, float, int] = (0.0, 0.0, 0)
    samples: int = 0


class Sampler(threading.Thread):
    """Polls the RSS, VmHWM and CPU time of some root processes and all their descendants."""

    def __init__(self, roots: dict[str, int], interval: float):
        super().__init__(daemon=True)
        self.roots, self.interval = dict(roots), interval
        self.stats: dict[int, ProcStats] = {}
        self.started_at = time.time()
        self._halt = threading.Event()

    def add_root(self, label: str, pid: int) -> None:
        self.roots[label] = pid

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self.interval)
        self.sample()

    def sample(self) -> None:
        import psutil

        for label, pid in list(self.roots.items()):
            try:
                root = psutil.Process(pid)
                procs = [root] + root.children(recursive=True)
            except psutil.Error:
                continue
            for proc in procs:
                try:
                    with proc.oneshot():
                        rss, times = proc.memory_info().rss, proc.cpu_times()
                        now = (times.user, times.system, _minor_faults(proc.pid))
                        st = self.stats.get(proc.pid)
                        if st is None:
                            role = "root" if proc.pid == pid else _role(proc.cmdline())
                            st = self.stats[proc.pid] = ProcStats(label, role)
                            st.first = (0.0, 0.0, 0) if proc.create_time() >= self.started_at else now
                except psutil.Error:
                    continue
                st.peak_rss = max(st.peak_rss, rss)
                st.peak_hwm = max(st.peak_hwm, _hwm_bytes(proc.pid))
                st.last = now
                st.samples += 1

    def stop(self) -> dict:
        self._halt.set()
        self.join()
        return self.summary()

    def summary(self) -> dict:
        procs = []
        worker_n = 0
        root_names = {"main": "atlas run", "scheduler": "scheduler"}
        for pid, st in sorted(self.stats.items()):
            name = root_names.get(st.label, f"{st.label} nanny") if st.role == "root" else f"{st.label} {st.role}"
            if st.role == "worker":
                worker_n += 1
                name = f"worker {worker_n}" if st.label == "main" else f"{st.label} worker"
            user, system, faults = (b - a for a, b in zip(st.first, st.last))
            procs.append({"pid": pid, "name": name, "role": st.role, "root": st.label,
                          "peak_rss_mib": st.peak_rss / 2**20, "peak_hwm_mib": st.peak_hwm / 2**20,
                          "user_s": user, "sys_s": system, "cpu_s": user + system, "minor_faults": faults,
                          "samples": st.samples})
        return {"processes": procs, "cpu_s": sum(p["cpu_s"] for p in procs), "sys_s": sum(p["sys_s"] for p in procs),
                "minor_faults": sum(p["minor_faults"] for p in procs)}


# --------------------------------------------------------------------------- atlas runs
STEP_PATTERNS = {
    "regions": re.compile(r"^\s+regions\s+(done|reused)"),
    "cluster": re.compile(r"starting a LocalCluster"),
    "tasks": re.compile(r"treecover2000: (\d+) regions, (\d+) tile\(s\), (\d+) tasks"),
    "zonal": re.compile(r"^\s+zonal_forest\s+(done|reused)"),
    "summary": re.compile(r"(\d+) steps, (\d+) computed .* on (.+?); "),
}


def _read_lines(stream, sink: list, log_fh) -> None:
    for raw in iter(stream.readline, ""):
        sink.append((time.perf_counter(), raw.rstrip("\n")))
        log_fh.write(f"{time.strftime('%H:%M:%S')} {raw}")
    stream.close()


def run_atlas(label: str, config: Path, workdir: Path, scheduler: str | None, interval: float,
              extra_roots: dict[str, int] | None = None) -> dict:
    """One ``atlas run`` in a fresh output folder; times, throughput inputs and memory."""
    out = workdir / "runs" / label
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "atlas.cli", "-v", "run", str(config), "--out", str(out)]
    if scheduler:
        cmd += ["--scheduler", scheduler]
    log_path = workdir / "logs" / f"{label}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    sampler = Sampler(extra_roots or {}, interval)
    lines: list[tuple[float, str]] = []
    with open(log_path, "w", encoding="utf-8") as log_fh:
        log_fh.write("$ " + " ".join(cmd) + "\n")
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=str(workdir),
                                env=dict(os.environ, PYTHONUNBUFFERED="1"))
        sampler.add_root("main", proc.pid)
        sampler.start()
        reader = threading.Thread(target=_read_lines, args=(proc.stdout, lines, log_fh), daemon=True)
        reader.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        reader.join()
    mem = sampler.stop()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        tail = "\n".join(text for _, text in lines[-15:])
        raise RuntimeError(f"atlas run ({label}) failed with exit code {code}; see {log_path}\n{tail}")
    marks = {}
    for t, text in lines:
        for key, pattern in STEP_PATTERNS.items():
            m = pattern.search(text)
            if m and key not in marks:
                marks[key] = (t - t0, m.groups())
    main_peak = usage.ru_maxrss / 1024.0
    result = {"label": label, "scheduler": scheduler or "config", "wall_s": wall, "load_before": load,
                  "main_peak_mib": main_peak, "out": str(out), "log": str(log_path), "memory": mem,
                  "compute": marks.get("summary", (0, ("", "", "?")))[1][2]}
    if "regions" in marks and "zonal" in marks:
        result["zonal_s"] = marks["zonal"][0] - marks["regions"][0]
    if "tasks" in marks:
        result["n_tasks"] = int(marks["tasks"][1][2])
        result["tasks_s"] = marks["zonal"][0] - marks["tasks"][0]
        result["before_tasks_s"] = marks["tasks"][0] - marks["regions"][0]
    if "cluster" in marks:
        result["hash_open_s"] = marks["cluster"][0] - marks["regions"][0]
    return result


def read_ours(run: dict) -> dict[str, float]:
    """Per-pilot forest area ≥ threshold (m²) from the run's zonal artifact (full precision)."""
    import pandas as pd

    artifact = next((Path(run["out"]) / ".atlas-run").glob("zonal_forest-*.parquet"))
    frame = pd.read_parquet(artifact)
    col = next(c for c in frame.columns if re.search(rf"_ge{THRESHOLD}\w*_ha$", c))
    return {str(k): float(v) * 1e4 for k, v in zip(frame["pilot_id"], frame[col])}


def best_of(runs: list[dict]) -> dict:
    best = dict(min(runs, key=lambda r: r.get("zonal_s", r["wall_s"])))
    best["repeats"] = [round(r.get("zonal_s", float("nan")), 2) for r in runs]
    return best


# --------------------------------------------------------------------------- child phases
def touched_blocks(tiles: list[Tile], geoms) -> list[tuple[int, int, int]]:
    """(tile index, block row, block col) of every block that meets an outline."""
    import shapely

    tree = shapely.STRtree(list(geoms))
    out = []
    for k, t in enumerate(tiles):
        n = -(-t.size // BLOCK)
        br, bc = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        step = BLOCK * t.res
        x0 = t.left + bc.ravel() * step
        y1 = t.top - br.ravel() * step
        boxes = shapely.box(x0, np.maximum(y1 - step, t.top - TILE_DEG), np.minimum(x0 + step, t.left + TILE_DEG), y1)
        hit = np.unique(tree.query(boxes, predicate="intersects")[0])
        out += [(k, int(br.ravel()[i]), int(bc.ravel()[i])) for i in hit]
    return out


def child_decode(args, tiles: list[Tile], touched_only: bool) -> dict:
    """Read blocks once: all of them, or those meeting an outline (part k of m)."""
    import rasterio
    from rasterio.windows import Window

    if touched_only:
        pilots = mosaic_pilots(tiles)
        blocks = touched_blocks(tiles, pilots.geometry)
        k, m = (int(x) for x in args.part.split("/"))
        blocks = blocks[k::m]
    else:
        blocks = [(i, br, bc) for i, t in enumerate(tiles) for br in range(-(-t.size // BLOCK))
                  for bc in range(-(-t.size // BLOCK))]
    paths = [tile_dir(Path(args.workdir)) / t.name for t in tiles]
    t0, c0 = time.perf_counter(), time.process_time()
    cells = 0
    datasets = [rasterio.open(p) for p in paths]
    for i, br, bc in blocks:
        t = tiles[i]
        r0, c0_ = br * BLOCK, bc * BLOCK
        a = datasets[i].read(1, window=Window(c0_, r0, min(BLOCK, t.size - c0_), min(BLOCK, t.size - r0)))
        cells += a.size
    for ds in datasets:
        ds.close()
    return {"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0, "blocks": len(blocks),
            "cells": cells}


def child_exactextract(args, tiles: list[Tile]) -> dict:
    """exactextract weighted_sum of (cover ≥ threshold) with ellipsoidal cell-area weights."""
    import rasterio
    from exactextract import exact_extract
    from exactextract.raster import RasterioRasterSource

    sys.path.insert(0, str(HERE))
    from bench_zonal import make_area_source

    class AtLeast(RasterioRasterSource):
        """The values raster as 0/1: cover at or above the threshold."""

        def read_window(self, x0, y0, nx, ny):
            return (np.asarray(super().read_window(x0, y0, nx, ny)) >= THRESHOLD).astype(np.uint8)

    pilots = mosaic_pilots(tiles)
    west, south, east, north = mosaic_bounds(tiles)
    res = tiles[0].res
    spec = {"res": res, "west": west, "south": south, "east": east, "north": north,
            "height": round((north - south) / res)}
    vrt = Path(args.workdir) / f"mosaic-{len(tiles)}.vrt"
    t0, c0 = time.perf_counter(), time.process_time()
    values = AtLeast(rasterio.open(vrt), name="forest")
    weights = make_area_source(spec, values.srs_wkt())
    df = exact_extract(values, pilots[["pilot_id", "geometry"]], ["s=weighted_sum"], weights=weights,
                       include_cols=["pilot_id"], output="pandas", strategy="feature-sequential")
    return {"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
            "sums": {str(k): float(v) for k, v in zip(df["pilot_id"], df["s"])}}


def child_scatter(args, tiles: list[Tile]) -> dict:
    """Prepare the tiles as atlas.zonal does before a cluster run; pickled size of each."""
    import pickle

    from atlas.rasters import open_layer
    from atlas.zonal import plan_tasks, prepare_tile

    pilots = mosaic_pilots(tiles)
    readers, _ = open_layer([tile_dir(Path(args.workdir)) / t.name for t in tiles], product="hansen")
    t0 = time.perf_counter()
    prepared = [prepare_tile(r, pilots.geometry) for r in readers]
    prep_s = time.perf_counter() - t0
    sizes = [len(pickle.dumps(p, protocol=5)) for p in prepared]
    return {"wall_s": prep_s, "cpu_s": time.process_time(), "sizes": sizes, "n_tasks": len(plan_tasks(prepared))}


def child(args) -> int:
    tiles = select_tiles(args.tiles, args.tile_size)
    if args.child == "generate":
        tile = next(t for t in select_tiles(len(TILE_ORDER), args.tile_size) if t.name == args.tile_name)
        path = tile_dir(Path(args.workdir)) / tile.name
        meta = generate_tile(tile, path)
        path.with_suffix(".json").write_text(json.dumps(meta, indent=1))
        return 0
    phases = {"decode-all": lambda: child_decode(args, tiles, False),
              "decode-touched": lambda: child_decode(args, tiles, True),
              "exactextract": lambda: child_exactextract(args, tiles),
              "scatter": lambda: child_scatter(args, tiles)}
    result = phases[args.child]()
    Path(args.result_json).write_text(json.dumps(result))
    return 0


def spawn_children(args, phase: str, parts: int = 1) -> dict:
    """Run a child phase in ``parts`` concurrent fresh interpreters; wall = slowest part."""
    workdir = Path(args.workdir)
    env = dict(os.environ, GDAL_CACHEMAX=os.environ.get("GDAL_CACHEMAX", GDAL_CACHE_MB))
    load = os.getloadavg()[0]
    procs = []
    for k in range(parts):
        out = workdir / f".child-{phase}-{k}.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", phase, "--workdir", str(workdir),
               "--tiles", str(args.tiles), "--tile-size", str(args.tile_size), "--part", f"{k}/{parts}",
               "--result-json", str(out)]
        procs.append((subprocess.Popen(cmd, env=env), out))
    t0 = time.perf_counter()
    results = []
    for proc, out in procs:
        _, status, usage = os.wait4(proc.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"child phase {phase} failed")
        res = json.loads(out.read_text())
        out.unlink()
        res.update(peak_mib=usage.ru_maxrss / 1024.0, proc_cpu_s=usage.ru_utime + usage.ru_stime)
        results.append(res)
    merged = dict(results[0])
    merged.update(wall_s=max(r["wall_s"] for r in results), cpu_s=sum(r["cpu_s"] for r in results),
                  cells=sum(r.get("cells", 0) for r in results), blocks=sum(r.get("blocks", 0) for r in results),
                  peaks_mib=[r["peak_mib"] for r in results], parts=parts, load_before=load,
                  process_wall_s=time.perf_counter() - t0)
    return merged


# --------------------------------------------------------------------------- multi-host cluster
def _ip(*cmd: str, check: bool = True) -> None:
    subprocess.run(["ip", *cmd], check=check, capture_output=True)


class EmulatedHosts:
    """A dask scheduler and workers, each in its own network namespace (or on loopback)."""

    def __init__(self, workdir: Path, n_workers: int, link: str, use_netns: bool):
        self.workdir, self.n, self.link = workdir, n_workers, link
        self.names = [f"{NETNS_PREFIX}s"] + [f"{NETNS_PREFIX}w{i}" for i in range(1, n_workers + 1)]
        self.addrs = [f"{SUBNET}.{10 + i}" for i in range(len(self.names))]
        self.bridge = f"{NETNS_PREFIX}br"
        self.procs: dict[str, subprocess.Popen] = {}
        self.netns = use_netns and self._setup_netns()
        self.mode = (f"{n_workers + 1} network namespaces, veth + bridge" + (f", links {self.link} (tbf)"
                                                                             if self.link else ", unshaped links")
                     if self.netns else "loopback processes (no network namespaces)")

    def _teardown_netns(self) -> None:
        for ns in self.names:
            _ip("netns", "del", ns, check=False)
        _ip("link", "del", self.bridge, check=False)

    def _shape(self, ns: str, host_end: str, ns_end: str) -> None:
        """Limit both directions of a veth to ``self.link`` (token bucket; netem is often not built)."""
        tbf = ["root", "tbf", "rate", self.link, "burst", "256kb", "latency", "5ms"]
        try:
            subprocess.run(["tc", "qdisc", "add", "dev", host_end, *tbf], check=True, capture_output=True)
            subprocess.run(["ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", ns_end, *tbf], check=True,
                           capture_output=True)
        except (subprocess.CalledProcessError, FileNotFoundError) as exc:
            log(f"  cannot shape {host_end} to {self.link} ({exc}); links left unshaped")
            self.link = ""

    def _setup_netns(self) -> bool:
        if os.geteuid() != 0 or shutil.which("ip") is None:
            return False
        self._teardown_netns()
        try:
            _ip("link", "add", self.bridge, "type", "bridge")
            _ip("addr", "add", f"{SUBNET}.1/24", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
            for ns, addr in zip(self.names, self.addrs):
                host_end, ns_end = f"{ns}h", f"{ns}n"
                _ip("netns", "add", ns)
                _ip("link", "add", host_end, "type", "veth", "peer", "name", ns_end)
                _ip("link", "set", ns_end, "netns", ns)
                _ip("link", "set", host_end, "master", self.bridge, "up")
                _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", ns_end)
                _ip("-n", ns, "link", "set", ns_end, "up")
                _ip("-n", ns, "link", "set", "lo", "up")
                if self.link:
                    self._shape(ns, host_end, ns_end)
            return True
        except (subprocess.CalledProcessError, FileNotFoundError) as exc:
            err = getattr(exc, "stderr", b"") or b""
            log(f"  network namespaces unavailable ({exc}; {err.decode(errors='replace').strip()}); using loopback")
            self._teardown_netns()
            return False

    @property
    def scheduler_address(self) -> str:
        return f"tcp://{self.addrs[0] if self.netns else '127.0.0.1'}:8786"

    def _launch(self, label: str, ns: str, args: list[str]) -> None:
        prefix = ["ip", "netns", "exec", ns] if self.netns else []
        with open(self.workdir / "logs" / f"multi-{label}.log", "a") as log_fh:
            self.procs[label] = subprocess.Popen(prefix + [sys.executable, "-m", *args], stdout=log_fh,
                                                 stderr=subprocess.STDOUT, cwd=str(self.workdir))

    def start(self, memory_limit: int) -> None:
        """Start the scheduler and workers with the dask CLIs, as on real hosts."""
        self.procs = {}
        (self.workdir / "logs").mkdir(exist_ok=True)
        host = self.addrs[0] if self.netns else "127.0.0.1"
        self._launch("scheduler", self.names[0],
                     ["distributed.cli.dask_scheduler", "--host", host, "--port", "8786", "--no-dashboard"])
        for i, ns in enumerate(self.names[1:], start=1):
            local = self.workdir / "dask-space" / f"host{i}"
            local.mkdir(parents=True, exist_ok=True)
            self._launch(f"host{i}", ns, ["distributed.cli.dask_worker", self.scheduler_address, "--nworkers", "1",
                                          "--nthreads", "1", "--no-dashboard", "--name", f"host{i}",
                                          "--memory-limit", str(memory_limit), "--local-directory", str(local)]
                         + ([] if self.netns else ["--host", "127.0.0.1"]))
        self._wait_for_workers()

    def _wait_for_workers(self, timeout: float = 90.0) -> None:
        from distributed import Client

        deadline = time.time() + timeout
        while True:
            try:
                with Client(self.scheduler_address, timeout=5) as client:
                    client.wait_for_workers(self.n, timeout=max(1.0, deadline - time.time()))
                    self.worker_addresses = sorted(client.scheduler_info()["workers"])
                    return
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(1.0)

    def roots(self) -> dict[str, int]:
        return {label: p.pid for label, p in self.procs.items()}

    def stop(self) -> None:
        for label in reversed(list(self.procs)):
            proc = self.procs[label]
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if self.netns:
            self._teardown_netns()


# --------------------------------------------------------------------------- report
def log(text: str) -> None:
    print(text, flush=True)


def _mib(x: float) -> str:
    return f"{x:,.0f}"


def worker_peaks(run: dict) -> list[tuple[str, float, float]]:
    return [(p["name"], p["peak_hwm_mib"], p["peak_rss_mib"]) for p in run["memory"]["processes"]
            if p["role"] == "worker"]


def main_peak(run: dict) -> float:
    roots = [p["peak_hwm_mib"] for p in run["memory"]["processes"] if p["root"] == "main" and p["role"] == "root"]
    return max(roots + [run["main_peak_mib"]])


def rel_diff(a: dict[str, float], b: dict[str, float]) -> tuple[float, str]:
    worst, where = 0.0, ""
    for k, ref in b.items():
        d = abs(a.get(k, float("nan")) - ref) / abs(ref) if ref else abs(a.get(k, 0.0))
        if not np.isfinite(d) or d > worst:
            worst, where = d, k
    return worst, where


def build_report(ctx: dict) -> str:
    res, args = ctx["results"], ctx["args"]
    cells_total = ctx["cells_total"]
    n_tiles = len(ctx["tiles"])
    dec_all = res["decode-all"]
    dec_1 = res["decode-touched-1"]
    dec_n = res.get(f"decode-touched-{args.workers}", dec_1)
    ee = res.get("exactextract")
    lines = []
    add = lines.append
    add(f"## atlas run at scale: {n_tiles} Hansen-shaped tiles, {cells_total / 1e9:.1f} G cells, "
        f"{len(ctx['ids'])} pilots\n")
    add(f"- machine: {os.cpu_count()} cores, {ctx['ram_gib']:.0f} GiB RAM, Python {platform.python_version()}, "
        f"GDAL {ctx['gdal']}, dask/distributed {ctx['distributed']}, exactextract {ctx['exactextract']}; "
        f"shared and noisy: 1-min load before phases {ctx['load_min']:.1f}..{ctx['load_max']:.1f}")
    add(f"- code timed: {ctx['source']}")
    add(f"- tiles: {', '.join(t.name.split('_')[-2] + '_' + t.name.split('_')[-1][:-4] for t in ctx['tiles'])} "
        f"({ctx['tiles'][0].size}² cells each, {ctx['tiles'][0].res}°, 512×512 DEFLATE), "
        f"{ctx['tile_bytes'] / 2**30:.2f} GiB on disk (ratio {ctx['tile_bytes'] / cells_total:.3f}), "
        f"{ctx['share_ge30']:.1%} of cells ≥ {THRESHOLD} %; {ctx['gen_note']}")
    add(f"- pilots: {len(ctx['ids'])} meeting the mosaic ({ctx['n_inside']} wholly inside); blocks meeting an "
        f"outline: {dec_1['blocks']:,} of {dec_all['blocks']:,} "
        f"({dec_1['cells'] / dec_all['cells']:.0%} of the cells)")
    add(f"- every atlas run: a fresh output folder, `python -m atlas.cli -v run CONFIG --out DIR`; memory sampled "
        f"every {args.sample} s (peak = max of the kernel's VmHWM); best of {args.repeat} by zonal step time\n")
    add("| run | compute | zonal_forest s | of which tasks s | whole run s | CPU s all procs (sys) | "
        "minor faults M | M cells/s | tiles/min | step ÷ decode-all | step ÷ decode-touched (procs) | "
        "exactextract ÷ step | main peak MiB | peak per worker MiB |")
    add("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for key in ctx["our_keys"]:
        r = res[key]
        z = r["zonal_s"]
        dec = dec_1 if key == "local-1" else dec_n
        mem = r["memory"]
        ee_ratio = f"{ee['wall_s'] / z:.2f}" if ee else "-"
        peaks = worker_peaks(r)
        peak_txt = ", ".join(_mib(h) for _, h, _ in peaks) if peaks else "(no workers)"
        add(f"| {key} | {r['compute']} | {z:.1f} | {r.get('tasks_s', float('nan')):.1f} | {r['wall_s']:.1f} | "
            f"{mem['cpu_s']:.0f} ({mem['sys_s']:.0f}) | {mem['minor_faults'] / 1e6:.1f} | "
            f"{cells_total / z / 1e6:,.0f} | {n_tiles / z * 60:.1f} | "
            f"{z / dec_all['wall_s']:.2f} | {z / dec['wall_s']:.2f} ({dec['parts']}) | {ee_ratio} | "
            f"{_mib(main_peak(r))} | {peak_txt} |")
    add("")
    shown: set[str] = set()
    add("| baseline / peer | processes | wall s | CPU s | cells read | M cells/s | peak MiB per process | note |")
    add("|---|---|---|---|---|---|---|---|")
    for key, note in (("decode-all", "every block once, rasterio, 1 thread"),
                      ("decode-touched-1", "blocks meeting an outline"),
                      (f"decode-touched-{args.workers}", "same blocks split over processes"),
                      ("exactextract", ("weighted_sum of (cover ≥ 30) × ellipsoidal cell area, VRT, "
                                        "feature-sequential"))):
        if key not in res or key in shown:
            continue
        shown.add(key)
        r = res[key]
        cells = r.get("cells")
        read = f"{cells / 1e9:.2f} G | {cells / r['wall_s'] / 1e6:,.0f}" if cells else "- | -"
        add(f"| {key} | {r['parts']} | {r['wall_s']:.1f} | {r['cpu_s']:.0f} | {read} | "
            f"{', '.join(_mib(p) for p in r['peaks_mib'])} | {note} |")
    add("")
    ours = {k: ctx["ours_sums"][k] for k in ctx["our_keys"] if k in ctx["ours_sums"]}
    if ours:
        keys = list(ours)
        same = all(ours[k] == ours[keys[0]] for k in keys)
        add(f"- our runs give bit-identical per-pilot areas across {', '.join(keys)}: {same}")
    if ee and ours:
        first = next(iter(ours.values()))
        worst, where = rel_diff(first, ee["sums"])
        total_ours, total_ee = sum(first.values()), sum(ee["sums"].values())
        add(f"- forest ≥ {THRESHOLD} % per pilot, ours vs exactextract: largest relative difference {worst:.2e} "
            f"({where}); totals {total_ours / 1e10:,.4f} vs {total_ee / 1e10:,.4f} million ha")
    if "scatter" in res:
        sc = res["scatter"]
        add(f"- prepared tiles scattered to the workers (each to one): {sum(sc['sizes']) / 2**20:,.1f} MiB pickled "
            f"({', '.join(f'{s / 2**20:.1f}' for s in sc['sizes'])} MiB per tile), {sc['n_tasks']} tasks; "
            f"preparing them took {sc['wall_s']:.1f} s in one process (peak {sc['peaks_mib'][0]:,.0f} MiB)")
    for key in ctx["our_keys"]:
        r = res[key]
        procs = "; ".join(f"{p['name']} {p['peak_hwm_mib']:,.0f} (sampled RSS {p['peak_rss_mib']:,.0f})"
                          for p in r["memory"]["processes"] if p["role"] != "resource_tracker")
        extra = ""
        if "hash_open_s" in r:
            extra = f"; hashing + opening tiles {r['hash_open_s']:.1f} s"
        add(f"- {key}: {r.get('n_tasks', '?')} tasks, before the tasks {r.get('before_tasks_s', float('nan')):.1f} s"
            f"{extra}; zonal step times over repeats {r['repeats']}; peak MiB per process: {procs}")
    if "multi" in res:
        add(f"- multi: {ctx['multi_mode']}; scheduler {ctx['multi_address']}; workers {ctx.get('multi_workers')}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- orchestration
def source_fingerprint() -> str:
    """Git HEAD of the checkout and a SHA-256 over the package's Python files (what was timed)."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted((REPO / "atlas").rglob("*.py")):
        digest.update(path.read_bytes())
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        head = "?"
    return f"git {head}, atlas/*.py sha256 {digest.hexdigest()[:12]}"


def check_space(workdir: Path, tiles: list[Tile]) -> None:
    missing = [t for t in tiles if cached_meta(workdir, t) is None]
    need = sum(0.35 * t.size * t.size for t in missing) + 1e9
    free = shutil.disk_usage(workdir).free
    log(f"free space under {workdir}: {free / 2**30:.1f} GiB; about {need / 2**30:.1f} GiB needed")
    if free < need:
        raise SystemExit(f"not enough space under {workdir} ({free / 2**30:.1f} GiB free, ~{need / 2**30:.1f} needed)")


def atlas_runs(args, workdir: Path, configs: dict[int, Path], results: dict, loads: list) -> list[str]:
    plan = [("threads", configs[args.workers], "threads"), ("local-1", configs[1], None)]
    if args.workers != 1:
        plan.append((f"local-{args.workers}", configs[args.workers], None))
    for key, config, scheduler in plan:
        runs = []
        for i in range(args.repeat):
            log(f"--- atlas run: {key} (run {i + 1}/{args.repeat})")
            runs.append(run_atlas(key, config, workdir, scheduler, args.sample))
            r = runs[-1]
            loads.append(r["load_before"])
            log(f"    zonal_forest {r['zonal_s']:.1f} s (tasks {r.get('tasks_s', float('nan')):.1f} s), whole run "
                f"{r['wall_s']:.1f} s on {r['compute']}; worker peaks "
                f"{[round(h) for _, h, _ in worker_peaks(r)]} MiB, main {main_peak(r):.0f} MiB")
        results[key] = best_of(runs)
    return [k for k, _, _ in plan]


def multi_run(args, workdir: Path, config: Path, results: dict, ctx: dict, loads: list) -> list[str]:
    """The same config on a scheduler + worker processes on emulated hosts."""
    import psutil

    hosts = EmulatedHosts(workdir, args.workers, "" if args.link == "none" else args.link, not args.no_netns)
    ctx["multi_mode"] = hosts.mode
    ctx["multi_address"] = hosts.scheduler_address
    log(f"--- multi-host cluster: {hosts.mode}")
    try:
        hosts.start(memory_limit=int(psutil.virtual_memory().total / args.workers))
        ctx["multi_workers"] = hosts.worker_addresses
        runs = []
        for i in range(args.repeat):
            log(f"--- atlas run: multi (run {i + 1}/{args.repeat}) --scheduler {hosts.scheduler_address}")
            runs.append(run_atlas("multi", config, workdir, hosts.scheduler_address, args.sample,
                                  extra_roots=hosts.roots()))
            r = runs[-1]
            loads.append(r["load_before"])
            log(f"    zonal_forest {r['zonal_s']:.1f} s, whole run {r['wall_s']:.1f} s; worker peaks "
                f"{[round(h) for _, h, _ in worker_peaks(r)]} MiB")
        results["multi"] = best_of(runs)
    finally:
        hosts.stop()
    return ["multi"]


def orchestrate(args) -> int:
    import distributed
    import exactextract
    import psutil
    import rasterio

    workdir = Path(args.workdir).resolve()
    if workdir.is_relative_to(REPO):
        raise SystemExit(f"--workdir {workdir} is inside the repository; choose another")
    workdir.mkdir(parents=True, exist_ok=True)
    tiles = select_tiles(args.tiles, args.tile_size)
    source = source_fingerprint()
    log(f"bench_scale: {len(tiles)} tiles, {args.workers} workers, workdir {workdir}, load {os.getloadavg()[0]:.1f}; "
        f"{source}")
    check_space(workdir, tiles)
    t0 = time.perf_counter()
    metas = ensure_tiles(workdir, tiles, jobs=max(1, min(os.cpu_count() or 1, len(tiles))))
    gen_s = time.perf_counter() - t0
    built = [m["build_s"] for m in metas.values()]
    gen_note = (f"generated now in {gen_s:.0f} s wall ({sum(built):.0f} s of tile writing in "
                f"{min(os.cpu_count() or 1, len(tiles))} parallel processes)" if gen_s > 5 else "reused from cache")
    pilots = mosaic_pilots(tiles)
    ids = pilots["pilot_id"].tolist()
    log(f"pilots meeting the mosaic: {len(ids)} ({int((pilots['inside'] > 0.999).sum())} wholly inside)")
    configs = {n: write_config(workdir, tiles, ids, n) for n in sorted({1, args.workers})}
    write_vrt(workdir, tiles)

    results: dict = {}
    loads: list[float] = []
    for key, phase, parts in (("decode-all", "decode-all", 1), ("decode-touched-1", "decode-touched", 1),
                              (f"decode-touched-{args.workers}", "decode-touched", args.workers)):
        if key in results:
            continue
        log(f"--- {key}")
        results[key] = spawn_children(args, phase, parts)
        loads.append(results[key]["load_before"])
        log(f"    {results[key]['wall_s']:.1f} s, {results[key]['blocks']:,} blocks, peak "
            f"{[round(p) for p in results[key]['peaks_mib']]} MiB")
    our_keys = atlas_runs(args, workdir, configs, results, loads)
    ctx = {"args": args, "tiles": tiles, "ids": ids, "results": results}
    if not args.skip_multi:
        our_keys += multi_run(args, workdir, configs[args.workers], results, ctx, loads)
    if not args.skip_peer:
        log("--- exactextract")
        results["exactextract"] = spawn_children(args, "exactextract")
        loads.append(results["exactextract"]["load_before"])
        log(f"    {results['exactextract']['wall_s']:.1f} s, peak {results['exactextract']['peaks_mib'][0]:.0f} MiB")
    log("--- scatter size (prepare_tile as the engine does)")
    results["scatter"] = spawn_children(args, "scatter")

    ours_sums = {k: read_ours(results[k]) for k in our_keys}
    source_after = source_fingerprint()
    if source_after != source:
        log(f"WARNING: the package changed during the run ({source} -> {source_after})")
    ctx.update(source=source if source_after == source else f"{source} -> {source_after} (changed during the run!)",
               our_keys=our_keys, ours_sums=ours_sums, cells_total=sum(t.size * t.size for t in tiles),
               tile_bytes=sum(m["file_bytes"] for m in metas.values()),
               share_ge30=float(np.mean([m["share_ge30"] for m in metas.values()])), gen_note=gen_note,
               n_inside=int((pilots["inside"] > 0.999).sum()), ram_gib=psutil.virtual_memory().total / 2**30,
               gdal=rasterio.__gdal_version__, distributed=distributed.__version__,
               exactextract=exactextract.__version__, load_min=min(loads), load_max=max(loads))
    report = build_report(ctx)
    print("\n" + report)
    (workdir / "results.md").write_text(report, encoding="utf-8")
    dump = {k: v for k, v in results.items()}
    dump["ours_sums"] = ours_sums
    (workdir / "results.json").write_text(json.dumps(dump, indent=1, default=str))
    log(f"results: {workdir / 'results.md'}, {workdir / 'results.json'}; logs in {workdir / 'logs'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiles", type=int, default=4, help=f"tiles in the mosaic (1-{len(TILE_ORDER)}, default 4)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes of the clusters (default 2)")
    parser.add_argument("--workdir", default="/tmp/atlas-bench-scale", help="tiles, configs, runs, logs, results")
    parser.add_argument("--skip-peer", action="store_true", help="do not run exactextract")
    parser.add_argument("--skip-multi", action="store_true", help="do not start the scheduler + worker processes")
    parser.add_argument("--repeat", type=int, default=1, help="runs per atlas configuration (best zonal time)")
    parser.add_argument("--sample", type=float, default=0.2, help="memory sampling interval, seconds")
    parser.add_argument("--link", default="1gbit",
                        help="rate of each emulated host's link (tc tbf, both directions), or 'none'")
    parser.add_argument("--no-netns", action="store_true", help="multi-host run on loopback, no network namespaces")
    parser.add_argument("--tile-size", type=int, default=FULL_SIZE, help="cells per tile side (smoke tests only)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--tile-name", help=argparse.SUPPRESS)
    parser.add_argument("--part", default="0/1", help=argparse.SUPPRESS)
    parser.add_argument("--result-json", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 1 <= args.tiles <= len(TILE_ORDER) or args.workers < 1 or args.repeat < 1:
        parser.error("--tiles must be 1-8, --workers and --repeat at least 1")
    if args.child:
        return child(args)
    return orchestrate(args)


if __name__ == "__main__":
    sys.exit(main())
