"""``atlas run CONFIG.toml``: a configured batch run that is idempotent and resumable.

The run is a chain of steps (regions → zonal statistics per layer → sinks → compensation
→ targets → tables → site). Each step has a *key*: the SHA-256 of its settings, the
content hashes of the files it reads and the keys of the steps it uses. A finished step
leaves an artifact named by its key in ``OUT/.atlas-run/``, written atomically; a later
run with the same key reuses it instead of recomputing. So a re-run does nothing new, a
run killed at any point resumes from the last finished step, and outputs are rebuilt
only when something they depend on changed. Final outputs are deterministic, so a
resumed run ends byte-identical to an uninterrupted one.

File content hashes are cached in ``.atlas-run/hashes.json`` by path, size and
modification time (as git does), so big rasters are hashed once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd

from atlas import __version__
from atlas.regions import boundaries, registry
from atlas.carbon import compensation, factors, targets
from atlas._io import atomic_path, write_text_atomic
from atlas.workflow.config import LayerConfig, RunConfig
from atlas.errors import ConfigError
from atlas.export import write_frame
from atlas.paths import geodata_dir
from atlas.workflow.pipeline import (
    DEFAULT_FOREST,
    default_forest_layer,
    domain_by_latitude,
    forest_areas_by_type,
    labelled_sinks,
    pilot_site_data,
    reported_emissions,
)
from atlas.publish.site import RasterLayer, SiteData, publish_site
from atlas.rasters import open_layer
from atlas.rasters.layer import LayerSpec
from atlas.zonal import zonal_stats

log = logging.getLogger(__name__)

STATE_DIR = ".atlas-run"


@dataclass
class StepOutcome:
    """One step of a run: its key, whether its artifact was reused, and how long it took."""

    name: str
    key: str
    reused: bool
    seconds: float


@dataclass
class RunReport:
    """What :func:`run` did."""

    out: Path
    steps: list[StepOutcome] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    compute: str = "threads"  # where zonal steps ran: threads, LocalCluster(n workers) or an address

    @property
    def computed(self) -> list[str]:
        return [s.name for s in self.steps if not s.reused]


class _Hashes:
    """Content hashes of input files, cached by (path, size, mtime)."""

    def __init__(self, state: Path):
        self.path = state / "hashes.json"
        try:
            self.cache = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            self.cache = {}
        self.dirty = False

    def of(self, path: Path) -> str:
        stat = path.stat()
        tag = f"{stat.st_size}:{stat.st_mtime_ns}"
        hit = self.cache.get(str(path))
        if hit and hit[0] == tag:
            return hit[1]
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 22), b""):
                digest.update(chunk)
        self.cache[str(path)] = [tag, digest.hexdigest()]
        self.dirty = True
        return digest.hexdigest()

    def save(self) -> None:
        if self.dirty:
            write_text_atomic(self.path, json.dumps(self.cache, indent=1, sort_keys=True), overwrite=True)
            self.dirty = False


def _key(*parts: object) -> str:
    text = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


class _Run:
    """State of one run: config, cache folder, input hashes, lazily started dask client."""

    def __init__(self, config: RunConfig, progress: Callable[[str, bool], None] | None):
        self.config = config
        self.state = config.out / STATE_DIR
        self.state.mkdir(parents=True, exist_ok=True)
        self.hashes = _Hashes(self.state)
        self.report = RunReport(config.out)
        self.progress = progress or (lambda name, reused: None)
        self._client = None
        self._cluster = None
        self.registry = registry.load_registry() if config.uses_registry else None

    # -- dask ---------------------------------------------------------------------------------
    def client(self, layer: LayerConfig | None):
        """The dask client for a zonal step: the configured scheduler, a LocalCluster for
        multi-tile mosaics (or ``scheduler = "local"``), or None for local threads."""
        scheduler = self.config.scheduler
        if scheduler == "threads":
            return None
        wants_local = scheduler == "local" or (scheduler is None and layer is not None and len(layer.paths) > 1)
        if scheduler is None and not wants_local:
            return None
        if self._client is None:
            from distributed import Client, LocalCluster

            if wants_local:
                n = self.config.cluster_workers or max(1, min(4, os.cpu_count() or 1))
                log.info("starting a LocalCluster with %d worker process(es)", n)
                self._cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                             dashboard_address=None)
                self._client = Client(self._cluster)
                self.report.compute = f"LocalCluster({n} workers)"
            else:
                self._client = Client(scheduler)
                self.report.compute = scheduler
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        self.hashes.save()

    # -- artifacts ----------------------------------------------------------------------------
    def step(self, name: str, key: str, compute: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        """Reuse ``name``'s artifact for ``key`` or compute and store it atomically."""
        path = self.state / f"{name}-{key}.parquet"
        started = time.perf_counter()
        if path.exists():
            frame = gpd.read_parquet(path) if _is_geo_parquet(path) else pd.read_parquet(path)
            reused = True
        else:
            frame = compute()
            with atomic_path(path, overwrite=True) as tmp:
                frame.to_parquet(tmp)
            reused = False
        self.report.steps.append(StepOutcome(name, key, reused, time.perf_counter() - started))
        self.progress(name, reused)
        return frame

    def files_step(self, name: str, key: str, write: Callable[[], list[Path]]) -> list[Path]:
        """A step whose result is files: reused when its marker lists them with the same hashes."""
        marker = self.state / f"{name}-{key}.json"
        started = time.perf_counter()
        reused = False
        if marker.exists():
            listed = json.loads(marker.read_text(encoding="utf-8"))
            files = [self.config.out / rel for rel in listed]
            reused = all(f.exists() and _sha256(f) == digest for f, digest in zip(files, listed.values()))
        if not reused:
            files = write()
            listing = {str(f.relative_to(self.config.out)): _sha256(f) for f in files}
            write_text_atomic(marker, json.dumps(listing, indent=1, sort_keys=True), overwrite=True)
        self.report.steps.append(StepOutcome(name, key, reused, time.perf_counter() - started))
        self.progress(name, reused)
        self.report.files.extend(files)
        return files

    def fingerprint(self, paths) -> list[str]:
        return [self.hashes.of(Path(p)) for p in paths]


