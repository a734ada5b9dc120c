"""Progress reporting for long work: a rich progress bar on a terminal, periodic log lines elsewhere.

Library code calls :func:`track` (a loop) or pushes to a :class:`Reporter` (generation, per decoding step);
whether a bar is drawn is decided here, once, so long jobs look the same from every command.  Set ``POLYREASON_PROGRESS=0`` to silence bars (tests do).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
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
    yield from Reporter(total, description=description, unit=unit, log_every_s=log_every_s).items(iterable)


class Reporter:
    """Progress pushed by the work itself: ``advance(amount, tokens=)`` as often as it likes, from any thread.

    On a terminal it draws the one bar layout (:func:`make_bar`), with tokens/s once tokens are counted;
    elsewhere it logs a status line at most every ``log_every_s`` seconds and once at the end.  ``amount``
    may be fractional: generation advances a sample by a share per decoding step, so the ETA moves every step.
    """

    def __init__(self, total: float | None, *, description: str = "working", unit: str = "it",
                 log_every_s: float = 30.0):
        self.total, self.description, self.unit, self.log_every_s = total, description, unit, log_every_s
        self.done, self.tokens = 0.0, 0
        self._lock = threading.RLock()
        self._item_done = 0.0  # how much of the current item (see items) generation has reported
        self._bar: Any = None
        self._task: Any = None
        self._start = self._last = time.monotonic()

    def __enter__(self) -> Reporter:
        self._start = self._last = time.monotonic()
        if progress_enabled():
            self._bar = make_bar(rate=True)
            self._bar.start()
            self._task = self._bar.add_task(self.description, total=self.total, rate="")
        return self

    def items(self, iterable: Iterable[T]) -> Iterator[T]:
        """Yield from ``iterable``, one unit per item; the bar is shown while it runs.

        Generation inside an item may report its part through :meth:`share`; what it did not report is
        added when the item is done, so each item counts exactly one unit.
        """
        with self:
            for item in iterable:
                self._item_done = 0.0
                yield item
                self.advance(max(0.0, 1.0 - self._item_done))

    def share(self, samples: float) -> Callable[[float, int], None]:
        """A generation progress hook for the current item of :meth:`items`, which is ``samples`` samples."""

        def hook(done: float, tokens: int) -> None:
            with self._lock:
                part = min(done / samples, 1.0 - self._item_done) if samples > 0 else 0.0
                self._item_done += part
                self.advance(part, tokens)

        return hook

    def advance(self, amount: float = 1.0, tokens: int = 0) -> None:
        """Record ``amount`` more units done and ``tokens`` more tokens generated."""
        with self._lock:
            self.done += amount
            self.tokens += tokens
            now = time.monotonic()
            if self._bar is not None:
                rate = f"{self.tokens / (now - self._start):.1f} tokens/s" if self.tokens else ""
                self._bar.update(self._task, advance=amount, rate=rate)
            elif now - self._last >= self.log_every_s:
                self._last = now
                log.info("%s", self.status(now - self._start))

    def status(self, elapsed: float) -> str:
        """The log line: done/total units, rates and ETA."""
        rate = self.done / elapsed if elapsed > 0 else 0.0
        done = f"{self.done:.0f}" if abs(self.done - round(self.done)) < 1e-6 else f"{self.done:.1f}"
        rates = f"{rate:.2f} {self.unit}/s"
        if self.tokens:
            rates += f", {self.tokens / elapsed if elapsed > 0 else 0.0:.1f} tokens/s"
        if self.total:
            eta = (self.total - self.done) / rate if rate > 0 else float("inf")
            return f"{self.description}: {done}/{self.total} {self.unit} ({rates}, ETA {eta:.0f}s)"
        return f"{self.description}: {done} {self.unit} ({rates})"

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
        elif self.done:
            log.info("%s", self.status(time.monotonic() - self._start))


def batches_left(total: int | None, done: int, batch_size: int) -> int | None:
    """Progress total in batches for ``total`` input rows of which ``done`` are already written."""
    if total is None:
        return None
    return max(0, -(-(total - done) // max(1, batch_size)))


def make_bar(rate: bool = False) -> Any:
    """The one rich progress bar layout used everywhere: description, bar, done/total, elapsed, ETA.

    ``rate=True`` adds the task's ``rate`` field (tokens/s during generation).
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn()]
    if rate:
        columns.append(TextColumn("{task.fields[rate]}"))
    return Progress(*columns, transient=False)
