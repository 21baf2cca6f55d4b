"""``atlas run CONFIG.toml`` and ``atlas build``: one step graph, idempotent and resumable.

The steps, in the order data flows: regions → zonal statistics of each layer (forest, loss,
emissions; provinces too when ``[outputs].provinces``) → sinks → compensation → targets →
tables → site. Each is a content-keyed step of :class:`atlas.workflow.cache.StepCache`, so a
re-run does nothing new, a killed run resumes from the last finished step, and outputs are
rebuilt only when something they depend on changed. ``atlas build`` is this run of the
packaged default config (:mod:`atlas.workflow.defaults`).

Output layout (the same for both commands)::

    OUT/index.html, national.html, batch-N.html, pilots/<id>.html   the site ([site].publish)
    OUT/data/<table>.<format>                                       the tables
    OUT/.atlas-run/                                                 the step cache
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable


from atlas.workflow import steps
from atlas.workflow.cache import STATE_DIR, StepCache, StepOutcome
from atlas.workflow.config import LayerConfig, RunConfig
from atlas.workflow.graph import Graph, Layer, RunReport

log = logging.getLogger(__name__)

__all__ = ["STATE_DIR", "RunReport", "StepOutcome", "run"]


class _Compute:
    """Where zonal steps run: local threads, a LocalCluster started on demand, or a scheduler."""

    def __init__(self, config: RunConfig):
        self.config = config
        self.client_ = None
        self.cluster = None
        self.label = "threads"

    def client(self, layer: LayerConfig | None):
        scheduler = self.config.scheduler
        if scheduler == "threads":
            return None
        # local threads by default, mosaics too: on one machine they beat a LocalCluster (README, "On several
        # machines, and how fast"); "local" asks for a LocalCluster explicitly
        wants_local = scheduler == "local"
        if scheduler is None and not wants_local:
            return None
        if self.client_ is None:
            from distributed import Client, LocalCluster

            from atlas.zonal import register_worker_setup

            if wants_local:
                n = self.config.cluster_workers or max(1, min(4, os.cpu_count() or 1))
                log.info("starting a LocalCluster with %d worker process(es)", n)
                self.cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                            dashboard_address=None)
                self.client_ = Client(self.cluster)
                self.label = f"LocalCluster({n} workers)"
            else:
                self.client_ = Client(scheduler)
                self.label = scheduler
            register_worker_setup(self.client_)
        return self.client_

    def close(self) -> None:
        if self.client_ is not None:
            self.client_.close()
        if self.cluster is not None:
            self.cluster.close()


def run(config: RunConfig, progress: Callable[[str, bool], None] | None = None) -> RunReport:
    """Run (or resume) the job of ``config``; see the module docstring.

    Every layer is opened (and an emissions layer's units checked) before the first step,
    so a bad option fails before any work is done.

    Parameters
    ----------
    config : RunConfig
        From :func:`atlas.workflow.config.load_config` or :func:`atlas.workflow.defaults.default_config`.
    progress : callable, optional
        Called with (step name, reused) after each step.
    """
    layers = {"forest": Layer(config.forest or steps.default_forest_config(),
                               *steps.open_configured(config.forest or steps.default_forest_config()))}
    if config.loss is not None:
        layers["loss"] = Layer(config.loss, *steps.open_configured(config.loss, "hansen"))
    if config.emissions is not None:
        layers["emissions"] = Layer(config.emissions, *steps.open_configured(config.emissions))
        steps.check_emissions_units(layers["emissions"].spec, f"{config.name}: [emissions]")
    from atlas.workflow.lock import output_lock

    with output_lock(config.out, command=f"atlas run {config.name}"):  # one run per folder at a time
        cache = StepCache(config.out, progress)
        compute = _Compute(config)
        try:
            report = Graph(config, cache, compute, layers).run()
        finally:
            compute.close()
            cache.hashes.save()
    report.steps, report.files, report.compute = cache.steps, cache.files, compute.label
    return report
