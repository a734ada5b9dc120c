"""verify / verify_batch: extraction, cheap exact checks, then math-verify in a time-bounded worker."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

from polyreason.verify.extract import (
    MAX_ANSWER_CHARS,
    answer_region,
    boxed_contents,
    clean_text,
    extract_answer,
)
from polyreason.verify.normalize import (
    ASSIGN,
    Canon,
    canonical,
    clean_answer,
    compare,
    connectors_to_commas,
    decimal_comma_to_dot,
    has_top_level_comma,
    is_hedged,
    text_key,
)
from polyreason.verify.numeric import evaluate_constant
from polyreason.verify.pool import TaskTimeout, can_use_processes, default_workers, get_pool

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 2.0
KILL_MARGIN_S = 0.1
MAX_GOLD_CHARS = 5_000
MAX_MATH_VERIFY_CHARS = 1_000  # longer extracted answers are judged wrong without parsing


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


@lru_cache(maxsize=16384)
def _gold_info(gold: str) -> tuple[Canon | None, bool, bool]:
    """(canonical gold, gold lists several items, gold is an equation), cached per gold string."""
    cleaned = clean_answer(gold)
    is_equation = "=" in cleaned and "\\neq" not in cleaned
    canon = canonical(gold, "en", gold_has_equation=True)
    lists = has_top_level_comma(gold) and not (canon is not None and canon.kind == "num")  # not "10,080"
    return canon, lists, is_equation


@lru_cache(maxsize=16384)
def _gold_value(gold: str) -> float | None:
    return evaluate_constant(clean_answer(gold))


@lru_cache(maxsize=16384)
def _gold_key(gold: str) -> str:
    return text_key(gold)


def _several_boxes(region: str, gold_lists: bool, gold_eq: bool, language: str) -> bool:
    boxes = boxed_contents(region)
    if len(boxes) < 2 or gold_lists:
        return False
    shown = set()
    for b in boxes:
        c = canonical(b, language, gold_has_equation=gold_eq)
        shown.add(c.show() if c is not None else clean_answer(b))
    return len(shown) > 1


def _prepare(gold: object, completion: object, language: str | None) -> Verdict | _Task:
    language = language or "en"
    gold_s = "" if gold is None else str(gold).strip()
    if not gold_s or len(gold_s) > MAX_GOLD_CHARS:
        return Verdict(None, None, None, "gold missing or too long")
    text = clean_text(completion if isinstance(completion, str) else str(completion or ""))
    g, gold_lists, gold_eq = _gold_info(gold_s)
    pred = extract_answer(text, language)
    if pred is None:
        if g is not None or _GOLD_PARSEABLE.get(gold_s) or _gold_value(gold_s) is not None:
            return Verdict(False, None, None, "no answer found")
        return _Task(gold_s, None, None)
    region = answer_region(text) or ""
    if is_hedged(pred, gold_s, language, gold_lists) or _several_boxes(region, gold_lists, gold_eq, language):
        return Verdict(False, pred, None, "hedged: several candidate answers")
    extracted = pred
    if gold_lists:
        pred = connectors_to_commas(pred)
    if len(pred) > MAX_MATH_VERIFY_CHARS:
        return Verdict(False, extracted[:200], None, "answer too long to parse")
    p = canonical(pred, language, gold_has_equation=gold_eq)
    if g is not None and p is not None:
        same = compare(g, p)
        if same is not None:
            return Verdict(same, extracted, p.show(), f"exact {g.kind} comparison")
    if text_key(pred) == _gold_key(gold_s):
        return Verdict(True, extracted, text_key(pred), "same text as the gold")
    pred_mv = decimal_comma_to_dot(pred, language, gold_lists)
    if gold_lists and p is not None and p.kind == "num":
        return Verdict(False, extracted, p.show(), "a single number for a gold with several items")
    gold_value = _gold_value(gold_s)
    if gold_value is not None:
        pred_value = evaluate_constant(clean_answer(pred_mv if gold_eq else ASSIGN.sub("", pred_mv, count=1)))
        if pred_value is not None:
            same = math.isclose(gold_value, pred_value, rel_tol=1e-9, abs_tol=1e-12)
            return Verdict(same, extracted, repr(pred_value), "constant arithmetic comparison")
    return _Task(gold_s, pred_mv, extracted)


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

        correct, shown, reason = judge(task.gold, task.pred)
    else:
        try:
            # Keep a little of the budget for killing an overrunning worker, so the call itself ends in time.
            budget = max(0.05, timeout - KILL_MARGIN_S)
            correct, shown, reason = get_pool(workers).run((task.gold, task.pred), budget)
        except TaskTimeout as exc:
            return Verdict(False, task.extracted, None, f"timeout: {exc}")
    if len(_GOLD_PARSEABLE) < _MAX_REMEMBERED_GOLDS:
        _GOLD_PARSEABLE[task.gold] = correct is not None
    return Verdict(correct, task.extracted, shown, reason)


def verify(gold: str, completion: str, language: str = "en", timeout: float = DEFAULT_TIMEOUT_S) -> Verdict:
    """Check a completion's final answer against ``gold`` (gold first, as in math-verify).

    The answer is the last ``\\boxed{}`` after ``</think>`` (or a "final answer is ..." phrase, markdown
    bold, a bare last-line number).  Numbers follow ``language`` ("5.600" is 5600 in Spanish).  Cheap exact
    comparisons decide plain numbers, words, choices and number tuples; the rest goes to math-verify in a
    worker process killed after ``timeout`` seconds (``None``: in-process, unbounded).  Model text is never
    evaluated.  ``Verdict.correct`` is None when the gold cannot be parsed.

    >>> verify("5600", "\\\\boxed{5.600}", language="es").correct
    True
    """
    start = time.monotonic()
    prepared = _prepare(gold, completion, language)
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
) -> list[Verdict]:
    """Verify many completions; results in input order.

    Cheap cases are decided in this process; the rest are deduplicated and spread over ``workers`` verifier
    processes (default: the CPU count, at most 8), each task bounded by ``timeout`` seconds.  Gold parses are cached.
    """
    if len(golds) != len(completions):
        raise ValueError(f"{len(golds)} golds but {len(completions)} completions")
    if languages is None or isinstance(languages, str):
        languages = [languages or "en"] * len(golds)
    prepared = [_prepare(g, c, lang) for g, c, lang in zip(golds, completions, languages, strict=True)]
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


__all__ = ["Verdict", "extract_answer", "verify", "verify_batch", "warm_up", "MAX_ANSWER_CHARS"]
