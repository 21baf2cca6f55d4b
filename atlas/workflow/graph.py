"""The steps of one run, in the order data flows (see :mod:`atlas.workflow.runner`).

Each method of :class:`Graph` is one content-keyed step (or a few small ones) of
:class:`atlas.workflow.cache.StepCache`; the computations themselves are in
:mod:`atlas.workflow.steps` and :mod:`atlas.carbon`.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path

import geopandas as gpd
import pandas as pd

from atlas.carbon import headline
from atlas.carbon.forest_area import forest_areas_by_type
from atlas.carbon.sinks import CO2_PER_C
from atlas.paths import geodata_dir
from atlas.regions import registry
from atlas.workflow import steps
from atlas.workflow.cache import StepCache, StepOutcome, code_fingerprint, content_key, site_inputs
from atlas.workflow.config import LayerConfig, RunConfig
from atlas.workflow.outputs import write_site, write_tables

log = logging.getLogger(__name__)


@dataclass
class RunReport:
    """What :func:`run` did: the steps (computed or reused), the files written, where zonal
    steps ran, the headline figures, and the tables the CLI prints."""

    out: Path
    config: RunConfig | None = None
    steps: list[StepOutcome] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    compute: str = "threads"
    summary: dict = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def computed(self) -> list[str]:
        return [s.name for s in self.steps if not s.reused]


def _layer_settings(layer: LayerConfig | None) -> dict | None:
    if layer is None:
        return None
    settings = asdict(layer)
    settings["paths"] = [p.name for p in layer.paths]
    return settings


@dataclass
class Layer:
    """A layer of the run once opened: its config, readers, spec and zonal table."""

    config: LayerConfig
    readers: list
    spec: object
    table: pd.DataFrame | None = None
    key: str = ""

    @property
    def label(self) -> str:
        return steps.layer_label(self.config)


class Graph:
    """The steps of one run, in order; each method is one step (or a few small ones)."""

    def __init__(self, config: RunConfig, cache: StepCache, compute, layers: dict[str, Layer]):
        self.cfg, self.cache, self.compute, self.layers = config, cache, compute, layers
        self.reg = registry.load_registry() if config.uses_registry else None
        self.id_column = "pilot_id" if config.uses_registry else config.id_column
        self.report = RunReport(config.out, config)
        self.code = code_fingerprint()
        self.extra_tables: dict[str, pd.DataFrame] = {}

    @cached_property
    def official(self) -> pd.DataFrame | None:
        """The bundled official statistics, read once a run (None where the build ships none)."""
        return steps.official_statistics()

    def run(self) -> RunReport:
        cfg = self.cfg
        regions, regions_key = self.regions()
        for name, layer in self.layers.items():
            self.zonal(name, layer, regions, regions_key)
        forest = self.layers["forest"]
        if "band" in forest.table:  # a land-cover series: forest per year, the sink year's band for the rest
            self.extra_tables["forest_by_year"] = steps.forest_by_band(forest.table, forest.spec, regions,
                                                                        self.id_column)
            forest.table, band = steps.band_of_year(forest.table, forest.config.year)
            log.info("forest layer is a stack: sinks use %s", band)
        official = self.official if self.reg is not None else None
        calibrate = official is not None and forest.spec.name == "igbp"
        provinces = self.province_zonal() if self.reg is not None and (cfg.provinces or calibrate) else None
        forest_frame, province_frame, forest_key = self.forest(regions, provinces, official, calibrate)
        province_sinks, province_key = (self.province_sinks(province_frame, provinces, forest_key, official)
                                        if provinces is not None else (None, None))
        sink_frame, sinks_key = self.sinks(regions, forest_frame, forest_key, provinces, province_sinks, province_key)
        ledger, ledger_key = self.ledger(sink_frame, sinks_key)
        tracked, targets_key = self.targets(regions, forest_frame, forest_key, regions_key)

        self.summarise(regions, forest_frame, tracked, province_frame if cfg.provinces else None)
        if cfg.formats or cfg.publish_site:  # an in-memory run (no formats, no site) skips what only files show
            self.publish(regions, regions_key, forest_frame, province_frame, province_sinks, official, sink_frame,
                         sinks_key, ledger, ledger_key, tracked, targets_key)
        self.report.tables = {"sinks": sink_frame, "ledger": ledger, "targets": tracked}
        return self.report

    # -- steps --------------------------------------------------------------------------------

    def publish(self, regions, regions_key, forest_frame, province_frame, province_sinks, official, sink_frame,
                sinks_key, ledger, ledger_key, tracked, targets_key) -> None:
        """The tables step and the site step, and what only they show (the evaluation of designation,
        the emissions series, the validation tables)."""
        cfg, forest, provinces = self.cfg, self.layers["forest"], province_frame
        tables = {"forest": forest_frame.reset_index(), "sinks": sink_frame.reset_index(),
                  "compensation": ledger.reset_index()}
        if "emissions" in self.layers:
            tables["emissions_raster"] = self.layers["emissions"].table
        if "loss" in self.layers:
            tables.update(self.loss_tables(regions))
        tables.update(self.extra_tables)
        if tracked is not None:
            tables["targets_tracking"] = tracked
        series = steps.emissions_series() if self.reg is not None else None
        if series is not None:
            tables["emissions_series"] = series[series["pilot_id"].isin(regions["pilot_id"])].reset_index(drop=True)
            intensity = steps.intensity_table()
            if intensity is not None:
                tables["carbon_intensity"] = intensity[intensity["pilot_id"].isin(regions["pilot_id"])]
            tables["evaluation_effects"], trajectories = self.evaluation()
            tables["emissions_trajectories"] = trajectories[trajectories["pilot_id"].isin(regions["pilot_id"])]
        if "calibrated_forest_ha" in forest_frame:
            from atlas.carbon.validation import pilot_validation

            tables["validation"] = pilot_validation(forest_frame).rename_axis(self.id_column).reset_index()
        if cfg.provinces and provinces is not None:
            tables["forest_provinces"] = province_frame.reset_index()
            tables["sinks_provinces"] = province_sinks.reset_index()
            tables["validation_provinces"], tables["validation_mainland"] = self.validation(
                province_frame, province_sinks, official)
        tables_key = content_key("tables", regions_key, sinks_key, ledger_key, targets_key, cfg.formats, cfg.excel,
                                 self.report.summary, self.code)
        self.cache.output_files("tables", tables_key, lambda: write_tables(
            cfg, self.reg, regions, self.id_column, tables, self.report.summary))
        if cfg.publish_site:
            site_key = content_key("site", tables_key, forest.key, self.layers.get("emissions", forest).key,
                                   cfg.tiles, self.code, self.cache.fingerprint(site_inputs()))
            self.cache.output_files("site", site_key, lambda: write_site(
                cfg, self.reg, regions, tables, self.layers, self.report.summary,
                [f.relative_to(cfg.out).as_posix() for f in self.cache.files], official))

    def regions(self) -> tuple[gpd.GeoDataFrame, str]:
        cfg = self.cfg
        if cfg.uses_registry:
            inputs = sorted(p for p in geodata_dir().iterdir() if p.suffix in (".csv", ".gpkg"))
            key = content_key("regions", cfg.regions, self.cache.fingerprint(inputs), self.code)
            return self.cache.frame("regions", key, lambda: steps.select_regions(self.reg, cfg.regions)), key
        key = content_key("regions", cfg.regions_file.name, cfg.id_column, cfg.encoding, cfg.regions_layer,
                          self.cache.fingerprint([cfg.regions_file]), self.code)
        return self.cache.frame("regions", key, lambda: steps.user_regions(
            cfg.regions_file, cfg.id_column, cfg.encoding, cfg.regions_layer)), key

    def zonal(self, name: str, layer: Layer, regions: gpd.GeoDataFrame, regions_key: str) -> None:
        layer.key = content_key("zonal", name, _layer_settings(layer.config),
                                self.cache.fingerprint(layer.config.paths), regions_key, self.code)
        layer.table = self.cache.frame(f"zonal_{name}", layer.key, lambda: steps.zonal(
            regions, layer.readers, layer.spec, self.id_column, self.cfg.workers, self.compute.client(layer.config)))

    def forest(self, regions, provinces, official, calibrate: bool):
        """Forest area per region (and per province): the raster's, or calibrated to the
        official statistics for a coarse class map."""
        forest = self.layers["forest"]
        raster = steps.forest(forest.table, forest.spec, regions, self.id_column)
        raster_provinces = None
        if provinces is not None:
            outlines, table, _ = provinces
            raster_provinces = steps.forest(table, forest.spec, outlines, "adcode")
        if not calibrate:
            return raster, raster_provinces, forest.key
        stats = geodata_dir() / steps.OFFICIAL_FILE
        key = content_key("forest_calibrated", forest.key, provinces[2], self.cache.fingerprint([stats]), self.code)
        pair = {}

        def compute(which: int):
            if not pair:  # both tables come from one calibration, computed once, from the raster frames
                pair["result"] = steps.calibrated_forest(raster, forest.table, raster_provinces, provinces[1],
                                                         official, regions, self.id_column)
            return pair["result"][which]
        calibrated = self.cache.frame("forest", key, lambda: compute(0))
        calibrated_provinces = self.cache.frame("forest_provinces", key, lambda: compute(1))
        return calibrated, calibrated_provinces, key

    def sinks(self, regions, forest_frame: pd.DataFrame, forest_key: str, provinces, province_sinks,
              province_key) -> tuple[pd.DataFrame, str]:
        cfg, layers = self.cfg, self.layers
        department, department_key = self.department_inventory(regions) if cfg.inventory else (None, None)
        loss = layers.get("loss")
        emissions = layers.get("emissions")
        key = content_key("sinks", forest_key, province_key, department_key, loss and loss.key,
                          emissions and emissions.key,
                          cfg.draws, cfg.seed, self.cache.fingerprint([cfg.factors] if cfg.factors else []),
                          self.cache.fingerprint(p for p in (geodata_dir() / "sink_factors.csv",
                                                             geodata_dir() / "climate_domains.csv",
                                                             geodata_dir() / steps.EMISSIONS_SERIES_FILE,
                                                             geodata_dir() / steps.OFFICIAL_FILE,
                                                             geodata_dir() / steps.INVENTORY_PARAMETERS_FILE)
                                                  if p.exists()))

        def compute() -> pd.DataFrame:
            forest = layers["forest"]
            raster_types = forest_areas_by_type(forest.table, forest.spec, self.id_column)
            fallback = None
            if provinces is not None and "province_adcode" in regions:
                prov_types = forest_areas_by_type(provinces[1], forest.spec, "adcode")
                fallback = prov_types.reindex(regions.set_index(self.id_column)["province_adcode"].to_numpy())
                fallback.index = regions[self.id_column].to_numpy()
            by_type = steps.forest_by_type_for_sinks(forest_frame, raster_types, fallback)
            loss_per_yr = None
            if loss is not None:
                span = loss.config.years or len(loss.spec.groups.get("forest_loss", ())) or 1
                loss_per_yr = loss.table.set_index(self.id_column)["forest_loss_ha"].fillna(0.0) / span
            if emissions is not None:
                column = steps.check_emissions_units(emissions.spec, "[emissions]")
                values, band = steps.emissions_of_year(emissions.table, column, self.id_column, forest.config.year)
                source = f"raster: {emissions.label}" + (f", {band}" if band else "")
            elif self.reg is not None:
                values, source = steps.emissions_for_offsets(self.reg, forest.config.year)
            else:
                values, source = None, ""
            inventory = None
            if province_sinks is not None and "province_adcode" in regions:
                inventory = headline.inventory_regions(
                    province_sinks, province_sinks["forest_ha"], regions.set_index(self.id_column)["province_adcode"],
                    forest_frame["forest_ha"])
            official, params = (self.official, steps.inventory_parameters()) if self.reg else (None, None)
            if official is not None and params is not None:  # a pilot's own two stock figures win over its province's
                own = headline.own_stock_regions(official, forest_frame["forest_ha"], params, cfg.draws, cfg.seed)
                if len(own):
                    inventory = inventory if inventory is not None else pd.DataFrame(index=forest_frame.index)
                    inventory.loc[own.index, own.columns] = own
            if department is not None and len(department):  # the department's own stock figures win
                inventory = inventory if inventory is not None else pd.DataFrame(index=forest_frame.index)
                for bound in ("low", "central", "high"):
                    inventory.loc[department.index, f"inventory_net_sink_tco2_per_yr_{bound}"] = \
                        department[f"net_sink_tco2_per_yr_{bound}"]
                inventory.loc[department.index, "inventory_period"] = "sub-compartment inventory of the department"
            out = steps.sink_table(forest_frame, by_type, steps.climate_domains(regions, self.id_column,
                                                                                cfg.uses_registry),
                                   steps.factor_library(cfg.factors), emissions=values, emissions_source=source,
                                   forest_source=forest.label, loss_ha_per_yr=loss_per_yr, inventory=inventory,
                                   draws=cfg.draws, seed=cfg.seed)
            out["sink_year"] = pd.array([forest.config.year] * len(out), dtype="Int64")
            if self.reg is not None:
                out["reported_emissions_2010_tco2_per_yr"] = steps.reported_emissions(self.reg).reindex(out.index)
            out.index.name = self.id_column
            return out
        return self.cache.frame("sinks", key, compute), key

    def department_inventory(self, regions) -> tuple[pd.DataFrame, str]:
        """Sinks from the department's sub-compartment inventory (``[sinks].inventory``), and the
        rows it could not use (kept as a table of the run)."""
        from atlas.carbon.subcompartments import parse_column_mapping
        from atlas.workflow.inventory import inventory_sinks

        cfg = self.cfg
        inputs = [cfg.inventory] + [geodata_dir() / name for name in (steps.OFFICIAL_FILE,
                                                                      steps.INVENTORY_PARAMETERS_FILE)]
        key = content_key("inventory", cfg.inventory_columns, cfg.inventory_encoding, cfg.inventory_layer,
                          self.cache.fingerprint(inputs), cfg.draws, cfg.seed, self.code)
        result = {}

        def compute(which: str) -> pd.DataFrame:
            if not result:
                mapping = parse_column_mapping(cfg.inventory_columns) or {c: c for c in ("id", "species",
                                                                                           "area_ha", "stock_m3")}
                found = inventory_sinks(cfg.inventory, mapping, regions, self.id_column,
                                        self.official, encoding=cfg.inventory_encoding,
                                        layer=cfg.inventory_layer, draws=cfg.draws, seed=cfg.seed)
                result.update(sinks=found.sinks, rejected=found.rejected.astype(str))
            return result[which]
        sinks = self.cache.frame("inventory", key, lambda: compute("sinks"))
        self.extra_tables["inventory_rejected"] = self.cache.frame("inventory_rejected", key,
                                                                   lambda: compute("rejected"))
        return sinks, key

    def ledger(self, sink_frame: pd.DataFrame, sinks_key: str) -> tuple[pd.DataFrame, str]:
        cfg = self.cfg
        key = content_key("compensation", sinks_key, cfg.scheme, cfg.price, cfg.rate, cfg.years,
                          cfg.contribution_share, cfg.growth, cfg.estimate,
                          self.cache.fingerprint([cfg.baseline] if cfg.baseline else []))

        def compute() -> pd.DataFrame:
            base = None
            if cfg.baseline is not None:
                base = pd.read_csv(cfg.baseline, encoding="utf-8").set_index(self.id_column)
                base = base[f"sink_tco2_per_yr_{cfg.estimate}"]
            return steps.ledger(sink_frame, cfg.scheme, cfg.price, cfg.rate, cfg.years, cfg.contribution_share,
                                base, cfg.growth, cfg.estimate)
        return self.cache.frame("compensation", key, compute), key

    def targets(self, regions, forest_frame, forest_key: str, regions_key: str):
        if self.reg is None:
            return None, None
        layer = self.layers["forest"]
        year = layer.config.year
        inputs = [geodata_dir() / name for name in (steps.OFFICIAL_FILE, steps.EMISSIONS_SERIES_FILE, steps.GDP_FILE)]
        key = content_key("targets", forest_key, regions_key, year, self.code,
                          self.cache.fingerprint(p for p in inputs if p.exists()))
        return self.cache.frame("targets", key, lambda: steps.track(
            self.reg, regions["pilot_id"], forest_frame, year, layer.label, self.official)), key

    def province_zonal(self) -> tuple[gpd.GeoDataFrame, pd.DataFrame, str]:
        """The province outlines and the forest layer's zonal table over them."""
        from atlas.regions import boundaries

        forest = self.layers["forest"]
        # checked only when the zonal table is computed: a reused table's key holds the outlines' file
        # digest, so the outlines it was computed from passed the same check then
        outlines = boundaries.load_provinces(check=False)

        def compute() -> pd.DataFrame:
            boundaries.check_geometries(outlines, "adcode")
            return steps.zonal(outlines, forest.readers, forest.spec, "adcode", self.cfg.workers,
                               self.compute.client(forest.config))
        key = content_key("zonal", "forest_provinces", _layer_settings(forest.config),
                          self.cache.fingerprint(forest.config.paths),
                          self.cache.fingerprint([geodata_dir() / "boundaries.gpkg"]), self.code)
        table = self.cache.frame("zonal_forest_provinces", key, compute)
        table, _ = steps.band_of_year(table, forest.config.year)
        return outlines, table, key

    def province_sinks(self, province_frame: pd.DataFrame, provinces, forest_key: str, official):
        """Sinks per province-level unit (both estimates and the headline) and the mainland totals
        (into the summary)."""
        cfg, forest = self.cfg, self.layers["forest"]
        outlines, table, _ = provinces
        by_type = steps.forest_by_type_for_sinks(province_frame, forest_areas_by_type(table, forest.spec, "adcode"))
        domains = steps.province_domains(outlines, self.reg)
        inputs = [geodata_dir() / name for name in ("sink_factors.csv", steps.OFFICIAL_FILE,
                                                    steps.INVENTORY_PARAMETERS_FILE)]
        key = content_key("sinks_provinces", forest_key, cfg.draws, cfg.seed,
                          self.cache.fingerprint(p for p in inputs if p.exists()))
        lib, params = steps.factor_library(cfg.factors), steps.inventory_parameters()
        result = {}

        def compute(which: int) -> pd.DataFrame:
            if not result:
                frame, totals = steps.province_sinks(province_frame, by_type, domains, lib, official, params,
                                                     cfg.draws, cfg.seed)
                rows = [{"estimate": name, **values} for name, values in totals.items()]
                result["pair"] = (frame.rename_axis("adcode"), pd.DataFrame(rows))
            return result["pair"][which]
        per_province = self.cache.frame("sinks_provinces", key, lambda: compute(0))
        totals = self.cache.frame("mainland_totals", key, lambda: compute(1)).set_index("estimate")
        self.report.summary["mainland_sink_tco2_per_yr"] = {
            name: {b: round(float(row[b])) for b in ("low", "central", "high")} for name, row in totals.iterrows()}
        self.report.summary["mainland_sink_pg_c_per_yr"] = {  # 1 Pg = 1e9 t
            name: {b: round(float(row[b]) / CO2_PER_C / 1e9, 4) for b in ("low", "central", "high")}
            for name, row in totals.iterrows()}
        return per_province, key

    def loss_tables(self, regions) -> dict[str, pd.DataFrame]:
        """Forest loss per region and year from the loss layer, and before vs after designation."""
        from atlas.carbon.forest_loss import loss_around_designation, loss_by_year

        loss = self.layers["loss"]
        by_year = loss_by_year(loss.table, self.id_column, codes=getattr(loss.spec, "classes", {}).keys())
        out = {"forest_loss_by_year": by_year}
        if "year" in regions and self.reg is not None:
            designation = regions.set_index(self.id_column)["year"]
            out["forest_loss_designation"] = loss_around_designation(by_year, designation, self.id_column)
        return out

    def validation(self, province_frame, province_sinks, official) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The atlas' provincial and mainland figures beside official statistics and published
        estimates (``geodata/validation_references.csv``)."""
        from atlas.carbon.validation import mainland_validation, province_validation

        nfi9 = province_frame.index.to_series().map(
            lambda a: steps.official_by_region(official, "forest_area", "adcode", pd.Index([a]),
                                               inventories_only=True).iloc[0]) * 1e4 if official is not None else None
        if nfi9 is not None:
            periods = steps.official_year_by_region(official, "forest_area", province_frame.index)
            nfi9 = nfi9.where(periods.str.startswith("NFI9"))
        per_province = province_validation(province_frame, province_sinks,
                                           nfi9 if nfi9 is not None else pd.Series(dtype=float), province_sinks)
        references = pd.read_csv(geodata_dir() / "validation_references.csv", encoding="utf-8")
        totals = self.report.summary.get("mainland_sink_tco2_per_yr", {})
        mainland = mainland_validation({k: v for k, v in totals.items() if k != "headline"}, references)
        return per_province.reset_index(), mainland

    def evaluation(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The event study of designation and each pilot's comparison path (embedded CEADs series)."""
        from atlas.carbon import evaluation
        from atlas.carbon.trajectories import pilot_trajectories

        inputs = [geodata_dir() / "emissions_series_ceads.csv", geodata_dir() / "pilots.csv"]
        key = content_key("evaluation", self.cache.fingerprint(inputs), self.code)
        panel = {}

        def load():
            if not panel:
                panel["p"] = evaluation.load_panel()
            return panel["p"]
        # rounded to 1e-9: pyfixest's demeaning order follows Python's hash seed, which moves the last
        # digits from one process to the next; a resumed run must write the same bytes
        effects = self.cache.frame("evaluation_effects", key, lambda: evaluation.event_study(load()).round(9))
        paths = self.cache.frame("emissions_trajectories", key, lambda: pilot_trajectories(load()))
        return effects, paths

    def summarise(self, regions, forest_frame, tracked, provinces) -> None:
        summary = self.report.summary
        summary["regions_total"] = int(len(regions))
        if "batch" in regions:
            per_batch = regions["batch"].value_counts().sort_index()
            summary["pilots_total"] = int(len(regions))
            summary["pilots_per_batch"] = {int(k): int(v) for k, v in per_batch.items()}
        summary["forest_layer"] = self.layers["forest"].label
        if provinces is not None:
            mainland = provinces[~provinces.index.astype(int).isin(steps.NOT_MAINLAND)]
            summary["forest_mainland_km2"] = round(float(mainland["forest_ha"].sum()) / 100.0)
            if "raster_forest_ha" in mainland:
                summary["forest_mainland_km2_raster"] = round(float(mainland["raster_forest_ha"].sum()) / 100.0)
        if "raster_forest_ha" in forest_frame:
            summary["forest_area_method"] = ("raster pattern calibrated to the official provincial forest areas "
                                             "of the national forest inventories; official figures of pilots win")
        caveat = getattr(self.layers["forest"].spec, "caveat", None)
        if caveat:
            summary["forest_caveat"] = caveat
        if tracked is not None:
            summary["target_status_counts"] = {k: int(v) for k, v in tracked["status"].value_counts().items()}
