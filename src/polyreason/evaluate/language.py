"""Per-sample language and repetition fields of an evaluation, and their summary.

Every field comes from :func:`polyreason.text.analysis.analyze` -- the analysis the ``language`` and
``repetition`` rewards use -- run once per sample, plus the ``naturalness`` reward's rules.  A part whose
language cannot be told (fewer than :data:`polyreason.text.langid.MIN_LETTERS` letters of prose) is
"undetermined" and not counted in compliance rates.
"""

from __future__ import annotations

from typing import Any

from polyreason.rewards.naturalness import naturalness_score
from polyreason.text.analysis import analyze
from polyreason.text.langid import base_code

FLAGS = ("empty", "no_answer", "truncated", "repetition_loop", "mixed_script", "wrong_language", "unnatural")


def _compliant(detected: str | None, target: str) -> bool | None:
    return None if detected is None else detected == base_code(target)


def language_report(completion: str, language: str, *, truncated: bool, has_answer: bool) -> dict[str, Any]:
    """Per-sample language fields: detected languages of reasoning and answer, compliance, scores and flags."""
    analysis = analyze(completion, language)
    naturalness = naturalness_score(completion, language)
    reasoning_ok = _compliant(analysis.reasoning.language, language)
    conditions = {
        "empty": not completion.strip(),
        "no_answer": not has_answer,
        "truncated": truncated,
        "repetition_loop": analysis.repetition_loop,
        "mixed_script": analysis.mixed_script,
        "wrong_language": reasoning_ok is False,
        "unnatural": naturalness < 1.0,
    }
    return {
        "language_score": analysis.language_score,
        "naturalness": naturalness,
        "repetition_penalty": analysis.repetition_penalty,
        "reasoning_language": analysis.reasoning.language,
        "answer_language": analysis.answer.language,
        "reasoning_compliant": reasoning_ok,
        "answer_compliant": _compliant(analysis.answer.language, language),
        "flags": [flag for flag in FLAGS if conditions[flag]],
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
