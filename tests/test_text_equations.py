"""polyreason.text.equations and the arithmetic reward: which equations are found, how they are judged."""

from __future__ import annotations

import time
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyreason.data.synthetic import KINDS, generate_sft_rows
from polyreason.rewards import build_reward
from polyreason.text.equations import check_equation, evaluate, find_equations


@pytest.mark.parametrize(("text", "expected"), [
    ("I need 38 + 27. 38 + 20 = 58, and 58 + 7 = 64.", [("38 + 20 = 58", True), ("58 + 7 = 64", False)]),
    ("Calculo 50 - 17. 50 - 10 = 40, y 40 - 7 = 33.", [("50 - 10 = 40", True), ("40 - 7 = 33", True)]),
    ("Multiplications first: 3 × 4 = 12, 6 * 7 = 42.", [("3 × 4 = 12", True), ("6 * 7 = 42", True)]),
    ("12 + 3 × 4 - 5 = 19", [("12 + 3 × 4 - 5 = 19", True)]),        # × before ±, then left to right
    ("24 - 5 - 3 = 22", [("24 - 5 - 3 = 22", False)]),                # not 24 - (5 - 3)
    ("-3 + 2 × 5 = 7 and 12 ÷ 4 = 3", [("-3 + 2 × 5 = 7", True), ("12 ÷ 4 = 3", True)]),
    ("1,250 + 750 = 2,000", [("1,250 + 750 = 2,000", True)]),
    ("7 / 2 = 3.5, 5 - 3 = 2.5", [("7 / 2 = 3.5", True), ("5 - 3 = 2.5", False)]),
    ("38 + 27 = 58 + 7 = 65", [("58 + 7 = 65", True)]),               # a chain: its last link is judged
    ("First (38 + 20 = 58), then 58 + 7 = 66.", [("38 + 20 = 58", True), ("58 + 7 = 66", False)]),
])
def test_equations_found_and_judged(text, expected):
    assert [(e.text, e.true) for e in find_equations(text)] == expected


@pytest.mark.parametrize("text", [
    "x - 2 + 3 = 4",      # continues an expression with a variable
    "2^3 + 1 = 9",        # a power
    "f(2) + 1 = 3",       # a function
    "(2 + 3) × 4 = 20",   # parentheses are not evaluated
    "a2 + 3 = 5",         # starts inside a word
    "3 × 4 = 12 × 2",     # the right side is an expression
    "5 + 5 = 10.5 + 1",
    "7 / 0 = 1",          # nothing to check
    "x = 5, = 65, 38 + 27",
])
def test_what_is_not_plain_arithmetic_is_ignored(text):
    assert find_equations(text) == []


def test_check_equation_and_evaluate():
    assert check_equation("12 + 3 × 4 = 24") is True
    assert check_equation(" 12 + 3 × 4 = 60 ") is False
    assert check_equation("x = 2") is None
    assert check_equation("1 + 1 = 2 and 2 + 2 = 4") is None  # two equations, not one
    assert evaluate("7 / 2") == Fraction(7, 2)
    assert evaluate("5 ÷ 0") is None


@pytest.mark.parametrize("language", ["en", "es"])
def test_every_synthetic_trace_is_all_true_equations(language):
    """The generator's reasoning traces (what SFT teaches) score 1.0; a one-digit slip in any equation is
    caught."""
    fn = build_reward("arithmetic")
    rows = generate_sft_rows(80, language=language, kinds=KINDS, seed=3)
    texts = [row["messages"][-1]["content"] for row in rows]
    assert fn(None, texts) == [1.0] * len(texts)
    for text in texts:
        eqs = find_equations(text)
        assert eqs, text
        last = eqs[-1].text
        rhs = last.rsplit("=", 1)[1].strip()
        slipped = text.replace(last, last.rsplit("=", 1)[0] + "= " + str(int(rhs.replace(",", "")) + 1))
        assert fn(None, [slipped])[0] == pytest.approx((len(eqs) - 1) / len(eqs))


def test_arithmetic_reward_share_chat_and_logging():
    fn = build_reward("arithmetic")
    logged = {}
    values = fn(None, [
        "<think>38 + 20 = 58, and 58 + 7 = 64.</think> \\boxed{64}",
        [{"role": "assistant", "content": "<think>38 + 20 = 58</think> \\boxed{58}"}],
        "\\boxed{65}",
    ], log_metric=lambda name, value: logged.__setitem__(name, value))
    assert values == [0.5, 1.0, 0.0]
    assert logged == {"arithmetic/equations": pytest.approx(1.0)}


def test_hostile_text_stays_fast():
    for text in ("1+" * 200_000, "1=1" * 200_000, "1 + 2 = " * 100_000, "9" * 1_000_000, "= 3 " * 200_000):
        started = time.monotonic()
        find_equations(text)
        assert time.monotonic() - started < 2.0


@settings(max_examples=200, deadline=None)
@given(st.integers(-999, 999), st.sampled_from(["+", "-", "×", "÷"]), st.integers(1, 999), st.integers(-3, 3))
def test_a_written_equation_is_true_exactly_when_the_numbers_agree(a, op, b, off):
    exact = {"+": Fraction(a + b), "-": Fraction(a - b), "×": Fraction(a * b), "÷": Fraction(a, b)}[op]
    if exact.denominator != 1:
        return
    (eq,) = find_equations(f"So {a} {op} {b} = {int(exact) + off}.")
    assert eq.true == (off == 0)
