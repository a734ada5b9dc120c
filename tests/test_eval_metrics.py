"""pass@k, standard error / CI and breakdowns (evaluation metrics)."""

from __future__ import annotations

import itertools
import math

import pytest

from polyreason.evaluate.metrics import accuracy_summary, breakdown, default_ks, mean_and_ci, pass_at_k


def brute_force_pass_at_k(n: int, c: int, k: int) -> float:
    """Fraction of k-subsets of n samples (c correct) that contain a correct one."""
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(samples[i] for i in s) for s in subsets) / len(subsets)


@pytest.mark.parametrize("n", [1, 2, 4, 7])
def test_pass_at_k_matches_brute_force(n: int) -> None:
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert pass_at_k(n, c, k) == pytest.approx(brute_force_pass_at_k(n, c, k))
            assert pass_at_k(n, c, k) == pytest.approx(1 - math.comb(n - c, k) / math.comb(n, k))


def test_pass_at_k_large_n_is_stable_and_bounds() -> None:
    assert pass_at_k(64, 1, 1) == pytest.approx(1 / 64)
    assert pass_at_k(64, 0, 64) == 0.0
    assert pass_at_k(64, 1, 64) == 1.0
    with pytest.raises(ValueError):
        pass_at_k(4, 1, 5)
    with pytest.raises(ValueError):
        pass_at_k(4, 5, 1)


def test_default_ks() -> None:
    assert default_ks(1) == [1]
    assert default_ks(4) == [1, 2, 4]
    assert default_ks(6) == [1, 2, 4, 6]


def test_accuracy_summary_pass1_is_mean_over_problems_and_ci() -> None:
    per_problem = {0: [True, True, False, False], 1: [True, True, True, True], 2: [False] * 4}
    out = accuracy_summary(per_problem)
    assert out["pass@1"] == pytest.approx((0.5 + 1 + 0) / 3)
    assert out["n_problems"] == 3 and out["n_samples"] == 12 and out["n_correct"] == 6
    assert out["pass@2"] == pytest.approx((pass_at_k(4, 2, 2) + 1 + 0) / 3)
    assert out["pass@4"] == pytest.approx(2 / 3)
    rates = [0.5, 1.0, 0.0]
    sd = math.sqrt(sum((r - 0.5) ** 2 for r in rates) / 2)
    assert out["stderr"] == pytest.approx(sd / math.sqrt(3))
    low, high = out["ci95"]
    assert 0.0 <= low < out["pass@1"] < high <= 1.0


def test_wilson_interval_stays_informative_at_zero() -> None:
    from polyreason.evaluate.metrics import wilson_interval

    low, high = wilson_interval(0.0, 30)
    assert low == 0.0 and high == pytest.approx(0.1135, abs=1e-3)
    low, high = wilson_interval(0.5, 100)
    assert low == pytest.approx(0.4038, abs=1e-3) and high == pytest.approx(0.5962, abs=1e-3)
    out = accuracy_summary({i: [False] for i in range(30)})
    assert out["ci95"] == [0.0, 0.0] and out["ci95_wilson"][1] > 0.1


def test_mean_and_ci_single_value_and_clipping() -> None:
    assert mean_and_ci([1.0])["stderr"] == 0.0
    stats = mean_and_ci([1.0, 1.0, 1.0, 0.0])
    assert stats["ci95_high"] == 1.0  # clipped
    assert math.isnan(mean_and_ci([])["mean"])


def test_breakdown_groups_by_value() -> None:
    per_problem = {0: [True], 1: [False], 2: [True]}
    out = breakdown(per_problem, {0: "Algebra", 1: "Algebra", 2: "Geometry"})
    assert out == {
        "Algebra": {"pass@1": 0.5, "stderr": pytest.approx(0.5), "n_problems": 2},
        "Geometry": {"pass@1": 1.0, "stderr": 0.0, "n_problems": 1},
    }
