"""Exact per-region statistics of rasters: coverage of cells by outlines on the ellipsoid,
accumulation of every band in one pass, execution on threads or a dask cluster.

Third stage of the pipeline: arrays and geometries in, tidy frames out.
"""

from atlas.zonal.ellipsoid import ellipsoidal_areas_m2, split_antimeridian
from atlas.zonal.engine import zonal_stats
from atlas.zonal.execute import keep_block_arrays_on_heap, register_worker_setup
from atlas.zonal.prepare import plan_tasks, prepare_tile
from atlas.zonal.result import STATS

__all__ = ["STATS", "ellipsoidal_areas_m2", "keep_block_arrays_on_heap", "plan_tasks",
           "prepare_tile", "register_worker_setup", "split_antimeridian", "zonal_stats"]
