"""Every MATH-500 gold answer shape: accepted against itself, and in agreement with math-verify on mismatches."""

from __future__ import annotations

import json

import pytest

from polyreason.verify import verify_batch


@pytest.fixture(scope="module")
def golds(shared_benchmarks):
    path = shared_benchmarks / "math500" / "test.jsonl"
    if not path.is_file():
        pytest.skip("MATH-500 not available")
    return [json.loads(line)["answer"] for line in path.read_text().splitlines() if line.strip()]


def test_each_gold_matches_itself(golds):
    comps = [f"<think>\nreasoning\n</think>\n\nThe final answer is $\\boxed{{{g}}}$." for g in golds]
    verdicts = verify_batch(golds, comps, workers=2, timeout=10.0)
    failures = [(g, v) for g, v in zip(golds, verdicts, strict=True) if v.correct is not True]
    assert not failures, failures[:5]


def test_mismatched_golds_agree_with_math_verify(golds):
    from math_verify import parse, verify

    sample = golds[:200]
    others = sample[1:] + sample[:1]
    comps = [f"\\boxed{{{o}}}" for o in others]
    ours = verify_batch(sample, comps, workers=2, timeout=10.0)
    disagreements = []
    for gold, other, verdict in zip(sample, others, ours, strict=True):
        reference = verify(parse("\\boxed{" + gold + "}"), parse("\\boxed{" + other + "}"))
        if bool(verdict.correct) != bool(reference):
            disagreements.append((gold, other, reference, verdict))
    assert not disagreements, disagreements[:5]
