"""Accuracy and length-shaped accuracy (cosine) rewards, plus the soft overlong penalty."""

from __future__ import annotations

import math
import threading
from typing import Any

from polyreason.rewards.inputs import column, completion_texts, lengths, log_mean
from polyreason.verify import DEFAULT_FLOAT_ROUNDING, verify_batch

_last_batch: tuple[tuple, list] | None = None  # accuracy and cosine in one composite verify a batch once
_last_batch_lock = threading.Lock()


def _check_rounding(name: str, float_rounding: object) -> None:
    if float_rounding is not None and (type(float_rounding) is not int or float_rounding < 0):
        from polyreason.errors import UserError

        raise UserError(f"{name}: float_rounding must be a whole number of decimals >= 0 or null (got "
                        f"{float_rounding!r}); fix: e.g. float_rounding: {DEFAULT_FLOAT_ROUNDING} (the verifier's default)")


def _verdicts(completions, kwargs, language, timeout, float_rounding):
    global _last_batch
    texts = completion_texts(completions)
    golds = column(kwargs, "answer", len(texts), required=True)
    langs = [lang or language for lang in column(kwargs, "language", len(texts), language)]
    key = (tuple(map(str, golds)), tuple(texts), tuple(langs), timeout, float_rounding)
    with _last_batch_lock:
        if _last_batch is not None and _last_batch[0] == key:
            return texts, _last_batch[1]
    verdicts = verify_batch(golds, texts, langs, timeout=timeout, float_rounding=float_rounding)
    with _last_batch_lock:
        _last_batch = (key, verdicts)
    return texts, verdicts


def accuracy(*, language: str = "en", timeout: float = 2.0, float_rounding: int | None = DEFAULT_FLOAT_ROUNDING):
    """Binary accuracy: r = 1 if the final answer matches the ``answer`` column, else 0.

    Verification is :func:`polyreason.verify.verify_batch` (gold first, locale-aware numbers; a decimal is
    compared after rounding both sides to ``float_rounding`` places, the verifier's default 6; None: exact).  A gold that
    cannot be parsed gives None, so TRL skips the sample instead of handing out a free 1.0.  With TRL's
    ``log_metric`` it logs ``accuracy/correct`` and ``accuracy/skipped``; with ``log_extra`` it adds the
    columns ``extracted_answer`` and ``verify_reason`` to the completions table.
    Example: answer="42", completion="... \\\\boxed{42}" -> 1.0; "\\\\boxed{41}" -> 0.0.
    """

    _check_rounding("accuracy", float_rounding)

    def reward(prompts, completions, **kwargs: Any) -> list[float | None]:
        _, verdicts = _verdicts(completions, kwargs, language, timeout, float_rounding)
        out = [None if v.correct is None else float(v.correct) for v in verdicts]
        log_mean(kwargs, "accuracy/correct", out)
        log_mean(kwargs, "accuracy/skipped", [float(v is None) for v in out])
        log_extra = kwargs.get("log_extra")
        if log_extra is not None:  # per-sample columns in TRL's completions table
            log_extra("extracted_answer", [v.extracted for v in verdicts])
            log_extra("verify_reason", [v.reason for v in verdicts])
        return out

    return reward


def cosine_value(
    correct: bool,
    length: int,
    max_len: int,
    min_value_correct: float,
    max_value_correct: float,
    min_value_wrong: float,
    max_value_wrong: float,
) -> float:
    """r = lo + ½(hi − lo)(1 + cos(π·min(len, L)/L)); correct: lo, hi = min/max_value_correct,
    wrong: lo, hi = max_value_wrong, min_value_wrong (the range swapped)."""
    if correct:
        lo, hi = min_value_correct, max_value_correct
    else:
        lo, hi = max_value_wrong, min_value_wrong
    progress = min(max(length, 0), max_len) / max_len
    return lo + 0.5 * (hi - lo) * (1.0 + math.cos(math.pi * progress))


def cosine(
    *,
    max_len: int = 1000,
    min_value_correct: float = 0.5,
    max_value_correct: float = 1.0,
    min_value_wrong: float = 0.0,
    max_value_wrong: float = -0.5,
    language: str = "en",
    timeout: float = 2.0,
    float_rounding: int | None = DEFAULT_FLOAT_ROUNDING,
):
    """Length-scaled accuracy (Open-RS / open-r1 cosine reward).

    r = lo + ½(hi − lo)(1 + cos(π·min(len, max_len)/max_len)), with len in tokens (``completion_ids``) or
    words.  Correct: lo=min_value_correct (0.5), hi=max_value_correct (1.0), so a short correct answer gets
    1.0 and one at max_len gets 0.5.  Wrong: lo=max_value_wrong (-0.5), hi=min_value_wrong (0.0) -- the range
    swapped -- so an empty wrong answer gets 0.0 and one at max_len gets -0.5 (open-r1's CLI defaults).
    Unparseable gold -> None.  Correctness is the accuracy reward's (same ``language``, ``timeout``,
    ``float_rounding``).  Example (max_len=100): correct at 0 tokens -> 1.0, at 50 -> 0.75.
    """
    if max_len <= 0:
        from polyreason.errors import UserError

        raise UserError(
            f"cosine: max_len must be > 0 (got {max_len}); fix: set it to the max completion length"
        )
    _check_rounding("cosine", float_rounding)

    def reward(prompts, completions, **kwargs: Any) -> list[float | None]:
        texts, verdicts = _verdicts(completions, kwargs, language, timeout, float_rounding)
        lens = lengths(kwargs, texts)
        out: list[float | None] = []
        for v, n in zip(verdicts, lens, strict=True):
            if v.correct is None:
                out.append(None)
            else:
                out.append(
                    cosine_value(
                        v.correct,
                        n,
                        max_len,
                        min_value_correct,
                        max_value_correct,
                        min_value_wrong,
                        max_value_wrong,
                    )
                )
        return out

    return reward


def soft_overlong(*, max_len: int = 1000, cache: int = 200):
    """DAPO's soft overlong penalty: r = 0 if len ≤ L−C; (L−C−len)/C if L−C < len ≤ L; −1 beyond L.

    L = ``max_len``, C = ``cache`` (tokens from ``completion_ids``, else words).
    Example (L=100, C=20): len 80 -> 0.0, len 90 -> -0.5, len 120 -> -1.0.
    """
    if cache <= 0 or cache > max_len:
        from polyreason.errors import UserError

        raise UserError(f"soft_overlong: need 0 < cache <= max_len (got cache={cache}, max_len={max_len})")

    def reward(prompts, completions, **kwargs: Any) -> list[float | None]:
        out: list[float | None] = []
        for n in lengths(kwargs, completion_texts(completions)):
            if n <= max_len - cache:
                out.append(0.0)
            elif n <= max_len:
                out.append((max_len - cache - n) / cache)
            else:
                out.append(-1.0)
        return out

    return reward
