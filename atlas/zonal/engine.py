"""The zonal engine: regions × a raster layer → one tidy row per region.

Exact partial cells (:mod:`atlas.coverage`), geodesic cell areas
(:mod:`atlas.cellarea`), one streamed pass over the blocks the regions touch,
nested and overlapping regions handled independently, and a deterministic reduction
so that serial, threaded and dask runs give bit-identical results.

Inputs are geometries and :class:`~atlas.rasters.layer.BlockReader` objects; no paths.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Geod

from atlas.rasters.cellarea import geographic_row_areas, is_equal_area, projected_cell_areas
from atlas.zonal.coverage import EdgePieces, block_coverage, edge_pieces, to_grid
from atlas.errors import BoundaryError, CRSMismatchError, GridError
from atlas.rasters.layer import BlockReader, Grid, LayerSpec
from atlas.rasters.units import M2_PER_HA, QuantityKind

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
_GEOD = Geod(ellps="WGS84")
#: Shares within this of 1 count as "whole region inside the raster". Partial cells are
#: weighted by their planar coverage fraction times the geodesic cell area (as exactextract
#: does), which differs from the true ellipsoidal area of the part by a second-order term:
#: 4e-5 of a region for 1° cells, under 1e-9 for 0.01° cells.
SHARE_TOLERANCE = 1e-3
#: Target rows/columns of a processing block when the file's own blocks are smaller.
MIN_BLOCK = 256


# --------------------------------------------------------------------------- preparation
@dataclass
class PreparedTile:
    """One raster (a mosaic tile) with the regions' edge pieces on its grid."""

    reader: BlockReader
    grid: Grid
    block_shape: tuple[int, int]
    pieces: list[EdgePieces | None]
    equal_area: bool
    cell_area: float | None

    def __sizeof__(self) -> int:
        """Bytes held, edge pieces included: dask's scheduler weighs moving a tile by this."""
        return object.__sizeof__(self) + sum(p.nbytes for p in self.pieces if p is not None)


@dataclass(frozen=True)
class Task:
    """A unit of work: a run of block rows of one tile."""

    tile: int
    block_rows: tuple[int, int]


