"""Recognise common math-dataset row shapes and turn them into the standard RL / SFT schema.

Known shapes (detected from the columns present after any column mapping):

``rl``        already has ``problem`` and ``answer``.
``gsm8k``     ``question`` + ``answer`` whose last line is ``#### 72`` (the text before it becomes reasoning).
``math``      ``problem`` + ``solution`` with the gold in the last ``\\boxed{}`` (MATH, MATH-500, Minerva,
              NuminaMath-CoT).
``openr1``    ``problem`` + ``answer`` + ``generations`` (a list of traces, optionally with
              ``correctness_math_verify``) -- OpenR1-Math-220k; the first verified generation is the trace.
``olympiad``  ``question`` + ``final_answer`` (a list like ``["$3$"]``) -- OlympiadBench.
``qa``        ``question`` + ``answer`` without ``####`` -- MGSM TSV rows and similar.
``messages``  a chat ``messages`` list (SFT data; the RL view takes the first user turn and the last boxed).

Column mapping (``column_map``) is ``{schema_column: source_column}``, e.g. ``{"problem": "question",
"answer": "final_answer"}``: it is applied first, so any dataset can be brought into one of the shapes above.
"""

from __future__ import annotations

import re
from typing import Any

from polyreason.data.schema import answer_to_str, format_assistant
from polyreason.text.boxed import last_boxed
from polyreason.text.region import THINK_CLOSE, THINK_OPEN

_GSM_RE = re.compile(r"####\s*(.+?)\s*$", re.S)
_CALC_RE = re.compile(r"<<[^<>]*>>")
_THOUSANDS = re.compile(r"^-?\d{1,3}(,\d{3})+$")


def apply_column_map(row: dict, column_map: dict[str, str] | None, where: str = "row") -> dict:
    """Copy ``row`` with ``column_map`` ({schema_column: source_column}) applied; unmapped columns are kept."""
    if not column_map:
        return dict(row)
    from polyreason.errors import UserError

    out = dict(row)
    for target, src in column_map.items():
        if src not in row:
            raise UserError(f"{where}: column '{src}' (mapped to '{target}') not found; columns are "
                            f"{sorted(row)}; fix: correct --map {target}=COLUMN")
        out[target] = row[src]
    return out


def detect_format(row: dict) -> str:
    """Name of the shape of ``row`` (see the module docstring), or ``"unknown"``."""
    if "generations" in row and "problem" in row:
        return "openr1"
    if "problem" in row and "answer" in row and row.get("answer") not in (None, ""):
        return "rl"
    if "problem" in row and isinstance(row.get("solution"), str):
        return "math"
    if "question" in row and "final_answer" in row:
        return "olympiad"
    if "question" in row and "answer" in row:
        return "gsm8k" if "####" in str(row["answer"]) else "qa"
    if isinstance(row.get("messages"), list):
        return "messages"
    return "unknown"


def _gsm8k(answer: str) -> tuple[str | None, str]:
    m = _GSM_RE.search(answer)
    if not m:
        return None, answer
    gold = m.group(1).replace(",", "").strip()
    reasoning = _CALC_RE.sub("", answer[: m.start()]).strip()
    return gold, reasoning


def _strip_dollars(value: str) -> str:
    value = value.strip()
    if value.startswith("$") and value.endswith("$") and len(value) > 1:
        value = value.strip("$").strip()
    return value


def _first_user(messages: list) -> str | None:
    for m in messages:
        if isinstance(m, dict) and m.get("role") == "user":
            return m.get("content")
    return None


def extract_problem_answer(row: dict, where: str = "row") -> tuple[Any, Any, str | None, str]:
    """(problem, answer, reasoning-or-None, format) for a raw row in any known shape (``where`` names it in errors)."""
    fmt = detect_format(row)
    if fmt == "rl":
        return row["problem"], answer_to_str(row["answer"], where), row.get("solution") or None, fmt
    if fmt == "openr1":
        answer = row.get("answer")
        if answer in (None, "") and isinstance(row.get("solution"), str):
            answer = last_boxed(row["solution"])
        return row["problem"], answer_to_str(answer, where) if answer is not None else None, _openr1_trace(row), fmt
    if fmt == "math":
        return row["problem"], last_boxed(row["solution"]), row["solution"], fmt
    if fmt == "olympiad":
        final = row["final_answer"]
        if isinstance(final, list):
            final = ", ".join(_strip_dollars(str(x)) for x in final)
        return row["question"], _strip_dollars(str(final)), row.get("solution") if isinstance(
            row.get("solution"), str) else None, fmt
    if fmt == "gsm8k":
        gold, reasoning = _gsm8k(str(row["answer"]))
        return row["question"], gold, reasoning, fmt
    if fmt == "qa":
        answer = answer_to_str(row["answer"], where)
        if _THOUSANDS.match(answer):  # MGSM writes "5,600" for 5600
            answer = answer.replace(",", "")
        return row["question"], answer, None, fmt
    if fmt == "messages":
        last = row["messages"][-1].get("content", "") if row["messages"] else ""
        return _first_user(row["messages"]), last_boxed(last or ""), last or None, fmt
    return row.get("problem"), row.get("answer"), None, fmt


def _openr1_trace(row: dict) -> str | None:
    gens = row.get("generations") or []
    ok = row.get("correctness_math_verify") or [True] * len(gens)
    for gen, good in zip(gens, ok, strict=False):
        if good and isinstance(gen, str) and gen.strip():
            return gen
    return None


def to_assistant(reasoning: str, answer: str, sentence: str) -> str:
    """Assistant content in the think/boxed convention from a trace or a worked solution.

    A trace that already closes ``</think>`` is kept as is; otherwise the text becomes the think block
    and the answer sentence with ``\\boxed{answer}`` follows.
    """
    text = reasoning.strip()
    if THINK_CLOSE in text:
        if not text.startswith(THINK_OPEN):
            text = "<think>\n" + text
        return text
    return format_assistant(text, answer, sentence)
