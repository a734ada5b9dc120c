"""Errors that the CLI reports to the user as a message and exit code 2 (never a traceback)."""


class UserError(Exception):
    """Bad input from the user: the message names the problem and the fix."""

    exit_code = 2
