"""verify / verify_batch: extraction, cheap exact checks, then math-verify in a time-bounded worker."""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

from polyreason.verify.extract import MAX_ANSWER_CHARS, Found, find_answer, gold_answer
from polyreason.verify.normalize import (
    ASSIGN,
    Canon,
    canonical,
    clean_answer,
    compare,
    connectors_to_commas,
    decimal_comma_to_dot,
    is_hedged,
    lists_items,
    text_key,
)
from polyreason.verify.numeric import evaluate_constant
from polyreason.verify.pool import TaskTimeout, can_use_processes, default_workers, get_pool

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 2.0
DEFAULT_FLOAT_ROUNDING = 6  # decimals compared when either side is written as a decimal (math-verify's default)
KILL_MARGIN_S = 0.1
MAX_GOLD_CHARS = 5_000
MAX_MATH_VERIFY_CHARS = 1_000  # longer extracted answers are judged wrong without parsing


_LIST_COMMA = re.compile(r"\d\s*,(?!\d{3}(?!\d))")
# An arithmetic operation between two operands ("72 - 30", "3 \cdot 4", "(9+1)"): a calculation left undone.
# Powers stay accepted ("2^{10}" for 1024 is how such answers are often written).
_CALCULATION = re.compile(r"[\w})]\s*(?:[-+*/×·÷]|\\cdot|\\times|\\div)\s*[\w\\({]")
# An implicit product: "6(7)", "(6)(7)", "(6)7".
_IMPLICIT_PRODUCT = re.compile(r"[\d)]\s*\(|\)\s*\d")
_SCIENTIFIC = re.compile(r"\s*-?\d+(?:\.\d+)?\s*(?:\\times|\\cdot|×|·)\s*10\s*\^\s*\{?\s*-?\d+\s*\}?\s*")


def _undone_calculation(answer: str) -> bool:
    """``72 - 30`` answering "What is 72 - 30?" restates the question; for a number gold it is wrong.

    GRPO finds this (a Spanish quickstart policy boxed every problem so within 12 steps, docs/rl-study.md
    session 9).  math-verify credits it (its test table's "(9+1)" for 10: the one row where we differ on
    purpose).  Scientific notation (``6 \\times 10^{23}``) is a number, not a calculation."""
    if _SCIENTIFIC.fullmatch(answer) is not None:
        return False
    return _CALCULATION.search(answer) is not None or _IMPLICIT_PRODUCT.search(answer) is not None


@dataclass(frozen=True)
class Verdict:
    """Outcome of verifying one completion against one gold answer.

    correct: True / False, or None when the gold itself cannot be parsed (skip the sample).
    extracted: the answer text found in the completion; normalized: its canonical form; reason: why.
    """

    correct: bool | None
    extracted: str | None
    normalized: str | None
    reason: str


@dataclass(frozen=True)
class _Task:
    gold: str
    pred: str | None
    extracted: str | None
    float_rounding: int | None = DEFAULT_FLOAT_ROUNDING


@dataclass(frozen=True)
class _Gold:
    """What is known about one gold string (cached: a GRPO batch repeats each gold G times)."""

    answer: str  # the answer the gold holds (the gold itself, or what a worked solution boxes)
    canon: Canon | None
    lists: bool  # several items ("1, 2", "(3, 4)", "6 and 8")
    is_equation: bool
    value: float | None  # value of a constant expression
    key: str


@lru_cache(maxsize=16384)
def _gold_info(gold: str) -> _Gold:
    answer = gold_answer(gold).answer or gold
    cleaned = clean_answer(answer)
    is_equation = "=" in cleaned and "\\neq" not in cleaned
    canon = canonical(answer, "en", gold_has_equation=True)
    lists = lists_items(answer) and not (canon is not None and canon.kind == "num")  # not "10,080"
    return _Gold(answer, canon, lists, is_equation, evaluate_constant(cleaned), text_key(answer))


