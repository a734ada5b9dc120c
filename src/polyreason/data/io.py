"""Streaming JSONL reading and crash-safe writing.

Two writers:

* :class:`AtomicJsonl` -- writes ``path.tmp`` and renames it to ``path`` on success (nothing half-written).
* :class:`ResumableJsonl` -- append-only ``path.partial``; on restart the ids already written are read back
  (:attr:`ResumableJsonl.done`) so work can skip them; :meth:`ResumableJsonl.finish` renames to ``path``.
  A finished ``path`` is resumed the same way, so rerunning a command only processes rows it has not done.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from polyreason.errors import UserError


def read_jsonl(path: str | Path) -> Iterator[dict]:
    """Yield the objects of a JSON Lines file one by one (blank lines skipped)."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"file not found: {path}; fix: check the path")
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise UserError(f"{path} line {lineno}: invalid JSON ({exc.msg}); fix: one JSON object per line") from exc


def read_ids(path: str | Path, key: str = "id") -> Iterator[str]:
    """The ``key`` values of a JSONL file (nothing if it does not exist; torn or id-less lines skipped)."""
    path = Path(path)
    if not path.exists():
        return
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                yield str(json.loads(line)[key])
            except (json.JSONDecodeError, KeyError, TypeError):
                continue


def dumps(row: Any) -> str:
    """One JSONL line (UTF-8 kept readable, no trailing newline)."""
    return json.dumps(row, ensure_ascii=False)


def write_json(path: str | Path, obj: Any) -> None:
    """Write a JSON document atomically (``path.tmp`` then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def batches_left(total: int | None, done: int, batch_size: int) -> int | None:
    """Progress total in batches for ``total`` input rows of which ``done`` are already written."""
    if total is None:
        return None
    return max(0, -(-(total - done) // max(1, batch_size)))


class AtomicJsonl:
    """Context manager writing JSONL to ``path.tmp``; renamed to ``path`` only if the block succeeds.

    A ``.parquet`` path is written as JSONL first and converted at the end (column types are inferred by
    ``pyarrow.json``; the conversion holds the table in memory).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.tmp = self.path.with_name(self.path.name + ".tmp")
        self.count = 0
        self._fh = None

    def __enter__(self) -> AtomicJsonl:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self.tmp.open("w", encoding="utf-8")
        return self

    def write(self, row: Any) -> None:
        """Append one row."""
        self._fh.write(dumps(row) + "\n")
        self.count += 1

    def __exit__(self, exc_type, exc, tb) -> None:
        self._fh.close()
        if exc_type is not None:
            self.tmp.unlink(missing_ok=True)
        elif self.path.suffix.lower() == ".parquet":
            _jsonl_to_parquet(self.tmp, self.path, self.count)
        else:
            os.replace(self.tmp, self.path)


def _jsonl_to_parquet(src: Path, dest: Path, count: int) -> None:
    import pyarrow as pa
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    table = pj.read_json(src) if count else pa.table({})
    tmp = dest.with_name(dest.name + ".parquet.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, dest)
    src.unlink()


class ResumableJsonl:
    """Append-only JSONL at ``path.partial``; rows carry ``id_key`` so a restart knows what is done."""

    def __init__(self, path: str | Path, id_key: str = "id", *, resume: bool = True):
        self.path = Path(path)
        if self.path.suffix.lower() != ".jsonl":
            raise UserError(f"resumable output {self.path} must be a .jsonl file; fix: write .jsonl, then convert "
                            "with `polyreason data prepare OUT.jsonl -o OUT.parquet` if you need Parquet")
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.id_key = id_key
        self.done: set[str] = set()
        self.path.parent.mkdir(parents=True, exist_ok=True)
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
        with self.partial.open(encoding="utf-8") as fh:
            for line in fh:
                try:  # a crash can leave a torn last line: drop it
                    row = json.loads(line)
                except json.JSONDecodeError:
                    break
                good.append(line if line.endswith("\n") else line + "\n")
                self.done.add(str(row.get(self.id_key)))
        tmp = self.partial.with_name(self.partial.name + ".tmp")
        tmp.write_text("".join(good), encoding="utf-8")
        os.replace(tmp, self.partial)

    def write(self, row: dict) -> None:
        """Append one row and flush it (so a crash loses at most the row being written)."""
        self._fh.write(dumps(row) + "\n")
        self._fh.flush()
        self.done.add(str(row.get(self.id_key)))

    def finish(self) -> None:
        """Close and move ``path.partial`` to ``path``."""
        self._fh.close()
        os.replace(self.partial, self.path)

    def close(self) -> None:
        """Close without finishing (the partial file stays for a later resume)."""
        if not self._fh.closed:
            self._fh.close()
