"""Math spans of a text: ``$…$``, ``$$…$$``, ``\\(…\\)``, ``\\[…\\]``, found in one linear scan.

Display delimiters (``$$``, ``\\[``) may span lines; inline ones (``$``, ``\\(``) may not, and an inline
``$`` right after a digit is a currency sign ("5$"), not a delimiter.  Escaped ``\\$`` is never a delimiter.
Spans do not nest or overlap; the scan takes the leftmost opener each time.  :func:`looks_like_math` tells
a formula from prose that happens to sit between two dollar signs ("costs $5 and then $").
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = ["MathSpan", "final_run", "looks_like_math", "math_spans"]

_OPENER = re.compile(r"(?<!\\)(?:\$\$|(?<!\d)\$|\\\[|\\\()")
_CLOSER = {
    "$$": re.compile(r"(?<!\\)\$\$"),
    "$": re.compile(r"(?<!\\)\$"),
    "\\[": re.compile(r"(?<!\\)\\\]"),
    "\\(": re.compile(r"(?<!\\)\\\)"),
}
_INLINE = ("$", "\\(")


class MathSpan(NamedTuple):
    """``text[start:end]`` is the delimited span; ``content`` is what the delimiters enclose (stripped)."""

    start: int
    end: int
    content: str
    display: bool


def math_spans(text: str) -> list[MathSpan]:
    """Every delimited math span of ``text``, left to right (empty spans are skipped).

    >>> [s.content for s in math_spans("so $x=1$ and \\\\[ y \\\\] but 5$ is money")]
    ['x=1', 'y']
    """
    spans: list[MathSpan] = []
    # A failed search for a closer means there is none further on (for inline ones: on that line), so
    # later openers of the same kind are skipped without searching again: the scan stays linear.
    dead_until: dict[str, int] = {}
    pos, n = 0, len(text)
    newline = -1  # the first line break at or after the current opener (found once per line)
    while pos < n:
        m = _OPENER.search(text, pos)
        if m is None:
            break
        op = m.group()
        begin = m.start() + len(op)
        if begin < dead_until.get(op, -1):
            pos = begin
            continue
        limit = n
        if op in _INLINE:
            if newline < begin and newline != n:
                found = text.find("\n", begin)
                newline = n if found < 0 else found
            limit = newline
        close = _CLOSER[op].search(text, begin, limit)
        if close is None:
            dead_until[op] = limit
            pos = begin
            continue
        content = text[begin : close.start()].strip()
        if content:
            spans.append(MathSpan(m.start(), close.end(), content, op in ("$$", "\\[")))
        pos = close.end()
    return spans


_TEXT_GROUP = re.compile(r"\\(?:text\w*|mathrm|mbox|operatorname)\s*\{[^{}]*\}")
_COMMAND = re.compile(r"\\[a-zA-Z]+")
# Starts only at a word start and never gives back what it matched: linear on any input.
_PROSE = re.compile(r"(?<![^\W\d_])(?:[^\W\d_]{2,}+[ ,;]++){2,}+[^\W\d_]{2,}")


def looks_like_math(content: str) -> bool:
    """False when the content reads as a sentence (three or more plain words in a row outside ``\\text{}``)."""
    bare = _COMMAND.sub(" ", _TEXT_GROUP.sub(" ", content))
    return _PROSE.search(bare) is None


def final_run(items: list, text: str, joinable) -> list:
    """The last item and the items before it that ``joinable(gap_text, earlier, later)`` links to it.

    ``items`` have ``start``/``end``/``content`` and are in order of position in ``text``.
    """
    if not items:
        return []
    run = [items[-1]]
    for earlier in reversed(items[:-1]):
        if not joinable(text[earlier.end : run[-1].start], earlier, run[-1]):
            break
        run.append(earlier)
    return run[::-1]