def _several_boxes(boxes: tuple[str, ...], gold_eq: bool, language: str) -> bool:
    distinct = set(boxes)
    if len(distinct) < 2:
        return False
    shown = set()
    for b in list(distinct)[:50]:  # 50 different boxes are a hedge whatever they say
        c = canonical(b, language, gold_has_equation=gold_eq)
        shown.add(c.show() if c is not None else clean_answer(b))
    return len(shown) > 1


def _hedged(found: Found, g: _Gold, language: str) -> bool:
    """Several candidate answers for a gold with one item: different boxes, a list, "3 or 4", \\pm."""
    if g.lists:
        return False
    if found.source == "boxed" and _several_boxes(found.boxes, g.is_equation, language):
        return True
    if len(set(found.parts)) > 1:
        return True
    return is_hedged(found.answer or "", g.answer, language, g.lists)


def _prepare(
    gold: object, completion: object, language: str | None, float_rounding: int | None
) -> Verdict | _Task:
    language = language or "en"
    gold_s = "" if gold is None else str(gold).strip()
    if not gold_s or len(gold_s) > MAX_GOLD_CHARS:
        return Verdict(None, None, None, "gold missing or too long")
    g = _gold_info(gold_s)
    text = completion if isinstance(completion, str) else str(completion or "")
    found = find_answer(text, language)
    pred = found.answer
    if pred is None:
        if g.canon is not None or _GOLD_PARSEABLE.get(g.answer) or g.value is not None:
            # The same reason as the worker gives, so a cached gold does not change the recorded verdict.
            return Verdict(False, None, None, "no answer found")
        return _Task(g.answer, None, None, float_rounding)
    if _hedged(found, g, language):
        return Verdict(False, pred, None, "hedged: several candidate answers")
    extracted = pred
    if g.lists:
        pred = connectors_to_commas(pred)
    if len(pred) > MAX_MATH_VERIFY_CHARS:
        return Verdict(False, extracted[:200], None, "answer too long to parse")
    p = canonical(pred, language, gold_has_equation=g.is_equation)
    if g.lists and p is not None and p.kind == "num" and _LIST_COMMA.search(pred):
        p = None  # "-2,1" for the gold "1, -2" is a list, not the decimal -2.1
    if g.canon is not None and p is not None:
        same = compare(g.canon, p, float_rounding)
        if same is not None:
            return Verdict(same, extracted, p.show(), f"exact {g.canon.kind} comparison")
    if text_key(pred) == g.key:
        return Verdict(True, extracted, text_key(pred), "same text as the gold")
    pred_mv = decimal_comma_to_dot(pred, language, g.lists)
    if g.lists and p is not None and p.kind == "num":
        return Verdict(False, extracted, p.show(), "a single number for a gold with several items")
    if g.value is not None:
        pred_value = evaluate_constant(clean_answer(pred_mv if g.is_equation else ASSIGN.sub("", pred_mv, count=1)))
        if pred_value is not None and g.canon is not None and g.canon.kind == "num" and p is None \
                and _undone_calculation(clean_answer(pred_mv)):
            return Verdict(False, extracted, repr(pred_value), "unevaluated: a calculation, not its result")
        if pred_value is not None:
            if p is not None and p.kind == "num" and p.inexact and float_rounding is not None:
                same = round(g.value, float_rounding) == round(pred_value, float_rounding)
            else:
                same = math.isclose(g.value, pred_value, rel_tol=1e-9, abs_tol=1e-12)
            return Verdict(same, extracted, repr(pred_value), "constant arithmetic comparison")
    return _Task(g.answer, pred_mv, extracted, float_rounding)


_warned_inprocess = threading.Event()
# What the workers learned about each gold (True: math-verify parses it); lets "no answer" skip a worker call.
_GOLD_PARSEABLE: dict[str, bool] = {}
_MAX_REMEMBERED_GOLDS = 100_000


