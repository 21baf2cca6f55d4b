"""``atlas compensate``: compensation ledgers from a sinks table (CSV, GeoPackage or Parquet)."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from atlas.carbon import compensation as comp
from atlas.cli.options import emit, excel_option
from atlas.errors import ConfigError, FactorError


class FractionType(click.ParamType):
    """A rate given as a fraction; ``8`` is refused with "did you mean 0.08?"."""

    name = "fraction"

    def __init__(self, label: str, option: str, growth: bool = False):
        self.label, self.option, self.growth = label, option, growth

    def convert(self, value, param, ctx):
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number (give a fraction such as 0.08 for 8 %)", param, ctx)
        try:
            return comp.check_growth(number) if self.growth else comp.check_rate(number, self.label, self.option)
        except FactorError as exc:
            self.fail(str(exc), param, ctx)


ID_CANDIDATES = ("pilot_id", "region_id", "adcode", "id")


def read_sinks(path: str | Path, columns: dict[str, str], id_column: str | None = None) -> pd.DataFrame:
    """A sinks table (.csv in UTF-8 or GBK, .gpkg, .parquet), checked by row and column
    (:func:`atlas.validate.read_table`) and indexed by its id column."""
    from atlas.validate import read_table

    if id_column is None:  # the first id column the table has (checked on a first read)
        found = read_table(path, columns).columns
        id_column = next((c for c in ID_CANDIDATES if c in found), None)
        if id_column is None:
            raise ConfigError(f"{Path(path).name} has none of the id columns {list(ID_CANDIDATES)}",
                              "a region id column", "pass --id-column NAME")
    frame = read_table(path, {id_column: "text", **columns}, id_column)
    return frame.drop(columns=[c for c in ("geometry", "geom") if c in frame.columns]).set_index(id_column)


@click.command("compensate")
@click.argument("sinks_table", type=click.Path(exists=True, dir_okay=False))
@click.option("--scheme", type=click.Choice(list(comp.SCHEMES)), default="removals",
              show_default=True, help="removals: pay for net sinks; balance: deficit regions pay surplus "
              "regions; baseline: pay only sink above a baseline.")
@click.option("--price", type=click.FloatRange(min=0), default=comp.DEFAULT_PRICE_CNY_PER_TCO2, show_default=True,
              help="CNY per t CO2 (default: China national ETS 2024 average, ICAP).")
@click.option("--rate", type=FractionType("Discount rate", "--rate"), default=comp.DEFAULT_DISCOUNT_RATE,
              show_default=True, help="Discount rate for the NPV, a fraction: 0.08 = 8 %.")
@click.option("--growth", type=FractionType("Price growth", "--growth", growth=True), default=0.0,
              show_default=True, help="Annual growth of the carbon price, a fraction: 0.02 = 2 %/yr.")
@click.option("--years", type=click.IntRange(min=1), default=comp.DEFAULT_YEARS, show_default=True,
              help="Years of payments.")
@click.option("--contribution-share", type=click.FloatRange(0, 1), default=1.0, show_default=True,
              help="balance: share of each deficit tonne charged.")
@click.option("--baseline", "baseline_table", type=click.Path(exists=True, dir_okay=False),
              help="baseline: a sinks table of the baseline year.")
@click.option("--estimate", type=click.Choice(list(comp.ESTIMATES)), default="central", show_default=True,
              help="Which sink estimate to pay for (low / high: 2.5 / 97.5 % of the Monte Carlo).")
@click.option("--id-column", help="Region id column of the table (default: pilot_id, region_id, adcode or id).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help=".csv, .gpkg or .parquet "
              "(default: CSV on stdout). The ledger carries its parameters as columns.")
@click.option("--overwrite", is_flag=True)
@excel_option
def compensate_cmd(sinks_table, scheme, price, rate, growth, years, contribution_share, baseline_table, estimate,
                   id_column, output, overwrite):
    """Compensation ledger per region from SINKS_TABLE (the output of `atlas sinks` or `atlas build`:
    .csv, .gpkg or .parquet)."""
    sink = f"sink_tco2_per_yr_{estimate}"
    columns = {sink: "number"}
    if scheme == "balance":
        columns["emissions_tco2_per_yr"] = "number>=0?"
    table = read_sinks(sinks_table, columns, id_column)
    if scheme == "baseline" and not baseline_table:
        raise ConfigError("The baseline scheme needs --baseline", "a sinks table of the baseline year")
    base = read_sinks(baseline_table, {sink: "number"}, id_column)[sink] if baseline_table else None
    ledger = comp.ledger(table, scheme, price, rate, years, contribution_share, base, estimate, growth)
    ledger.index.name = table.index.name
    ledger = ledger.reset_index()
    totals = "; ".join(f"{c} {v:,.0f}" for c, v in ledger.filter(like="_cny").sum().items())
    click.echo(f"scheme {scheme}, {estimate} sink estimate: price {price:g} CNY/t CO2 growing {growth:.1%}/yr, "
               f"{years} years discounted at {rate:.1%}; totals (CNY) {totals}", err=True)
    emit(ledger, output, overwrite)
