"""A click group that imports a command's module only when that command runs or shows its help.

``atlas --help`` then costs the import of click alone: the command list is read from each
module's source (the command function's docstring, found with :mod:`ast`), not by importing
pandas, geopandas and rasterio behind every command. A command whose module is absent is left
out of the list, and invoking it fails with one line.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import logging
from pathlib import Path

import click

from atlas.errors import AtlasError

log = logging.getLogger(__name__)


class CommandUnavailable(AtlasError, LookupError):
    """A registered command cannot be loaded (its module or one of its packages is missing)."""


def _module_file(module: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    return Path(spec.origin) if spec is not None and spec.origin else None


def _docstring_of(source_file: Path, function: str) -> str:
    """The docstring of ``function`` in ``source_file`` (read, not imported), or ``""``."""
    try:
        tree = ast.parse(source_file.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return ""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == function:
            return ast.get_docstring(node) or ""
    return ""


class LazyGroup(click.Group):
    """A :class:`click.Group` of commands named by ``"package.module:attribute"``.

    Parameters
    ----------
    lazy_commands : dict
        Command name → ``"module:attribute"`` of the click command.
    """

    def __init__(self, *args, lazy_commands: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def available(self, name: str) -> bool:
        """Whether ``name``'s module exists (without importing it)."""
        return _module_file(self.lazy_commands[name].partition(":")[0]) is not None

    def list_commands(self, ctx: click.Context) -> list[str]:
        lazy = [name for name in self.lazy_commands if self.available(name)]
        return sorted({*super().list_commands(ctx), *lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.lazy_commands or cmd_name in self.commands:
            return super().get_command(ctx, cmd_name)
        module_name, _, attribute = self.lazy_commands[cmd_name].partition(":")
        if not self.available(cmd_name):
            raise CommandUnavailable(f"The command 'atlas {cmd_name}' is not part of this installation "
                                     f"(no module {module_name})", "one of the commands 'atlas --help' lists",
                                     "update the atlas, or use another command")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            raise CommandUnavailable(f"'atlas {cmd_name}' needs the Python package {exc.name}, which is not "
                                     "installed", f"{exc.name} importable",
                                     f"pip install {exc.name} (or reinstall the atlas with its dependencies)") from exc
        command = getattr(module, attribute)
        self.commands[cmd_name] = command  # loaded once
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list, from each command's docstring read from source (no imports)."""
        rows = []
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(n) for n in names)
        for name in names:
            if name in self.commands:
                rows.append((name, self.commands[name].get_short_help_str(limit)))
                continue
            module_name, _, attribute = self.lazy_commands[name].partition(":")
            doc = _docstring_of(_module_file(module_name), attribute)
            rows.append((name, click.utils.make_default_short_help(doc, limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)
