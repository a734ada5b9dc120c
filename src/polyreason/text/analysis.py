"""The language and repetition analysis of one completion, shared by the rewards and the evaluation.

:func:`analyze` splits the completion (:func:`polyreason.text.region.reasoning_and_answer`), identifies the
language of each part once (:func:`polyreason.text.langid.identify`), and measures repetition
(:mod:`polyreason.text.repetition`).  The ``language`` reward is :func:`language_score`, the same combination;
the evaluation reports every field of :class:`TextAnalysis`, so what a run is rewarded for and what its
evaluation reports cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from polyreason.text.langid import Identified, identify, mixed_script
from polyreason.text.region import reasoning_and_answer
from polyreason.text.repetition import LOOP_PENALTY, repetition_penalty

REASONING_WEIGHT = 0.6
ANSWER_WEIGHT = 0.4


@dataclass(frozen=True)
class TextAnalysis:
    """Language ID of the reasoning and the answer, the language score, and the repetition penalty."""

    reasoning: Identified
    answer: Identified
    language_score: float
    repetition_penalty: float
    mixed_script: bool

    @property
    def repetition_loop(self) -> bool:
        """The completion loops (penalty ≥ :data:`polyreason.text.repetition.LOOP_PENALTY`)."""
        return self.repetition_penalty >= LOOP_PENALTY


def _parts(text: str, target: str) -> tuple[Identified, Identified]:
    reasoning, answer = reasoning_and_answer(text)
    return identify(reasoning, target), identify(answer, target)


def _score(
    text: str, target: str, parts: tuple[Identified, Identified], reasoning_weight: float, answer_weight: float
) -> float:
    """w_r·P(target|reasoning) + w_a·P(target|answer), over the parts whose language could be told."""
    usable = [
        (w, part.target_probability)
        for w, part in zip((reasoning_weight, answer_weight), parts, strict=True)
        if part.target_probability is not None and w > 0
    ]
    if usable:
        return sum(w * p for w, p in usable) / sum(w for w, _ in usable)
    whole = identify(text, target, min_letters=1)  # too short to judge by parts: judge what there is
    return whole.target_probability or 0.0


def language_score(
    text: str, target: str, reasoning_weight: float = REASONING_WEIGHT, answer_weight: float = ANSWER_WEIGHT
) -> float:
    """w_r·P(target|reasoning) + w_a·P(target|answer), weights renormalised over the parts with enough text.

    A part with fewer than :data:`polyreason.text.langid.MIN_LETTERS` letters of prose (e.g. an answer that
    is only ``\\boxed{42}``) drops out and the other part carries its weight; if neither part has enough
    text, the whole completion is scored as one piece, and a completion with no words at all scores 0.
    """
    return _score(text, target, _parts(text, target), reasoning_weight, answer_weight)


def analyze(completion: str, target: str) -> TextAnalysis:
    """Everything :class:`TextAnalysis` holds for ``completion`` against the ``target`` language.

    ``language_score`` uses the language reward's default weights; ``repetition_penalty`` the repetition
    reward's default settings.
    """
    parts = _parts(completion, target)
    return TextAnalysis(
        reasoning=parts[0],
        answer=parts[1],
        language_score=_score(completion, target, parts, REASONING_WEIGHT, ANSWER_WEIGHT),
        repetition_penalty=repetition_penalty(completion),
        mixed_script=mixed_script(completion, target),
    )
