"""The arithmetic a piece of reasoning writes down, and whether it is true.

:func:`find_equations` finds every ``expression = number`` written with plain numbers and the four operations
(``38 + 20 = 58``, ``3 × 4 = 12``, ``24 - 5 - 3 = 16``, ``7 * 6 = 42``, ``12 ÷ 4 = 3``), and
:func:`check_equation` evaluates the left side exactly (fractions, × and ÷ before + and −) and compares it with
the right side.  Nothing is ``eval``-ed.  A number is a plain integer or decimal, or an integer with
thousands commas (``1,250``); a minus directly before the first number is its sign.  Text that is not such an
equation (``x = 5``, ``f(2) = 4``, ``2^3 = 8``, ``= 65`` alone) is ignored rather than judged.

    >>> [(e.text, e.true) for e in find_equations("38 + 20 = 58, and 58 + 7 = 64.")]
    [('38 + 20 = 58', True), ('58 + 7 = 64', False)]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

_NUMBER = r"\d{1,3}(?:,\d{3})+(?!\d)|\d+(?:\.\d+)?"
_SYMBOLS = "+-−×*/÷·"  # the operators that are not letters ("x" as times is one only between numbers)
_OP = rf"[{re.escape(_SYMBOLS)}x]"
# Found from each "=" outward (a left side ending right before it, a number after it), so the work per "=" is
# bounded by _WINDOW and hostile text costs linear time.  The right side must be whole: not the start of a
# longer number, a product or a sum.
_WINDOW = 160
_MAX_EQUATIONS = 200
MAX_CHARS = 20_000  # longer text is judged on its first MAX_CHARS characters
_LHS = re.compile(rf"-?(?:{_NUMBER})(?:\s*{_OP}\s*(?:{_NUMBER}))+\s*\Z")
_RHS = re.compile(rf"=\s*(-?(?:{_NUMBER}))(?![\d^(]|[.,]\d|\s*[{re.escape(_SYMBOLS)}^]\s*\d)")
_TOKEN = re.compile(rf"\s*({_NUMBER}|{_OP})")
_MINUS = {"-", "−"}
_TIMES = {"×", "x", "*", "·"}


@dataclass(frozen=True)
class Equation:
    """One written equation: its text and whether its left side equals its right side."""

    text: str
    true: bool


def find_equations(text: str) -> list[Equation]:
    """Every plain-arithmetic ``expression = number`` in ``text``, in order, each judged true or false (at most
    the first 200, within the first ``MAX_CHARS`` characters)."""
    text = text[:MAX_CHARS]
    out: list[Equation] = []
    for rhs in _RHS.finditer(text):
        window_start = max(0, rhs.start() - _WINDOW)
        lhs = _LHS.search(text, window_start, rhs.start())
        if lhs is None or not _starts_cleanly(text, lhs.start()):
            continue
        value = evaluate(lhs.group(0))
        if value is None:  # a division by zero: not arithmetic anyone can check
            continue
        out.append(Equation(text[lhs.start():rhs.end()], value == _number(rhs.group(1))))
        if len(out) == _MAX_EQUATIONS:
            break
    return out


def check_equation(text: str) -> bool | None:
    """True / False for one ``expression = number`` string, None when it is not plain arithmetic.

    >>> check_equation("12 + 3 × 4 = 24"), check_equation("12 + 3 × 4 = 60"), check_equation("x = 2")
    (True, False, None)
    """
    found = find_equations(text.strip())
    if len(found) != 1 or found[0].text != text.strip():
        return None
    return found[0].true


def evaluate(expression: str) -> Fraction | None:
    """The exact value of numbers joined by + − × ÷ (× and ÷ first, then left to right); None on ÷ 0.

    >>> evaluate("24 - 5 - 3"), evaluate("7 / 2"), evaluate("-3 + 2 × 5")
    (Fraction(16, 1), Fraction(7, 2), Fraction(7, 1))
    """
    tokens = _TOKEN.findall(expression)
    if tokens and tokens[0] in _MINUS:  # a sign, not an operation
        tokens = ["0", "-", *tokens[1:]]
    terms = [_number(tokens[0])]  # the sum's terms; × and ÷ act on the last one
    for op, token in zip(tokens[1::2], tokens[2::2], strict=True):
        value = _number(token)
        if op == "+":
            terms.append(value)
        elif op in _MINUS:
            terms.append(-value)
        elif op in _TIMES:
            terms[-1] *= value
        elif value == 0:
            return None
        else:  # ÷ or /
            terms[-1] /= value
    return sum(terms, Fraction(0))


def _starts_cleanly(text: str, start: int) -> bool:
    """The match does not begin inside a number or word ("a2 + 3") or continue an expression that is not plain
    arithmetic ("x - 2 + 3 = 4", "2^3 + 1 = 9").  An opening parenthesis is fine: "(38 + 20 = 58)"."""
    if start and (text[start - 1].isalnum() or text[start - 1] in "._,^−-"):
        return False
    before = text[:start].rstrip()
    return not before or before[-1] not in _SYMBOLS + "^"


def _number(text: str) -> Fraction:
    return Fraction(text.replace(",", "").replace("−", "-"))
