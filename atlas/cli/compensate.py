"""``atlas compensate``: compensation ledgers from a sinks table."""

from __future__ import annotations

import click
import pandas as pd

from atlas.carbon import compensation as comp
from atlas.errors import ConfigError
from atlas.cli.options import emit


@click.command("compensate")
@click.argument("sinks_csv", type=click.Path(exists=True, dir_okay=False))
@click.option("--scheme", type=click.Choice(["removals", "balance", "baseline"]), default="removals",
              show_default=True, help="removals: pay for net sinks; balance: deficit regions pay surplus "
              "regions; baseline: pay only sink above a baseline.")
@click.option("--price", type=float, default=comp.DEFAULT_PRICE_CNY_PER_TCO2, show_default=True,
              help="CNY per t CO2 (default: China national ETS 2024 average, ICAP).")
@click.option("--rate", type=float, default=comp.DEFAULT_DISCOUNT_RATE, show_default=True,
              help="Discount rate for the NPV (0.08 = 8 %).")
@click.option("--years", type=int, default=comp.DEFAULT_YEARS, show_default=True, help="Years of payments.")
@click.option("--contribution-share", type=float, default=1.0, show_default=True,
              help="balance: share of each deficit tonne charged.")
@click.option("--baseline", "baseline_csv", type=click.Path(exists=True, dir_okay=False),
              help="baseline: a sinks table of the baseline year.")
@click.option("--estimate", type=click.Choice(["low", "central", "high"]), default="central", show_default=True,
              help="Which sink estimate to pay for.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help=".csv or .gpkg (default: stdout CSV).")
@click.option("--overwrite", is_flag=True)
def compensate_cmd(sinks_csv, scheme, price, rate, years, contribution_share, baseline_csv, estimate, output,
                   overwrite):
    """Compensation ledger per region from SINKS_CSV (the output of `atlas sinks`)."""
    table = pd.read_csv(sinks_csv, encoding="utf-8").set_index("pilot_id")
    if scheme == "baseline" and not baseline_csv:
        raise ConfigError("The baseline scheme needs --baseline", "a sinks table of the baseline year")
    base = (pd.read_csv(baseline_csv, encoding="utf-8").set_index("pilot_id")[f"net_sink_tco2_per_yr_{estimate}"]
            if baseline_csv else None)
    ledger = comp.ledger(table, scheme, price, rate, years, contribution_share, base, estimate).reset_index()
    total = ledger.filter(like="_cny_per_yr").sum().to_dict()
    click.echo(f"scheme {scheme}: price {price} CNY/t CO2, {years} years at {rate:.1%}; totals {total}", err=True)
    emit(ledger, output, overwrite)
