"""Scoring fidelity: each benchmark's own references score >= 99%; no near miss is ever accepted."""

from __future__ import annotations

import pytest

from polyreason.evaluate.benchmarks import load_benchmark
from polyreason.evaluate.fidelity import (
    FIDELITY_BENCHMARKS,
    NEAR_MISSES,
    TARGET,
    check_benchmark,
    check_near_misses,
    reference_completion,
)

# Known misses that are verifier behaviour, reported to the verifier's owner (see docs/evaluation.md).
KNOWN_BELOW_TARGET = {
    "mgsm-es": "the MGSM-es file writes 5,600 (comma thousands); the Spanish verifier reads 5,600 as 5.6",
}


@pytest.mark.parametrize("name", FIDELITY_BENCHMARKS)
def test_references_score_correct(name: str) -> None:
    if name in KNOWN_BELOW_TARGET:
        pytest.xfail(KNOWN_BELOW_TARGET[name])
    result = check_benchmark(name)
    assert result["accuracy"] >= TARGET, result["misses"]


def test_mgsm_es_misses_are_only_comma_thousands() -> None:
    result = check_benchmark("mgsm-es")
    assert result["accuracy"] >= 0.98
    assert all("," in load_benchmark("mgsm-es")[m["index"]].raw_gold for m in result["misses"])


def test_reference_completions_use_raw_golds() -> None:
    amc = load_benchmark("amc23", limit=1)[0]
    assert "\\boxed{27.0}" in reference_completion(amc)
    aime = load_benchmark("aime24")[7]
    assert reference_completion(aime).endswith("I hope it is correct") or "\\boxed{" in reference_completion(aime)
    es = load_benchmark("mgsm-es")[249]
    assert "\\boxed{5,600}" in reference_completion(es) and reference_completion(es).startswith("Por lo tanto")


def test_no_near_miss_is_accepted() -> None:
    rows = check_near_misses()
    assert len(rows) == len(NEAR_MISSES)
    accepted = [r for r in rows if r["accepted"]]
    assert accepted == []