def _is_geo_parquet(path: Path) -> bool:
    import pyarrow.parquet as pq

    return b"geo" in (pq.read_schema(path).metadata or {})


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _layer_settings(layer: LayerConfig | None) -> dict | None:
    if layer is None:
        return None
    settings = asdict(layer)
    settings["paths"] = [p.name for p in layer.paths]
    return settings


def _open(layer: LayerConfig, default_product: str | None = None) -> tuple[list, LayerSpec]:
    return open_layer(list(layer.paths), product=layer.product or default_product, kind=layer.kind,
                      units=layer.units, nodata=layer.nodata, threshold=layer.threshold)


# -- steps ------------------------------------------------------------------------------------------

def _regions(run: _Run) -> tuple[gpd.GeoDataFrame, str, str]:
    cfg = run.config
    if cfg.uses_registry:
        geo = geodata_dir()
        inputs = sorted(p for p in geo.iterdir() if p.suffix in (".csv", ".gpkg"))
        key = _key("regions", cfg.regions, run.fingerprint(inputs), __version__)

        def compute() -> gpd.GeoDataFrame:
            frame = boundaries.load_pilot_boundaries(run.registry)
            frame = registry.select_pilots(frame, batch=cfg.regions["batch"] or None,
                                           level=cfg.regions["level"] or None, province=cfg.regions["province"],
                                           year=cfg.regions["year"], ids=cfg.regions["ids"] or None)
            if frame.empty:
                raise ConfigError(f"{cfg.path.name}: [regions] selects no pilot", "at least one pilot",
                                  "loosen the selection")
            return frame
        return run.step("regions", key, compute), "pilot_id", key
    key = _key("regions", cfg.regions_file.name, cfg.id_column, cfg.encoding, run.fingerprint([cfg.regions_file]))

    def compute_user() -> gpd.GeoDataFrame:
        frame = boundaries.read_regions(cfg.regions_file, cfg.id_column, encoding=cfg.encoding)
        geod = gpd.GeoSeries(frame.geometry, crs=frame.crs).to_crs(4326)
        from pyproj import Geod

        areas = [abs(Geod(ellps="WGS84").geometry_area_perimeter(g)[0]) / 1e6 for g in geod]
        return frame.assign(land_area_km2=areas)
    return run.step("regions", key, compute_user), cfg.id_column, key


def _zonal(run: _Run, name: str, layer: LayerConfig, regions, id_column: str, regions_key: str,
           default_product: str | None = None) -> tuple[pd.DataFrame, list, LayerSpec, str]:
    readers, spec = _open(layer, default_product)
    key = _key("zonal", name, _layer_settings(layer), run.fingerprint(layer.paths), regions_key, __version__)
    table = run.step(f"zonal_{name}", key, lambda: zonal_stats(
        regions, readers, spec, id_column=id_column, workers=run.config.workers, client=run.client(layer)))
    return table, readers, spec, key


