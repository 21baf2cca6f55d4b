"""Map layer specifications (``layers/*.toml``) and their classification.

One TOML file per layer. A *choropleth* colours pilot outlines by a column of the
per-pilot table; a *raster* layer draws a forest or emissions raster as an image
overlay. Keys (see ``layers/README.md`` for the full reference)::

    id = "net_sink"                      # unique, letters/digits/underscore
    kind = "choropleth"                  # or "raster"
    title_zh = "森林净碳汇"                # layer control (both languages shown)
    title_en = "Net forest sink"
    column = "net_sink_tco2_per_yr_central"   # choropleth: a column of the pilot table
    source = "forest"                    # raster: "forest" or "emissions"
    rasters = ["igbp"]                   # raster: only for rasters whose layer name is listed
    order = 40                           # position in the layer control
    show = false                         # visible when the page opens
    tooltip = ["net_sink_tco2_per_yr_low", "net_sink_tco2_per_yr_high"]
    [legend]
    title_zh = "..."; title_en = "..."; note = "..."
    [classification]
    scheme = "natural_breaks"            # quantiles | natural_breaks | equal_interval | fixed | categories
    k = 5
    breaks = [...]                       # fixed: upper bounds of the classes
    centre = 0.0                         # diverging: classes are made separately below and above
    min_value = 10                       # values below are not classified (not drawn on images)
    categories = [{ value = 1, colour = "#1b9e77", label_zh = "...", label_en = "..." }]
    [colours]
    scale = "YlGn"                       # a ColorBrewer scheme, or
    list = ["#...", "..."]               # explicit colours, one per class

Classification is computed from the data of the page (mapclassify), so the legend
always shows the classes actually used.
"""

from __future__ import annotations

import logging
import re
import tomllib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from branca.utilities import color_brewer

from atlas.errors import SiteError
from atlas.paths import layers_dir
from atlas.publish.fields import Field
from atlas.publish.fields import field as field_of

log = logging.getLogger(__name__)

SCHEMES = ("quantiles", "natural_breaks", "equal_interval", "fixed", "categories")
KINDS = ("choropleth", "raster")
RASTER_SOURCES = ("forest", "emissions")
NODATA_COLOUR = "#d9d9d9"
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Category:
    """One class of a categorical layer."""

    value: object
    colour: str
    label_zh: str
    label_en: str

    @property
    def label(self) -> str:
        return f"{self.label_zh} {self.label_en}".strip()


@dataclass(frozen=True)
class LayerDef:
    """A validated layer specification (one ``layers/*.toml`` file)."""

    id: str
    kind: str
    title_zh: str
    title_en: str
    path: Path
    column: str = ""
    source: str = ""
    rasters: tuple[str, ...] = ()
    order: int = 100
    show: bool = False
    tooltip: tuple[str, ...] = ()
    legend_zh: str = ""
    legend_en: str = ""
    legend_note: str = ""
    scheme: str = "quantiles"
    k: int = 5
    breaks: tuple[float, ...] = ()
    centre: float | None = None
    min_value: float | None = None
    categories: tuple[Category, ...] = ()
    scale: str = ""
    colours: tuple[str, ...] = ()
    opacity: float = 0.75
    field: Field = field(default_factory=lambda: Field("", ""))

    @property
    def title(self) -> str:
        return f"{self.title_zh} {self.title_en}"

    @property
    def legend_title(self) -> str:
        title = f"{self.legend_zh or self.title_zh} {self.legend_en or self.title_en}"
        unit = self.field.unit_label if self.scheme != "categories" else ""
        return f"{title} ({unit})" if unit else title


@dataclass(frozen=True)
class Classes:
    """The result of classifying a layer's values.

    Attributes
    ----------
    index : numpy.ndarray
        Class of each value, ``-1`` for missing values.
    colours, labels : list of str
        One per class, in legend order.
    """

    index: np.ndarray
    colours: list[str]
    labels: list[str]


def _err(path: Path, key: str, found: str, expected: str) -> SiteError:
    return SiteError(f"{path.name}: key {key!r} {found}", expected, f"edit {path}")


def _str(doc: dict, key: str, path: Path, required: bool = True) -> str:
    value = doc.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise _err(path, key, f"is {value!r}", "a non-empty string")
    return value


