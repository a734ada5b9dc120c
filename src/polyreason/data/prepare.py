"""`prepare`: turn any supported source into standard rows, with row-level validation and a rejects file."""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path

from polyreason.data.sources import load_rows
from polyreason.errors import UserError
from polyreason.files import AtomicJsonl
from polyreason.progress import track

log = logging.getLogger(__name__)


def prepare(source: str, output: str | Path, *, kind: str = "rl", split: str = "train",
            column_map: dict[str, str] | None = None, language: str | None = None, source_name: str | None = None,
            skip_invalid: bool = False, rejects: str | Path | None = None, limit: int | None = None) -> dict:
    """Stream ``source`` through :func:`polyreason.data.load_rows` into JSONL at ``output``.

    Without ``skip_invalid`` the first invalid row stops the run with an error naming the row and column
    (nothing is written).  With it, invalid rows go to ``rejects`` (default ``<output>.rejects.jsonl``) as
    ``{"index", "error", "row"}`` and the run goes on.  ``source_name`` overrides the ``source`` column.
    Returns a report ``{"n_written", "n_rejected", "output", "rejects", "kinds"}``.
    """
    output = Path(output)
    rejects_path = Path(rejects) if rejects else output.with_name(output.stem + ".rejects.jsonl")
    n_rejected = 0
    stack = contextlib.ExitStack()
    rejected: AtomicJsonl | None = None

    def on_invalid(index: int, raw: dict, err: UserError) -> None:
        nonlocal n_rejected, rejected
        n_rejected += 1
        if rejected is None:  # the rejects file exists only when something was rejected
            rejected = stack.enter_context(AtomicJsonl(rejects_path))
        rejected.write({"index": index, "error": str(err), "row": _jsonable(raw)})
        if n_rejected <= 5:
            log.warning("rejected: %s", err)

    rows = load_rows(source, split=split, column_map=column_map, kind=kind, language=language,
                     on_invalid=on_invalid if skip_invalid else None, limit=limit)
    with stack, AtomicJsonl(output) as out:
        for row in track(rows, total=limit, description=f"prepare {Path(source).name}", unit="rows"):
            if source_name:
                row["source"] = source_name
            out.write(_jsonable(row))
    return {"n_written": out.count, "n_rejected": n_rejected, "output": str(output),
            "rejects": str(rejects_path) if n_rejected else None}


def _jsonable(row: dict) -> dict:
    """Make hub rows JSON-safe (numpy scalars, datetimes and the like become strings)."""
    try:
        json.dumps(row, ensure_ascii=False)
        return row
    except (TypeError, ValueError):
        return json.loads(json.dumps(row, ensure_ascii=False, default=str))
