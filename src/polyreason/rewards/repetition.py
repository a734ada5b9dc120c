"""Repetition reward: −penalty, the penalty from :mod:`polyreason.text.repetition` (loops, floods, √T)."""

from __future__ import annotations

from typing import Any

from polyreason.rewards.inputs import completion_texts, log_mean
from polyreason.text.repetition import repetition_penalty


def repetition(*, max_period: int = 32, min_loop: int = 8, flood_share: float = 0.25, flood_min: int = 8):
    """Repetition reward in [-1, 0]: r = −penalty, penalty = min(1, (L + F + C)/√T) (see
    :mod:`polyreason.text.repetition` for L, F, C and why √T).

    Negative (not 1 − penalty) so that clean text adds exactly 0 to a composite reward and the weight
    (e.g. 0.3 in the SmolLM3-ES recipe) is the largest amount a fully looping answer can lose.
    Example: "The cat sat on the mat." -> 0.0; "the answer is " * 20 -> -1.0.
    """

    def reward(prompts, completions, **kwargs: Any) -> list[float | None]:
        out: list[float | None] = [
            0.0
            - repetition_penalty(
                t, max_period=max_period, min_loop=min_loop, flood_share=flood_share, flood_min=flood_min
            )
            for t in completion_texts(completions)
        ]
        out = [v if v else 0.0 for v in out]
        log_mean(kwargs, "repetition/penalty", [-v for v in out if v is not None])
        return out

    return reward
