"""Format rewards: the ``<think>…</think>`` then ``\\boxed{}`` layout the prompts ask for."""

from __future__ import annotations

from typing import Any

from polyreason.rewards.inputs import completion_texts, log_mean
from polyreason.text.boxed import all_boxed
from polyreason.text.region import THINK_CLOSE, THINK_OPEN


def _format_score(text: str, think_prefilled: bool) -> float:
    if think_prefilled and THINK_OPEN not in text:
        text = THINK_OPEN + text
    score = 0.0
    opened = text.count(THINK_OPEN) == 1
    closed = text.count(THINK_CLOSE) == 1 and opened and text.index(THINK_OPEN) < text.index(THINK_CLOSE)
    if opened:
        score += 0.25
    if closed:
        score += 0.25
        start = text.index(THINK_OPEN) + len(THINK_OPEN)
        end = text.index(THINK_CLOSE)
        if text[start:end].strip():
            score += 0.25
        if all_boxed(text[end + len(THINK_CLOSE) :]):
            score += 0.25
    return score


def format_reward(*, think_prefilled: bool = False):
    """Incremental format reward in [0, 1]: 0.25 each for

    ``<think>`` opened exactly once; ``</think>`` closed exactly once after it; non-empty reasoning between
    them; a complete ``\\boxed{}`` after ``</think>``.  ``think_prefilled=True`` when the chat template already
    put ``<think>`` in the prompt.  Example: "<think>2+2=4</think> \\\\boxed{4}" -> 1.0; "\\\\boxed{4}" -> 0.0.
    """

    def reward(prompts, completions, **kwargs: Any) -> list[float | None]:
        out: list[float | None] = [_format_score(t, think_prefilled) for t in completion_texts(completions)]
        log_mean(kwargs, "format/score", out)
        return out

    return reward


def tag_count(*, think_prefilled: bool = False):
    """Tag-count reward in [0, 1] (open-r1 style, for our layout): 0.25 each for

    exactly one ``<think>``; exactly one ``</think>``; ``<think>`` before ``</think>``; exactly one
    ``\\boxed{`` after ``</think>``.  Example: "<think>a</think>\\\\boxed{1}" -> 1.0; "<think>a" -> 0.25.
    """

    def score(text: str) -> float:
        if think_prefilled and THINK_OPEN not in text:
            text = THINK_OPEN + text
        s = 0.25 * (text.count(THINK_OPEN) == 1) + 0.25 * (text.count(THINK_CLOSE) == 1)
        o, c = text.find(THINK_OPEN), text.find(THINK_CLOSE)
        if o >= 0 and c > o:
            s += 0.25
        if c >= 0 and text[c:].count("\\boxed{") == 1:
            s += 0.25
        return s

    def reward(prompts, completions, **kwargs: Any) -> list[float | None]:
        return [score(t) for t in completion_texts(completions)]

    return reward