def run(config: RunConfig, progress: Callable[[str, bool], None] | None = None) -> RunReport:
    """Run (or resume) the batch job of ``config``; see the module docstring.

    Parameters
    ----------
    config : RunConfig
        From :func:`atlas.config.load_config`.
    progress : callable, optional
        Called with (step name, reused) after each step.
    """
    state = _Run(config, progress)
    try:
        return _run_steps(state)
    finally:
        state.close()


def _run_steps(run: _Run) -> RunReport:
    cfg = run.config
    regions, id_column, regions_key = _regions(run)

    if cfg.forest is not None:
        forest_table, forest_readers, forest_spec, forest_key = _zonal(run, "forest", cfg.forest, regions,
                                                                      id_column, regions_key)
        forest_label = ", ".join(p.name for p in cfg.forest.paths[:2]) + (" …" if len(cfg.forest.paths) > 2 else "")
    else:
        default = LayerConfig(paths=(geodata_dir() / DEFAULT_FOREST,), product="modis")
        forest_table, forest_readers, forest_spec, forest_key = _zonal(run, "forest", default, regions,
                                                                      id_column, regions_key)
        forest_label = "MODIS MCD12C1 2019 (embedded)"
        forest_readers, forest_spec = default_forest_layer()

    loss_key, loss = None, None
    if cfg.loss is not None:
        loss_table, _, loss_spec, loss_key = _zonal(run, "loss", cfg.loss, regions, id_column, regions_key, "hansen")
        span = cfg.loss.years or len(loss_spec.groups.get("forest_loss", ())) or 1
        loss = loss_table.set_index(id_column)["forest_loss_ha"].fillna(0.0) / span

    emissions_key, raster_emissions, emissions_layer = None, None, None
    if cfg.emissions is not None:
        table, readers, spec, emissions_key = _zonal(run, "emissions", cfg.emissions, regions, id_column,
                                                     regions_key)
        column = f"{spec.name}_tco2_per_yr"
        if column not in table:
            raise ConfigError(f"{cfg.path.name}: [emissions] gives {spec.unit.output}, not CO2 per year",
                              "an emissions raster in t CO2 or t C per cell and year, or a CO2 flux density",
                              f"set [emissions].kind/units in {cfg.path}")
        raster_emissions = table.set_index(id_column)[column]
        emissions_layer = RasterLayer(readers, spec, ", ".join(p.name for p in cfg.emissions.paths[:2]))

    land_ha = regions.set_index(id_column)["land_area_km2"] * 100.0
    sinks_key = _key("sinks", forest_key, loss_key, emissions_key, cfg.draws, cfg.seed,
                     run.fingerprint([cfg.factors] if cfg.factors else []),
                     run.fingerprint([geodata_dir() / "sink_factors.csv", geodata_dir() / "climate_domains.csv"]))

    def compute_sinks() -> pd.DataFrame:
        areas = forest_areas_by_type(forest_table, forest_spec, id_column)
        lib = factors.read_factors()
        if cfg.factors:
            lib = factors.apply_tier2(lib, factors.read_factors(cfg.factors))
        if cfg.uses_registry:
            domains = factors.read_climate_domains().set_index("pilot_id")["climate_domain"]
            emissions = raster_emissions if raster_emissions is not None else reported_emissions(run.registry)
            source = "raster" if raster_emissions is not None else "reported 2010 (seed Tables 1-2)"
        else:
            lat = regions.set_index(id_column).geometry.to_crs(4326).representative_point().y
            domains = lat.map(domain_by_latitude)
            emissions, source = raster_emissions, "raster"
        names = regions.set_index(id_column)["name_zh"] if "name_zh" in regions else None
        out = labelled_sinks(areas, domains, lib, names, emissions, source, forest_label, land_ha=land_ha,
                             loss_ha_per_yr=loss, draws=cfg.draws, seed=cfg.seed)
        out.index.name = id_column
        return out
    sink_frame = run.step("sinks", sinks_key, compute_sinks)

    ledger_key = _key("compensation", sinks_key, cfg.scheme, cfg.price, cfg.rate, cfg.years, cfg.contribution_share,
                      run.fingerprint([cfg.baseline] if cfg.baseline else []))

    def compute_ledger() -> pd.DataFrame:
        base = None
        if cfg.baseline is not None:
            base = pd.read_csv(cfg.baseline, encoding="utf-8").set_index(id_column)["net_sink_tco2_per_yr_central"]
        out = compensation.ledger(sink_frame, cfg.scheme, cfg.price, cfg.rate, cfg.years, cfg.contribution_share,
                                  base)
        out.index.name = id_column
        return out
    ledger = run.step("compensation", ledger_key, compute_ledger)

    # forest area as the sinks count it (IGBP forest classes, or cover at the threshold)
    forest_out = forest_table.set_index(id_column).drop(columns=["forest_ha"], errors="ignore")
    forest_ha = forest_areas_by_type(forest_table, forest_spec, id_column).sum(axis=1)
    forest_out.insert(0, "forest_share_of_land", forest_ha / land_ha.reindex(forest_out.index))
    forest_out.insert(0, "forest_ha", forest_ha)
    tracked = None
    targets_key = None
    if cfg.uses_registry:
        year = 2019 if cfg.forest is None else cfg.forest.year
        targets_key = _key("targets", forest_key, regions_key, year)
        if year is not None:
            mine = run.registry.targets[run.registry.targets["pilot_id"].isin(regions[id_column])]
            tracked = run.step("targets", targets_key, lambda: targets.track_targets(
                mine, forest_out["forest_share_of_land"] * 100.0, year, forest_label))

    tables = {"forest": forest_out.reset_index(), "sinks": sink_frame.reset_index(),
              "compensation": ledger.reset_index()}
    if cfg.emissions is not None:
        tables["emissions"] = raster_emissions.rename("emissions_tco2_per_yr").reset_index()
    if tracked is not None:
        tables["targets"] = tracked
    outlines = regions[[id_column, "geometry"]]
    tables_key = _key("tables", sinks_key, ledger_key, targets_key, emissions_key, cfg.formats, regions_key)

    def write_tables() -> list[Path]:
        written = []
        for name, frame in tables.items():
            for fmt in cfg.formats:
                path = cfg.out / "tables" / f"{name}.{fmt}"
                spatial = fmt != "csv" and id_column in frame
                data = gpd.GeoDataFrame(outlines.merge(frame, on=id_column), geometry="geometry",
                                        crs=regions.crs) if spatial else frame
                written.append(write_frame(data, path, fmt, overwrite=True))
        return written
    run.files_step("tables", tables_key, write_tables)

    if cfg.publish_site:
        site_key = _key("site", tables_key, forest_key, emissions_key, cfg.tiles, __version__,
                        run.fingerprint(sorted((Path(__file__).parent.parent / "publish" / "assets").iterdir())),
                        run.fingerprint(sorted(_layers_dir().glob("*.toml"))))

        def write_site() -> list[Path]:
            data = _site_data(run, regions, forest_out, sink_frame, ledger, tracked, raster_emissions,
                              forest_readers, forest_spec, forest_label, emissions_layer)
            return publish_site(data, cfg.out / "site", tiles=cfg.tiles)
        run.files_step("site", site_key, write_site)
    return run.report


