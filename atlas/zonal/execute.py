"""Running tasks: serially, on local threads, or on a dask.distributed cluster.

Partial sums are always added in task order, so every mode gives identical results. GDAL
options apply only inside :func:`atlas.rasters.layer.gdal_env` around the work; worker
processes are set up by a :class:`distributed.WorkerPlugin` that the code starting or
joining a cluster registers with :func:`register_worker_setup` — nothing here changes the
process on import or inside a task.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from atlas.rasters.layer import LayerSpec, gdal_env
from atlas.zonal.accumulate import Accumulator, Options, run_task
from atlas.zonal.prepare import PreparedTile, Task

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


def execute(tasks: Sequence[Task], tiles: Sequence[PreparedTile], spec: LayerSpec, n_regions: int,
            pool: ThreadPoolExecutor | None = None, client=None, progress: Progress | None = None,
            options: Options = Options()) -> Accumulator:
    """Run tasks serially, on a local thread ``pool``, or on a dask.distributed ``client``.

    On a cluster each prepared tile is scattered once, to one worker, and its tasks go to
    it; a worker holds another tile only when the scheduler moves work there.
    """
    n_bands = max((t.reader.n_bands for t in tiles), default=1)
    total = Accumulator(n_regions, n_bands)
    done = 0

    def tick():
        nonlocal done
        done += 1
        if progress:
            progress(done, len(tasks))

    if client is not None:
        scattered = client.scatter(list(tiles), hash=False)
        futures = [client.submit(_run_remote, task, scattered[task.tile], spec, n_regions, options, pure=False)
                   for task in tasks]
        for fut in futures:  # in task order
            total.add(fut.result())
            tick()
        return total
    mapper = pool.map if pool is not None else map
    with gdal_env():
        for part in mapper(lambda t: run_task(t, tiles[t.tile], spec, n_regions, options), tasks):
            total.add(part)  # results in task order
            tick()
    return total


def _run_remote(task: Task, tile: PreparedTile, spec: LayerSpec, n_regions: int, options: Options) -> Accumulator:
    with gdal_env():
        return run_task(task, tile, spec, n_regions, options)


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
    threads (``scripts/bench_scale.py``). Called in worker processes by the plugin that
    :func:`register_worker_setup` registers, never on import; a no-op (False) off glibc.
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


def register_worker_setup(client) -> None:
    """Register the atlas' worker set-up (:class:`atlas.zonal.worker.ZonalWorkerSetup`) on ``client``.

    Call it once after starting or joining a cluster: every current and future worker
    then keeps block arrays on the heap (:func:`keep_block_arrays_on_heap`).
    """
    from atlas.zonal.worker import ZonalWorkerSetup

    client.register_plugin(ZonalWorkerSetup(), name="atlas-zonal-worker-setup")
