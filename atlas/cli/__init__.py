"""The ``atlas`` command: a thin layer of click commands over the Python API.

One module per command; this module only assembles the group and sets up logging
(the library itself never configures logging).
"""

from __future__ import annotations

import logging
import sys

import click

from atlas.errors import AtlasError
from atlas.cli.build import build_cmd
from atlas.cli.compensate import compensate_cmd
from atlas.cli.fetch import fetch_cmd
from atlas.cli.regions import regions_cmd
from atlas.cli.run import run_cmd
from atlas.cli.sinks import sinks_cmd
from atlas.cli.targets import targets_cmd
from atlas.cli.zonal import zonal_cmd


class _AtlasGroup(click.Group):
    """Turn :class:`AtlasError` into one clear message and exit status 2, without a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except AtlasError as exc:
            click.echo(f"atlas: error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_AtlasGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.version_option(package_name="pilot-carbon-atlas")
def cli(verbose: int, quiet: bool) -> None:
    """Pilot-Region Carbon Atlas: China's national low-carbon pilots, their outlines,
    rasters joined to them, carbon sinks and published maps.

    Run `atlas build` for the default job on the embedded data (no network needed).
    """
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


cli.add_command(build_cmd)
cli.add_command(regions_cmd)
cli.add_command(zonal_cmd)
cli.add_command(sinks_cmd)
cli.add_command(compensate_cmd)
cli.add_command(targets_cmd)
cli.add_command(run_cmd)
cli.add_command(fetch_cmd)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="atlas")
