"""Deduplication (exact + MinHash near-duplicates) and benchmark decontamination, streamed.

Both work on RL rows (``problem``) and SFT rows (the first user message) and return a report dict:
``{"n_input", "n_kept", "n_removed", ..., "examples": [...]}``.

Decontamination removes a row when its normalised problem equals a benchmark problem, or when it shares any
word 13-gram with one (the rule GPT-3 and the open-r1 decontamination script use).  Benchmarks default to every
benchmark in the evaluation registry (:mod:`polyreason.evaluate`), vendored in the package; extra files can be
given as ``against``.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from polyreason.data.schema import normalize_problem
from polyreason.errors import UserError

log = logging.getLogger(__name__)
MAX_EXAMPLES = 10
_WORD = re.compile(r"\w+", re.UNICODE)
_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)  # keeps operators: "23 + 45" and "23 - 45" differ


def problem_text(row: dict) -> str:
    """The problem of an RL row, or the first user message of an SFT row ("" if neither)."""
    if isinstance(row.get("problem"), str):
        return row["problem"]
    for msg in row.get("messages") or []:
        if isinstance(msg, dict) and msg.get("role") == "user":
            return str(msg.get("content", ""))
    return ""


def words(text: str) -> list[str]:
    """Lower-cased word tokens with accents kept and punctuation/LaTeX markup dropped."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).lower())


def ngrams(text: str, n: int) -> set[str]:
    """The set of word ``n``-grams of ``text`` (empty if it has fewer than ``n`` words)."""
    toks = words(text)
    return {" ".join(toks[i:i + n]) for i in range(len(toks) - n + 1)}


# ------------------------------------------------------------------------------------------------- dedup
def dedup(rows: Iterable[dict], *, near: bool = True, threshold: float = 0.85, num_perm: int = 128,
          shingle: int = 5, seed: int = 1) -> tuple[Iterator[dict], dict]:
    """Drop exact duplicates (normalised problem) and, with ``near``, MinHash near-duplicates.

    Returns ``(kept_rows_iterator, report)``; the report fills in as the iterator is consumed.  The first
    occurrence of a duplicate family is kept (input order), so results are deterministic.  Near-duplicates:
    Jaccard similarity of word ``shingle``-grams estimated by MinHash LSH at ``threshold``.
    """
    report = {"n_input": 0, "n_kept": 0, "n_removed": 0, "n_exact": 0, "n_near": 0,
              "threshold": threshold if near else None, "examples": []}

    def run() -> Iterator[dict]:
        seen: set[str] = set()
        lsh = None
        if near:
            from datasketch import MinHash, MinHashLSH

            lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
            proto = MinHash(num_perm=num_perm, seed=seed)  # generating permutations is the slow part: reuse
            perms, scheme = proto.permutations, proto.scheme
        kept_text: dict[str, str] = {}
        for i, row in enumerate(rows):
            report["n_input"] += 1
            text = problem_text(row)
            key = normalize_problem(text)
            if key in seen:
                report["n_exact"] += 1
                _example(report, text, text, "exact")
                continue
            if lsh is not None:
                mh = MinHash(num_perm=num_perm, seed=seed, permutations=perms, scheme=scheme)
                toks = _TOKEN.findall(unicodedata.normalize("NFKC", text).lower())
                grams = {" ".join(toks[j:j + shingle]) for j in range(max(1, len(toks) - shingle + 1))}
                mh.update_batch([g.encode("utf-8") for g in grams])
                hits = lsh.query(mh)
                if hits:
                    report["n_near"] += 1
                    _example(report, text, kept_text.get(sorted(hits)[0], ""), "near")
                    continue
                lsh.insert(str(i), mh)
                if len(report["examples"]) < MAX_EXAMPLES:
                    kept_text[str(i)] = text
                else:
                    kept_text.clear()
            seen.add(key)
            report["n_kept"] += 1
            yield row
        report["n_removed"] = report["n_exact"] + report["n_near"]

    return run(), report


def _example(report: dict, text: str, match: str, why: str, **extra) -> None:
    if len(report["examples"]) < MAX_EXAMPLES:
        report["examples"].append({"problem": text[:300], "matched": match[:300], "reason": why, **extra})


