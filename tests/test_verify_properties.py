"""Property-based checks of locale-aware numbers and extraction (hypothesis)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from polyreason.verify import extract_answer, verify
from polyreason.verify.numbers import parse_number

SETTINGS = settings(max_examples=60, deadline=None)
AMOUNTS = st.decimals(
    min_value=Decimal("-99999999"), max_value=Decimal("99999999"), places=2, allow_nan=False
)


def english(d: Decimal) -> str:
    return f"{d:,.2f}"


def spanish(d: Decimal) -> str:
    return f"{d:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")


@SETTINGS
@given(AMOUNTS)
def test_written_numbers_parse_back(d):
    assert parse_number(english(d), "en") == d
    assert parse_number(spanish(d), "es") == d
    assert parse_number(spanish(d).replace(".", " "), "es") == d  # space-grouped thousands


@SETTINGS
@given(st.integers(min_value=0, max_value=10**12))
def test_integers_in_both_locales(n):
    gold = str(n)
    assert verify(gold, f"\\boxed{{{n:,}}}", "en").correct is True
    assert verify(gold, f"\\boxed{{{f'{n:,}'.replace(',', '.')}}}", "es").correct is True
    assert verify(gold, f"\\boxed{{{n + 1}}}", "es").correct is False


@SETTINGS
@given(AMOUNTS, st.sampled_from(["en", "es"]))
def test_near_misses_are_wrong(d, language):
    written = english(d + Decimal("0.01")) if language == "en" else spanish(d + Decimal("0.01"))
    assert verify(str(d), f"\\boxed{{{written}}}", language).correct is False


@SETTINGS
@given(st.text(max_size=200), st.text(alphabet="0123456789", min_size=1, max_size=6))
def test_reasoning_never_graded(reasoning, answer):
    text = f"<think>{reasoning} \\boxed{{{answer}}}</think>"
    assert extract_answer(text) is None
    assert extract_answer(text + f" \\boxed{{{answer}}}") == answer
