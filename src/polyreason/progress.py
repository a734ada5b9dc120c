"""Progress reporting for long work: a rich progress bar on a terminal, periodic log lines elsewhere.

Library code calls :func:`track`; whether a bar is drawn is decided here, once, so long jobs look the same
from every command.  Set ``POLYREASON_PROGRESS=0`` to silence bars (tests do).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger("polyreason.progress")


def progress_enabled() -> bool:
    """Bars are drawn on an interactive stderr unless ``POLYREASON_PROGRESS=0``."""
    env = os.environ.get("POLYREASON_PROGRESS")
    if env is not None:
        return env not in ("0", "false", "no")
    return sys.stderr.isatty()


def track(
    iterable: Iterable[T],
    *,
    total: int | None = None,
    description: str = "working",
    unit: str = "it",
    log_every_s: float = 30.0,
) -> Iterator[T]:
    """Yield from ``iterable`` while showing progress (count, rate and ETA when ``total`` is known)."""
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    if progress_enabled():
        yield from _rich_track(iterable, total, description, unit)
        return
    start = last = time.monotonic()
    done = 0
    for item in iterable:
        yield item
        done += 1
        now = time.monotonic()
        if now - last >= log_every_s:
            last = now
            log.info("%s", _status_line(description, done, total, now - start, unit))
    if done:
        log.info("%s", _status_line(description, done, total, time.monotonic() - start, unit))


def _status_line(description: str, done: int, total: int | None, elapsed: float, unit: str) -> str:
    rate = done / elapsed if elapsed > 0 else 0.0
    if total:
        eta = (total - done) / rate if rate > 0 else float("inf")
        return f"{description}: {done}/{total} {unit} ({rate:.2f} {unit}/s, ETA {eta:.0f}s)"
    return f"{description}: {done} {unit} ({rate:.2f} {unit}/s)"


def batches_left(total: int | None, done: int, batch_size: int) -> int | None:
    """Progress total in batches for ``total`` input rows of which ``done`` are already written."""
    if total is None:
        return None
    return max(0, -(-(total - done) // max(1, batch_size)))


def make_bar() -> Any:
    """The one rich progress bar layout used everywhere: description, bar, done/total, elapsed, ETA."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        transient=False,
    )


def _rich_track(iterable: Iterable[T], total: int | None, description: str, unit: str) -> Iterator[T]:
    with make_bar() as bar:
        task = bar.add_task(description, total=total)
        for item in iterable:
            yield item
            bar.advance(task)
