"""Batch-run configuration (``atlas run CONFIG.toml``): parsing and validation.

Every problem is reported as a :class:`~atlas.errors.ConfigError` that names the file
and the key (``[forest].paths[1]``), what was found and what is expected. Relative paths
are relative to the configuration file; ``~`` and ``${VARIABLES}`` are expanded. An example with every key::

    [run]
    out = "out/batch1"                  # output folder (default: next to the config, named after it)

    [regions]                           # registry pilots (all 87 when the table is empty) ...
    batch = [1]                         # also: level = [...], province = "广东", year = 2010, ids = [...]
    # file = "my_regions.gpkg"          # ... or your own outlines
    # id_column = "code"
    # encoding = "gbk"
    # layer = "counties"                # the layer of a multi-layer file (GeoPackage)
    # name_column = "名称"              # the regions' display names on the site (default: the id)

    [forest]                            # default: the embedded MODIS MCD12C1 2019 map
    paths = ["tiles/Hansen_GFC-2024-v1.12_treecover2000_*.tif"]   # globs allowed
    product = "hansen"                  # or generic, with kind/units
    threshold = 30
    year = 2000                         # year the layer shows: forest-cover targets are judged against it

    [loss]                              # optional: Hansen lossyear tiles
    paths = ["tiles/Hansen_GFC-2024-v1.12_lossyear_*.tif"]
    years = 24                          # years the layer spans (default: all its loss years)

    [emissions]                         # optional: default = CEADs series, else reported 2010 (pilots only)
    paths = ["EDGAR/v8.0_FT2022_GHG_CO2_2022_TOTALS_emi.nc"]
    product = "edgar"
    # bands = "all"                     # a stack (multi-band file or NetCDF time axis), summed in one pass:
    # series = true                     # or one file per band; offset ratios use the band of the sink year

    [sinks]
    factors = "tier2_factors.csv"       # optional Tier 2 table
    draws = 10000
    seed = 20130601

    [compensation]
    scheme = "balance"                  # removals | balance | baseline
    price = 95.96
    rate = 0.08
    years = 10
    contribution_share = 1.0
    growth = 0.0                        # annual growth of the carbon price in the NPV
    estimate = "central"                # which sink estimate is paid for: low | central | high
    baseline = "sinks_2010.csv"         # baseline scheme only: a sinks table of the baseline year

    [outputs]
    formats = ["csv", "gpkg", "parquet"]
    provinces = false                   # also forest and sinks per province and the mainland total
    excel = false                       # CSV for Excel: UTF-8 with a byte-order mark, CRLF line ends

    [site]
    publish = true                      # also for your own outlines ([regions].file)
    tiles = "none"                      # none | osm | amap
    review_number = "GS(2024)0650号"    # the map's review number (审图号), printed on every map

    [compute]
    workers = 2                         # local threads of the zonal engine
    scheduler = "tcp://10.0.0.5:8786"   # a dask.distributed cluster; "local" starts a LocalCluster;
                                        # "threads" (the default) keeps to local threads
    cluster_workers = 2                 # worker processes of that LocalCluster
"""

from __future__ import annotations

import glob
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from atlas.carbon import compensation as comp
from atlas.carbon.sinks import DEFAULT_DRAWS, DEFAULT_SEED
from atlas.errors import AtlasError, ConfigError
from atlas.workflow.schema import TABLE_FORMATS, Document, validate_document, where

SCHEMES = comp.SCHEMES
__all__ = ["LayerConfig", "RunConfig", "SCHEMES", "TABLE_FORMATS", "load_config", "parse_config"]


@dataclass(frozen=True)
class LayerConfig:
    """A raster layer of a run: files (globs expanded, sorted) and how to read them.

    ``name`` (the column stem) and ``groups`` (named sets of class codes reported as one area,
    e.g. ``(("forest", (1, 2)),)``) are for the user's own generic layers; ``atlas sinks`` names
    a generic forest layer ``forest`` so its cover or its forest classes give ``forest_ha``.
    """

    paths: tuple[Path, ...]
    product: str | None = None
    kind: str | None = None
    units: str | None = None
    threshold: float | None = None
    nodata: float | None = None
    years: int | None = None
    year: int | None = None
    bands: str | tuple[int, ...] | None = None
    series: bool = False
    name: str | None = None
    groups: tuple[tuple[str, tuple[int, ...]], ...] = ()


