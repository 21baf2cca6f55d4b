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

    [forest]                            # default: the embedded MODIS MCD12C1 2019 map
    paths = ["tiles/Hansen_GFC-2024-v1.12_treecover2000_*.tif"]   # globs allowed
    product = "hansen"                  # or generic, with kind/units
    threshold = 30
    year = 2000                         # year the layer shows: forest-cover targets are judged against it

    [loss]                              # optional: Hansen lossyear tiles
    paths = ["tiles/Hansen_GFC-2024-v1.12_lossyear_*.tif"]
    years = 24                          # years the layer spans (default: all its loss years)

    [emissions]                         # optional: default = reported 2010 (pilots only)
    paths = ["EDGAR/v8.0_FT2022_GHG_CO2_2022_TOTALS_emi.nc"]
    product = "edgar"

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
    baseline = "sinks_2010.csv"         # baseline scheme only: a sinks table of the baseline year

    [outputs]
    formats = ["csv", "gpkg", "parquet"]
    provinces = false                   # also forest and sinks per province and the mainland total

    [site]
    publish = true
    tiles = "none"                      # none | osm | amap
    review_number = "GS(2024)0650号"    # the map's review number (审图号), printed on every map

    [compute]
    workers = 2                         # local threads of the zonal engine
    scheduler = "tcp://10.0.0.5:8786"   # a dask.distributed cluster; "local" starts a LocalCluster;
                                        # "threads" keeps to local threads (default: threads, or a
                                        # LocalCluster when a layer is a mosaic of several tiles)
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
from atlas.errors import ConfigError
from atlas.export import FORMATS
from atlas.rasters import PRODUCTS
from atlas.rasters.units import QuantityKind
from atlas.regions.registry import LEVELS

SCHEMES = comp.SCHEMES
TABLE_FORMATS = ("csv", "gpkg", "parquet")

_ALLOWED = {
    "run": {"out"},
    "regions": {"batch", "level", "province", "year", "ids", "file", "id_column", "encoding"},
    "forest": {"paths", "product", "kind", "units", "threshold", "nodata", "year"},
    "loss": {"paths", "years"},
    "emissions": {"paths", "product", "kind", "units", "nodata"},
    "sinks": {"factors", "draws", "seed"},
    "compensation": {"scheme", "price", "rate", "years", "contribution_share", "baseline"},
    "outputs": {"formats", "provinces"},
    "site": {"publish", "tiles", "review_number"},
    "compute": {"workers", "scheduler", "cluster_workers"},
}


@dataclass(frozen=True)
class LayerConfig:
    """A raster layer of a run: files (globs expanded, sorted) and how to read them."""

    paths: tuple[Path, ...]
    product: str | None = None
    kind: str | None = None
    units: str | None = None
    threshold: float | None = None
    nodata: float | None = None
    years: int | None = None
    year: int | None = None


@dataclass(frozen=True)
class RunConfig:
    """A validated ``atlas run`` configuration."""

    path: Path
    out: Path
    regions: dict = field(default_factory=dict)
    regions_file: Path | None = None
    id_column: str = "pilot_id"
    encoding: str | None = None
    forest: LayerConfig | None = None
    loss: LayerConfig | None = None
    emissions: LayerConfig | None = None
    factors: Path | None = None
    draws: int = DEFAULT_DRAWS
    seed: int = DEFAULT_SEED
    scheme: str = "removals"
    price: float = comp.DEFAULT_PRICE_CNY_PER_TCO2
    rate: float = comp.DEFAULT_DISCOUNT_RATE
    years: int = comp.DEFAULT_YEARS
    contribution_share: float = 1.0
    baseline: Path | None = None
    formats: tuple[str, ...] = ("csv",)
    provinces: bool = False
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


