"""A tiny, safe evaluator for constant LaTeX arithmetic (never eval, never sympy on model text).

Grammar: numbers (dot decimal), + − · × ÷ /, ^ with an integer exponent |n| ≤ 64, \\frac{a}{b}, \\sqrt{x},
\\sqrt[n]{x}, \\pi, parentheses and braces, implicit products ("2\\sqrt{2}", "3\\pi"; not before \\frac,
since "4\\frac{2}{3}" may be a mixed number).  Anything else
(variables, functions, sets, text) returns None.  Inputs are capped at MAX_CHARS and nesting at
MAX_DEPTH, and all arithmetic is float, so evaluation takes microseconds whatever the input.
"""

from __future__ import annotations

import math
import re

MAX_CHARS = 200
MAX_DEPTH = 40
MAX_EXPONENT = 64

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?|\.\d+)|(?P<cmd>\\[a-zA-Z]+)|(?P<op>[-+*/^(){}\[\]])|(?P<bad>\S))"
)
_ALIASES = {"\\cdot": "*", "\\times": "*", "\\div": "/", "\\dfrac": "\\frac", "\\tfrac": "\\frac"}
_SKIP = {"\\left", "\\right", "\\displaystyle", "\\,", "\\!"}


class _NotConstant(Exception):
    pass


def _tokens(text: str) -> list[str]:
    out = []
    for m in _TOKEN.finditer(text):
        if m.group("bad"):
            raise _NotConstant
        tok = m.group("num") or m.group("op") or _ALIASES.get(m.group("cmd"), m.group("cmd"))
        if tok in _SKIP:
            continue
        out.append(tok)
    return out


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.toks = tokens
        self.i = 0
        self.depth = 0

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or expected is not None and tok != expected:
            raise _NotConstant
        self.i += 1
        return tok

    def expr(self) -> float:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _NotConstant
        value = self.term()
        while self.peek() in ("+", "-"):
            value = value + self.term() if self.take() == "+" else value - self.term()
        self.depth -= 1
        return value

    def term(self) -> float:
        value = self.unary()
        while True:
            tok = self.peek()
            if tok in ("*", "/"):
                self.take()
                rhs = self.unary()
                if tok == "/" and rhs == 0:
                    raise _NotConstant
                value = value * rhs if tok == "*" else value / rhs
            elif tok == "\\frac":
                raise _NotConstant  # "4\frac{2}{3}" may be a mixed number: leave it to math-verify
            elif tok in ("(", "{", "\\sqrt", "\\pi"):
                value *= (
                    self.unary()
                )  # implicit product: 2\sqrt{2}, 3\pi (never "2 3": that is not a product)
            else:
                return value

    def unary(self) -> float:
        if self.peek() == "-":
            self.take()
            return -self.unary()
        if self.peek() == "+":
            self.take()
        return self.power()

    def power(self) -> float:
        base = self.atom()
        if self.peek() == "^":
            self.take()
            exponent = self.atom()
            if exponent != int(exponent) or abs(exponent) > MAX_EXPONENT or base == 0 and exponent < 0:
                raise _NotConstant
            base = base ** int(exponent)
        return base

    def group(self, open_: str, close: str) -> float:
        self.take(open_)
        value = self.expr()
        self.take(close)
        return value

    def atom(self) -> float:
        tok = self.peek()
        if tok is None:
            raise _NotConstant
        if tok[0].isdigit() or tok[0] == ".":
            self.take()
            if len(tok) > 30:
                raise _NotConstant
            return float(tok)
        if tok == "(":
            return self.group("(", ")")
        if tok == "{":
            return self.group("{", "}")
        if tok == "\\pi":
            self.take()
            return math.pi
        if tok == "\\frac":
            self.take()
            num, den = self.group("{", "}"), self.group("{", "}")
            if den == 0:
                raise _NotConstant
            return num / den
        if tok == "\\sqrt":
            self.take()
            index = self.group("[", "]") if self.peek() == "[" else 2.0
            radicand = self.group("{", "}")
            if radicand < 0 or index <= 0 or index != int(index):
                raise _NotConstant
            return radicand ** (1.0 / index)
        raise _NotConstant


def evaluate_constant(text: str) -> float | None:
    """Value of a constant LaTeX expression such as ``2\\sqrt{2}`` or ``\\frac{\\pi}{4}``, else None.

    >>> round(evaluate_constant("\\\\frac{\\\\sqrt{3}}{2}"), 6)
    0.866025
    """
    if not text or len(text) > MAX_CHARS:
        return None
    try:
        parser = _Parser(_tokens(text))
        value = parser.expr()
        if parser.peek() is not None:
            return None
    except (_NotConstant, OverflowError, ZeroDivisionError, ValueError, RecursionError):
        return None
    return value if math.isfinite(value) else None
