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


@pytest.mark.parametrize("name", FIDELITY_BENCHMARKS)
def test_references_score_correct(name: str) -> None:
    result = check_benchmark(name)
    assert result["accuracy"] >= TARGET, result["misses"]


@pytest.mark.parametrize("name", ["mgsm-de", "mgsm-fr", "mgsm-ru"])
def test_decimal_comma_languages_accept_the_files_comma_thousands(name: str) -> None:
    """MGSM writes 5,600 in every language; in decimal-comma languages that must still match 5600."""
    result = check_benchmark(name)
    assert result["accuracy"] >= TARGET, result["misses"]


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
