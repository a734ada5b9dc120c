"""The one brace-balanced ``\\boxed{…}`` / ``\\fbox{…}`` extractor (pure Python, linear time).

Rules: a box is ``\\boxed`` or ``\\fbox``, optional spaces, then a ``{…}`` group whose braces balance;
escaped braces (``\\{``, ``\\}``) and ``\\\\`` do not count.  A box whose group never closes is not a box
(the text was cut off).  A box inside another box belongs to the outer one (boxes are not split).
Contents are returned stripped.
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = ["BoxSpan", "all_boxed", "boxed_spans", "last_boxed"]

_BOX_OPEN = re.compile(r"\\(?:boxed|fbox)\s*\{")


class BoxSpan(NamedTuple):
    """One complete box: ``text[start:end]`` is ``\\boxed{content}``; ``content`` is stripped."""

    start: int
    end: int
    content: str


def _closing_braces(text: str) -> dict[int, int]:
    """Index of every ``{`` mapped to its matching ``}``, in one pass; escaped characters are skipped."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            stack.append(i)
        elif ch == "}" and stack:
            pairs[stack.pop()] = i
        i += 1
    return pairs


def boxed_spans(text: str) -> list[BoxSpan]:
    """Every complete top-level box in ``text``, in order of position.

    >>> [b.content for b in boxed_spans("\\\\boxed{1} and \\\\fbox{ 2 } and \\\\boxed{3")]
    ['1', '2']
    """
    if "\\boxed" not in text and "\\fbox" not in text:
        return []
    pairs = _closing_braces(text)
    spans: list[BoxSpan] = []
    pos = 0
    while True:
        m = _BOX_OPEN.search(text, pos)
        if m is None:
            return spans
        close = pairs.get(m.end() - 1, -1)
        if close < 0:
            pos = m.end()
            continue
        spans.append(BoxSpan(m.start(), close + 1, text[m.end() : close].strip()))
        pos = close + 1


def all_boxed(text: str) -> list[str]:
    """Contents of every complete box, in order (empty boxes included as ``""``)."""
    return [span.content for span in boxed_spans(text)]


def last_boxed(text: str) -> str | None:
    """Content of the last complete box, or None when there is none.

    >>> last_boxed("so $x=\\\\boxed{\\\\frac{1}{2}}$ and")
    '\\\\frac{1}{2}'
    """
    spans = boxed_spans(text)
    return spans[-1].content if spans else None
