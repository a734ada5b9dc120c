"""Evaluation: benchmark registry, verification, pass@k metrics and a result cache (generation: polyreason.generation).

Entry points: :func:`run_eval` (generate then score) and :func:`score_predictions` (score completions made
elsewhere); both write ``samples.jsonl``, ``summary.json`` and ``summary.md``.
"""

from polyreason.evaluate.benchmarks import Problem, benchmark_names, expand_names, load_benchmark
from polyreason.evaluate.metrics import pass_at_k
from polyreason.evaluate.runner import EvalConfig, run_eval, score_predictions

__all__ = [
    "EvalConfig",
    "Problem",
    "benchmark_names",
    "expand_names",
    "load_benchmark",
    "pass_at_k",
    "run_eval",
    "score_predictions",
]
