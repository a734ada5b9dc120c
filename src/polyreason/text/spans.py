"""Delimited spans of a text (math, code), found in one linear scan -- one scanner, two rule sets.

The scanner (:func:`delimited_spans`) takes the leftmost opener each time, pairs it with the first closer
after it, and gives the opener up (it is then plain text) when there is no closer, or when a *break*
string its rules name (a line or paragraph break) comes first.  Spans do not nest or overlap.  A closer
known to be missing up to some point is never searched for again before that point, so text made of
thousands of unmatched openers stays linear.

Two callers need different rules, so there are two rule sets rather than one:

* :data:`PROTECTED` -- what language ID, repetition statistics and the naturalness rules must not read as
  prose (:func:`protected_spans`, :func:`split_protected`, :func:`outside_spans`): ``$…$``, ``$$…$$``,
  ``\\[…\\]``, ``\\(…\\)``, ``\\begin{env}…\\end{env}``, fenced code (```…```), inline code (`…`, not
  ``…``) and Asymptote ``[asy]…[/asy]``.  Inline ``$`` does not cross a paragraph break, inline code not
  a line break.  Erring towards "math" only hides a few words from language ID.
* :data:`MATH` -- where the verifier looks for an answer (:func:`math_spans`): only the four math
  delimiters; an escaped ``\\$`` (or ``\\\\[``) is never a delimiter, an opening ``$`` right after a digit is a
  currency sign ("5$"), and inline math (``$``, ``\\(``) does not cross a line break.  Erring towards "math"
  here would turn prose into answers, so these rules are stricter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

__all__ = [
    "MATH",
    "PROTECTED",
    "Delimited",
    "MathSpan",
    "SpanRules",
    "delimited_spans",
    "looks_like_math",
    "math_spans",
    "outside_spans",
    "protected_spans",
    "split_protected",
]


@dataclass(frozen=True)
class SpanRules:
    """How to read delimited spans.

    opener: one regex of all openers (a group named ``env`` makes the closer ``\\end{env}``);
    closers: opener text -> closer regex; breaks: opener text -> a string its span may not contain.
    """

    opener: re.Pattern[str]
    closers: Mapping[str, re.Pattern[str]]
    breaks: Mapping[str, str] = field(default_factory=dict)


class Delimited(NamedTuple):
    """``text[start:end]`` is the whole span; ``text[inner_start:inner_end]`` what the delimiters enclose."""

    start: int
    end: int
    inner_start: int
    inner_end: int
    opener: str


def _compiled(closers: dict[str, str]) -> dict[str, re.Pattern[str]]:
    return {op: re.compile(pattern) for op, pattern in closers.items()}


@lru_cache(maxsize=256)
def _end_env(env: str) -> re.Pattern[str]:
    return re.compile(re.escape(f"\\end{{{env}}}"))


PROTECTED = SpanRules(
    opener=re.compile(r"```|`(?!`)|\$\$|\$|\\\[|\\\(|\\begin\{(?P<env>[A-Za-z]{1,20}\*?)\}|\[asy\]"),
    closers=_compiled({"```": "```", "`": "`", "$$": r"\$\$", "$": r"\$", "\\[": r"\\\]", "\\(": r"\\\)",
                       "[asy]": r"\[/asy\]"}),
    breaks={"$": "\n\n", "`": "\n"},
)
MATH = SpanRules(
    opener=re.compile(r"(?<!\\)(?:\$\$|(?<!\d)\$|\\\[|\\\()"),
    closers=_compiled({"$$": r"(?<!\\)\$\$", "$": r"(?<!\\)\$", "\\[": r"(?<!\\)\\\]", "\\(": r"(?<!\\)\\\)"}),
    breaks={"$": "\n", "\\(": "\n"},
)


def delimited_spans(text: str, rules: SpanRules) -> list[Delimited]:
    """Every span of ``text`` under ``rules``, left to right (see the module docstring)."""
    spans: list[Delimited] = []
    dead_until: dict[tuple[re.Pattern[str], str | None], int] = {}  # (closer, break) -> none before this
    has_env = "env" in rules.opener.groupindex
    next_break: dict[str, int] = {}  # break -> its first position at or after the current opener
    pos, n = 0, len(text)
    while pos < n:
        m = rules.opener.search(text, pos)
        if m is None:
            break
        op, begin = m.group(), m.end()
        env = m.group("env") if has_env else None
        closer = _end_env(env) if env else rules.closers[op]
        brk = rules.breaks.get(op)
        if begin < dead_until.get((closer, brk), -1):
            pos = begin
            continue
        limit = n
        if brk is not None:
            at = next_break.get(brk, -1)
            if at < begin and at != n:
                found = text.find(brk, begin)
                at = next_break[brk] = n if found < 0 else found
            limit = at
        close = closer.search(text, begin, limit)
        if close is None:
            dead_until[(closer, brk)] = limit
            pos = begin
            continue
        spans.append(Delimited(m.start(), close.end(), begin, close.start(), op))
        pos = close.end()
    return spans


# ---------------------------------------------------------------- math and code kept from prose


def protected_spans(text: str) -> list[tuple[int, int]]:
    """Non-overlapping (start, end) spans of math and code in ``text``, in order (rules: :data:`PROTECTED`)."""
    return [(s.start, s.end) for s in delimited_spans(text, PROTECTED)]


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


# ---------------------------------------------------------------- math the verifier reads


class MathSpan(NamedTuple):
    """``text[start:end]`` is the delimited span; ``content`` is what the delimiters enclose (stripped)."""

    start: int
    end: int
    content: str
    display: bool


def math_spans(text: str) -> list[MathSpan]:
    """Every non-empty math span of ``text``, left to right (rules: :data:`MATH`).

    >>> [s.content for s in math_spans("so $x=1$ and \\\\[ y \\\\] but 5$ is money")]
    ['x=1', 'y']
    """
    out: list[MathSpan] = []
    for span in delimited_spans(text, MATH):
        content = text[span.inner_start : span.inner_end].strip()
        if content:
            out.append(MathSpan(span.start, span.end, content, span.opener in ("$$", "\\[")))
    return out


_TEXT_GROUP = re.compile(r"\\(?:text\w*|mathrm|mbox|operatorname)\s*\{[^{}]*\}")
_COMMAND = re.compile(r"\\[a-zA-Z]+")
# Starts only at a word start and never gives back what it matched: linear on any input.
_PROSE = re.compile(r"(?<![^\W\d_])(?:[^\W\d_]{2,}+[ ,;]++){2,}+[^\W\d_]{2,}")


def looks_like_math(content: str) -> bool:
    """False when a span's content reads as a sentence (three or more plain words in a row outside
    ``\\text{}``), as prose between two dollar signs does ("costs $5 and then $")."""
    bare = _COMMAND.sub(" ", _TEXT_GROUP.sub(" ", content))
    return _PROSE.search(bare) is None