def parse_layer(doc: dict, path: Path) -> LayerDef:
    """Validate one parsed TOML document; every problem names the file and the key."""
    known = {"id", "kind", "title_zh", "title_en", "column", "source", "rasters", "order", "show", "tooltip",
             "legend", "classification", "colours", "opacity", "format", "unit"}
    unknown = sorted(set(doc) - known)
    if unknown:
        raise _err(path, unknown[0], "is not a layer key", f"keys among {sorted(known)}")
    layer_id = _str(doc, "id", path)
    if not _ID.match(layer_id):
        raise _err(path, "id", f"is {layer_id!r}", "lower-case letters, digits and underscores")
    kind = doc.get("kind", "choropleth")
    if kind not in KINDS:
        raise _err(path, "kind", f"is {kind!r}", f"one of {KINDS}")
    column = source = ""
    if kind == "choropleth":
        column = _str(doc, "column", path)
    else:
        source = _str(doc, "source", path)
        if source not in RASTER_SOURCES:
            raise _err(path, "source", f"is {source!r}", f"one of {RASTER_SOURCES}")
    legend = doc.get("legend", {})
    classification = doc.get("classification", {})
    colours = doc.get("colours", {})
    for key, table in (("legend", legend), ("classification", classification), ("colours", colours)):
        if not isinstance(table, dict):
            raise _err(path, key, f"is {table!r}", "a table")
    scheme = classification.get("scheme", "quantiles")
    if scheme not in SCHEMES:
        raise _err(path, "classification.scheme", f"is {scheme!r}", f"one of {SCHEMES}")
    k = classification.get("k", 5)
    if not isinstance(k, int) or not 2 <= k <= 9:
        raise _err(path, "classification.k", f"is {k!r}", "an integer from 2 to 9")
    breaks = classification.get("breaks", [])
    if scheme == "fixed":
        if not breaks or any(not isinstance(b, (int, float)) for b in breaks) or list(breaks) != sorted(breaks):
            raise _err(path, "classification.breaks", f"is {breaks!r}", "increasing numbers (class upper bounds)")
    categories = []
    if scheme == "categories":
        raw = classification.get("categories", [])
        if not raw:
            raise _err(path, "classification.categories", "is missing", "a list of {value, colour, label_zh, label_en}")
        for i, cat in enumerate(raw):
            where = f"classification.categories[{i}]"
            if not isinstance(cat, dict) or "value" not in cat:
                raise _err(path, where, f"is {cat!r}", "a table with value, colour, label_zh, label_en")
            if not _HEX.match(str(cat.get("colour", ""))):
                raise _err(path, where + ".colour", f"is {cat.get('colour')!r}", "a colour like '#1b9e77'")
            categories.append(Category(cat["value"], cat["colour"], _str(cat, "label_zh", path),
                                       _str(cat, "label_en", path)))
    colour_list = tuple(colours.get("list", ()))
    if any(not _HEX.match(str(c)) for c in colour_list):
        raise _err(path, "colours.list", f"is {list(colour_list)!r}", "colours like '#1b9e77'")
    scale = colours.get("scale", "")
    if scheme != "categories" and not (scale or colour_list):
        raise _err(path, "colours", "has neither scale nor list", "a ColorBrewer scale name or a colour list")
    if scale:
        try:
            color_brewer(scale, 5)
        except (ValueError, KeyError):
            raise _err(path, "colours.scale", f"is {scale!r}", "a ColorBrewer scheme such as YlGn or RdBu") from None
    rasters = doc.get("rasters", [])
    if not isinstance(rasters, list) or any(not isinstance(r, str) for r in rasters):
        raise _err(path, "rasters", f"is {rasters!r}", "a list of raster layer names such as 'igbp'")
    tooltip = doc.get("tooltip", [])
    if not isinstance(tooltip, list) or any(not isinstance(t, str) for t in tooltip):
        raise _err(path, "tooltip", f"is {tooltip!r}", "a list of column names")
    base = field_of(column) if column else Field(doc.get("title_zh", ""), doc.get("title_en", ""))
    shown = Field(base.zh, base.en, doc.get("format", base.format), doc.get("unit", base.unit))
    opacity = doc.get("opacity", 0.75)
    if not isinstance(opacity, (int, float)) or not 0 < opacity <= 1:
        raise _err(path, "opacity", f"is {opacity!r}", "a number in (0, 1]")
    return LayerDef(
        id=layer_id, kind=kind, title_zh=_str(doc, "title_zh", path), title_en=_str(doc, "title_en", path),
        path=path, column=column, source=source, rasters=tuple(rasters), order=int(doc.get("order", 100)),
        show=bool(doc.get("show", False)), tooltip=tuple(tooltip), legend_zh=legend.get("title_zh", ""),
        legend_en=legend.get("title_en", ""), legend_note=legend.get("note", ""), scheme=scheme, k=k,
        breaks=tuple(float(b) for b in breaks), centre=classification.get("centre"),
        min_value=classification.get("min_value"), categories=tuple(categories), scale=scale, colours=colour_list,
        opacity=float(opacity), field=shown,
    )


def load_layers(folder: str | Path | None = None) -> list[LayerDef]:
    """Read and validate every ``*.toml`` in ``folder`` (default: the project's ``layers/``).

    Raises
    ------
    SiteError
        A file that is not valid TOML, an invalid key, or two layers with the same id.
    """
    where = Path(folder) if folder is not None else layers_dir()
    layers = []
    for path in sorted(where.glob("*.toml")):
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SiteError(f"{path.name} is not valid UTF-8 TOML: {exc}", "a TOML layer spec",
                            f"fix the syntax of {path}") from exc
        layers.append(parse_layer(doc, path))
    if not layers:
        raise SiteError(f"No layer specs (*.toml) in {where}", "at least one layer file",
                        "restore the project's layers/ folder or point ATLAS_LAYERS at yours")
    ids = [layer.id for layer in layers]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise SiteError(f"Layer id {dupes[0]!r} is used by more than one file in {where}", "unique ids",
                        "rename one of the layers")
    return sorted(layers, key=lambda layer: (layer.order, layer.id))


