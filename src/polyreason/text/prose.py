"""Prose: the natural-language words of a completion, what language identification should see.

Math and code spans (:mod:`polyreason.text.spans`), think tags, LaTeX commands (``\\frac``, ``\\boxed{42}``),
digits and symbols are removed; letters, apostrophes and sentence punctuation stay.  Every step is linear in
the input (no backtracking regex on model text), and the input and output are capped, so hostile text costs
little.

    >>> prose("Sea $x^2 + \\\\frac{1}{2}$ y luego 3.5 \\\\cdot 2.")
    'Sea y luego'
"""

from __future__ import annotations

import re

from polyreason.text.spans import outside_spans

MAX_PROSE_CHARS = 5_000  # fastText's answer is settled long before this; more only costs time

_TAGS = re.compile(r"</?think>")
_COMMAND = re.compile(r"\\[a-zA-Z]+\*?(?:\{[^{}]*\})?")
# Everything but letters, whitespace, apostrophes and sentence punctuation (digits and "_" are \w too).
_NON_LETTERS = re.compile(r"[^\w\s.,;:!?¿¡'’]|[\d_]")
_SPACES = re.compile(r"\s+")
# A run of punctuation and spaces left where numbers or formulas were removed: keep its first mark only.
_PUNCT_RUN = re.compile(r" ?([.,;:!?])[ .,;:!?]*")  # after whitespace is collapsed: linear, no backtracking


def prose(text: str, limit: int = MAX_PROSE_CHARS) -> str:
    """The words of ``text`` without math, code, LaTeX, numbers and symbols (at most ``limit`` characters)."""
    text = outside_spans(text[: limit * 4])
    text = _COMMAND.sub(" ", _TAGS.sub(" ", text))
    text = _SPACES.sub(" ", _NON_LETTERS.sub(" ", text))
    text = _PUNCT_RUN.sub(r"\1 ", text)
    return text.strip(" .,;:!?")[:limit]


def letter_count(text: str) -> int:
    """Number of letters (any script) in ``text``."""
    return sum(ch.isalpha() for ch in text)
