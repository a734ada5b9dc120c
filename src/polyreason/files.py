"""Output files that are never half-written or written twice at once, and the one JSONL reader.

Every command's outputs (``score -o``, ``eval --output``, ``data … -o``, ``train --output-dir``) go through
this module, which imports nothing of polyreason's but :mod:`polyreason.errors`, so every layer may use it.

Writers
    :func:`atomic_write` (and :func:`write_text`, :func:`write_json`, :class:`AtomicJsonl` on top of it) write a
    unique temporary sibling ``.NAME.<random>.tmp`` and rename it onto ``NAME`` only when the block succeeds.
    :class:`ResumableJsonl` appends to ``NAME.partial`` so a killed run resumes with the rows it had written.
Locks
    Each writer holds an advisory lock (``fcntl.flock``) on its output for as long as it writes; a second
    writer of the same output fails at once with :class:`OutputBusy` ("OUT is being written by PID …
    (started …)", exit code 2) instead of racing.  :func:`output_lock` takes the same lock on a whole output
    directory (eval, train); files written inside a directory this process holds need no lock of their own.
    The lock lives in ``.NAME.lock`` beside a file (``DIR/.polyreason.lock`` for a directory), records the
    holder's PID, start time and command, and goes away with the holder (the kernel drops it even on kill -9).
Reading
    :func:`iter_jsonl` / :func:`read_jsonl` read JSON Lines one object at a time; a bad line (invalid UTF-8,
    invalid JSON, not an object) is a :class:`~polyreason.errors.UserError` naming the file and the 1-based
    line (``PATH:LINE: …``, as compilers write it), or, with ``tolerant=True`` (our own append-only logs, whose last line a kill can tear), is skipped.
Paths
    A path that is a file where a directory is needed, a directory where a file is needed, or that cannot be
    written is a :class:`~polyreason.errors.UserError` naming it, raised before any work starts.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from polyreason.errors import UserError

log = logging.getLogger(__name__)

DIR_LOCK_NAME = ".polyreason.lock"


class OutputBusy(UserError):
    """Another process is writing the same output."""


# ----------------------------------------------------------------------------------------------- paths


def _os_error(path: Path, exc: OSError, what: str) -> UserError:
    reason = exc.strerror or type(exc).__name__
    return UserError(f"cannot write {what} {str(path)!r} ({reason}); fix: choose a writable path you own")


def ensure_dir(path: str | Path, what: str = "output directory") -> Path:
    """Create directory ``path`` (and parents) or raise a UserError saying why it cannot be."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{what} {str(path)!r} is a file; fix: choose a directory path (or move the file)")
    _check_parents(path, what)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _os_error(path, exc, what) from None
    return path


def _check_parents(path: Path, what: str) -> None:
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UserError(f"{what} {str(path)!r}: {str(parent)!r} is a file, not a directory; "
                                "fix: choose another path")
            return


def _check_file_target(path: Path, what: str) -> None:
    if path.is_dir():
        raise UserError(f"{what} {str(path)!r} is a directory; fix: give a file name, e.g. {str(path / 'out.jsonl')!r}")
    _check_parents(path, what)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _os_error(path, exc, what) from None


# ----------------------------------------------------------------------------------------------- locks

_held: dict[Path, list[Any]] = {}  # lock path -> [fd or None, depth]; fd None = covered, not flocked here


def _absolute(path: Path) -> Path:
    return Path(os.path.abspath(path))


def _lock_path(target: Path, directory: bool) -> Path:
    return target / DIR_LOCK_NAME if directory else target.with_name(f".{target.name}.lock")


def _covered(target: Path) -> bool:
    """True when this process already holds (or is covered by) a lock on ``target`` or a directory above it."""
    target = _absolute(target)
    if target.with_name(f".{target.name}.lock") in _held:
        return True
    return any(parent / DIR_LOCK_NAME in _held for parent in [target, *target.parents])


