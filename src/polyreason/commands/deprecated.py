"""Old option spellings kept working for one release, with a note on stderr.

The convention every command follows: the input is the first positional argument (``INPUT``), the output is
``-o/--output``.  Release 0.2 drops the spellings accepted here.
"""

from __future__ import annotations

from typing import TypeVar

import typer

from polyreason.errors import UserError

T = TypeVar("T")


def renamed(value: T | None, old_value: T | None, *, old: str, new: str) -> T | None:
    """``value`` of an option, or ``old_value`` given under its deprecated spelling ``old`` (a note says so).

    ``new`` names the current spelling in the note, e.g. ``"-o/--output"`` or ``"the INPUT argument"``.
    """
    if old_value is None:
        return value
    if value is not None:
        raise UserError(f"{old} and {new} are the same thing; fix: give only {new}")
    typer.echo(f"note: {old} is deprecated and goes away in the next release; use {new}", err=True)
    return old_value