def _run(task: _Task, timeout: float | None, workers: int | None = None) -> Verdict:
    if timeout is None or not can_use_processes():
        if timeout is not None and not _warned_inprocess.is_set():
            _warned_inprocess.set()
            log.warning("verifier runs in-process (daemonic process): the time bound is not enforced")
        from polyreason.verify._worker import judge

        correct, shown, reason = judge(task.gold, task.pred, task.float_rounding)
    else:
        try:
            # Keep a little of the budget for killing an overrunning worker, so the call itself ends in time.
            budget = max(0.05, timeout - KILL_MARGIN_S)
            correct, shown, reason = get_pool(workers).run((task.gold, task.pred, task.float_rounding), budget)
        except TaskTimeout as exc:
            return Verdict(False, task.extracted, None, f"timeout: {exc}")
    if len(_GOLD_PARSEABLE) < _MAX_REMEMBERED_GOLDS:
        _GOLD_PARSEABLE[task.gold] = correct is not None
    return Verdict(correct, task.extracted, shown, reason)


def verify(
    gold: str,
    completion: str,
    language: str = "en",
    timeout: float = DEFAULT_TIMEOUT_S,
    *,
    float_rounding: int | None = DEFAULT_FLOAT_ROUNDING,
) -> Verdict:
    """Check a completion's final answer against ``gold`` (gold first, as in math-verify).

    The answer is found after ``</think>`` only (see :func:`polyreason.verify.extract.find_answer`: boxes,
    answer phrases, the last math span, a concluding number); a gold that is a worked solution is read the
    same way.  Numbers follow ``language`` ("5.600" is 5600 in Spanish); a number written as a decimal is
    compared after rounding both sides to ``float_rounding`` places (math-verify's default 6; ``None``:
    exact).  Cheap exact comparisons decide plain numbers, words, choices and number tuples; the rest goes to
    math-verify in a worker process killed after ``timeout`` seconds (``None``: in-process, unbounded).
    Model text is never evaluated.  ``Verdict.correct`` is None when the gold cannot be parsed.

    >>> verify("5600", "\\\\boxed{5.600}", language="es").correct
    True
    """
    start = time.monotonic()
    prepared = _prepare(gold, completion, language, float_rounding)
    if isinstance(prepared, Verdict):
        return prepared
    remaining = None if timeout is None else max(0.05, timeout - (time.monotonic() - start))
    return _run(prepared, remaining)


def verify_batch(
    golds: Sequence[str],
    completions: Sequence[str],
    languages: Sequence[str | None] | str | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    workers: int | None = None,
    float_rounding: int | None = DEFAULT_FLOAT_ROUNDING,
) -> list[Verdict]:
    """Verify many completions; results in input order.

    Cheap cases are decided in this process; the rest are deduplicated and spread over ``workers`` verifier
    processes (default: the CPU count, at most 8), each task bounded by ``timeout`` seconds.  Gold parses are cached.
    """
    if len(golds) != len(completions):
        raise ValueError(f"{len(golds)} golds but {len(completions)} completions")
    if languages is None or isinstance(languages, str):
        languages = [languages or "en"] * len(golds)
    prepared = [
        _prepare(g, c, lang, float_rounding) for g, c, lang in zip(golds, completions, languages, strict=True)
    ]
    pending: dict[_Task, list[int]] = {}
    for i, item in enumerate(prepared):
        if isinstance(item, _Task):
            pending.setdefault(item, []).append(i)
    if pending:
        n = max(1, min(workers or default_workers(), len(pending)))
        tasks = list(pending)
        if n == 1:
            verdicts = [_run(t, timeout, n) for t in tasks]
        else:
            get_pool(n)
            with ThreadPoolExecutor(max_workers=n, thread_name_prefix="polyreason-verify") as ex:
                verdicts = list(ex.map(lambda t: _run(t, timeout, n), tasks))
        for task, verdict in zip(tasks, verdicts, strict=True):
            for i in pending[task]:
                prepared[i] = verdict
    return prepared  # type: ignore[return-value]


def warm_up(workers: int | None = None) -> None:
    """Start the verifier worker processes now, so the first verification does not pay for it."""
    if can_use_processes():
        get_pool(workers).warm()


__all__ = ["DEFAULT_FLOAT_ROUNDING", "MAX_ANSWER_CHARS", "Verdict", "verify", "verify_batch", "warm_up"]