class _Reader:
    """Typed access to one table of the document, with errors naming file and key."""

    def __init__(self, path: Path, section: str, table: object):
        self.path, self.section = path, section
        if not isinstance(table, dict):
            self.fail("", f"is {type(table).__name__}", "a table like [" + section + "]")
        unknown = sorted(set(table) - _ALLOWED[section])
        if unknown:
            self.fail(unknown[0], "is not a known key", f"keys of [{section}]: {sorted(_ALLOWED[section])}")
        self.table = table

    def fail(self, key: str, found: str, expected: str):
        where = f"[{self.section}].{key}" if key else f"[{self.section}]"
        raise ConfigError(f"{self.path.name}: {where} {found}", expected, f"edit {where} in {self.path}")

    def get(self, key: str, kind: type | tuple, default=None, check=None, expected: str = ""):
        if key not in self.table:
            return default
        value = self.table[key]
        if isinstance(value, bool) and kind is not bool and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            self.fail(key, f"is {value!r}", expected or f"a {kind}")
        if not isinstance(value, kind) or (check is not None and not check(value)):
            self.fail(key, f"is {value!r}", expected or f"a {getattr(kind, '__name__', kind)}")
        return value

    def path_of(self, key: str, must_exist: bool = True) -> Path | None:
        text = self.get(key, str, expected="a path (relative to the config file)")
        if text is None:
            return None
        resolved = (self.path.parent / os.path.expandvars(os.path.expanduser(text))).resolve()
        if must_exist and not resolved.exists():
            self.fail(key, f"names {text!r}, which does not exist ({resolved})", "an existing file")
        return resolved


