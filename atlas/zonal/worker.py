"""The dask worker plugin of the zonal engine (imported only by :func:`atlas.zonal.register_worker_setup`)."""

from __future__ import annotations

from distributed import WorkerPlugin


class ZonalWorkerSetup(WorkerPlugin):
    """Set up a worker process for the zonal engine once, when it starts or joins.

    Raises glibc's mmap threshold (:func:`atlas.zonal.execute.keep_block_arrays_on_heap`).
    """

    idempotent = True

    def setup(self, worker) -> None:
        from atlas.zonal.execute import keep_block_arrays_on_heap

        keep_block_arrays_on_heap()
