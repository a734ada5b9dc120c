"""Naturalness reward: language-specific surface rules (Spanish question marks built in), pluggable.

A rule is a function ``text -> int`` returning a number of violations; rules are registered per language
with :func:`register_naturalness_rule`.  Spanish rules (``es``):

* ``declarative_question``: ``¿…?`` wrapped around a statement -- the span contains ``\\boxed`` or an ``=``
  outside math, or it starts with a discourse marker ("Por lo tanto", "Entonces", "La respuesta",
  "Primero", ...) or runs over 30 words *and* has no interrogative word (qué, cuál, cuánto, cómo, dónde,
  cuándo, quién, por qué…);
* ``stacked_marks``: ``¿¿``, ``??``, ``¿?``, ``?¿``;
* ``unbalanced_marks``: a ``?`` with no ``¿`` opening it in the same sentence, or a ``¿`` never closed;
* ``marks_in_math_or_code``: ``¿`` / ``?`` inside ``$…$``, ``\\[…\\]``, ``\\boxed{}`` or code.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from polyreason.rewards.inputs import column, completion_texts, log_mean
from polyreason.text.boxed import boxed_spans
from polyreason.text.spans import outside_spans, split_protected

MAX_CHARS = 50_000  # longer completions are judged on their first MAX_CHARS characters
Rule = Callable[[str], int]
NATURALNESS_RULES: dict[str, dict[str, Rule]] = {}

_QUESTION = re.compile(r"¿([^¿?]*)\?")
_DECLARATIVE_START = re.compile(
    r"^\s*(?:por lo tanto|por tanto|entonces|así que|asi que|la respuesta|el resultado|primero|luego|"
    r"después|despues|finalmente|sabemos|tenemos|vamos a|calculamos|sumamos|restamos|multiplicamos|"
    r"dividimos|ahora|en resumen|en conclusión|en conclusion|de modo que|dado que|ya que|porque)\b",
    re.IGNORECASE,
)

_INTERROGATIVE = re.compile(
    r"\b(?:qué|cuál|cuáles|cuánto|cuánta|cuántos|cuántas|cómo|dónde|adónde|cuándo|quién|quiénes|"
    r"por qué|para qué|es cierto|verdad)\b",
    re.IGNORECASE,
)


def register_naturalness_rule(language: str, name: str, rule: Rule) -> None:
    """Add (or replace) a rule for ``language``; it returns how many violations a text has."""
    NATURALNESS_RULES.setdefault(language, {})[name] = rule


def _without_boxes(text: str) -> str:
    out, pos = [], 0
    for box in boxed_spans(text):
        out += [text[pos : box.start], " "]
        pos = box.end
    return "".join(out) + text[pos:]


def _outside_math(text: str) -> str:
    return outside_spans(_without_boxes(text))


def _math_and_code(text: str) -> list[str]:
    pieces = [piece for is_math, piece in split_protected(text) if is_math]
    return pieces + [text[box.start : box.end] for box in boxed_spans(text)]


def _declarative_question(text: str) -> int:
    count = 0
    for m in _QUESTION.finditer(text):
        span = m.group(1)
        if "\\boxed" in span or "=" in _outside_math(span):  # an "=" inside $…$ may be part of a real question
            count += 1
        elif (_DECLARATIVE_START.match(span) or len(span.split()) > 30) and not _INTERROGATIVE.search(span):
            count += (
                1  # "¿Por lo tanto, la respuesta es 12?" -- but "¿Entonces, cuántas quedan?" is a question
            )
    return count


def _stacked_marks(text: str) -> int:
    return len(re.findall(r"¿¿|\?\?|¿\?|\?¿", _outside_math(text)))


def _unbalanced_marks(text: str) -> int:
    count = 0
    for sentence in re.split(r"(?<=[.!])\s+|\n", _outside_math(text)):  # not inside "3.5"
        depth = 0
        for ch in sentence:
            if ch == "¿":
                depth += 1
            elif ch == "?":
                if depth == 0:
                    count += 1
                else:
                    depth -= 1
        count += depth
    return count


def _marks_in_math_or_code(text: str) -> int:
    return sum(piece.count("¿") + piece.count("?") for piece in _math_and_code(text))


for _name, _rule in {
    "declarative_question": _declarative_question,
    "stacked_marks": _stacked_marks,
    "unbalanced_marks": _unbalanced_marks,
    "marks_in_math_or_code": _marks_in_math_or_code,
}.items():
    register_naturalness_rule("es", _name, _rule)


def naturalness_violations(text: str, language: str) -> int:
    """Violations of the rules registered for ``language`` (0 for a language without rules)."""
    rules = NATURALNESS_RULES.get(language.lower().split("-")[0], {})
    text = text[:MAX_CHARS]
    return sum(rule(text) for rule in rules.values())


def naturalness_score(text: str, language: str, penalty: float = 0.25) -> float:
    """1 − min(1, penalty·violations) over the rules of ``language``; 1.0 for a language without rules."""
    return 1.0 - min(1.0, penalty * naturalness_violations(text, language))


def naturalness(*, language: str | None = None, penalty: float = 0.25):
    """Naturalness reward in [0, 1]: r = 1 − min(1, penalty · violations) (penalty 0.25 per violation).

    Violations come from the rules registered for the target language (``language`` column, else the
    parameter, else "es"); Spanish checks ¿…? around statements, stacked or unbalanced marks, and marks in
    math or code.  A language with no rules scores 1.0 (neutral).
    Example (es): "¿Cuánto es 2+2? Es 4." -> 1.0; "¿¿Cuánto es?? Por lo tanto es 4?" -> 0.25.
    """

    def reward(prompts, completions, **kwargs: Any) -> list[float | None]:
        texts = completion_texts(completions)
        langs = [lang or language or "es" for lang in column(kwargs, "language", len(texts), language)]
        out: list[float | None] = [
            naturalness_score(t, lang, penalty) for t, lang in zip(texts, langs, strict=True)
        ]
        log_mean(kwargs, "naturalness/score", out)
        return out

    return reward
