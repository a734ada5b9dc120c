"""A small persistent pool of verifier processes with a hard per-task deadline.

Each task runs in a worker process; if it is not answered by its deadline the worker is killed (SIGKILL)
and a fresh one takes its place, so no input -- power towers, 300-deep fractions, huge numbers -- can hold
the caller longer than the bound.  Works from any thread: no signals are used in the caller.  Workers come
from a ``forkserver`` that has math-verify preloaded (``spawn`` off Linux), so a replacement starts in
milliseconds.  The pool belongs to the process that created it; a forked child makes its own.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import multiprocessing as mp
import os
import queue
import sys
import threading
import time
import types

log = logging.getLogger(__name__)

STARTUP_TIMEOUT_S = 120.0


class TaskTimeout(Exception):
    """The task did not finish before its deadline (its worker was killed)."""


class _Worker:
    def __init__(self, ctx) -> None:
        from polyreason.verify._worker import serve

        parent, child = ctx.Pipe(duplex=True)
        self.conn = parent
        self.proc = ctx.Process(target=serve, args=(child,), daemon=True, name="polyreason-verifier")
        with _main_module_hidden():
            self.proc.start()
        child.close()
        if not parent.poll(STARTUP_TIMEOUT_S) or parent.recv() != "ready":
            self.kill()
            raise RuntimeError("verifier worker did not start")

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.join(timeout=5)
        except (OSError, ValueError, AttributeError):
            pass
        try:
            self.conn.close()
        except OSError:
            pass


_START_LOCK = threading.Lock()


@contextlib.contextmanager
def _main_module_hidden():
    """Start workers without re-running the caller's ``__main__`` in them.

    multiprocessing normally re-imports the parent's main script in a spawned/forkserver child, which breaks
    scripts without an ``if __name__ == "__main__"`` guard (most training scripts).  The worker needs nothing
    from ``__main__``, so it is swapped for an empty module while the child is being started.
    """
    with _START_LOCK:
        real = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            yield
        finally:
            if real is not None:
                sys.modules["__main__"] = real


def _context():
    if sys.platform.startswith("linux"):
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["polyreason.verify._worker"])
        return ctx
    return mp.get_context("spawn")


class VerifierPool:
    """Up to ``size`` worker processes; :meth:`run` sends one task and waits at most until its deadline."""

    def __init__(self, size: int = 2) -> None:
        self.size = max(1, size)
        self.pid = os.getpid()
        self._ctx = _context()
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._lock = threading.Lock()
        self._alive = 0
        self._closed = False

    def grow(self, size: int) -> None:
        """Allow at least ``size`` workers."""
        with self._lock:
            self.size = max(self.size, size)

    def warm(self, n: int | None = None) -> None:
        """Start workers now (otherwise they start on first use)."""
        workers = [self._acquire() for _ in range(min(n or self.size, self.size))]
        for w in workers:
            self._idle.put(w)

    def _acquire(self) -> _Worker:
        give_up = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            try:
                return self._idle.get_nowait()
            except queue.Empty:
                pass
            with self._lock:
                can_start = self._alive < self.size
                if can_start:
                    self._alive += 1
            if can_start:
                try:
                    return _Worker(self._ctx)
                except BaseException:
                    with self._lock:
                        self._alive -= 1
                    raise
            if time.monotonic() > give_up:
                raise RuntimeError("no verifier worker became free")
            try:
                # Short waits: a worker killed elsewhere frees a slot without ever reaching the idle queue.
                return self._idle.get(timeout=0.02)
            except queue.Empty:
                continue

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._alive -= 1

    def run(self, task: tuple, timeout: float) -> tuple:
        """Run ``task`` in a worker; raise :class:`TaskTimeout` after ``timeout`` seconds of work."""
        worker = self._acquire()
        start = time.monotonic()
        try:
            worker.conn.send(task)
            if worker.conn.poll(max(0.0, timeout - (time.monotonic() - start))):
                result = worker.conn.recv()
                self._idle.put(worker)
                return result
        except (EOFError, OSError, BrokenPipeError) as exc:
            self._discard(worker)
            raise TaskTimeout(f"verifier worker died: {exc}") from exc
        self._discard(worker)
        raise TaskTimeout(f"no verdict within {timeout:g} s")

    def close(self) -> None:
        """Stop every idle worker."""
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().kill()
            except queue.Empty:
                return


_POOL: VerifierPool | None = None
_POOL_LOCK = threading.Lock()


def default_workers() -> int:
    """Default number of verifier processes: the CPUs this process may run on, at most 8 (each holds sympy,
    ~100 MB).  A process pinned to one core (``taskset -c 1``) gets one worker: two would halve each task's
    share of the core and so its time bound."""
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        usable = os.cpu_count() or 1
    return max(1, min(usable, 8))


def get_pool(size: int | None = None) -> VerifierPool:
    """The process-wide pool, created on first use (re-created in a forked child)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL.pid != os.getpid():
            # Workers start lazily, one per concurrent task, so a generous cap costs nothing when idle.
            _POOL = VerifierPool(size or default_workers())
        elif size:
            _POOL.grow(size)
        return _POOL


def can_use_processes() -> bool:
    """Daemonic processes (e.g. DataLoader or pool workers) may not start children."""
    return not mp.current_process().daemon


@atexit.register
def _shutdown() -> None:
    if _POOL is not None and _POOL.pid == os.getpid():
        _POOL.close()
