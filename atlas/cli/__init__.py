"""The ``atlas`` command: a thin layer of click commands over the Python API.

One module per command, imported only when that command runs (:mod:`atlas.cli.lazy`), so
``atlas --help`` is quick. This module assembles the group, sets up logging (the library
itself never configures logging) and owns the one error path of the command line: whatever
fails — a bad option value caught by click, an :class:`~atlas.errors.AtlasError`, the machine
refusing a write — ends as exactly one line ``atlas: error: …`` on stderr and exit status 2;
an unexpected internal error is one line too, exit status 1, with the traceback under ``-v``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import sys
import traceback

import click

from atlas.cli.lazy import LazyGroup
from atlas.errors import AtlasError

#: Command name → where its click command lives (imported on first use).
COMMANDS = {
    "build": "atlas.cli.build:build_cmd",
    "regions": "atlas.cli.regions:regions_cmd",
    "zonal": "atlas.cli.zonal:zonal_cmd",
    "sinks": "atlas.cli.sinks:sinks_cmd",
    "compensate": "atlas.cli.compensate:compensate_cmd",
    "targets": "atlas.cli.targets:targets_cmd",
    "run": "atlas.cli.run:run_cmd",
    "fetch": "atlas.cli.fetch:fetch_cmd",
    "evaluate": "atlas.cli.evaluate:evaluate_cmd",
    "report": "atlas.cli.report:report_cmd",
}

#: Exceptions of these modules are about a file the user gave (unreadable, corrupt, wrong
#: format), not the atlas' own failure: one line, exit status 2.
_READER_MODULES = ("pyogrio", "rasterio", "fiona", "pyarrow", "pandas.errors", "tomllib")


def _verbosity(args: list[str]) -> int:
    """How many -v the group options (before the command name) ask for."""
    count = 0
    for token in args:
        if token == "--verbose":
            count += 1
        elif re.fullmatch(r"-[vq]+", token):
            count += token.count("v")
        elif not token.startswith("-"):
            break
    return count


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _usage_error(exc: click.UsageError) -> AtlasError:
    """A click usage error (bad value, unknown option, missing argument) in the atlas' words."""
    path = exc.ctx.command_path if exc.ctx is not None else "atlas"
    expected = "what the command's help describes"
    param = getattr(exc, "param", None)
    kind = getattr(param, "type", None)
    if isinstance(exc, click.MissingParameter):
        expected = "every required argument and option"
    elif isinstance(kind, click.Choice):
        expected = "one of " + ", ".join(map(str, kind.choices))
    elif isinstance(kind, (click.IntRange, click.FloatRange)):
        expected = f"a number in {kind._describe_range()}"
    elif isinstance(kind, click.Path):
        expected = "an existing file" if kind.exists and not kind.file_okay is False else "a valid path"
        if not kind.dir_okay:
            expected += " (not a folder)"
        if not kind.file_okay:
            expected = "a folder (not a file)"
    elif isinstance(exc, click.NoSuchOption):
        expected = f"an option of {path}"
    elif "No such command" in exc.format_message():
        expected = "one of the commands 'atlas --help' lists"
    return AtlasError(_one_line(exc.format_message()), expected, f"see '{path} --help'")


def _inputs(args: list[str]) -> list[str]:
    """The arguments that name existing files: the inputs a reader error is about."""
    found = []
    for arg in args:
        with contextlib.suppress(OSError, ValueError):
            if len(arg) < 4096 and "\n" not in arg and os.path.isfile(arg):
                found.append(arg)
    return found


def describe_failure(exc: BaseException, args: list[str] | None = None) -> tuple[str, int]:
    """The one line (without the ``atlas: error:`` prefix) and exit status for ``exc``.

    ``args`` (the command line) lets an error of a reading library that does not say which
    file it read name the input files given.
    """
    from atlas._io import output_error

    if isinstance(exc, AtlasError):
        return _one_line(exc), 2
    if isinstance(exc, click.UsageError):
        return _one_line(_usage_error(exc)), 2
    if isinstance(exc, click.ClickException):
        return _one_line(exc.format_message()), 2
    written = output_error(exc)
    if written is not None:
        return _one_line(written), 2
    module = type(exc).__module__ or ""
    if isinstance(exc, (OSError, UnicodeDecodeError)) or module.startswith(_READER_MODULES):
        where = getattr(exc, "filename", None)
        if not where:
            given = _inputs(args or [])
            where = given[0] if len(given) == 1 else ("one of " + ", ".join(given) if given else None)
        found = f"{where}: {exc}" if where and str(where) not in str(exc) else str(exc)
        return _one_line(AtlasError(f"A file could not be read or written ({type(exc).__name__}: {found})",
                                    "readable inputs in a supported format (CSV as UTF-8) and a writable output",
                                    "check the file named here, or run with -v for the traceback")), 2
    return _one_line(f"internal error ({type(exc).__name__}: {exc}); run with -v for the traceback and "
                     "report it"), 1


class _Discard(io.TextIOBase):
    """Where stderr goes under -q (errors are printed after it is restored)."""

    def write(self, text: str) -> int:
        return len(text)


class AtlasGroup(LazyGroup):
    """The ``atlas`` group: lazily loaded commands and the one error path (see the module docstring)."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:  # a caller that handles errors itself
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        args = sys.argv[1:] if args is None else list(args)
        verbose = _verbosity(args)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.Abort:
            click.echo("atlas: error: interrupted. Fix: run the same command again; finished steps are reused.",
                       err=True)
            sys.exit(130)
        except BrokenPipeError:  # `atlas regions | head`: the reader left, nothing is wrong
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(0)
        except Exception as exc:
            line, status = describe_failure(exc, args)
            if verbose and status == 1 or verbose > 1:
                click.echo("".join(traceback.format_exception(exc)).rstrip(), err=True)
            click.echo(f"atlas: error: {line}", err=True)
            sys.exit(status)
        sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=AtlasGroup, lazy_commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug); tracebacks of internal errors.")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors (no progress, no notes).")
@click.version_option(package_name="pilot-carbon-atlas")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Pilot-Region Carbon Atlas: China's national low-carbon pilots, their outlines,
    rasters joined to them, carbon sinks and published maps.

    Run `atlas build` for the default job on the embedded data (no network needed).
    """
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if quiet:  # progress and notes go to stderr; drop them until the command ends
        ctx.with_resource(contextlib.redirect_stderr(_Discard()))


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="atlas")