def _layer(reader: _Reader, with_threshold: bool = True) -> LayerConfig:
    patterns = reader.get("paths", list, check=lambda v: v and all(isinstance(p, str) for p in v),
                          expected="a non-empty list of file paths or globs")
    if patterns is None:
        reader.fail("paths", "is missing", "a non-empty list of file paths or globs")
    files: list[Path] = []
    for i, pattern in enumerate(patterns):
        full = str(reader.path.parent / os.path.expandvars(os.path.expanduser(pattern)))
        hits = sorted(glob.glob(full)) if glob.has_magic(full) else ([full] if Path(full).exists() else [])
        if not hits:
            reader.fail(f"paths[{i}]", f"is {pattern!r}, which matches no file", "existing raster files")
        files += [Path(h).resolve() for h in hits]
    product = reader.get("product", str, check=lambda v: v in PRODUCTS, expected=f"one of {PRODUCTS}")
    kind = reader.get("kind", str, check=lambda v: v in [k.value for k in QuantityKind],
                      expected=f"one of {[k.value for k in QuantityKind]}")
    return LayerConfig(
        paths=tuple(dict.fromkeys(files)), product=product, kind=kind, units=reader.get("units", str),
        threshold=reader.get("threshold", (int, float), check=lambda v: 0 <= v <= 100,
                             expected="a percentage 0-100") if with_threshold else None,
        nodata=reader.get("nodata", (int, float)),
        years=reader.get("years", int, check=lambda v: v > 0, expected="a positive integer"),
        year=reader.get("year", int, check=lambda v: 1980 <= v <= 2100, expected="a year such as 2000"))


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
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path.name} is not valid TOML: {exc}", "a TOML run configuration",
                          f"fix the syntax of {path}") from exc
    unknown = sorted(set(doc) - set(_ALLOWED))
    if unknown:
        raise ConfigError(f"{path.name}: unknown table [{unknown[0]}]", f"tables among {sorted(_ALLOWED)}",
                          f"remove or rename [{unknown[0]}] in {path}")
    section = {name: _Reader(path, name, doc.get(name, {})) for name in _ALLOWED}

    run = section["run"]
    out_text = run.get("out", str, default=f"{path.stem}-out")
    regions = section["regions"]
    selection = {
        "batch": regions.get("batch", list, default=[], check=lambda v: all(b in (1, 2, 3) for b in v),
                             expected="a list of batches among 1, 2, 3"),
        "level": regions.get("level", list, default=[], check=lambda v: all(x in LEVELS for x in v),
                             expected=f"a list of levels among {list(LEVELS)}"),
        "province": regions.get("province", str),
        "year": regions.get("year", int, check=lambda v: v in (2010, 2012, 2017), expected="2010, 2012 or 2017"),
        "ids": regions.get("ids", list, default=[], check=lambda v: all(isinstance(i, str) for i in v),
                           expected="a list of pilot ids such as 'P1-01'"),
    }
    regions_file = regions.path_of("file")
    if regions_file is not None and any(selection.values()):
        regions.fail("file", "is given together with a pilot selection", "either file = … or a pilot selection")

    sinks = section["sinks"]
    compensation = section["compensation"]
    scheme = compensation.get("scheme", str, default="removals", check=lambda v: v in SCHEMES,
                              expected=f"one of {SCHEMES}")
    baseline = compensation.path_of("baseline")
    if scheme == "baseline" and baseline is None:
        compensation.fail("baseline", "is missing", "a sinks table of the baseline year (scheme = 'baseline')")
    outputs = section["outputs"]
    formats = outputs.get("formats", list, default=["csv"],
                          check=lambda v: v and all(f in TABLE_FORMATS for f in v),
                          expected=f"a non-empty list among {TABLE_FORMATS}")
    site = section["site"]
    publish = site.get("publish", bool, default=False)
    if publish and regions_file is not None:
        site.fail("publish", "is true for your own outlines", "the site needs registry pilots: set publish = false")
    from atlas.publish.maps import TILE_PROVIDERS
    compute = section["compute"]
    assert set(FORMATS.values()) >= set(TABLE_FORMATS)
    return RunConfig(
        path=path, out=(path.parent / out_text).resolve(), regions=selection, regions_file=regions_file,
        id_column=regions.get("id_column", str, default="pilot_id"), encoding=regions.get("encoding", str),
        forest=_layer(section["forest"]) if "forest" in doc else None,
        loss=_layer(section["loss"], with_threshold=False) if "loss" in doc else None,
        emissions=_layer(section["emissions"], with_threshold=False) if "emissions" in doc else None,
        factors=sinks.path_of("factors"),
        draws=sinks.get("draws", int, default=DEFAULT_DRAWS, check=lambda v: 100 <= v <= 1_000_000,
                        expected="an integer from 100 to 1,000,000"),
        seed=sinks.get("seed", int, default=DEFAULT_SEED),
        scheme=scheme,
        price=compensation.get("price", (int, float), default=comp.DEFAULT_PRICE_CNY_PER_TCO2,
                               check=lambda v: v >= 0, expected="a price ≥ 0 in CNY per t CO2"),
        rate=compensation.get("rate", (int, float), default=comp.DEFAULT_DISCOUNT_RATE,
                              check=lambda v: 0 <= v < 1, expected="a discount rate in [0, 1)"),
        years=compensation.get("years", int, default=comp.DEFAULT_YEARS, check=lambda v: 1 <= v <= 200, expected="1-200 years"),
        contribution_share=compensation.get("contribution_share", (int, float), default=1.0,
                                            check=lambda v: 0 <= v <= 1, expected="a share in [0, 1]"),
        baseline=baseline, formats=tuple(dict.fromkeys(formats)),
        provinces=outputs.get("provinces", bool, default=False), publish_site=publish,
        tiles=site.get("tiles", str, default="none", check=lambda v: v in TILE_PROVIDERS,
                       expected=f"one of {sorted(TILE_PROVIDERS)}"),
        review_number=site.get("review_number", str),
        workers=compute.get("workers", int, check=lambda v: v >= 1, expected="a positive integer"),
        scheduler=compute.get("scheduler", str, expected="'threads', 'local' or a scheduler address such as tcp://host:8786"),
        cluster_workers=compute.get("cluster_workers", int, check=lambda v: v >= 1, expected="a positive integer"),
    )
