"""Click options shared by several commands: region selection, output, and one-line errors for bad values.

A bad option value is an :class:`OptionValueError`: a click usage error that is also an
:class:`~atlas.errors.AtlasError`, so the command line's one error path prints it as
``atlas: error: --batch 9 is not a batch. Expected 1, 2 or 3. Fix: …`` (exit status 2).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Mapping
from typing import Any

import click
import pandas as pd

from atlas.errors import AtlasError, ConfigError
from atlas.export import write_frame
from atlas.regions import registry
from atlas.regions.names import province_label, resolve_pilots, resolve_province

EXCEL_KEY = "atlas.excel"  # click context meta key set by --excel


class OptionValueError(click.BadParameter, ConfigError):
    """A bad option value, worded as found / expected / fix.

    Parameters
    ----------
    found : str
        Starts with the option and the value, e.g. ``--batch 9 is not a batch``.
    expected, fix : str, optional
    ctx : click.Context, optional
    param : click.Parameter, optional
    """

    def __init__(self, found: str, expected: str | None = None, fix: str | None = None,
                 ctx: click.Context | None = None, param: click.Parameter | None = None):
        message = str(AtlasError(found, expected, fix))
        click.BadParameter.__init__(self, message, ctx=ctx, param=param)
        self.found, self.expected, self.fix = found, expected, fix
        self.args = (message,)

    def format_message(self) -> str:
        return self.message


def flag_of(param: click.Parameter | None) -> str:
    """How the user wrote the option: its longest flag (``--batch``), or an argument's name."""
    if param is None:
        return "value"
    opts = [o for o in getattr(param, "opts", []) if o.startswith("-")]
    return max(opts, key=len) if opts else (param.human_readable_name or "value").upper()


def _or_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


class Among(click.ParamType):
    """One value from a fixed set, e.g. a batch ``1``, ``2`` or ``3``.

    Parameters
    ----------
    noun : str
        What a value is, with its article (``a batch``): the error says ``--batch 9 is not a batch``.
    values : mapping or sequence
        Accepted values; a mapping gives each a label shown in the error (``1 (2010)``).
    convert : callable
        Turns the text into a value (``int``, ``str.lower``); failures count as not in the set.
    fix : str, optional
        What to do instead (default: see the command's help).
    """

    def __init__(self, noun: str, values: Mapping[Any, str] | list | tuple, convert: Callable[[str], Any] = str,
                 fix: str | None = None):
        self.noun = noun
        self.labels = dict(values) if isinstance(values, Mapping) else {v: "" for v in values}
        self.to_value = convert
        self.fix = fix
        self.name = noun.split(" ", 1)[-1]

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "[" + "|".join(map(str, self.labels)) + "]"

    def expected(self) -> str:
        return _or_list([f"{v} ({label})" if label else str(v) for v, label in self.labels.items()])

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            got = self.to_value(value) if isinstance(value, str) else value
        except (TypeError, ValueError):
            got = None
        if got in self.labels:
            return got
        fix = self.fix or f"see '{ctx.command_path if ctx else 'atlas'} --help'"
        raise OptionValueError(f"{flag_of(param)} {value} is not {self.noun}", self.expected(), fix, ctx, param)


class Resolved(click.ParamType):
    """A value looked up by a function that raises :class:`~atlas.errors.AtlasError` (names, codes).

    The error keeps the function's expected/fix and puts the option in front of what was found:
    ``--province 'Atlantis' is not a province-level unit of China. Expected … Fix: did you mean …``.
    """

    def __init__(self, name: str, resolve: Callable[[str], Any]):
        self.name = name
        self.resolve = resolve

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return self.resolve(value)
        except AtlasError as exc:
            raise OptionValueError(f"{flag_of(param)} {exc.found}", exc.expected, exc.fix, ctx, param) from exc


@functools.cache
def _pilots() -> pd.DataFrame:
    return registry.load_registry().pilots


def _pilot_id(value: str) -> str:
    return resolve_pilots(_pilots(), [value])[0]


BATCH = Among("a batch", {n: str(y) for n, y in registry.BATCH_YEARS.items()}, int,
              "give the batch number; repeat --batch for several")
