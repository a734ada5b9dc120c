"""SQLite result cache: one row per generated sample, so a killed evaluation resumes where it stopped.

A sample is keyed by (model, benchmark, problem index, problem hash, sample index, generation fingerprint).
The generation fingerprint hashes every parameter that changes what is generated (prompt template,
temperature, top-p, max new tokens, seed, backend), so changing one of them never reuses stale samples.
Writes are committed per batch, so an interrupted run loses at most the batch in flight.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS samples (
    model TEXT NOT NULL,
    benchmark TEXT NOT NULL,
    problem_index INTEGER NOT NULL,
    problem_hash TEXT NOT NULL,
    sample_index INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    completion TEXT NOT NULL,
    n_tokens INTEGER,
    truncated INTEGER NOT NULL,
    created REAL NOT NULL DEFAULT (julianday('now')),
    PRIMARY KEY (model, benchmark, problem_index, problem_hash, sample_index, fingerprint)
)
"""


def fingerprint(params: Mapping[str, Any]) -> str:
    """A short stable hash of generation parameters (JSON with sorted keys)."""
    blob = json.dumps(params, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def text_hash(text: str) -> str:
    """A short hash of a prompt or problem text (guards against a changed benchmark file)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class SampleKey:
    """Identity of one generated sample."""

    model: str
    benchmark: str
    problem_index: int
    problem_hash: str
    sample_index: int
    fingerprint: str


@dataclass(frozen=True)
class CachedSample:
    """A generated completion with its token count and whether it hit the length limit."""

    completion: str
    n_tokens: int | None
    truncated: bool


class ResultCache:
    """A small SQLite store of generated samples (thread-unsafe; one process writes at a time)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path))
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(SCHEMA)
        self._db.commit()

    def get_many(self, keys: Iterable[SampleKey]) -> dict[SampleKey, CachedSample]:
        """The cached samples among ``keys`` (missing keys are absent from the result)."""
        found = {}
        for key in keys:
            row = self._db.execute(
                "SELECT completion, n_tokens, truncated FROM samples WHERE model=? AND benchmark=? AND "
                "problem_index=? AND problem_hash=? AND sample_index=? AND fingerprint=?",
                (key.model, key.benchmark, key.problem_index, key.problem_hash, key.sample_index, key.fingerprint),
            ).fetchone()
            if row is not None:
                found[key] = CachedSample(row[0], row[1], bool(row[2]))
        return found

    def put_many(self, items: Iterable[tuple[SampleKey, CachedSample]]) -> None:
        """Store samples in one transaction (all or nothing)."""
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO samples (model, benchmark, problem_index, problem_hash, sample_index, "
                "fingerprint, completion, n_tokens, truncated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (k.model, k.benchmark, k.problem_index, k.problem_hash, k.sample_index, k.fingerprint,
                     s.completion, s.n_tokens, int(s.truncated))
                    for k, s in items
                ],
            )

    def count(self) -> int:
        """Number of stored samples."""
        return int(self._db.execute("SELECT COUNT(*) FROM samples").fetchone()[0])

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def __enter__(self) -> ResultCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
