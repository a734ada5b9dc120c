"""Score completions against a benchmark's golds and summarise them (accuracy, length, language).

Each benchmark's ``kind`` picks the grader: ``math`` → the verifier, ``mc`` → the option letter
(:mod:`polyreason.evaluate.multiple_choice`), ``code`` → the tests, run in the sandbox
(:mod:`polyreason.evaluate.code`).  Every grader sees only the graded part of a completion (after
``</think>``; nothing when the reasoning never closed), so reasoning inside ``<think>`` is never graded.
Samples whose gold the verifier cannot parse (``Verdict.correct is None``) are skipped and counted, never
scored as right or wrong.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from polyreason.evaluate.benchmarks import REGISTRY, Problem
from polyreason.evaluate.language import language_report, summarize_language
from polyreason.evaluate.metrics import accuracy_summary, breakdown
from polyreason.evaluate.multiple_choice import grade as grade_choice

if TYPE_CHECKING:
    from polyreason.evaluate.code import ExecutionConfig
    from polyreason.verify import Verdict
from polyreason.text.region import graded_text


@dataclass(frozen=True)
class Sample:
    """One completion of one problem (``n_tokens`` None when unknown, e.g. predictions made elsewhere)."""

    problem: Problem
    sample_index: int
    completion: str
    n_tokens: int | None = None
    truncated: bool = False


def _verdicts(samples: Sequence[Sample], timeout: float, workers: int | None,
              execution: ExecutionConfig | None) -> list[Verdict]:
    """One verdict per sample, each from its benchmark kind's grader (input order kept)."""
    from polyreason.verify import Verdict, verify_batch

    out: list[Verdict | None] = [None] * len(samples)
    by_kind: dict[str, list[int]] = defaultdict(list)
    for position, sample in enumerate(samples):
        spec = REGISTRY.get(sample.problem.benchmark)
        by_kind[spec.kind if spec else "math"].append(position)
    if by_kind.get("math"):
        maths = [samples[i] for i in by_kind["math"]]
        found = verify_batch([s.problem.gold for s in maths], [graded_text(s.completion) for s in maths],
                             [s.problem.language for s in maths], timeout=timeout, workers=workers)
        for i, verdict in zip(by_kind["math"], found, strict=True):
            out[i] = verdict
    for i in by_kind.get("mc", []):
        correct, letter, reason = grade_choice(samples[i].problem, samples[i].completion)
        out[i] = Verdict(correct, letter, letter, reason)
    if by_kind.get("code"):
        from polyreason.evaluate.code import ExecutionConfig as _Execution
        from polyreason.evaluate.code import grade as grade_code

        code = [samples[i] for i in by_kind["code"]]
        results = grade_code([s.problem for s in code], [s.completion for s in code], execution or _Execution())
        for i, (correct, program, reason) in zip(by_kind["code"], results, strict=True):
            out[i] = Verdict(correct, program, None, reason)
    return out  # type: ignore[return-value]


def score_samples(samples: Sequence[Sample], *, timeout: float = 2.0, workers: int | None = None,
                  execution: ExecutionConfig | None = None) -> list[dict]:
    """Grade every sample; return one record per sample (the rows of ``samples.jsonl``).

    ``execution`` says how code benchmarks run their tests (sandbox backend, timeout); default: the best
    sandbox that works here, refusing to run without one.
    """
    verdicts = _verdicts(samples, timeout, workers, execution)
    records = []
    for sample, verdict in zip(samples, verdicts, strict=True):
        problem = sample.problem
        lang = language_report(
            sample.completion, problem.language, truncated=sample.truncated, has_answer=verdict.extracted is not None
        )
        records.append(
            {
                "benchmark": problem.benchmark,
                "index": problem.index,
                "sample": sample.sample_index,
                "problem": problem.problem,
                "gold": problem.gold,
                "completion": sample.completion,
                "extracted": verdict.extracted,
                "normalized": verdict.normalized,
                "correct": verdict.correct,
                "reason": verdict.reason,
                "n_tokens": sample.n_tokens,
                "n_chars": len(sample.completion),
                "truncated": sample.truncated,
                **lang,
            }
        )
    return records