def stats(rows: Iterable[dict]) -> dict:
    """Counts per language, source, difficulty and row kind, plus problem length percentiles (characters)."""
    by: dict[str, Counter] = {"language": Counter(), "source": Counter(), "difficulty": Counter(), "kind": Counter()}
    lengths: list[int] = []
    for row in rows:
        by["language"][str(row.get("language"))] += 1
        by["source"][str(row.get("source"))] += 1
        by["difficulty"][str(row.get("difficulty"))] += 1
        by["kind"]["sft" if isinstance(row.get("messages"), list) else "rl"] += 1
        lengths.append(len(problem_text(row)))
    lengths.sort()

    def pct(q: float) -> int:
        return lengths[min(len(lengths) - 1, int(q * len(lengths)))] if lengths else 0

    return {"n_rows": len(lengths), **{k: dict(v.most_common()) for k, v in by.items()},
            "problem_chars": {"p50": pct(0.5), "p90": pct(0.9), "max": lengths[-1] if lengths else 0}}


# ---------------------------------------------------------------------------------------- decontaminate
def registry_benchmarks() -> Iterator[tuple[str, str]]:
    """``(benchmark, problem_text)`` for every benchmark of the evaluation registry
    (:mod:`polyreason.evaluate.benchmarks`, vendored in the package, offline)."""
    from polyreason.evaluate.benchmarks import benchmark_names, load_benchmark

    for name in benchmark_names(offline_only=True):  # hub-only sets (mmlu, gpqa …) would need the network
        for prob in load_benchmark(name):
            yield name, prob.problem


def file_benchmarks(paths: Iterable[str]) -> Iterator[tuple[str, str]]:
    """``(name, problem_text)`` for each row of benchmark files (any format :func:`load_rows` reads)."""
    from polyreason.data.sources import iter_records

    for path in paths:
        p = Path(path)
        name = p.parent.name if p.stem in ("test", "train", "validation") else p.stem
        for raw in iter_records(path, split="test"):
            from polyreason.data.formats import extract_problem_answer

            problem = extract_problem_answer(raw)[0]
            if isinstance(problem, str) and problem:
                yield name, problem


class BenchmarkIndex:
    """Normalised exact texts and word n-grams of benchmark problems, for fast contamination lookups."""

    def __init__(self, problems: Iterable[tuple[str, str]], n: int = 13):
        self.n = n
        self.exact: dict[str, tuple[str, str]] = {}
        self.grams: dict[str, tuple[str, str]] = {}
        self.sizes: Counter = Counter()
        for name, text in problems:
            self.sizes[name] += 1
            self.exact.setdefault(normalize_problem(text), (name, text))
            for g in ngrams(text, n):
                self.grams.setdefault(g, (name, text))
        if not self.sizes:
            raise UserError("no benchmark problems to decontaminate against; fix: check --against / the registry")

    def match(self, text: str) -> tuple[str, str, str] | None:
        """``(benchmark, benchmark_problem, reason)`` if ``text`` is contaminated, else None."""
        hit = self.exact.get(normalize_problem(text))
        if hit:
            return hit[0], hit[1], "exact"
        for g in ngrams(text, self.n):
            hit = self.grams.get(g)
            if hit:
                return hit[0], hit[1], f"{self.n}-gram"
        return None


def decontaminate(rows: Iterable[dict], index: BenchmarkIndex,
                  on_removed: Callable[[dict, str], None] | None = None) -> tuple[Iterator[dict], dict]:
    """Drop rows matching ``index``; returns ``(kept_rows_iterator, report)`` (report fills while iterating)."""
    report = {"n_input": 0, "n_kept": 0, "n_removed": 0, "ngram": index.n,
              "benchmarks": dict(index.sizes), "per_benchmark": {}, "examples": []}

    def run() -> Iterator[dict]:
        per: Counter = Counter()
        for row in rows:
            report["n_input"] += 1
            text = problem_text(row)
            hit = index.match(text)
            if hit is None:
                report["n_kept"] += 1
                yield row
                continue
            name, bench_text, why = hit
            per[name] += 1
            report["n_removed"] += 1
            report["per_benchmark"] = dict(per)
            _example(report, text, bench_text, why, benchmark=name)
            if on_removed is not None:
                on_removed(row, name)

    return run(), report