@dataclass(frozen=True)
class RunConfig:
    """A validated ``atlas run`` configuration."""

    path: Path
    out: Path
    regions: dict = field(default_factory=dict)
    regions_file: Path | None = None
    id_column: str = "pilot_id"
    encoding: str | None = None
    regions_layer: str | None = None
    name_column: str | None = None
    forest: LayerConfig | None = None
    loss: LayerConfig | None = None
    emissions: LayerConfig | None = None
    factors: Path | None = None
    inventory: Path | None = None
    inventory_columns: str | None = None
    inventory_encoding: str | None = None
    inventory_layer: str | None = None
    draws: int = DEFAULT_DRAWS
    seed: int = DEFAULT_SEED
    scheme: str = "removals"
    price: float = comp.DEFAULT_PRICE_CNY_PER_TCO2
    rate: float = comp.DEFAULT_DISCOUNT_RATE
    years: int = comp.DEFAULT_YEARS
    contribution_share: float = 1.0
    growth: float = 0.0
    estimate: str = "central"
    baseline: Path | None = None
    formats: tuple[str, ...] = ("csv",)
    provinces: bool = False
    excel: bool = False
    publish_site: bool = False
    tiles: str = "none"
    review_number: str | None = None
    workers: int | None = None
    scheduler: str | None = None
    cluster_workers: int | None = None

    @property
    def uses_registry(self) -> bool:
        return self.regions_file is None

    @property
    def name(self) -> str:
        """How errors name the configuration: its file name."""
        return self.path.name


def _fail(path: Path, loc: tuple, found: str, expected: str):
    key = where(loc)
    raise ConfigError(f"{path.name}: {key} {found}", expected, f"edit {key} in {path}")


def _resolve(path: Path, loc: tuple, text: str | None) -> Path | None:
    """A path of the config, relative to its folder, ``~`` and ``${VARIABLES}`` expanded; it must exist."""
    if text is None:
        return None
    resolved = (path.parent / os.path.expandvars(os.path.expanduser(text))).resolve()
    if not resolved.exists():
        _fail(path, loc, f"names {text!r}, which does not exist ({resolved})", "an existing file")
    return resolved


def _check_regions_file(path: Path, regions_file: Path, regions) -> None:
    """The ``[regions]`` file has the layer and columns the config names (read from its header only)."""
    import pyogrio

    from atlas.regions.boundaries import choose_layer

    try:
        layer = choose_layer(regions_file, regions.layer, how=f"set [regions].layer in {path.name} to")
        fields = [str(f) for f in pyogrio.read_info(regions_file, layer=layer, encoding=regions.encoding)["fields"]]
    except AtlasError as exc:
        raise ConfigError(f"{path.name}: [regions].file: {exc.found}", exc.expected, exc.fix) from exc
    except Exception as exc:  # pyogrio raises several unrelated types for unreadable files
        raise ConfigError(f"{path.name}: [regions].file {regions_file.name} cannot be read ({exc})",
                          "a vector file GDAL can read", f"edit [regions].file in {path}") from exc
    for key in ("id_column", "name_column"):
        column = getattr(regions, key)
        if column is not None and column not in fields:
            _fail(path, ("regions", key), f"is {column!r}, which {regions_file.name} does not have",
                  "one of its columns: " + ", ".join(fields))


def _layer(path: Path, name: str, table) -> LayerConfig:
    files: list[Path] = []
    for i, pattern in enumerate(table.paths):
        full = str(path.parent / os.path.expandvars(os.path.expanduser(pattern)))
        hits = sorted(glob.glob(full)) if glob.has_magic(full) else ([full] if Path(full).exists() else [])
        if not hits:
            _fail(path, (name, "paths", i), f"is {pattern!r}, which matches no file", "existing raster files")
        files += [Path(h).resolve() for h in hits]
    return LayerConfig(paths=tuple(dict.fromkeys(files)), product=getattr(table, "product", None),
                       kind=getattr(table, "kind", None), units=getattr(table, "units", None),
                       threshold=getattr(table, "threshold", None), nodata=getattr(table, "nodata", None),
                       years=getattr(table, "years", None), year=getattr(table, "year", None),
                       bands=_bands(getattr(table, "bands", None)), series=getattr(table, "series", False))


