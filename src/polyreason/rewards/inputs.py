"""Reading TRL-style reward inputs: completions as text or chat messages, dataset columns as kwargs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from polyreason.errors import UserError


def completion_text(completion: Any) -> str:
    """Text of one completion: a string, or the assistant content of a ``[{"role", "content"}]`` list."""
    if completion is None:
        return ""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return str(completion.get("content") or "")
    if isinstance(completion, Sequence):
        parts = [str(m.get("content") or "") for m in completion if isinstance(m, dict)]
        return "".join(parts)
    return str(completion)


def completion_texts(completions: Sequence[Any]) -> list[str]:
    """Texts of a batch of completions."""
    return [completion_text(c) for c in completions]


def column(kwargs: dict[str, Any], name: str, n: int, default: Any = None, *, required: bool = False) -> list:
    """Dataset column ``name`` from the reward kwargs, as a list of length ``n`` (scalars are broadcast)."""
    values = kwargs.get(name)
    if values is None:
        if required:
            raise UserError(
                f"this reward needs the dataset column {name!r} (got columns: {sorted(kwargs) or 'none'}); "
                f"fix: add a {name!r} field to every row"
            )
        return [default] * n
    if isinstance(values, str | int | float):
        return [values] * n
    values = list(values)
    if len(values) != n:
        raise UserError(
            f"column {name!r} has {len(values)} values for {n} completions; fix: one per completion"
        )
    return values


def log_mean(kwargs: dict[str, Any], name: str, values: Sequence[float | None]) -> None:
    """Report the mean of ``values`` through TRL's ``log_metric`` kwarg when the trainer passes one."""
    log_metric: Callable[[str, float], None] | None = kwargs.get("log_metric")
    if log_metric is None:
        return
    present = [v for v in values if v is not None]
    if present:
        log_metric(name, sum(present) / len(present))


def lengths(kwargs: dict[str, Any], texts: Sequence[str]) -> list[int]:
    """Completion lengths in tokens when TRL passes ``completion_ids``, else whitespace-separated words."""
    ids = kwargs.get("completion_ids")
    if ids is not None and len(ids) == len(texts):
        return [len(x) for x in ids]
    return [len(t.split()) for t in texts]