LEVEL = Among("a level", list(registry.LEVELS), str.lower, "repeat --level for several")
YEAR = Among("a year of designation", {y: f"batch {n}" for n, y in registry.BATCH_YEARS.items()}, int,
             "use --batch 1, 2 or 3 for the same choice")
PROVINCE = Resolved("province", resolve_province)
PILOT = Resolved("pilot", _pilot_id)


def region_filters(func):
    """Add --batch/--level/--province/--year/--id options selecting registry pilots."""
    options = [
        click.option("--batch", "batches", type=BATCH, multiple=True,
                     help="Pilot batch: 1 (2010), 2 (2012), 3 (2017). Repeat for several."),
        click.option("--level", "levels", type=LEVEL, multiple=True,
                     help="Administrative level of the pilot. Repeat for several."),
        click.option("--province", type=PROVINCE,
                     help="Parent province, any of the 34: adcode (440000 or 44), Chinese (广东省 or 广东), "
                          "English (Guangdong, Inner Mongolia, Tibet) or pinyin."),
        click.option("--year", type=YEAR, help="Year of designation: 2010, 2012 or 2017."),
        click.option("--id", "ids", type=PILOT, multiple=True,
                     help="Pilot by id (P3-16) or name: 三明, Sanming, sanming. Repeat for several."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def select_from_options(frame, batches, levels, province, year, ids):
    """Apply the region filter options to a pilot table (or boundary frame); an empty result is an error."""
    chosen = registry.select_pilots(frame, batch=list(batches) or None, level=list(levels) or None,
                                    province=province, year=year, ids=list(ids) or None)
    if chosen.empty and len(frame) and province is not None and registry.select_pilots(frame, province=province).empty:
        raise ConfigError(f"{province_label(province)} (--province {province}) has no national low-carbon pilot",
                          "a province with at least one pilot",
                          "`atlas regions --level province` and `atlas regions --format csv` show where the "
                          "87 pilots lie")
    if chosen.empty and len(frame):
        given = [f"{flag} {value}" for flag, values in (("--batch", batches), ("--level", levels), ("--id", ids))
                 for value in values]
        given += [f"--province {province}"] if province is not None else []
        given += [f"--year {year}"] if year is not None else []
        raise ConfigError(f"No pilot matches {' '.join(given)}", "a selection with at least one pilot",
                          "loosen the filters; `atlas regions` lists the pilots with their batch, level "
                          "and province")
    return chosen


def regions_from_options(regions_file, id_column, encoding, regions_layer, batches, levels, province, year, ids):
    """The regions a command works on: the user's outlines (``--regions``) or a pilot selection,
    never both (a selection given with ``--regions`` would otherwise be dropped without a word).

    Returns
    -------
    (GeoDataFrame, str)
        The outlines and the column that names them (``pilot_id`` for pilots).
    """
    from atlas.regions import boundaries

    if regions_file:
        given = [flag for flag, value in (("--batch", batches), ("--level", levels), ("--province", province),
                                          ("--year", year), ("--id", ids)) if value]
        if given:
            raise ConfigError(f"--regions given together with {', '.join(given)}",
                              "either your own outlines or a pilot selection", f"drop {given[0]} or --regions")
        return boundaries.read_regions(regions_file, id_column, encoding=encoding, layer=regions_layer), id_column
    pilots = boundaries.load_pilot_boundaries(registry.load_registry())
    return select_from_options(pilots, batches, levels, province, year, ids), "pilot_id"


def own_regions(func):
    """Add --regions FILE, --id-column and --layer: the user's own outlines instead of the pilots."""
    options = [
        click.option("--regions", "regions_file", type=click.Path(exists=True, dir_okay=False),
                     help="Use your own outlines (GeoPackage, GeoJSON, Shapefile…) instead of the pilots."),
        click.option("--id-column", default="pilot_id", show_default=True,
                     help="Column naming each region of --regions."),
        click.option("--layer", "regions_layer",
                     help="Layer of a multi-layer --regions file (a GeoPackage with several layers)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _set_excel(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    ctx.meta[EXCEL_KEY] = bool(value)
    return value


def excel_option(func):
    """Add ``--excel``: CSV written as UTF-8 with a byte-order mark, which Excel (zh-CN too) opens correctly.

    The flag is kept in the click context, where :func:`emit` and :func:`excel_requested` find it,
    so a command only needs the decorator (its function gets no extra argument).
    """
    return click.option("--excel", is_flag=True, expose_value=False, callback=_set_excel, is_eager=True,
                        help="CSV for Excel: UTF-8 with a byte-order mark (BOM) and CRLF line ends, so "
                             "Chinese text opens correctly in Excel.")(func)


def excel_requested() -> bool:
    """Whether the running command was given ``--excel``."""
    ctx = click.get_current_context(silent=True)  # meta is shared by a context and its parents
    return bool(ctx is not None and ctx.meta.get(EXCEL_KEY, False))


def emit(table: pd.DataFrame, output: str | None, overwrite: bool, outlines=None,
         id_column: str = "pilot_id", excel: bool | None = None) -> None:
    """Write ``table`` to ``output`` (atomically) or as CSV to stdout.

    For ``.gpkg`` / ``.parquet`` / ``.geojson`` outputs the ``outlines`` (a GeoDataFrame keyed by
    ``id_column``), when given, are attached so the result is a spatial layer; ``.json`` gets the
    attribute records. ``excel`` (default: the command's ``--excel`` flag) writes CSV with a BOM.
    """
    excel = excel_requested() if excel is None else excel
    if not output:
        text = table.to_csv(index=False, lineterminator="\r\n" if excel else "\n")
        sys.stdout.write(("\ufeff" if excel else "") + text)
        return
    if outlines is not None and output.lower().endswith((".gpkg", ".parquet", ".geoparquet", ".geojson")):
        table = outlines[[id_column, "geometry"]].merge(table, on=id_column)
    write_frame(table, output, overwrite=overwrite, excel=excel)
    click.echo(f"{len(table)} rows written to {output}", err=True)


def keep_columns_option(func):
    """Add ``--keep-columns``: which attributes of the regions go next to the statistics."""
    return click.option("--keep-columns", "keep_columns",
                        help="Attributes of the regions kept next to the statistics: comma-separated names, "
                             "'all' or 'none'. Default: all attributes of --regions; name_zh for the pilots.")(func)


def with_attributes(table: pd.DataFrame, regions: pd.DataFrame, id_column: str, keep: str | None,
                    default: str = "all") -> tuple[pd.DataFrame, list[str]]:
    """``table`` with the chosen attributes of ``regions`` after its id column, and notes.

    Parameters
    ----------
    table : DataFrame
        Per-region results with ``id_column`` (several rows per region are fine).
    regions : DataFrame
        The regions and their attributes (geometry is never kept).
    keep : str, optional
        ``--keep-columns``: ``all``, ``none`` or comma-separated column names; ``default`` when None.
    default : str
        What ``keep=None`` means.

    Returns
    -------
    (DataFrame, list of str)
        An attribute whose name a result column already has is kept as ``<name>_attr``; the
        notes say so.

    Raises
    ------
    OptionValueError
        A named column is not an attribute of the regions.
    """
    spec = (default if keep is None else keep).strip()
    geometry = getattr(regions, "geometry", None)
    skip = {id_column, geometry.name if geometry is not None else "geometry"}
    available = [str(c) for c in regions.columns if c not in skip]
    if spec.lower() == "all":
        chosen = available
    elif spec.lower() in ("none", ""):
        chosen = []
    else:
        chosen = list(dict.fromkeys(c.strip() for c in spec.split(",") if c.strip()))
        unknown = [c for c in chosen if c not in available]
        if unknown:
            raise OptionValueError(f"--keep-columns {keep} names {', '.join(unknown)}, which the regions do not have",
                                   "attributes of the regions: " + (", ".join(available) or "(none)"),
                                   "give those names, or 'all' / 'none'")
    if not chosen:
        return table, []
    notes, names = [], {}
    for column in chosen:
        names[column] = f"{column}_attr" if column in table.columns else column
        if names[column] != column:
            notes.append(f"the regions' attribute {column!r} is kept as {names[column]!r} (a result column has "
                         "that name)")
    attributes = pd.DataFrame(regions[[id_column, *chosen]]).rename(columns=names)
    merged = table.merge(attributes, on=id_column, how="left", sort=False)
    order = [id_column, *names.values()] + [c for c in table.columns if c != id_column]
    out = merged[order]
    out.attrs = dict(table.attrs)
    return out, notes
