"""SQLite result cache: one row per generated sample, so a killed evaluation resumes where it stopped.

A sample is keyed by (model, benchmark, problem index, problem hash, sample index, generation fingerprint).
The generation fingerprint hashes every parameter that changes what is generated (prompt template,
temperature, top-p, max new tokens, seed, backend) and the model's own files (:func:`model_fingerprint`:
weights, config, tokenizer, chat template), so neither changed settings nor new weights saved under the same
path ever reuse stale samples.
Writes are committed per batch, so an interrupted run loses at most the batch in flight.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polyreason.errors import UserError

# Files read whole into the model fingerprint below this size (configs, index, tokenizer, chat template);
# bigger ones (weights) by name, size, mtime and their first and last _EDGE bytes.
_SMALL_FILE = 4 << 20
_EDGE = 1 << 16

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


def directory_fingerprint(directory: str | Path) -> str:
    """A short hash of a saved model directory: what decides its outputs, cheap to compute for big weights.

    Small files (``config.json``, ``generation_config.json``, ``model.safetensors.index.json``, tokenizer files,
    ``chat_template.jinja``) are hashed whole; large ones (weights) by name, size, modification time (ns) and
    their first and last 64 KiB, so a 1.6 GB checkpoint costs two small reads.  Hidden files and Markdown are
    ignored.
    """
    digest = hashlib.sha256()
    root = Path(directory)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or path.suffix.lower() == ".md":
            continue
        stat = path.stat()
        digest.update(f"{rel.as_posix()}\0{stat.st_size}\0".encode())
        with path.open("rb") as fh:
            if stat.st_size <= _SMALL_FILE:
                digest.update(fh.read())
                continue
            digest.update(f"{stat.st_mtime_ns}\0".encode())
            digest.update(fh.read(_EDGE))
            fh.seek(-_EDGE, os.SEEK_END)
            digest.update(fh.read(_EDGE))
    return digest.hexdigest()[:16]


def model_fingerprint(spec: str) -> str | None:
    """:func:`directory_fingerprint` of the files a model spec loads (a local directory, a built-in model, or a
    hub id's cached snapshot); None when there are no local files to look at (e.g. an endpoint URL)."""
    from polyreason.models import BUILTIN_SPECS, resolve_model_path

    if spec in BUILTIN_SPECS:
        spec = resolve_model_path(spec)
    path = Path(spec).expanduser()
    if path.is_dir():
        return directory_fingerprint(path)
    if spec.count("/") == 1 and "://" not in spec:
        from huggingface_hub import try_to_load_from_cache
        config = try_to_load_from_cache(spec, "config.json")
        if isinstance(config, str):  # .../snapshots/<commit>/config.json
            return directory_fingerprint(Path(config).parent)
    return None


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
        from polyreason.files import ensure_dir

        self.path = Path(path)
        if self.path.is_dir():
            raise UserError(f"result cache {str(self.path)!r} is a directory; fix: give a file, e.g. --cache run.sqlite")
        ensure_dir(self.path.parent, "directory of the result cache")
        try:
            self._db = sqlite3.connect(str(self.path))
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(SCHEMA)
            self._db.commit()
        except sqlite3.Error as exc:
            raise UserError(f"cannot use result cache {str(self.path)!r} ({exc}); fix: pass --cache with a "
                            "writable path (a damaged cache can be deleted: it only saves time)") from None

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
