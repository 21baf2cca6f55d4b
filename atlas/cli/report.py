"""``atlas report``: an A4 PDF report per pilot from the tables of a build."""

from __future__ import annotations

import click

from atlas.cli.compensate import FractionType


@click.command("report")
@click.argument("pilots", nargs=-1, required=True)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="FILE.pdf (or FILE.html for the HTML alone).")
@click.option("--build", "build_dir", default="maps", show_default=True, type=click.Path(file_okay=False),
              help="The out folder of `atlas build` / `atlas run` whose tables the report reads.")
@click.option("--price", type=click.FloatRange(min=0), help="CNY per t CO2 (default: the ledger's own).")
@click.option("--rate", type=FractionType("Discount rate", "--rate"), help="Discount rate, a fraction (0.08 = 8 %).")
@click.option("--years", type=click.IntRange(min=1), help="Years of payments.")
@click.option("--growth", type=FractionType("Price growth", "--growth", growth=True),
              help="Annual growth of the carbon price, a fraction.")
@click.option("--review-number", default="", help="The map review number (审图号) to print, if any.")
def report_cmd(pilots, output, build_dir, price, rate, years, growth, review_number):
    """Write the report of PILOTS (ids such as P3-16) to OUTPUT, offline.

    One A4 section per pilot, in Chinese with English labels: map and forest, sink by method,
    compensation ledger and its parameters, official statistics, targets and verdicts,
    emissions series, factors and sources, method notes and data credits.
    """
    from atlas.publish.report import write_report

    params = {k: v for k, v in (("price", price), ("rate", rate), ("years", years), ("growth", growth))
              if v is not None}
    path = write_report(build_dir, list(pilots), output, params, review_number)
    click.echo(f"report of {len(pilots)} pilot(s) written to {path}", err=True)
