"""Scoring fidelity: a benchmark's own references must score correct, near misses must not.

For every problem the reference completion is the benchmark's own solution text when it holds exactly one
``\\boxed{}`` (MATH-500, Minerva, some AIME), the instructed last line alone when it holds several (AIME
files list alternative solutions), otherwise the solution (if any) followed by the instructed last line
with the gold exactly as the file stores it (``27.0`` for AMC, ``025`` for AIME, ``5,600`` for MGSM).  So this
checks gold handling and answer extraction together.  :data:`NEAR_MISSES` lists completions that look right
but are wrong; none may ever score correct.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from polyreason.evaluate.benchmarks import Problem, load_benchmark
from polyreason.text.boxed import last_boxed
from polyreason.text.region import graded_text

FIDELITY_BENCHMARKS = ("math500", "aime24", "amc23", "minerva", "gsm8k", "mgsm-en", "mgsm-es")
TARGET = 0.99

FINAL_LINE = {
    "en": "Therefore, the final answer is: $\\boxed{%s}$. I hope it is correct",
    "es": "Por lo tanto, la respuesta final es: $\\boxed{%s}$. Espero que sea correcta",
}


@dataclass(frozen=True)
class NearMiss:
    """A wrong completion that a careless verifier might accept, and why it is wrong."""

    gold: str
    completion: str
    why: str
    language: str = "en"


NEAR_MISSES: tuple[NearMiss, ...] = (
    NearMiss("204", "\\boxed{205}", "off by one"),
    NearMiss("204", "<think>so it is \\boxed{204}</think>\nTherefore, the final answer is: $\\boxed{240}$.",
             "gold only inside <think>; the answer after </think> is wrong"),
    NearMiss("204", "<think>Let me see... maybe \\boxed{204}", "reasoning never closed: no graded answer"),
    NearMiss("18", "First \\boxed{18}, but correcting myself the answer is \\boxed{19}", "last \\boxed{} is wrong"),
    NearMiss("\\frac{1}{2}", "\\boxed{\\frac{1}{3}}", "wrong fraction"),
    NearMiss("\\frac{1}{2}", "\\boxed{2}", "reciprocal"),
    NearMiss("-1", "\\boxed{1}", "sign"),
    NearMiss("2\\sqrt{3}", "\\boxed{\\sqrt{3}}", "missing factor"),
    NearMiss("x^2+1", "\\boxed{x^2-1}", "wrong sign in expression"),
    NearMiss("1.6", "\\boxed{16}", "misplaced decimal point"),
    NearMiss("70000", "\\boxed{7000}", "missing zero"),
    NearMiss("5600", "\\boxed{5.6}", "5.6 is not 5600 in English"),
    NearMiss("5600", "Por lo tanto, la respuesta final es: $\\boxed{5,6}$.", "Spanish 5,6 is 5.6, not 5600", "es"),
    NearMiss("[0,1)", "\\boxed{[0,1]}", "interval closed at the wrong end"),
    NearMiss("\\left( 3, \\frac{\\pi}{2} \\right)", "\\boxed{\\left( 3, \\frac{\\pi}{3} \\right)}", "tuple entry wrong"),
    NearMiss("69, 84", "\\boxed{69}", "one of two required answers"),
    NearMiss("3", "\\boxed{}", "empty box"),
)


def reference_completion(problem: Problem) -> str:
    """The benchmark's own reference written as a completion (see the module docstring)."""
    solution = (problem.solution or "").strip()
    if solution.count("\\boxed") == 1 and last_boxed(solution) is not None:
        return solution
    if solution.count("\\boxed") > 1:  # AoPS-style files hold several alternative solutions: not one answer
        solution = ""
    line = FINAL_LINE.get(problem.language, FINAL_LINE["en"]) % _raw_answer(problem)
    return f"{solution}\n\n{line}" if solution else line


def _raw_answer(problem: Problem) -> str:
    if problem.benchmark == "olympiadbench":
        return problem.gold
    return problem.raw_gold.strip()


def check_benchmark(name: str, *, limit: int | None = None, timeout: float = 5.0) -> dict[str, Any]:
    """Score every reference completion of ``name``; returns accuracy and the list of misses with reasons."""
    from polyreason.verify import verify_batch

    problems = load_benchmark(name, limit=limit)
    completions = [reference_completion(p) for p in problems]
    verdicts = verify_batch(
        [p.gold for p in problems], [graded_text(c) for c in completions], [p.language for p in problems],
        timeout=timeout,
    )
    misses = [
        {"index": p.index, "gold": p.gold, "extracted": v.extracted, "correct": v.correct, "reason": v.reason}
        for p, v in zip(problems, verdicts, strict=True)
        if v.correct is not True
    ]
    correct = len(problems) - len(misses)
    return {"benchmark": name, "n": len(problems), "correct": correct, "accuracy": correct / len(problems),
            "misses": misses}


def check_near_misses(cases: Sequence[NearMiss] = NEAR_MISSES, *, timeout: float = 5.0) -> list[dict[str, Any]]:
    """Verify each near miss; returns one row per case with ``accepted`` True where the verifier was fooled."""
    from polyreason.verify import verify_batch

    verdicts = verify_batch(
        [c.gold for c in cases], [graded_text(c.completion) for c in cases], [c.language for c in cases],
        timeout=timeout,
    )
    return [
        {"gold": c.gold, "completion": c.completion, "why": c.why, "accepted": v.correct is True,
         "extracted": v.extracted, "reason": v.reason}
        for c, v in zip(cases, verdicts, strict=True)
    ]
