"""Errors that the CLI reports to the user as a message and exit code 2 (never a traceback)."""

from __future__ import annotations

from collections.abc import Iterable


class UserError(Exception):
    """Bad input from the user: the message names the problem and the fix."""

    exit_code = 2


def did_you_mean(name: str, options: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``options`` to a misspelt ``name``, or "" when none is close.

    >>> "unknown reward 'acuracy'" + did_you_mean("acuracy", ["accuracy", "format"])
    "unknown reward 'acuracy' (did you mean 'accuracy'?)"
    """
    import difflib

    close = difflib.get_close_matches(name, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
