"""polyreason.text.boxed: the one brace-balanced \\boxed{} extractor."""

from __future__ import annotations

import time

import pytest

from polyreason.text.boxed import all_boxed, boxed_spans, last_boxed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\\boxed{42}", ["42"]),
        ("a \\boxed{1} b \\fbox{ 2 } c", ["1", "2"]),
        ("\\boxed {\\frac{1}{2}}", ["\\frac{1}{2}"]),
        ("\\boxed{\\{1, 2\\}}", ["\\{1, 2\\}"]),  # escaped braces do not count
        ("\\boxed{\\left\\{ x \\right.}", ["\\left\\{ x \\right."]),
        ("\\boxed{\\boxed{3}}", ["\\boxed{3}"]),  # a box inside a box belongs to the outer one
        ("\\boxed{5", []),  # never closes: cut off, no box
        ("\\boxed{1} then \\boxed{2", ["1"]),
        ("\\boxed{}", [""]),
        ("no box here", []),
        ("\\boxedx{1}", []),
    ],
)
def test_all_boxed(text, expected):
    assert all_boxed(text) == expected


def test_last_boxed_and_spans():
    text = "so $x=\\boxed{\\frac{1}{2}}$ and \\boxed{3}"
    assert last_boxed(text) == "3"
    assert last_boxed("nothing") is None
    spans = boxed_spans(text)
    assert [text[s.start : s.end] for s in spans] == ["\\boxed{\\frac{1}{2}}", "\\boxed{3}"]


def test_linear_on_hostile_input():
    start = time.perf_counter()
    assert all_boxed("\\boxed{" * 50_000) == []
    assert len(all_boxed("\\boxed{1}" * 50_000)) == 50_000
    assert all_boxed("\\boxed{" + "{" * 50_000 + "}" * 50_000 + "}") == ["{" * 50_000 + "}" * 50_000]
    assert time.perf_counter() - start < 5.0
