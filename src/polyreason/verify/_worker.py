"""Code that runs inside verifier worker processes: math-verify parsing and comparison, untimed.

The parent (:mod:`polyreason.verify.pool`) enforces the deadline by killing a worker that overruns, so
math-verify is always called with ``parsing_timeout=None`` / ``timeout_seconds=None`` (its own timeouts use
``signal.alarm``, which fails off the main thread).  Only strings cross the process boundary.
"""

from __future__ import annotations

import logging
from functools import lru_cache

from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

_CONFIG = [LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()]
# Model text goes only through the LaTeX grammar (an ANTLR parser that builds sympy objects), never through
# ExprExtractionConfig, whose sympy parse_expr evaluates Python (math-verify's regex filters it, but a
# filter is not a guarantee).  Gold answers come from the dataset and may use plain-expression syntax.
_PRED_CONFIG = [LatexExtractionConfig(boxed_match_priority=0)]
logging.getLogger("math_verify").setLevel(logging.ERROR)


def _parse(text: str, config: list = _CONFIG) -> list:
    parsed = parse("\\boxed{" + text + "}", extraction_config=config, parsing_timeout=None)
    if not parsed:
        parsed = parse("$" + text + "$", extraction_config=config, parsing_timeout=None)
    return parsed


@lru_cache(maxsize=8192)
def parse_gold(gold: str) -> list:
    """math-verify's parse of a gold answer, cached (a batch repeats each gold G times)."""
    return _parse(gold)


def _equation_verdict(gold: list, pred: list) -> bool | None:
    """Compare two equations as equations (left - right proportional), avoiding math-verify's collapse-to-0
    false positive ("3x-y+13=0" vs "3x+4y+14=0").  None when either side is not an equation."""
    from sympy import Eq, Expr, simplify

    def equation(parsed: list):
        eq = next((x for x in parsed if isinstance(x, Eq)), None)
        if eq is None or not isinstance(eq.lhs, Expr) or not isinstance(eq.rhs, Expr):
            return None  # e.g. x = [-2, 7] (an interval) is membership, not an equation
        return eq

    g, p = equation(gold), equation(pred)
    if g is None or p is None:
        return None
    dg, dp = g.lhs - g.rhs, p.lhs - p.rhs
    if dp == 0 or dg == 0:
        return bool(dg == dp)
    ratio = simplify(dg / dp)
    return bool(not ratio.free_symbols and ratio.is_finite and ratio != 0)


def judge(gold: str, pred: str | None, float_rounding: int | None = 6) -> tuple[bool | None, str | None, str]:
    """(correct, normalized prediction, reason); correct None when the gold cannot be parsed.

    ``float_rounding``: decimals math-verify rounds floats to before comparing (None: 15, nearly exact)."""
    g = parse_gold(gold)
    if not g:
        return None, None, "gold unparseable by math-verify"
    if pred is None:
        return False, None, "no answer found"
    p = _parse(pred, _PRED_CONFIG)
    if not p:
        return False, None, "prediction unparseable"
    shown = str(p[-1]) if isinstance(p[-1], str) else str(p[0])
    eq = _equation_verdict(g, p)
    if eq is not None:
        return eq, shown, "equations compared as equations"
    rounding = 15 if float_rounding is None else float_rounding
    ok = verify(g, p, float_rounding=rounding, timeout_seconds=None)
    return bool(ok), shown, "math-verify"


def _warm_parser() -> None:
    """Build the LaTeX parser and sympy's caches once, at import: the forkserver imports this module, so
    every worker forked from it starts warm and its first real task is not the one that pays ~0.3-1 s."""
    try:
        judge("\\frac{1}{2}", "x^2 + \\sqrt{2}")
        judge("x = 1", "(1, 2)")
    except Exception:  # noqa: BLE001 - warming is an optimisation only
        pass


_warm_parser()


def serve(conn) -> None:  # pragma: no cover - runs in a child process
    """Worker loop: announce readiness, then answer (gold, pred) tasks until the pipe closes."""
    conn.send("ready")
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        try:
            result = judge(*task)
        except Exception as exc:  # noqa: BLE001 - any parser failure is a wrong answer, not a crash
            result = (False, None, f"verifier error: {type(exc).__name__}")
        try:
            conn.send(result)
        except (BrokenPipeError, OSError):
            return
