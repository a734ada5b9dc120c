"""The `polyreason` command line: thin wrappers that parse arguments and call library functions.

Each command group lives in ``polyreason.commands.<name>`` and exposes ``register(app)``; this module wires
them together and turns :class:`polyreason.errors.UserError` into a message and exit code 2.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import textwrap

import typer
from rich.console import Console
from rich.markup import escape

from polyreason import __version__
from polyreason.errors import UserError
from polyreason.quiet import quiet_third_party

# Modules under polyreason.commands that define `register(app)`.
COMMAND_MODULES = [
    "env",
    "recipe",
    "demo",
    "eval",
    "data",
    "train",
    "score",
    "sweep",
    "report",
]

err_console = Console(stderr=True, soft_wrap=True)

_app = typer.Typer(
    name="polyreason",
    help="Teach small language models to reason, in any language: SFT, GRPO-family RL, verifiable rewards, "
    "curated data and honest evaluation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _log_width() -> int | None:
    """Columns to wrap log lines at: ``COLUMNS`` when set, else stderr's terminal; None when stderr is not a
    terminal (a log file or pipe keeps whole lines, for grep)."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit():
        return max(int(columns), 40)
    try:
        return max(os.get_terminal_size(sys.stderr.fileno()).columns, 40)
    except (OSError, ValueError, AttributeError):
        return None


class _TerminalFormatter(logging.Formatter):
    """Log lines wrapped to the terminal's width with continuation lines indented, so a log line never runs
    past the last column (as rich wraps the CLI's own lines)."""

    def format(self, record: logging.LogRecord) -> str:
        text, width = super().format(record), _log_width()
        if width is None:
            return text
        return "\n".join(part for line in text.split("\n") for part in (
            textwrap.wrap(line, width, subsequent_indent="    ", break_on_hyphens=False) if len(line) > width
            else [line]))


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"polyreason {__version__}")
        raise typer.Exit()


@_app.callback()
def _main(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."
    ),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Log debug messages; show third-party warnings and loading bars."
    ),
) -> None:
    if not verbose:
        quiet_third_party()
    handler = logging.StreamHandler()
    handler.setFormatter(_TerminalFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler])


for _name in COMMAND_MODULES:
    importlib.import_module(f"polyreason.commands.{_name}").register(_app)


def app() -> None:
    """Console-script entry point."""
    try:
        _app()
    except UserError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    app()