def _holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode("utf-8") or "{}")
    except (OSError, ValueError):
        info = {}
    if not info.get("pid"):
        return "another process"
    return f"PID {info['pid']} (started {info.get('started', '?')}: {info.get('command', '?')})"


def _acquire(lock: Path, target: Path) -> int:
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise _os_error(target, exc, "output") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise OutputBusy(f"{target} is being written by {holder}; fix: wait for it to finish, or choose "
                             "another output") from None
        # the previous holder may have unlinked the lock file between our open and our flock: retry on the new one
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(lock))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    program = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    if program in ("cli.py", "__main__.py", "-c"):  # python -m polyreason.cli / python -c …
        program = "polyreason" if program == "cli.py" else "python"
    info = {"pid": os.getpid(), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            "command": " ".join([program, *sys.argv[1:]])[:300]}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode("utf-8"), 0)
    return fd


@contextlib.contextmanager
def output_lock(target: str | Path, *, directory: bool = False, hold: bool = True) -> Iterator[Path]:
    """Hold the advisory lock on output ``target`` (a file, or with ``directory=True`` a directory) for the block.

    Re-entrant within a process.  ``hold=False`` takes no lock but marks ``target`` as covered, for the
    secondary ranks of a distributed run whose main rank holds it.  Raises :class:`OutputBusy` when another
    process holds it and a UserError when the path cannot be written.  Yields ``target`` as a Path.
    """
    target = Path(target)
    if directory:
        ensure_dir(target)
    else:
        _check_file_target(target, "output")
    lock = _lock_path(_absolute(target), directory)
    if lock in _held:
        _held[lock][1] += 1
    else:
        _held[lock] = [_acquire(lock, target) if hold else None, 1]
        if hold:
            _remove_stale_temps(target, directory)
    try:
        yield target
    finally:
        entry = _held[lock]
        entry[1] -= 1
        if entry[1] == 0:
            del _held[lock]
            if entry[0] is not None:
                with contextlib.suppress(OSError):
                    os.unlink(lock)  # unlink while still holding it: a waiter re-checks the inode
                os.close(entry[0])


def _remove_stale_temps(target: Path, directory: bool) -> None:
    """Temporary files of killed writers of ``target`` (we hold its lock, so nobody else is writing them)."""
    pattern = os.path.join(glob.escape(str(target)), ".*.tmp") if directory else os.path.join(
        glob.escape(str(target.parent)), f".{glob.escape(target.name)}.*.tmp")
    for stale in glob.glob(pattern):
        with contextlib.suppress(OSError):
            os.unlink(stale)
            log.debug("removed %s (left by a killed writer)", stale)


# ----------------------------------------------------------------------------------------------- writers


@contextlib.contextmanager
def atomic_write(path: str | Path, *, binary: bool = False) -> Iterator[IO[Any]]:
    """Write ``path`` through a unique temporary sibling, renamed onto it only if the block succeeds.

    Holds the output lock on ``path`` (unless this process already holds a lock covering it), so a concurrent
    writer of the same path gets :class:`OutputBusy`.  On an exception the temporary file is removed and
    ``path`` is left as it was.
    """
    path = Path(path)
    with _lock_unless_covered(path):
        _check_file_target(path, "output")
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        except OSError as exc:
            raise _os_error(path, exc, "output") from None
        try:
            with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) as fh:
                yield fh
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_write(path) as fh:
        fh.write(text)