def processing_block_shape(grid: Grid) -> tuple[int, int]:
    """Whole multiples of the file's block, at least :data:`MIN_BLOCK` cells each way."""
    bh, bw = grid.block_shape
    bh = min(grid.height, bh * max(1, -(-MIN_BLOCK // bh)))
    bw = grid.width if bw >= grid.width else min(grid.width, bw * max(1, -(-MIN_BLOCK // bw)))
    return bh, bw


def geodesic_areas_m2(geoms: gpd.GeoSeries, max_segment_deg: float = 0.01) -> np.ndarray:
    """Ellipsoidal (WGS84) area of each outline, edges read as straight in longitude/latitude.

    Edges longer than ``max_segment_deg`` are densified first, so a long edge along a
    parallel is measured along the parallel (as a raster grid sees it), not along the
    geodesic that bulges towards the pole.
    """
    wgs84 = geoms.to_crs(4326) if not geoms.crs.equals(CRS.from_epsg(4326)) else geoms
    dense = shapely.segmentize(np.asarray(wgs84.values, dtype=object), max_segment_deg)
    areas = np.zeros(len(dense))
    for i, geom in enumerate(dense):
        for poly in shapely.get_parts(geom):
            rings = [poly.exterior, *poly.interiors]
            for k, ring in enumerate(rings):
                xy = shapely.get_coordinates(ring)
                area = abs(_GEOD.polygon_area_perimeter(xy[:, 0], xy[:, 1])[0])
                areas[i] += area if k == 0 else -area
    return areas


def check_regions(regions: gpd.GeoSeries, ids: Sequence[str]) -> None:
    """Refuse regions without CRS, or with empty or invalid outlines."""
    if regions.crs is None:
        raise CRSMismatchError("The region outlines have no CRS", "outlines with a CRS (e.g. EPSG:4326)",
                               "set it with GeoDataFrame.set_crs")
    empty = [i for i, g in zip(ids, regions) if g is None or g.is_empty]
    if empty:
        raise BoundaryError(f"Empty outlines for regions {empty}", "a non-empty polygon per region",
                            "drop those regions or supply outlines")
    invalid = [i for i, g in zip(ids, regions) if not g.is_valid]
    if invalid:
        raise BoundaryError(f"Invalid outlines for regions {invalid}", "valid polygons",
                            "repair them with shapely.make_valid")
    not_poly = [i for i, g in zip(ids, regions) if g.geom_type not in ("Polygon", "MultiPolygon")]
    if not_poly:
        raise BoundaryError(f"Regions {not_poly} are not polygons", "Polygon or MultiPolygon outlines")


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """Keep the polygons of a clip result (which may add stray lines or points on the edge)."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [p for part in shapely.get_parts(geom) if part.geom_type in ("Polygon", "MultiPolygon")
             for p in shapely.get_parts(part)]
    return shapely.multipolygons(parts) if parts else shapely.Polygon()


def prepare_tile(reader: BlockReader, regions: gpd.GeoSeries, mapper=map) -> PreparedTile:
    """Transform outlines to the tile's CRS and grid, clip them, and split their edges.

    ``mapper`` maps the per-region work (``map``, or a thread pool's ``map``).
    """
    grid = reader.grid
    grid.check(reader.label)
    if not regions.crs.equals(grid.crs):
        log.info("outlines transformed from %s to the raster CRS %s (the raster is not resampled)",
                 regions.crs.to_string(), grid.crs.to_string())
        regions = regions.to_crs(grid.crs)
    block_shape = processing_block_shape(grid)

    def split(geom: shapely.Geometry) -> EdgePieces | None:
        g = shapely.clip_by_rect(to_grid(geom, grid.transform), 0, 0, grid.width, grid.height)
        return edge_pieces(_polygonal(g), (grid.height, grid.width), block_shape)

    pieces = list(mapper(split, regions))
    equal_area, cell_area = True, None
    if grid.crs.is_projected:
        rows = np.linspace(0, grid.height, 5)
        cols = np.linspace(0, grid.width, 5)
        cc, rr = np.meshgrid(cols, rows)
        xs, ys = grid.transform @ (cc, rr)
        equal_area = is_equal_area(grid.crs, np.column_stack([np.ravel(xs), np.ravel(ys)]))
        if equal_area:
            unit = grid.crs.axis_info[0].unit_conversion_factor
            t = grid.transform
            cell_area = abs(t.a * t.e) * unit * unit
    elif not grid.crs.is_geographic:
        raise GridError(f"{reader.label} has CRS {grid.crs.to_string()}, neither geographic nor projected",
                        "a geographic or projected CRS")
    return PreparedTile(reader, grid, block_shape, pieces, equal_area, cell_area)


def plan_tasks(tiles: Sequence[PreparedTile]) -> list[Task]:
    """One task per block row that any region touches, tile by tile, in a fixed order."""
    tasks = []
    for t, tile in enumerate(tiles):
        bh = tile.block_shape[0]
        touched = set()
        for p in tile.pieces:
            if p is not None:
                touched.update(range(p.bounds[0] // bh, -(-p.bounds[2] // bh)))
        tasks.extend(Task(t, (r, r + 1)) for r in sorted(touched))
    return tasks


# --------------------------------------------------------------------------- accumulation
class Accumulator:
    """Running sums per region; added together in a fixed order to stay deterministic.

    ``area``: covered area (m²); ``valid``: covered area with valid data (m²);
    ``wsum``: Σ coverage·value·area; ``csum``: Σ coverage·value (per-cell amounts);
    ``thr``: covered valid area at or above the threshold; ``hist``: class → area.
    """

    def __init__(self, n: int):
        self.area = np.zeros(n)
        self.valid = np.zeros(n)
        self.wsum = np.zeros(n)
        self.csum = np.zeros(n)
        self.thr = np.zeros(n)
        self.hist: dict[int, np.ndarray] = {}

    def add(self, other: Accumulator) -> None:
        for name in ("area", "valid", "wsum", "csum", "thr"):
            getattr(self, name).__iadd__(getattr(other, name))
        for code, values in other.hist.items():
            if code in self.hist:
                self.hist[code] += values
            else:
                self.hist[code] = values.copy()


def _block_values(raw: np.ndarray, spec: LayerSpec, nodata: float | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Return (values as float64 with invalid cells set to 0, valid mask or None)."""
    invalid = None
    if nodata is not None:
        invalid = raw == nodata if not np.isnan(nodata) else np.isnan(raw)
    if raw.dtype.kind == "f":
        nan = ~np.isfinite(raw)
        invalid = nan if invalid is None else (invalid | nan)
    values = raw.astype(np.float64)
    if spec.scale != 1.0 or spec.offset != 0.0:
        values = values * spec.scale + spec.offset
    if invalid is not None and invalid.any():
        values[invalid] = 0.0
        return values, ~invalid
    return values, None


def run_task(task: Task, tile: PreparedTile, spec: LayerSpec, n_regions: int) -> Accumulator:
    """Process one task's blocks of ``tile`` (the task's own); pure apart from reading cells."""
    acc = Accumulator(n_regions)
    grid = tile.grid
    bh, bw = tile.block_shape
    n_bc = -(-grid.width // bw)
    nodata = spec.nodata if spec.nodata is not None else tile.reader.nodata
    kind = spec.kind
    row_areas = None
    if grid.crs.is_geographic:
        row_areas = geographic_row_areas(grid.transform, grid.height)
    for br in range(*task.block_rows):
        r0 = br * bh
        h = min(bh, grid.height - r0)
        for bc in range(n_bc):
            c0 = bc * bw
            w = min(bw, grid.width - c0)
            window = (r0, c0, h, w)
            covers = []
            for k, p in enumerate(tile.pieces):
                if p is None or r0 >= p.bounds[2] or r0 + h <= p.bounds[0] \
                        or c0 >= p.bounds[3] or c0 + w <= p.bounds[1]:
                    continue
                cov = block_coverage(p, window, (br, bc), n_bc)
                if isinstance(cov, float) and cov == 0.0:
                    continue
                covers.append((k, cov))
            if not covers:
                continue
            values, valid = _block_values(tile.reader.read(window), spec, nodata)
            if row_areas is not None:
                area = row_areas[r0:r0 + h][:, None]
            elif tile.equal_area:
                area = np.full((h, 1), tile.cell_area)
            else:
                area = projected_cell_areas(grid.crs, grid.transform, window)
            _accumulate_block(acc, covers, values, valid, area, spec, kind)
    return acc


def _accumulate_block(acc: Accumulator, covers, values, valid, area, spec: LayerSpec, kind) -> None:
    """Add one block's contribution for every region that covers part of it."""
    column_area = area.shape[1] == 1
    full_rows = None  # shared row sums for regions covering the whole block
    for k, cov in covers:
        full = isinstance(cov, float)
        if full:
            if full_rows is None:
                full_rows = _full_block_sums(values, valid, area, spec, kind)
            a, v, ws, cs, th, hist = full_rows
            acc.area[k] += a
            acc.valid[k] += v
            acc.wsum[k] += ws
            acc.csum[k] += cs
            acc.thr[k] += th
            _add_hist(acc, k, hist)
            continue
        cv = cov if valid is None else cov * valid  # share of each cell inside, with valid data
        if kind is QuantityKind.CLASSES or not column_area:
            weight = cv * area  # m² of each cell inside the region with valid data
            acc.area[k] += float((cov * area).sum())
            acc.valid[k] += float(weight.sum())
            if kind is QuantityKind.CLASSES:
                _add_hist(acc, k, _class_hist(values, valid, weight))
                continue
            acc.wsum[k] += float((weight * values).sum())
            if kind is QuantityKind.AMOUNT:
                acc.csum[k] += float((cv * values).sum())
            if spec.threshold is not None:
                acc.thr[k] += float(weight[values >= spec.threshold].sum())
            continue
        # Cell areas vary by row only: sum each row first, then weight the row sums.
        a = area[:, 0]
        covered = float(cov.sum(axis=1) @ a)
        acc.area[k] += covered
        acc.valid[k] += float(cv.sum(axis=1) @ a) if valid is not None else covered
        row_sums = (cv * values).sum(axis=1)
        acc.wsum[k] += float(row_sums @ a)
        if kind is QuantityKind.AMOUNT:
            acc.csum[k] += float(row_sums.sum())
        if spec.threshold is not None:
            acc.thr[k] += float((cv * (values >= spec.threshold)).sum(axis=1) @ a)


def _full_block_sums(values, valid, area, spec, kind):
    """Sums for a region that covers the whole block (coverage 1 everywhere)."""
    area2d = np.broadcast_to(area, values.shape)
    total_area = float(area2d.sum())
    weight = area2d if valid is None else area2d * valid
    valid_area = total_area if valid is None else float(weight.sum())
    ws = cs = th = 0.0
    hist = None
    if kind is QuantityKind.CLASSES:
        hist = _class_hist(values, valid, weight)
    else:
        if area.shape[1] == 1:
            row_sums = values.sum(axis=1, keepdims=True)
            ws = float((row_sums * area).sum())
            if kind is QuantityKind.AMOUNT:
                cs = float(row_sums.sum())
        else:
            ws = float((weight * values).sum())
            cs = float(values.sum()) if kind is QuantityKind.AMOUNT else 0.0
        if spec.threshold is not None:
            th = float(weight[values >= spec.threshold].sum())
    return total_area, valid_area, ws, cs, th, hist


def _class_hist(values, valid, weight) -> dict[int, float]:
    codes = values if valid is None else values[valid]
    w = np.broadcast_to(weight, values.shape)
    w = w if valid is None else w[valid]
    codes = codes.ravel().astype(np.int64)
    if codes.size == 0:
        return {}
    lo = int(codes.min())
    counts = np.bincount(codes - lo, weights=np.ravel(w))
    nz = np.flatnonzero(counts)
    return {int(c + lo): float(counts[c]) for c in nz}


def _add_hist(acc: Accumulator, k: int, hist: dict[int, float] | None) -> None:
    if not hist:
        return
    n = len(acc.area)
    for code, value in hist.items():
        if code not in acc.hist:
            acc.hist[code] = np.zeros(n)
        acc.hist[code][k] += value


# --------------------------------------------------------------------------- execution
def execute(tasks: Sequence[Task], tiles: Sequence[PreparedTile], spec: LayerSpec, n_regions: int,
            pool: ThreadPoolExecutor | None = None, client=None, progress: Progress | None = None) -> Accumulator:
    """Run tasks serially, on a local thread ``pool``, or on a dask.distributed ``client``.

    Partial results are always added in task order, so every mode gives identical sums. On
    a cluster each prepared tile is scattered once, to one worker, and its tasks go to it;
    a worker holds another tile only when the scheduler moves work there.
    """
    total = Accumulator(n_regions)
    done = 0

    def tick():
        nonlocal done
        done += 1
        if progress:
            progress(done, len(tasks))

    if client is not None:
        scattered = client.scatter(list(tiles), hash=False)
        futures = [client.submit(_run_remote, task, scattered[task.tile], spec, n_regions, pure=False)
                   for task in tasks]
        for fut in futures:  # in task order
            total.add(fut.result())
            tick()
        return total
    mapper = pool.map if pool is not None else map
    for part in mapper(lambda t: run_task(t, tiles[t.tile], spec, n_regions), tasks):  # results in task order
        total.add(part)
        tick()
    return total


#: glibc ``mallopt`` parameters and the values set in dask worker processes (see
#: :func:`keep_block_arrays_on_heap`).
_M_TOP_PAD, _M_MMAP_THRESHOLD = -2, -3
WORKER_MMAP_THRESHOLD_BYTES = 32 * 2**20
WORKER_TOP_PAD_BYTES = 64 * 2**20


@functools.cache
def keep_block_arrays_on_heap() -> bool:
    """Raise glibc's mmap threshold in this process so block-sized arrays stay on the heap.

    dask's nanny starts every worker with ``MALLOC_TRIM_THRESHOLD_`` set
    (``distributed.nanny.pre-spawn-environ``); with any malloc tunable set, glibc stops
    adapting its mmap threshold and leaves it at 128 KiB, so each temporary array of a block
    (a 512 × 512 float64 array is 2 MiB) is a fresh ``mmap`` whose pages fault in again and
    are unmapped on release. The zonal step then ran 2-3 times slower on a cluster than on
    threads (``scripts/bench_scale.py``). Called once per worker process by the first task it
    runs, on LocalClusters and external clusters alike; a no-op (False) off glibc.
    """
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    ok = mallopt(_M_MMAP_THRESHOLD, WORKER_MMAP_THRESHOLD_BYTES) == 1
    ok &= mallopt(_M_TOP_PAD, WORKER_TOP_PAD_BYTES) == 1
    log.debug("worker %d: glibc mmap threshold %d B, top pad %d B (%s)", os.getpid(), WORKER_MMAP_THRESHOLD_BYTES,
              WORKER_TOP_PAD_BYTES, "set" if ok else "refused")
    return bool(ok)


def _run_remote(task: Task, tile: PreparedTile, spec: LayerSpec, n_regions: int) -> Accumulator:
    keep_block_arrays_on_heap()
    return run_task(task, tile, spec, n_regions)


# --------------------------------------------------------------------------- results
def _status(inside: float, valid_share: float) -> str:
    if inside <= 0:
        return "outside raster"
    if valid_share <= 0:
        return "no valid data"
    if inside < 1 - SHARE_TOLERANCE:
        return "partly outside raster"
    return "ok"


def result_frame(acc: Accumulator, ids: Sequence, id_column: str, region_area_m2: np.ndarray,
                 spec: LayerSpec) -> pd.DataFrame:
    """Turn accumulated sums into the tidy per-region table (units in column names)."""
    unit = spec.unit
    with np.errstate(invalid="ignore", divide="ignore"):
        inside = np.clip(acc.area / region_area_m2, 0.0, 1.0)
        valid_share = np.clip(acc.valid / region_area_m2, 0.0, 1.0)
        valid_ha = acc.valid / M2_PER_HA
        has_data = acc.valid > 0
        frame = pd.DataFrame({
            id_column: list(ids),
            "region_area_ha": region_area_m2 / M2_PER_HA,
            "covered_area_ha": acc.area / M2_PER_HA,
            "valid_area_ha": valid_ha,
            "inside_raster_share": inside,
            "valid_share": valid_share,
        })
        name, kind = spec.name, spec.kind
        if kind is QuantityKind.AMOUNT:
            total = acc.csum * unit.factor
            frame[f"{name}_{unit.output}"] = np.where(has_data, total, np.nan)
            frame[f"{name}_{unit.output}_per_ha"] = np.where(has_data, total / valid_ha, np.nan)
        elif kind is QuantityKind.FLUX_DENSITY:
            total = acc.wsum * unit.factor
            frame[f"{name}_{unit.output}"] = np.where(has_data, total, np.nan)
            frame[f"{name}_mean_{unit.slug}"] = np.where(has_data, acc.wsum / acc.valid, np.nan)
        elif kind is QuantityKind.FRACTION:
            cover_ha = acc.wsum * unit.factor
            frame[f"{name}_ha"] = np.where(has_data, cover_ha, np.nan)
            frame[f"{name}_mean_{unit.slug}"] = np.where(has_data, acc.wsum / acc.valid, np.nan)
            if spec.threshold is not None:
                frame[f"{name}_ge{spec.threshold:g}{unit.slug}_ha"] = np.where(has_data, acc.thr / M2_PER_HA,
                                                                             np.nan)
        else:
            for group, codes in spec.groups.items():
                area = sum((acc.hist.get(c, 0.0) for c in codes), np.zeros(len(ids)))
                frame[f"{group}_ha"] = np.where(has_data, area / M2_PER_HA, np.nan)
            for code in sorted(acc.hist):
                label = spec.classes.get(code)
                frame[f"class_{code}_ha"] = np.where(has_data, acc.hist[code] / M2_PER_HA, np.nan)
                if label is None and spec.classes:
                    log.warning("%s: code %d is not in the layer's class table", spec.name, code)
        frame["status"] = [_status(i, v) for i, v in zip(inside, valid_share)]
    frame.attrs.update({"layer": spec.name, "kind": spec.kind.value, "units": spec.units,
                        "caveat": spec.caveat})
    return frame


def zonal_stats(
    regions: gpd.GeoDataFrame | gpd.GeoSeries,
    readers: BlockReader | Sequence[BlockReader],
    spec: LayerSpec,
    id_column: str = "pilot_id",
    workers: int | None = None,
    client=None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Exact per-region statistics of a raster layer.

    Parameters
    ----------
    regions : GeoDataFrame or GeoSeries
        Outlines with a CRS; they may nest and overlap (each is handled on its own).
    readers : BlockReader or sequence of BlockReader
        One raster, or the tiles of a mosaic (tiles must not overlap).
    spec : LayerSpec
        What the values mean; the engine refuses unknown kinds and mismatched units.
    id_column : str
        Column of ``regions`` that names each region (GeoSeries: its index is used).
    workers : int, optional
        Local threads (default: all cores); 1 runs serially.
    client : dask.distributed.Client, optional
        Run the tasks on this cluster instead.
    progress : callable(done, total), optional

    Returns
    -------
    pandas.DataFrame
        One row per region: ``region_area_ha`` (geodesic), ``covered_area_ha`` and
        ``inside_raster_share`` (part of the outline inside the raster),
        ``valid_area_ha`` and ``valid_share`` (with valid data), the statistics of the
        layer's kind with units in the column names, and ``status``.
    """
    if isinstance(regions, gpd.GeoDataFrame):
        ids = regions[id_column].tolist() if id_column in regions else list(regions.index)
        geoms = regions.geometry
    else:
        ids, geoms = list(regions.index), regions
    check_regions(geoms, ids)
    readers = [readers] if isinstance(readers, BlockReader) else list(readers)
    if not readers:
        raise GridError("No raster given", "at least one raster or tile")
    workers = workers if workers is not None else (os.cpu_count() or 1)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="zonal") if workers > 1 else None
    try:
        areas = pool.submit(geodesic_areas_m2, geoms) if pool is not None else None
        mapper = pool.map if pool is not None else map
        tiles = [prepare_tile(r, geoms, mapper) for r in readers]
        tasks = plan_tasks(tiles)
        log.info("%s: %d regions, %d tile(s), %d tasks", spec.name, len(ids), len(tiles), len(tasks))
        acc = execute(tasks, tiles, spec, len(ids), pool=pool if client is None else None, client=client,
                      progress=progress)
        region_area = areas.result() if areas is not None else geodesic_areas_m2(geoms)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return result_frame(acc, ids, id_column, region_area, spec)