def summarize_benchmark(name: str, problems: Sequence[Problem], records: Sequence[dict]) -> dict[str, Any]:
    """The summary block of one benchmark: pass@k, CI, breakdowns, length, truncation, language metrics."""
    per_problem: dict[int, list[bool]] = {p.index: [] for p in problems}
    skipped = 0
    for rec in records:
        if rec["correct"] is None:
            skipped += 1
        else:
            per_problem[rec["index"]].append(bool(rec["correct"]))
    per_problem = {k: v for k, v in per_problem.items() if v}
    summary = accuracy_summary(per_problem)
    summary["n_skipped_samples"] = skipped
    spec = REGISTRY.get(name)
    by_index = {p.index: p for p in problems}
    for key in spec.breakdowns if spec else ():
        groups = {idx: by_index[idx].meta.get(key) for idx in per_problem}
        summary[f"by_{key}"] = breakdown(per_problem, groups)
    tokens = [r["n_tokens"] for r in records if r["n_tokens"] is not None]
    summary["mean_tokens"] = sum(tokens) / len(tokens) if tokens else None
    summary["mean_chars"] = sum(r["n_chars"] for r in records) / len(records) if records else 0.0
    summary["truncation_rate"] = sum(bool(r["truncated"]) for r in records) / len(records) if records else 0.0
    summary["answer_rate"] = sum(r["extracted"] is not None for r in records) / len(records) if records else 0.0
    summary["language"] = problems[0].language if problems else None
    summary["language_metrics"] = summarize_language(list(records))
    return summary


def group_records(records: Sequence[dict]) -> dict[str, list[dict]]:
    """Records grouped by benchmark name, in first-seen order."""
    grouped: dict[str, list[dict]] = defaultdict(list)
    for rec in records:
        grouped[rec["benchmark"]].append(rec)
    return dict(grouped)


def _pct(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{100 * value:.1f}"


def markdown_table(summary: dict[str, Any]) -> str:
    """A markdown table of the summary's benchmarks (percentages; CI is the 95% normal interval)."""
    benches = summary["benchmarks"]
    ks = sorted({int(k.split("@")[1]) for b in benches.values() for k in b if k.startswith("pass@") and k != "pass@1"})
    head = ["benchmark", "pass@1", "95% CI"] + [f"pass@{k}" for k in ks]
    head += ["problems", "samples", "mean tokens", "truncated", "reasoning in lang", "answer in lang"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, b in benches.items():
        lm = b.get("language_metrics", {})
        row = [name, _pct(b["pass@1"]), f"{_pct(b['ci95'][0])}–{_pct(b['ci95'][1])}"]
        row += [_pct(b.get(f"pass@{k}")) for k in ks]
        row += [
            str(b["n_problems"]),
            str(b["n_samples"]),
            "–" if b.get("mean_tokens") is None else f"{b['mean_tokens']:.0f}",
            _pct(b.get("truncation_rate")),
            _pct(lm.get("reasoning_compliance")),
            _pct(lm.get("answer_compliance")),
        ]
        lines.append("| " + " | ".join(row) + " |")
    avg = (summary.get("average") or {}).get("pass@1")
    if avg is not None and len(benches) > 1:
        lines.append("| " + " | ".join(["**Avg.**", _pct(avg)] + ["–"] * (len(head) - 2)) + " |")
    gen = summary.get("generation", {})
    note = ", ".join(f"{k}={v}" for k, v in gen.items() if v is not None)
    return (f"# Evaluation: {summary.get('model')}\n\n" + "\n".join(lines) + f"\n\n{size_line(summary)}\n\n"
            f"Generation: {note}\n")


def format_parameters(n: int | None) -> str:
    """``134515008`` → ``"134.5M"``, ``1777088000`` → ``"1.78B"``; ``"unknown"`` for None."""
    if not n:
        return "unknown"
    return f"{n / 1e9:.2f}B" if n >= 1e9 else f"{n / 1e6:.1f}M"


def size_line(summary: dict[str, Any]) -> str:
    """One line: the cross-benchmark average, the parameter count, and accuracy per billion parameters."""
    avg = (summary.get("average") or {}).get("pass@1")
    per_b = summary.get("accuracy_per_billion_parameters")
    names = (summary.get("average") or {}).get("benchmarks") or []
    parts = [f"Avg. pass@1 over {len(names)} benchmark{'s' if len(names) != 1 else ''}: {_pct(avg)}%",
             f"parameters: {format_parameters(summary.get('n_parameters'))}",
             "accuracy per billion parameters: " + ("–" if per_b is None else f"{100 * per_b:.1f} points/B")]
    return "; ".join(parts)