def write_json(path: str | Path, obj: Any) -> None:
    """Write a JSON document (indented, UTF-8 kept readable) to ``path`` atomically."""
    write_text(path, json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")


def dumps(row: Any) -> str:
    """One JSONL line (UTF-8 kept readable, no trailing newline)."""
    return json.dumps(row, ensure_ascii=False)


def write_jsonl(path: str | Path, rows: Iterable[Any]) -> int:
    """Write ``rows`` as JSON Lines to ``path`` atomically (streamed); returns the number written."""
    with AtomicJsonl(path) as out:
        for row in rows:
            out.write(row)
    return out.count


class AtomicJsonl:
    """Context manager writing JSON Lines through :func:`atomic_write`; ``path`` appears only if the block succeeds.

    A ``.parquet`` path is written as JSONL to a temporary file first and converted at the end (column types
    are inferred by ``pyarrow.json``; the conversion holds the table in memory).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.count = 0
        self._stack = contextlib.ExitStack()
        self._fh: IO[str] | None = None
        self._parquet = self.path.suffix.lower() == ".parquet"

    def __enter__(self) -> AtomicJsonl:
        if self._parquet:
            self._stack.enter_context(_lock_unless_covered(self.path))
            self._staging = Path(self._stack.enter_context(_temp_file(self.path)))
            self._fh = self._stack.enter_context(self._staging.open("w", encoding="utf-8"))
        else:
            self._fh = self._stack.enter_context(atomic_write(self.path))
        return self

    def write(self, row: Any) -> None:
        """Append one row."""
        assert self._fh is not None, "use AtomicJsonl as a context manager"
        self._fh.write(dumps(row) + "\n")
        self.count += 1

    def __exit__(self, exc_type, exc, tb) -> bool | None:
        if exc_type is None and self._parquet:
            try:
                self._fh.close()
                _jsonl_to_parquet(self._staging, self.path, self.count)
            except BaseException:
                if not self._stack.__exit__(*sys.exc_info()):
                    raise
                return None
        return self._stack.__exit__(exc_type, exc, tb)


@contextlib.contextmanager
def _temp_file(path: Path) -> Iterator[str]:
    """A unique temporary sibling of ``path`` (named so a later writer of ``path`` can clean it up), removed after."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _os_error(path, exc, "output") from None
    os.close(fd)
    try:
        yield tmp
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _lock_unless_covered(path: Path) -> contextlib.AbstractContextManager[Any]:
    return contextlib.nullcontext() if _covered(path) else output_lock(path)


def _jsonl_to_parquet(src: Path, dest: Path, count: int) -> None:
    import pyarrow as pa
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    table = pj.read_json(src) if count else pa.table({})
    with atomic_write(dest, binary=True) as fh:
        pq.write_table(table, fh)


class ResumableJsonl:
    """Append-only JSONL at ``path.partial``; rows carry ``id_key`` so a restart knows what is done.

    On restart the ids already written are read back (:attr:`done`) so work can skip them; :meth:`finish`
    renames ``path.partial`` to ``path``.  A finished ``path`` is resumed the same way, so rerunning a command
    only processes rows it has not done.  The output lock on ``path`` is held from construction to
    :meth:`finish` / :meth:`close`.
    """

    def __init__(self, path: str | Path, id_key: str = "id", *, resume: bool = True):
        self.path = Path(path)
        if self.path.suffix.lower() != ".jsonl":
            raise UserError(f"resumable output {self.path} must be a .jsonl file; fix: write .jsonl, then convert "
                            "with `polyreason data prepare OUT.jsonl -o OUT.parquet` if you need Parquet")
        self._lock = contextlib.ExitStack()
        self._lock.enter_context(output_lock(self.path))
        try:
            self._open(id_key, resume)
        except BaseException:
            self._lock.close()
            raise

    def _open(self, id_key: str, resume: bool) -> None:
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.id_key = id_key
        self.done: set[str] = set()
        if resume and not self.partial.exists() and self.path.exists():
            os.replace(self.path, self.partial)  # a finished output resumes too: a rerun only adds new rows
        if resume and self.partial.exists():
            self._reload()
        elif self.partial.exists():
            self.partial.unlink()
        self.resumed = len(self.done)
        self._fh = self.partial.open("a", encoding="utf-8")

    def _reload(self) -> None:
        good: list[str] = []
        for _, row in iter_jsonl(self.partial, tolerant=True):  # a crash can leave a torn last line: dropped
            good.append(dumps(row) + "\n")
            self.done.add(str(row.get(self.id_key)))
        write_text(self.partial, "".join(good))

    def write(self, row: dict) -> None:
        """Append one row and flush it (so a crash loses at most the row being written)."""
        self._fh.write(dumps(row) + "\n")
        self._fh.flush()
        self.done.add(str(row.get(self.id_key)))

    def finish(self) -> None:
        """Close and move ``path.partial`` to ``path``; releases the lock."""
        self._fh.close()
        os.replace(self.partial, self.path)
        self._lock.close()

    def close(self) -> None:
        """Close without finishing (the partial file stays for a later resume); releases the lock."""
        if not self._fh.closed:
            self._fh.close()
        self._lock.close()


# ----------------------------------------------------------------------------------------------- reading


def read_json(path: str | Path) -> Any:
    """A whole JSON document; invalid UTF-8 or JSON is a UserError naming the file, line and column."""
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON ({exc.msg}); fix: correct the file, "
                        "or store one JSON object per line (.jsonl)") from None


