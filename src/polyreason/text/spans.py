"""Math and code spans of a completion, found in linear time (no backtracking regex on model text).

A span is ``$…$``, ``$$…$$``, ``\\[…\\]``, ``\\(…\\)``, ``\\begin{env}…\\end{env}``, a fenced code block
(```…```), inline code (`…`) or an Asymptote block ``[asy]…[/asy]``.  An opener without its closer is
plain text.  Each closer string is searched for at most once past the point where it was last missing, so
text made of thousands of unmatched openers stays linear.
"""

from __future__ import annotations

import re

_OPENER = re.compile(r"```|`|\$\$|\$|\\\[|\\\(|\\begin\{([A-Za-z]{1,20}\*?)\}|\[asy\]")
_CLOSERS = {"```": "```", "`": "`", "$$": "$$", "$": "$", "\\[": "\\]", "\\(": "\\)", "[asy]": "[/asy]"}


def protected_spans(text: str) -> list[tuple[int, int]]:
    """Non-overlapping (start, end) spans of math and code in ``text``, in order."""
    spans: list[tuple[int, int]] = []
    missing: dict[str, int] = {}  # closer -> position from which it is known to be absent
    pos = 0
    n = len(text)
    while pos < n:
        m = _OPENER.search(text, pos)
        if not m:
            break
        opener = m.group(0)
        closer = f"\\end{{{m.group(1)}}}" if m.group(1) else _CLOSERS[opener]
        start = m.end()
        if opener == "`" and text.startswith("``", m.start()):
            pos = m.end()
            continue
        if missing.get(closer, n + 1) <= start:
            pos = m.end()
            continue
        end = text.find(closer, start)
        if end < 0:
            missing[closer] = start
            pos = m.end()
            continue
        if opener in ("$", "`"):
            newline = text.find("\n\n" if opener == "$" else "\n", start, end)
            if newline >= 0:  # inline math / code does not cross a paragraph (a line for code)
                pos = m.end()
                continue
        spans.append((m.start(), end + len(closer)))
        pos = end + len(closer)
    return spans


def split_protected(text: str) -> list[tuple[bool, str]]:
    """The text cut into (is_math_or_code, piece) parts, in order."""
    parts: list[tuple[bool, str]] = []
    last = 0
    for start, end in protected_spans(text):
        if start > last:
            parts.append((False, text[last:start]))
        parts.append((True, text[start:end]))
        last = end
    if last < len(text):
        parts.append((False, text[last:]))
    return parts


def outside_spans(text: str) -> str:
    """The text with every math and code span removed (each replaced by one space)."""
    return " ".join(piece for is_math, piece in split_protected(text) if not is_math)