def _palette(layer: LayerDef, n: int) -> list[str]:
    if layer.colours:
        if len(layer.colours) < n:
            raise SiteError(f"{layer.path.name}: colours.list has {len(layer.colours)} colours for {n} classes",
                            f"at least {n} colours", f"add colours to {layer.path}")
        return list(layer.colours[:n])
    return list(color_brewer(layer.scale, max(n, 3)))[:n] if n >= 3 else \
        [color_brewer(layer.scale, 3)[i] for i in ((1,) if n == 1 else (0, 2))]


def _bins(values: np.ndarray, layer: LayerDef, k: int) -> np.ndarray:
    """Upper bounds of the classes of ``values`` (finite, non-empty)."""
    # imported here: mapclassify pulls in scipy.stats, scikit-learn and pyplot (about 1.6 s), which a
    # run whose site step is cached, and every CLI command that reads a config, should not pay
    import mapclassify
    distinct = np.unique(values)
    k = max(1, min(k, distinct.size))
    if layer.scheme == "fixed":
        return mapclassify.classify(values, "user_defined", bins=list(layer.breaks)).bins
    if k == 1:
        return np.array([distinct.max()])
    # natural breaks are Fisher–Jenks (exact, deterministic), not mapclassify's k-means NaturalBreaks
    scheme = {"quantiles": "quantiles", "natural_breaks": "fisher_jenks"}.get(layer.scheme, "equal_interval")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mapclassify warns when classes collapse; we label what is left
        if scheme == "quantiles":
            # the bins alone, as its Quantiles classifier sets them: the classifier also works out fit
            # statistics (class medians, deviations) that cost 13 times as much over a raster's pixels
            bins = mapclassify.classifiers.quantile(values, k=k)
        else:
            bins = mapclassify.classify(values, scheme, k=k).bins
    return np.unique(bins)


def _range_labels(bins: np.ndarray, low: float, fmt) -> list[str]:
    edges = [low, *bins]
    return [f"{fmt(edges[i])} – {fmt(edges[i + 1])}" for i in range(len(bins))]


def classify(values, layer: LayerDef) -> Classes:
    """Classes, colours and legend labels of ``values`` under ``layer``'s scheme.

    Numeric schemes put a value in the first class whose upper bound it does not exceed;
    values below ``min_value`` are left unclassified.
    With ``centre`` set, values at or below and above the centre are classified apart
    (``k // 2`` classes each, at most) and take the two halves of a diverging scale, so
    the centre is always a class boundary. Missing values get class ``-1``.

    Examples
    --------
    Fixed upper bounds 10 and 20 put 5 in class 0, 10 in class 0, 15 in class 1 and a
    missing value in class -1.
    """
    if layer.scheme == "categories":
        data = np.asarray(values, dtype=object if not np.issubdtype(np.asarray(values).dtype, np.number) else None)
        index = np.full(data.shape, -1, dtype=int)
        for i, cat in enumerate(layer.categories):
            index[(data == cat.value) & (index < 0)] = i
        return Classes(index, [c.colour for c in layer.categories], [c.label for c in layer.categories])
    data = np.asarray(values, dtype=float)
    if layer.min_value is not None:
        data = np.where(data >= layer.min_value, data, np.nan)
    finite = np.isfinite(data)
    index = np.full(data.shape, -1, dtype=int)
    if not finite.any():
        return Classes(index, [], [])
    fmt = layer.field.short
    if layer.centre is None:
        bins = _bins(data[finite], layer, layer.k)
        index[finite] = np.minimum(np.searchsorted(bins, data[finite], side="left"), len(bins) - 1)
        return Classes(index, _palette(layer, len(bins)), _range_labels(bins, data[finite].min(), fmt))
    centre = float(layer.centre)
    half = max(1, layer.k // 2)
    below = finite & (data <= centre)
    above = finite & (data > centre)
    bins_low = _bins(data[below], layer, half) if below.any() else np.array([])
    if bins_low.size:
        bins_low[-1] = centre  # the last class below the centre ends at the centre
    bins_high = _bins(data[above], layer, half) if above.any() else np.array([])
    full = _palette(layer, 2 * half) if 2 * half >= 3 else _palette(layer, 3)
    colours_low = full[:half][half - bins_low.size:] if bins_low.size else []
    colours_high = full[-half:][:bins_high.size] if bins_high.size else []
    labels = _range_labels(bins_low, data[below].min(), fmt) if bins_low.size else []
    if bins_high.size:
        labels += _range_labels(bins_high, centre, fmt)
    index[below] = np.minimum(np.searchsorted(bins_low, data[below], side="left"), bins_low.size - 1)
    index[above] = bins_low.size + np.minimum(np.searchsorted(bins_high, data[above], side="left"),
                                              bins_high.size - 1)
    return Classes(index, list(colours_low) + list(colours_high), labels)