def read_text(path: str | Path, what: str = "file") -> str:
    """The UTF-8 text of ``path``; invalid UTF-8 is a UserError naming the 1-based line and column."""
    path = Path(path)
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise UserError(f"{path}:{line}:{column}: {what} is not valid UTF-8 (byte "
                        f"0x{data[exc.start]:02x}); fix: save the file as UTF-8") from None


def iter_lines(path: str | Path, *, tolerant: bool = False) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for each line of a UTF-8 text file, streamed (1-based, newline kept).

    A line that is not valid UTF-8 is a UserError naming the file, line and column (skipped with a warning when
    ``tolerant``).
    """
    path = Path(path)
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                yield lineno, raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                problem = f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})"
                if not tolerant:
                    raise UserError(f"{path}:{lineno}: {problem}; fix: save the file as UTF-8") from None
                log.warning("%s:%d: skipped (%s)", path, lineno, problem)


def iter_jsonl(path: str | Path, *, tolerant: bool = False) -> Iterator[tuple[int, dict]]:
    """Yield ``(line_number, object)`` for each non-blank line of a JSON Lines file (1-based line numbers).

    Strict (default): a missing file, a line that is not UTF-8, not JSON or not an object raises a UserError
    naming the file and line.  ``tolerant=True`` (for append-only logs a kill can tear): a missing file yields
    nothing and bad lines are skipped with a warning.
    """
    path = Path(path)
    if not path.is_file():
        if tolerant:
            return
        kind = "a directory" if path.is_dir() else "not found"
        raise UserError(f"{path}: {kind}; fix: give the path of a .jsonl file")
    for lineno, text in iter_lines(path, tolerant=tolerant):
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            problem = f"invalid JSON ({exc.msg}, column {exc.colno})"
        else:
            if isinstance(obj, dict):
                yield lineno, obj
                continue
            problem = f"expected a JSON object, got {type(obj).__name__}"
        if not tolerant:
            raise UserError(f"{path}:{lineno}: {problem}; fix: one JSON object per line")
        log.warning("%s:%d: skipped (%s; an interrupted write?)", path, lineno, problem)


def read_jsonl(path: str | Path, *, tolerant: bool = False) -> Iterator[dict]:
    """The objects of a JSON Lines file, streamed (see :func:`iter_jsonl` for errors and ``tolerant``)."""
    for _, obj in iter_jsonl(path, tolerant=tolerant):
        yield obj


def count_lines(path: str | Path) -> int:
    """Non-blank lines of a text file (a fast pass over bytes: the row count of a JSONL file, for progress)."""
    with Path(path).open("rb") as fh:
        return sum(1 for line in fh if line.strip())


def read_ids(path: str | Path, key: str = "id") -> Iterator[str]:
    """The ``key`` values of a JSONL file we wrote (nothing if it does not exist; torn or id-less lines skipped)."""
    for obj in read_jsonl(path, tolerant=True):
        if key in obj:
            yield str(obj[key])
