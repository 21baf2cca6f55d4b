"""The schema of a run configuration (pydantic models), and its errors as one clear line.

Every table of the TOML document is a model that forbids unknown keys and checks types
strictly (``draws = true`` is not a number); ranges and choices are declared on the fields.
:func:`validate_document` turns pydantic's error into a :class:`~atlas.errors.ConfigError`
that names the key the way the user wrote it (``[regions].batch[0]``), what was found and
what is expected. Paths are checked afterwards, against the file system, by
:mod:`atlas.workflow.config`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from atlas.carbon.compensation import DEFAULT_DISCOUNT_RATE, DEFAULT_PRICE_CNY_PER_TCO2, DEFAULT_YEARS, SCHEMES
from atlas.carbon.sinks import DEFAULT_DRAWS, DEFAULT_SEED
from atlas.errors import ConfigError
from atlas.publish.maps import TILE_PROVIDERS
from atlas.rasters import PRODUCTS
from atlas.rasters.units import QuantityKind
from atlas.regions.registry import LEVELS

TABLE_FORMATS = ("csv", "gpkg", "parquet")
# Choices come from the modules that own them, so config, CLI and library share one list.
Scheme = Literal[SCHEMES]  # type: ignore[valid-type]
Format = Literal[TABLE_FORMATS]  # type: ignore[valid-type]
Product = Literal[tuple(PRODUCTS)]  # type: ignore[valid-type]
Kind = Literal[tuple(k.value for k in QuantityKind)]  # type: ignore[valid-type]
Tiles = Literal[tuple(sorted(TILE_PROVIDERS))]  # type: ignore[valid-type]
Level = Literal[LEVELS]  # type: ignore[valid-type]


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class RunTable(_Table):
    out: str | None = None


class RegionsTable(_Table):
    batch: list[Literal[1, 2, 3]] = []
    level: list[Level] = []
    province: str | None = None
    year: Literal[2010, 2012, 2017] | None = None
    ids: list[str] = []
    file: str | None = None
    id_column: str = "pilot_id"
    encoding: str | None = None
    layer: str | None = None
    name_column: str | None = None


Bands = Literal["all"] | Annotated[str, Field(pattern=r"^\d+(-\d+)?$")] | list[Annotated[int, Field(ge=1)]]


class EmissionsTable(_Table):
    """A raster layer: files (globs), how to read them, and an optional band stack."""

    paths: Annotated[list[str], Field(min_length=1)]
    bands: Bands | None = None
    series: bool = False
    product: Product | None = None
    kind: Kind | None = None
    units: str | None = None
    nodata: float | None = None


class LayerTable(EmissionsTable):
    """The forest layer: a raster layer with a canopy threshold and the year it shows."""

    threshold: Annotated[float, Field(ge=0, le=100)] | None = None
    year: Annotated[int, Field(ge=1980, le=2100)] | None = None


class LossTable(_Table):
    paths: Annotated[list[str], Field(min_length=1)]
    years: Annotated[int, Field(gt=0)] | None = None


class SinksTable(_Table):
    factors: str | None = None
    draws: Annotated[int, Field(ge=100, le=1_000_000)] = DEFAULT_DRAWS
    seed: int = DEFAULT_SEED
    inventory: str | None = None
    inventory_columns: str | None = None
    inventory_encoding: str | None = None
    inventory_layer: str | None = None


class CompensationTable(_Table):
    scheme: Scheme = "removals"
    price: Annotated[float, Field(ge=0)] = DEFAULT_PRICE_CNY_PER_TCO2
    rate: Annotated[float, Field(ge=0, lt=1)] = DEFAULT_DISCOUNT_RATE
    years: Annotated[int, Field(ge=1, le=200)] = DEFAULT_YEARS
    contribution_share: Annotated[float, Field(ge=0, le=1)] = 1.0
    growth: Annotated[float, Field(gt=-1, le=1)] = 0.0
    estimate: Literal["low", "central", "high"] = "central"
    baseline: str | None = None


class OutputsTable(_Table):
    formats: Annotated[list[Format], Field(min_length=1)] = ["csv"]
    provinces: bool = False
    excel: bool = False


class SiteTable(_Table):
    publish: bool = False
    tiles: Tiles = "none"
    review_number: str | None = None


class ComputeTable(_Table):
    workers: Annotated[int, Field(ge=1)] | None = None
    scheduler: str | None = None
    cluster_workers: Annotated[int, Field(ge=1)] | None = None


class Document(_Table):
    """A whole run configuration: one attribute per TOML table."""

    run: RunTable = RunTable()
    regions: RegionsTable = RegionsTable()
    forest: LayerTable | None = None
    loss: LossTable | None = None
    emissions: EmissionsTable | None = None
    sinks: SinksTable = SinksTable()
    compensation: CompensationTable = CompensationTable()
    outputs: OutputsTable = OutputsTable()
    site: SiteTable = SiteTable()
    compute: ComputeTable = ComputeTable()


TABLES = tuple(Document.model_fields)


def where(loc: tuple) -> str:
    """``("regions", "batch", 0)`` → ``[regions].batch[0]``."""
    text = f"[{loc[0]}]"
    for part in loc[1:]:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _expected(error: dict) -> str:
    loc, kind, message = error["loc"], error["type"], error["msg"]
    if kind == "extra_forbidden":
        if len(loc) == 1:
            return f"tables among {list(TABLES)}"
        model = Document.model_fields[loc[0]].annotation
        model = next((a for a in getattr(model, "__args__", (model,)) if isinstance(a, type)
                      and issubclass(a, BaseModel)), model)
        return f"keys of [{loc[0]}]: {sorted(model.model_fields)}"
    if kind == "missing":
        return "a value (this key is required)"
    expected = message.removeprefix("Input should be ").removeprefix("Value should ")
    if expected.startswith(("greater", "less")):
        expected = "a value " + expected
    return expected.replace("a valid integer", "a whole number").replace("a valid number", "a number")


def validate_document(doc: dict, path: Path) -> Document:
    """The validated document, or a :class:`ConfigError` naming the first offending key."""
    try:
        return Document.model_validate(doc)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and "[" in part))
        key = where(loc)
        if error["type"] == "extra_forbidden":
            found = f"unknown table {key}" if len(loc) == 1 else f"{key} is not a known key"
        elif error["type"] == "missing":
            found = f"{key} is missing"
        else:
            found = f"{key} is {error['input']!r}"
        raise ConfigError(f"{path.name}: {found}", _expected(error), f"edit {key} in {path}") from None
