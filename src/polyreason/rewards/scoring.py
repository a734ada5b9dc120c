"""Scoring files of completions with a weighted set of rewards (the library side of ``polyreason score``).

Rewards are built by :func:`polyreason.rewards.registry.build_composite` from weights and parameters; for a
recipe, :func:`polyreason.rewards.suite.suite_from_specs` gives the ones training uses.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from polyreason.errors import UserError
from polyreason.files import iter_jsonl
from polyreason.rewards.registry import build_composite, reward_names
from polyreason.rewards.suite import combine

DEFAULT_CHUNK = 256


def parse_weights(spec: str) -> dict[str, float]:
    """``"accuracy=1.0,language=0.2,format"`` -> {"accuracy": 1.0, "language": 0.2, "format": 1.0}."""
    weights: dict[str, float] = {}
    for item in (s.strip() for s in spec.split(",")):
        if not item:
            continue
        name, sep, value = item.partition("=")
        name = name.strip()
        try:
            weight = float(value) if sep else 1.0
        except ValueError:
            raise UserError(
                f"--rewards: weight {value!r} of {name!r} is not a number; fix: e.g. {name}=0.5"
            ) from None
        weights[name] = weight
    if not weights:
        raise UserError(
            f"--rewards is empty; fix: e.g. --rewards accuracy=1.0,format=0.1 (names: {', '.join(reward_names())})"
        )
    return weights


def parse_param(item: str) -> tuple[str, str, Any]:
    """``"cosine.max_len=512"`` -> ("cosine", "max_len", 512) (the value is read as YAML)."""
    import yaml

    key, sep, raw = item.partition("=")
    name, dot, param = key.strip().partition(".")
    if not sep or not dot or not name or not param:
        raise UserError(
            f"--param {item!r}: expected REWARD.PARAM=VALUE; fix: e.g. --param cosine.max_len=512"
        )
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        value = raw
    return name, param, value


def read_rows(path: str | Path) -> Iterator[dict]:
    """Stream and check ``{"completion": str, "answer": str, "language"?: str, "n_tokens"?: int}`` rows; errors
    name the line.  An input without rows is an error (raised after the last line, so nothing is written)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"input file {str(path)!r} does not exist; fix: check the path")
    n = 0
    for lineno, row in iter_jsonl(path):
        n += 1
        yield _check_row(row, path, lineno)
    if not n:
        raise UserError(f"{path}: no rows (empty file); fix: one JSON object per line with completion and answer")


def _check_row(row: Any, path: Path, lineno: int) -> dict:
    where = f"{path}:{lineno}"
    if not isinstance(row, dict):
        raise UserError(f"{where}: expected a JSON object, got {type(row).__name__}")
    completion = row.get("completion")
    if isinstance(completion, list) and all(isinstance(m, dict) for m in completion):
        pass  # chat messages are accepted as TRL passes them
    elif not isinstance(completion, str):
        raise UserError(
            f'{where}: "completion" must be a string (got {type(completion).__name__}); fix the row'
        )
    answer = row.get("answer")
    if isinstance(answer, int | float) and not isinstance(answer, bool):
        row = {**row, "answer": str(answer)}
    elif not isinstance(answer, str):
        raise UserError(f'{where}: "answer" must be a string (got {type(answer).__name__}); fix the row')
    lang = row.get("language")
    if lang is not None and not isinstance(lang, str):
        raise UserError(f'{where}: "language" must be a string like "es" (got {lang!r})')
    n_tokens = row.get("n_tokens")
    if n_tokens is not None and (isinstance(n_tokens, bool) or not isinstance(n_tokens, int) or n_tokens < 0):
        raise UserError(f'{where}: "n_tokens" must be a whole number >= 0 (got {n_tokens!r}); fix the row')
    return row


def score_rows(
    rows: Iterable[dict],
    weights: Mapping[str, float],
    params: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    language: str = "en",
    chunk: int = DEFAULT_CHUNK,
    progress: bool = True,
    total: int | None = None,
) -> Iterator[dict]:
    """Yield each row (in order) with ``rewards`` {name: value} and ``total`` added.

    ``total`` follows :func:`polyreason.rewards.suite.weighted_sum` (TRL's rule: None parts left out, None
    when no part scored).  A row's ``n_tokens`` (completion length in tokens, as training counts it) is
    what the length-aware rewards measure; rows without one are measured in words.  ``rows`` is consumed
    ``chunk`` rows at a time (a file is never held in memory); ``total`` (the number of rows, if known)
    sizes the progress bar.
    """
    composite = build_composite(weights, params, language=language)
    chunks: Iterable[list[dict]] = _chunked(rows, chunk)
    if progress:
        from polyreason.progress import track

        chunks = track(chunks, total=None if total is None else -(-total // chunk), description="scoring",
                       unit="chunk")
    for batch in chunks:
        kwargs = {
            "answer": [r["answer"] for r in batch],
            "language": [r.get("language") or language for r in batch],
            "n_tokens": [r.get("n_tokens") for r in batch],
        }
        completions = [r["completion"] for r in batch]
        parts = composite.components([r.get("prompt") for r in batch], completions, **kwargs)
        totals = combine(weights, parts, len(batch))
        for i, row in enumerate(batch):
            yield {**row, "rewards": {name: vals[i] for name, vals in parts.items()}, "total": totals[i]}


def _chunked(rows: Iterable[dict], size: int) -> Iterator[list[dict]]:
    it = iter(rows)
    while batch := list(itertools.islice(it, size)):
        yield batch
