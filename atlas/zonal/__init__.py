"""Exact per-region statistics of rasters: coverage of cells by outlines, accumulation, execution.

Third stage of the pipeline: arrays and geometries in, long frames out, on threads or a dask cluster.
"""

from atlas.zonal.engine import plan_tasks, prepare_tile, zonal_stats

__all__ = ["plan_tasks", "prepare_tile", "zonal_stats"]