def _layers_dir() -> Path:
    from atlas.paths import layers_dir

    return layers_dir()


def _site_data(run: _Run, regions, forest_out, sink_frame, ledger, tracked, raster_emissions, forest_readers,
               forest_spec, forest_label, emissions_layer) -> SiteData:
    if tracked is None:  # no measurement year for this forest layer: targets listed, none judged
        tracked = targets.track_targets(run.registry.targets, pd.Series(dtype=float), 0, "")
        tracked = tracked[tracked["pilot_id"].isin(regions["pilot_id"])].assign(
            caveat="not measured: the run's forest layer has no year (set [forest].year)")
    rasters = {"forest": RasterLayer(forest_readers, forest_spec, forest_label)}
    if emissions_layer is not None:
        rasters["emissions"] = emissions_layer
    per_batch = regions["batch"].value_counts().sort_index()
    summary = {"pilots_total": len(regions), "pilots_per_batch": {int(k): int(v) for k, v in per_batch.items()}}
    return pilot_site_data(run.registry, boundaries.area_table(regions), forest_out.reset_index(),
                           sink_frame.reset_index(), ledger.reset_index(), tracked, raster_emissions, rasters,
                           summary, [], [f"森林 Forest: {forest_label}", f"配置 Config: {run.config.path.name}"])
