"""Scoring files of completions with a weighted set of rewards (the library side of ``polyreason score``)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from polyreason.errors import UserError
from polyreason.files import iter_jsonl
from polyreason.rewards.registry import build_composite, combine, reward_names

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


def rewards_from_recipe(path: str | Path) -> tuple[dict[str, float], dict[str, dict], str]:
    """(weights, params, language) from a recipe's ``rewards`` section (else its first GRPO stage's)."""
    from polyreason.config import load_recipe

    recipe = load_recipe(path)
    specs = dict(recipe.rewards or {})
    if not specs:
        for stage in recipe.stages:
            if getattr(stage, "rewards", None):
                specs = dict(stage.rewards)
                break
    if not specs:
        raise UserError(f"{path}: the recipe has no rewards section; fix: add `rewards:` or use --rewards")
    weights = {name: float(spec.weight) for name, spec in specs.items()}
    params = {name: dict(spec.params) for name, spec in specs.items() if spec.params}
    return weights, params, recipe.language


def read_rows(path: str | Path) -> Iterator[dict]:
    """Stream and check ``{"completion": str, "answer": str, "language"?: str}`` rows; errors name the line.

    An input without rows is an error (raised after the last line, so nothing is written for it).
    """
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
    """Yield each row (in order) with ``rewards`` {name: value} and ``total`` (Σ weight·value, None if any
    weighted part is None) added.  ``rows`` is consumed ``chunk`` rows at a time (a file is never held in
    memory); ``total`` (the number of rows, if known) sizes the progress bar."""
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
