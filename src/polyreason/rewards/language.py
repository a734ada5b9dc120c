"""Language-compliance reward: is the reasoning and the answer written in the target language?

The score is :func:`polyreason.text.analysis.language_score` (offline fastText LID on the prose of each part);
the evaluation reports the same analysis.
"""

from __future__ import annotations

from typing import Any

from polyreason.errors import UserError
from polyreason.rewards.inputs import column, completion_texts, log_mean
from polyreason.text.analysis import ANSWER_WEIGHT, REASONING_WEIGHT, language_score


def language(
    *, language: str | None = None, reasoning_weight: float = REASONING_WEIGHT, answer_weight: float = ANSWER_WEIGHT
):
    """Language-compliance reward in [0, 1].

    r = 0.6·P(target | reasoning) + 0.4·P(target | answer) (weights settable), P from offline fastText LID
    after removing LaTeX, numbers and code; parts too short to judge drop out (see
    :func:`polyreason.text.analysis.language_score`).  Reasoning and answer are split by
    :func:`polyreason.text.region.reasoning_and_answer`.
    Target = the ``language`` column, else the ``language`` parameter, else "en".
    Example (target "es"): "<think>Sumamos los dos números y obtenemos el total.</think> La respuesta es
    \\\\boxed{5}." -> ≈ 0.98; the same text in English -> ≈ 0.0.
    """
    if reasoning_weight < 0 or answer_weight < 0 or reasoning_weight + answer_weight <= 0:
        raise UserError("language: weights must be >= 0 and not both 0; fix: e.g. reasoning_weight=0.6")

    def reward(prompts, completions, **kwargs: Any) -> list[float | None]:
        texts = completion_texts(completions)
        targets = [t or language or "en" for t in column(kwargs, "language", len(texts), language)]
        out: list[float | None] = [
            language_score(t, lang, reasoning_weight, answer_weight)
            for t, lang in zip(texts, targets, strict=True)
        ]
        log_mean(kwargs, "language/score", out)
        return out

    return reward
