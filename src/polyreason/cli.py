"""The `polyreason` command line: thin wrappers that parse arguments and call library functions.

Each command group lives in ``polyreason.commands.<name>`` and exposes ``register(app)``; this module wires
them together and turns :class:`polyreason.errors.UserError` into a message and exit code 2.
"""

from __future__ import annotations

import importlib
import logging
import sys

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
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )


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
