"""Accuracy metrics over n samples per problem: pass@1, unbiased pass@k, standard error, 95% CI, breakdowns."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Z_95 = 1.959963984540054


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem with ``c`` correct out of ``n`` samples: 1 − C(n−c, k) / C(n, k).

    The chance that at least one of ``k`` samples drawn without replacement from the ``n`` is correct
    (Chen et al., 2021).  ``k`` must be ≤ ``n``.

    >>> pass_at_k(4, 1, 1), pass_at_k(4, 1, 2), pass_at_k(4, 0, 4), pass_at_k(4, 3, 2)
    (0.25, 0.5, 0.0, 1.0)
    """
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass_at_k needs 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}")
    if n - c < k:
        return 1.0
    # product form of C(n-c, k) / C(n, k): exact enough and never overflows
    ratio = 1.0
    for i in range(n - c + 1, n + 1):
        ratio *= 1.0 - k / i
    return 1.0 - ratio


def default_ks(n: int) -> list[int]:
    """The k values reported for ``n`` samples: powers of two up to ``n``, plus ``n`` itself."""
    ks, k = [], 1
    while k <= n:
        ks.append(k)
        k *= 2
    if n not in ks and n >= 1:
        ks.append(n)
    return ks


def mean_and_ci(values: Sequence[float]) -> dict[str, float]:
    """Mean, standard error of the mean (sample std / √N) and a normal 95% CI clipped to [0, 1].

    >>> mean_and_ci([1.0, 0.0, 1.0, 0.0])["mean"]
    0.5
    """
    count = len(values)
    if count == 0:
        return {"mean": float("nan"), "stderr": float("nan"), "ci95_low": float("nan"), "ci95_high": float("nan")}
    mean = sum(values) / count
    var = sum((v - mean) ** 2 for v in values) / (count - 1) if count > 1 else 0.0
    stderr = math.sqrt(var / count)
    return {
        "mean": mean,
        "stderr": stderr,
        "ci95_low": max(0.0, mean - Z_95 * stderr),
        "ci95_high": min(1.0, mean + Z_95 * stderr),
    }


def wilson_interval(p_hat: float, count: int, z: float = Z_95) -> list[float]:
    """Wilson score interval for a proportion ``p_hat`` over ``count`` trials (stays informative at 0 and 1).

    >>> [round(x, 3) for x in wilson_interval(0.0, 30)]
    [0.0, 0.114]
    """
    if count <= 0:
        return [0.0, 1.0]
    denom = 1 + z * z / count
    centre = (p_hat + z * z / (2 * count)) / denom
    half = z * math.sqrt(p_hat * (1 - p_hat) / count + z * z / (4 * count * count)) / denom
    return [max(0.0, centre - half), min(1.0, centre + half)]


def accuracy_summary(per_problem: Mapping[int, Sequence[bool]], ks: Iterable[int] | None = None) -> dict[str, Any]:
    """Summarise verdicts grouped by problem: ``{problem_index: [correct, …]}`` (skipped samples removed).

    pass@1 is the mean over problems of (correct / samples); pass@k uses the unbiased estimator per problem
    with that problem's own sample count (a k larger than a problem's count is not reported).  ``ci95`` is
    the normal interval from the standard error; ``ci95_wilson`` treats the N problems as trials (exact in
    form for one sample per problem, and informative when every problem scores 0 or 1).
    """
    counts = {idx: (len(v), sum(bool(x) for x in v)) for idx, v in per_problem.items() if len(v) > 0}
    rates = [c / n for n, c in counts.values()]
    stats = mean_and_ci(rates)
    out: dict[str, Any] = {
        "pass@1": stats["mean"] if rates else 0.0,
        "stderr": stats["stderr"] if rates else 0.0,
        "ci95": [stats["ci95_low"], stats["ci95_high"]] if rates else [0.0, 0.0],
        # Wilson interval over problems: unlike the normal one it does not collapse to [0, 0] at 0 correct
        "ci95_wilson": wilson_interval(stats["mean"], len(rates)) if rates else [0.0, 1.0],
        "n_problems": len(counts),
        "n_samples": sum(n for n, _ in counts.values()),
        "n_correct": sum(c for _, c in counts.values()),
    }
    if counts:
        min_n = min(n for n, _ in counts.values())
        for k in ks if ks is not None else default_ks(min_n):
            if 1 < k <= min_n:
                out[f"pass@{k}"] = sum(pass_at_k(n, c, k) for n, c in counts.values()) / len(counts)
    return out


def breakdown(
    per_problem: Mapping[int, Sequence[bool]], groups: Mapping[int, str | None]
) -> dict[str, dict[str, float | int]]:
    """pass@1 (with stderr and problem count) per group value, e.g. per subject or level."""
    buckets: dict[str, dict[int, Sequence[bool]]] = defaultdict(dict)
    for idx, verdicts in per_problem.items():
        key = groups.get(idx)
        if key is not None and len(verdicts) > 0:
            buckets[str(key)][idx] = verdicts
    out = {}
    for key in sorted(buckets):
        summary = accuracy_summary(buckets[key], ks=[])
        out[key] = {"pass@1": summary["pass@1"], "stderr": summary["stderr"], "n_problems": summary["n_problems"]}
    return out


def cross_benchmark(benchmarks: Mapping[str, Mapping[str, Any]], n_parameters: int | None) -> dict[str, Any]:
    """The run-level figures: the unweighted mean of the benchmarks' pass@1 (seed 001's "Avg."), the
    model's parameter count and that mean per billion parameters.

    Every benchmark counts once, whatever its size (each MGSM language is one benchmark); benchmarks with no
    scored problem are left out of the mean.  ``accuracy_per_billion_parameters`` is the mean (a fraction)
    divided by the parameter count in billions, None when the count is unknown.

    >>> cross_benchmark({"a": {"pass@1": 0.5, "n_problems": 2}, "b": {"pass@1": 0.25, "n_problems": 4}}, 500_000_000)
    {'average': {'pass@1': 0.375, 'benchmarks': ['a', 'b']}, 'n_parameters': 500000000, 'accuracy_per_billion_parameters': 0.75}
    """
    used = [name for name, block in benchmarks.items() if block.get("n_problems", 0) > 0]
    mean = sum(float(benchmarks[name]["pass@1"]) for name in used) / len(used) if used else None
    per_billion = mean / (n_parameters / 1e9) if mean is not None and n_parameters else None
    return {
        "average": {"pass@1": mean, "benchmarks": used},
        "n_parameters": n_parameters,
        "accuracy_per_billion_parameters": per_billion,
    }


def count_parameters(model: Any) -> int | None:
    """Parameters of a torch model, each shared tensor (tied embeddings) counted once; None if not a model."""
    params = getattr(model, "parameters", None)
    if not callable(params):
        return None
    return int(sum(p.numel() for p in params()))
