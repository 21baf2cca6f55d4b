"""The zonal engine: regions × a raster layer (one band or a stack) → a tidy table.

Exact partial cells on the ellipsoid (:mod:`atlas.zonal.coverage`,
:mod:`atlas.zonal.ellipsoid`), one streamed pass over the blocks the regions touch with
every band summed in it (:mod:`atlas.zonal.accumulate`), nested and overlapping regions
handled independently, and a deterministic reduction so that serial, threaded and dask
runs give bit-identical results (:mod:`atlas.zonal.execute`).

Inputs are geometries and :class:`~atlas.rasters.layer.BlockReader` objects; no paths.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from atlas.errors import GridError, UnitsError
from atlas.rasters.layer import BlockReader, LayerSpec, gdal_env
from atlas.zonal.accumulate import FRACTION_RANGE, Accumulator
from atlas.zonal.ellipsoid import ellipsoidal_areas_m2
from atlas.zonal.execute import Progress, execute
from atlas.zonal.prepare import (
    PreparedTile, Task, check_mosaic, check_regions, plan_tasks, prepare_tile, refuse_invalid, split_at_antimeridian,
)
from atlas.zonal.result import SHARE_TOLERANCE, options_for, parse_stats, result_frame

log = logging.getLogger(__name__)

__all__ = ["PreparedTile", "SHARE_TOLERANCE", "Task", "check_regions", "ellipsoidal_areas_m2",
           "plan_tasks", "prepare_tile", "zonal_stats"]


def _stacked(reader: BlockReader) -> bool:
    return bool(getattr(reader, "stack", False)) or reader.n_bands > 1


def _check_bands(readers: Sequence[BlockReader]) -> tuple[bool, tuple[str, ...], tuple[str, ...] | None]:
    first = readers[0]
    for r in readers[1:]:
        if r.band_labels != first.band_labels or _stacked(r) != _stacked(first):
            raise GridError(f"Tiles {first.label} and {r.label} have different bands "
                            f"({list(first.band_labels)} and {list(r.band_labels)})",
                            "the same bands in every tile of a mosaic")
    return _stacked(first), first.band_labels, first.band_times


def _refuse_out_of_range(acc: Accumulator, spec: LayerSpec) -> None:
    count, lo, hi = acc.out_of_range
    if count:
        low, high = FRACTION_RANGE[spec.unit.slug]
        raise UnitsError(f"Layer {spec.name!r} ({spec.units}) has {count} valid cells outside {low:g}…{high:g} "
                         f"in the blocks read (values from {lo:g} to {hi:g})",
                         f"{spec.units} values within {low:g}…{high:g}",
                         "declare the right units, the nodata value (--nodata) or scale, or fix the raster")


def zonal_stats(
    regions: gpd.GeoDataFrame | gpd.GeoSeries,
    readers: BlockReader | Sequence[BlockReader],
    spec: LayerSpec,
    id_column: str = "pilot_id",
    workers: int | None = None,
    client=None,
    progress: Progress | None = None,
    stats: Sequence[str] | str | None = None,
    exact: bool = True,
) -> pd.DataFrame:
    """Exact per-region statistics of a raster layer (one band, or every band of a stack in one pass).

    Parameters
    ----------
    regions : GeoDataFrame or GeoSeries
        Outlines with a CRS; they may nest and overlap (each is handled on its own).
        Lon/lat outlines crossing the antimeridian are split at ±180° first.
    readers : BlockReader or sequence of BlockReader
        One raster, or the tiles of a mosaic (overlapping tiles are refused; a tile given
        twice is counted once, with a note in ``frame.attrs["notes"]``). A stacked reader
        (``RasterSource(..., stack=True)``, :class:`~atlas.rasters.layer.SeriesSource`)
        gives one row per region and band.
    spec : LayerSpec
        What the values mean; the engine refuses unknown kinds, mismatched units, and
        fraction values outside their range.
    id_column : str
        Column of ``regions`` that names each region (GeoSeries: its index is used).
    workers : int, optional
        Local threads (default: all cores); 1 runs serially.
    client : dask.distributed.Client, optional
        Run the tasks on this cluster instead (register the worker set-up with
        :func:`atlas.zonal.register_worker_setup` when starting it).
    progress : callable(done, total), optional
    stats : list of str or comma-separated str, optional
        Extra statistics (:mod:`atlas.zonal.result`): count, sum, mean, std, min, max,
        median, p1…p99, majority, shares.
    exact : bool
        False weights pieces by planar fractions (exactextract's); for comparisons only.

    Returns
    -------
    pandas.DataFrame
        One row per region (or region × band, with ``band`` and, when the file has a time
        coordinate, ``time``): ``region_area_ha`` (ellipsoidal), ``covered_area_ha`` and
        ``inside_raster_share`` (part of the outline inside the raster), ``valid_area_ha``
        and ``valid_share`` (with valid data), the statistics of the layer's kind with
        units in the column names, requested ``stats``, and ``status``.
    """
    if isinstance(regions, gpd.GeoDataFrame):
        ids = regions[id_column].tolist() if id_column in regions else list(regions.index)
        geoms = regions.geometry
    else:
        ids, geoms = list(regions.index), regions
    workers = workers if workers is not None else (os.cpu_count() or 1)
    check_regions(geoms, ids, validity=workers == 1)
    geoms = split_at_antimeridian(geoms, ids)
    stat_names = parse_stats(stats)
    readers = [readers] if isinstance(readers, BlockReader) else list(readers)
    if not readers:
        raise GridError("No raster given", "at least one raster or tile")
    readers, notes = check_mosaic(readers)
    stacked, labels, times = _check_bands(readers)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="zonal") if workers > 1 else None
    try:
        # with threads, the validity check (GEOS, without the GIL) and the outlines' areas run
        # beside the preparation; an invalid outline is refused before any block is read
        valid = pool.submit(shapely.is_valid, np.asarray(geoms.values, dtype=object)) if pool is not None else None
        areas = pool.submit(ellipsoidal_areas_m2, geoms) if pool is not None else None
        mapper = pool.map if pool is not None else map
        try:
            with gdal_env():
                tiles = [prepare_tile(r, geoms, mapper, exact=exact) for r in readers]
        finally:
            if valid is not None:
                refuse_invalid(valid.result(), ids)
        tasks = plan_tasks(tiles)
        log.info("%s: %d regions, %d tile(s), %d band(s), %d tasks", spec.name, len(ids), len(tiles), len(labels),
                 len(tasks))
        log.info("%s: %s", spec.name, spec.unit.conversion)
        acc = execute(tasks, tiles, spec, len(ids), pool=pool if client is None else None, client=client,
                      progress=progress, options=options_for(stat_names))
        region_area = areas.result() if areas is not None else ellipsoidal_areas_m2(geoms)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    _refuse_out_of_range(acc, spec)
    frame = result_frame(acc, ids, id_column, region_area, spec, labels if stacked else None,
                         times if stacked else None, stat_names)
    if notes:
        frame.attrs["notes"] = notes
    return frame