def _bands(value) -> str | tuple[int, ...] | None:
    return tuple(value) if isinstance(value, list) else value


def _looks_like_toml(text: str) -> bool:
    """TOML text rather than a path: it has a line break or starts with a table or comment."""
    return "\n" in text or text.lstrip().startswith(("[", "#"))


def load_config(source: str | Path) -> RunConfig:
    """Read and validate a run configuration from a TOML file, or from TOML text itself
    (``atlas run "$(atlas build --print-config)"``: relative paths are then relative to the
    working folder, and errors name it ``<config text>``).

    Raises
    ------
    ConfigError
        Unreadable TOML, an unknown table or key, a value of the wrong type or range, a
        path that does not exist, or settings that contradict each other.
    """
    if isinstance(source, str) and _looks_like_toml(source):
        return parse_config(source, Path.cwd().resolve() / "<config text>")
    path = Path(source).resolve()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"Config file {path} does not exist", "a TOML file", "check the path") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path.name} is not valid UTF-8: {exc}", "a UTF-8 TOML run configuration",
                          f"save {path} as UTF-8") from exc
    return parse_config(text, path)


def parse_config(text: str, path: Path) -> RunConfig:
    """Validate the TOML ``text`` of a run configuration; ``path`` names it in errors and
    anchors its relative paths (at ``path.parent``)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path.name} is not valid TOML: {exc}", "a TOML run configuration",
                          f"fix the syntax of {path}") from exc
    doc: Document = validate_document(raw, path)
    regions = doc.regions
    selection = {"batch": list(regions.batch), "level": list(regions.level), "province": regions.province,
                 "year": regions.year, "ids": list(regions.ids)}
    regions_file = _resolve(path, ("regions", "file"), regions.file)
    if regions_file is not None and any(selection.values()):
        _fail(path, ("regions", "file"), "is given together with a pilot selection",
              "either file = … or a pilot selection")
    money = doc.compensation
    baseline = _resolve(path, ("compensation", "baseline"), money.baseline)
    if money.scheme == "baseline" and baseline is None:
        _fail(path, ("compensation", "baseline"), "is missing", "a sinks table of the baseline year "
              "(scheme = 'baseline')")
    if regions_file is not None:
        _check_regions_file(path, regions_file, regions)
    elif regions.layer is not None or regions.name_column is not None:
        _fail(path, ("regions", "layer" if regions.layer is not None else "name_column"),
              "is given without [regions].file", "file = … (your own outlines) with it, or neither")
    sinks = doc.sinks
    return RunConfig(
        path=path, out=(path.parent / (doc.run.out or f"{path.stem}-out")).resolve(), regions=selection,
        regions_file=regions_file, id_column=regions.id_column, encoding=regions.encoding,
        regions_layer=regions.layer, name_column=regions.name_column,
        forest=_layer(path, "forest", doc.forest) if doc.forest else None,
        loss=_layer(path, "loss", doc.loss) if doc.loss else None,
        emissions=_layer(path, "emissions", doc.emissions) if doc.emissions else None,
        factors=_resolve(path, ("sinks", "factors"), sinks.factors), draws=sinks.draws, seed=sinks.seed,
        inventory=_resolve(path, ("sinks", "inventory"), sinks.inventory), inventory_columns=sinks.inventory_columns,
        inventory_encoding=sinks.inventory_encoding, inventory_layer=sinks.inventory_layer,
        scheme=money.scheme, price=float(money.price), rate=float(money.rate), years=money.years,
        contribution_share=float(money.contribution_share), growth=float(money.growth), estimate=money.estimate,
        baseline=baseline,
        formats=tuple(dict.fromkeys(doc.outputs.formats)), provinces=doc.outputs.provinces,
        excel=doc.outputs.excel,
        publish_site=doc.site.publish, tiles=doc.site.tiles, review_number=doc.site.review_number,
        workers=doc.compute.workers, scheduler=doc.compute.scheduler, cluster_workers=doc.compute.cluster_workers)
