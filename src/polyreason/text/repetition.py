"""Repetition statistics: n-gram loops, token flooding and character-level loops, normalised by √T.

Definitions (T = number of tokens, tokens = words (letter/digit runs), lower-cased, each closed math span ($…$, \\[…\\])
one token; punctuation is ignored):

* loop tokens L: a token at position i is "looped" when it lies in a stretch where every token equals the
  token ``p`` positions earlier (1 ≤ p ≤ max_period), and the stretch covers at least ``max(p, min_loop)``
  tokens -- i.e. a block of p tokens was repeated back to back at least once in full.
* flood tokens F: for every token type, the occurrences beyond ``flood_share``·T (counted only once a type
  appears at least ``flood_min`` times) -- one token drowning the text even without a strict loop.
* character loops C: characters in runs where a unit of 1-8 non-space characters repeats ≥ 5 times in a
  row ("hahahaha", "0000000"; a unit without letters or digits such as "!" counts only in runs of ≥ 20 chars),
  minus one copy of the unit, divided by 4 (≈ characters per token).

penalty = min(1, (L + F + C) / √T)  (0 for an empty text).

Why √T: a raw count punishes long natural reasoning for occasional repeats; a fraction (÷T) lets a 50-token
loop in a 5,000-token answer pass as 1 %.  With √T the allowance grows slowly: ~10 repeated tokens saturate
the penalty at T=100, ~45 at T=2,000.  Natural text has almost no back-to-back block repeats, so its L is
near 0.  Appending another copy of an already repeated block never lowers the penalty (L grows by the block
length, which outweighs the growth of √T while the penalty is below 1).

The ``repetition`` reward is −penalty; the evaluation's ``repetition_loop`` flag is :func:`repetition_loop`
(penalty ≥ :data:`LOOP_PENALTY`), so training and evaluation see loops through the same numbers.
"""

from __future__ import annotations

import math
import re
from collections import Counter

from polyreason.text.spans import split_protected

MAX_TOKENS = 20_000
# A text "loops" when its penalty reaches this: e.g. 10 looped tokens out of 400, or a 4-word line said 5 times.
LOOP_PENALTY = 0.5
_WORD = re.compile(r"\w+")
_CHAR_LOOP = re.compile(r"(\S{1,8}?)\1{4,}")
_ALNUM = re.compile(r"[^\W_]")


def tokenize(text: str) -> list[str]:
    """Words (runs of letters/digits), lower-cased, capped at MAX_TOKENS.  Each math span ($…$, \\[…\\],
    \\begin…\\end) or code block is one token (see :mod:`polyreason.rewards.spans`), so a formula repeated back
    to back is a loop but the symbols inside one formula are not."""
    tokens: list[str] = []
    for is_math, piece in split_protected(text[: MAX_TOKENS * 8]):
        if is_math:
            tokens.append("".join(piece.lower().split()))
        else:
            tokens.extend(w.lower() for w in _WORD.findall(piece))
        if len(tokens) >= MAX_TOKENS:
            break
    return tokens[:MAX_TOKENS]


def loop_tokens(tokens: list[str], max_period: int = 32, min_loop: int = 8) -> int:
    """Number of tokens that repeat the block just before them (back-to-back loops)."""
    n = len(tokens)
    marked = bytearray(n)
    for p in range(1, min(max_period, n // 2) + 1):
        need = max(p, min_loop)
        run = 0
        for i in range(p, n + 1):
            if i < n and tokens[i] == tokens[i - p]:
                run += 1
                continue
            if run >= need:
                marked[i - run : i] = b"\x01" * run
            run = 0
    return sum(marked)


def flood_tokens(tokens: list[str], flood_share: float = 0.25, flood_min: int = 8) -> float:
    """Occurrences of each token type beyond flood_share·T (types seen at least flood_min times)."""
    total = len(tokens)
    allowance = flood_share * total
    return sum(c - allowance for c in Counter(tokens).values() if c >= flood_min and c > allowance)


def char_loop_tokens(text: str) -> float:
    """Characters in character-level loops beyond one copy of the unit, in ≈ tokens (÷4)."""
    chars = 0
    for m in _CHAR_LOOP.finditer(text[: MAX_TOKENS * 8]):
        if _ALNUM.search(m.group(1)) or len(m.group(0)) >= 20:
            chars += len(m.group(0)) - len(m.group(1))
    return chars / 4.0


def repetition_penalty(
    text: str, *, max_period: int = 32, min_loop: int = 8, flood_share: float = 0.25, flood_min: int = 8
) -> float:
    """penalty = min(1, (loop + flood + char-loop tokens) / √T) in [0, 1]; see the module docstring.

    >>> repetition_penalty("The cat sat on the mat.")
    0.0
    """
    tokens = tokenize(text)
    if not tokens:
        return 0.0
    excess = (
        loop_tokens(tokens, max_period, min_loop)
        + flood_tokens(tokens, flood_share, flood_min)
        + char_loop_tokens(text)
    )
    return min(1.0, excess / math.sqrt(len(tokens)))


def repetition_loop(text: str) -> bool:
    """True when the text loops: its :func:`repetition_penalty` (default settings) is at least LOOP_PENALTY.

    >>> repetition_loop("Let me check again.\\n" * 5), repetition_loop("The cat sat on the mat.")
    (True, False)
    """
    return repetition_penalty(text) >= LOOP_PENALTY
