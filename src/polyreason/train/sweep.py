"""Sweeps: every combination of a grid of recipe overrides × seeds, each one run, and one comparison table.

    polyreason sweep recipes/quickstart.yaml --grid stages.1.learning_rate=1e-5,3e-5 --seeds 1,2,3 -o runs/lr

A grid item ``KEY=v1,v2`` is a ``--set`` override (``polyreason.config.apply_override``) with several values;
a cell is one value per grid key plus one seed (``seed=N``).  Cells run one after another in this process
through :func:`polyreason.train.run_recipe`.  Output::

    DIR/sweep.json                the plan: recipe, overrides, grid, seeds, and every cell (index, name, group)
    DIR/cells/<name>/             the cell's run directory (run_recipe's layout) plus cell.json (status, error)
    DIR/comparison.json, .md      per setting: mean and 95 % CI over seeds of every metric (report.compare)

A cell is **finished** when its ``summary.json`` says ``"finished": true`` (run_recipe writes the summary
atomically as its last act; a summary without the field, from older runs, counts as finished too).  Rerunning the same command skips finished cells and resumes a cell
that has ``metrics.jsonl`` but no summary from its last checkpoint.  A cell that raises is recorded
(cell.json: ``status: failed`` and the error) and the sweep goes on; :attr:`SweepResult.failed` lists it.

Every cell's recipe is validated before the first one runs, so a bad grid value fails the whole sweep at
once with the key named.  On a cluster, ``only=[i]`` (``--cell i``) runs one cell, e.g. as a Slurm array
task, and ``collect=True`` (``--collect``) writes the table from whatever has finished (docs/experiments.md).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from polyreason.errors import UserError
from polyreason.files import OutputBusy, read_json, write_json, write_text

log = logging.getLogger(__name__)

Runner = Callable[..., Any]
CellHook = Callable[["Cell", str, float], None]


@dataclass(frozen=True)
class Cell:
    """One grid point × seed: its position in the plan, directory name, group (grid point) and settings."""

    index: int
    name: str
    group: str
    settings: dict[str, str]
    seed: int | None

    def overrides(self) -> list[str]:
        """The ``--set`` items that make this cell's recipe from the base recipe."""
        items = [f"{k}={v}" for k, v in self.settings.items()]
        return items + ([f"seed={self.seed}"] if self.seed is not None else [])


@dataclass
class SweepResult:
    """What a sweep did: every cell's outcome, and where the comparison went (None when not written)."""

    output_dir: Path
    cells: list[Any] = field(default_factory=list)  # polyreason.report.compare.CellOutcome
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    comparison_md: Path | None = None
    comparison_json: Path | None = None


# ------------------------------------------------------------------------------------------------ plan


def _split_values(text: str) -> list[str]:
    """Split on commas outside brackets/braces/quotes, so ``[a, b],[c]`` is two YAML values."""
    parts, depth, quote, current = [], 0, "", []
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    parts.append("".join(current).strip())
    return parts


def parse_grid(items: list[str]) -> list[tuple[str, list[str]]]:
    """``["a.b=1,2", "c=x"]`` → ``[("a.b", ["1", "2"]), ("c", ["x"])]``; UserError on a malformed item."""
    grid: list[tuple[str, list[str]]] = []
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        values = _split_values(text) if sep else []
        if not key or not values or any(v == "" for v in values):
            raise UserError(f"--grid {item!r}: expected KEY=v1,v2,…, e.g. --grid stages.0.learning_rate=1e-6,3e-6")
        if key == "seed":
            raise UserError("--grid seed=…: seeds have their own option; fix: use --seeds 1,2,3")
        if any(key == k for k, _ in grid):
            raise UserError(f"--grid {key} is given twice; fix: list all its values in one --grid {key}=v1,v2")
        if len(set(values)) != len(values):
            raise UserError(f"--grid {item!r} repeats a value; fix: list each value once")
        grid.append((key, values))
    return grid


def parse_seeds(text: str | None) -> list[int] | None:
    """``"1,2,3"`` → ``[1, 2, 3]``; None/empty → None (the recipe's own seed)."""
    if text is None or not text.strip():
        return None
    try:
        seeds = [int(s) for s in text.split(",")]
    except ValueError:
        raise UserError(f"--seeds {text!r}: expected integers separated by commas, e.g. --seeds 1,2,3") from None
    if len(set(seeds)) != len(seeds):
        raise UserError(f"--seeds {text!r} repeats a seed; fix: list each seed once")
    return seeds


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=,+-]+", "_", text).strip("_") or "_"


def plan_cells(grid: list[tuple[str, list[str]]], seeds: list[int] | None) -> list[Cell]:
    """Every combination, grid keys in the order given (the last varies fastest), seeds innermost."""
    cells: list[Cell] = []
    names: set[str] = set()
    for values in itertools.product(*[vals for _, vals in grid]):
        settings = {key: value for (key, _), value in zip(grid, values, strict=True)}
        group = ",".join(f"{k}={v}" for k, v in settings.items()) or "base"
        for seed in seeds or [None]:
            index = len(cells)
            name = _slug(group if seed is None else f"{group},seed={seed}")
            if name in names:  # two values that slug alike
                name = f"{name}-{index}"
            names.add(name)
            cells.append(Cell(index, name, group, settings, seed))
    return cells


def is_finished(run_dir: Path) -> bool:
    """True when ``run_dir/summary.json`` parses and says ``"finished": true`` (or, from older runs, nothing)."""
    try:
        summary = json.loads((Path(run_dir) / "summary.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    return isinstance(summary, dict) and summary.get("finished", True) is not False


# ------------------------------------------------------------------------------------------------ run


def load_cell_recipes(recipe_path: str | Path, cells: list[Cell], overrides: list[str] | None = None) -> list[Any]:
    """Every cell's validated recipe (UserError naming the cell at the first invalid one)."""
    from polyreason.config import load_recipe

    recipes = []
    for cell in cells:
        try:
            recipes.append(load_recipe(recipe_path, list(overrides or []) + cell.overrides()))
        except UserError as exc:
            raise UserError(f"sweep cell {cell.index} ({cell.name}): {exc}") from None
    return recipes


def run_sweep(
    recipe_path: str | Path,
    grid: list[tuple[str, list[str]]],
    seeds: list[int] | None,
    output_dir: str | Path,
    *,
    overrides: list[str] | None = None,
    only: list[int] | None = None,
    collect: bool = False,
    runner: Runner | None = None,
    on_cell: CellHook | None = None,
) -> SweepResult:
    """Run (or, with ``collect``, only tabulate) the sweep; see the module docstring.

    ``only``: plan indices to run (the others are neither run nor tabulated: a cluster array task);
    ``runner``: ``run_recipe``-compatible callable (tests); ``on_cell(cell, status, seconds)`` after each cell
    (status: finished | skipped | failed).
    """
    out = Path(output_dir)
    cells = plan_cells(grid, seeds)
    if only is not None:
        bad = [i for i in only if not 0 <= i < len(cells)]
        if bad:
            raise UserError(f"--cell {bad[0]}: the sweep has cells 0..{len(cells) - 1}; fix: see --dry-run")
    recipes = load_cell_recipes(recipe_path, cells, overrides)
    if runner is None:
        from polyreason.train.runner import run_recipe as runner
    result = SweepResult(out)
    if _is_main():
        out.mkdir(parents=True, exist_ok=True)
        _describe(out / "sweep.json", {"recipe": str(recipe_path), "overrides": list(overrides or []),
                                         "grid": dict(grid), "seeds": seeds, "cells": [asdict(c) for c in cells]})
    for cell, recipe in zip(cells, recipes, strict=True):
        if collect or (only is not None and cell.index not in only):
            continue
        _run_cell(cell, recipe, out / "cells" / cell.name, runner, result, on_cell)
    if only is None:
        _write_comparison(out, cells, recipe_path, grid, seeds, result)
    return result


def _run_cell(cell: Cell, recipe: Any, cell_dir: Path, runner: Runner, result: SweepResult,
              on_cell: CellHook | None) -> None:
    if is_finished(cell_dir):
        result.skipped.append(cell.name)
        if on_cell:
            on_cell(cell, "skipped", 0.0)
        return
    resume = (cell_dir / "metrics.jsonl").is_file()
    record = {**asdict(cell), "overrides": cell.overrides(), "status": "running", "resumed": resume,
              "started_at": _now(), "error": None}
    _write_cell(cell_dir, record)
    started = time.monotonic()
    try:
        runner(recipe, cell_dir, resume=resume)
    except KeyboardInterrupt:
        _write_cell(cell_dir, {**record, "status": "interrupted", "finished_at": _now()})
        raise
    except Exception as exc:  # noqa: BLE001 - a failing cell is recorded; the sweep goes on
        log.error("sweep cell %d (%s) failed: %s", cell.index, cell.name, exc, exc_info=True)
        _write_cell(cell_dir, {**record, "status": "failed", "error": f"{type(exc).__name__}: {exc}",
                               "traceback": traceback.format_exc()[-4000:], "finished_at": _now()})
        result.failed.append(cell.name)
        if on_cell:
            on_cell(cell, "failed", time.monotonic() - started)
        return
    _write_cell(cell_dir, {**record, "status": "finished", "finished_at": _now()})
    result.ran.append(cell.name)
    if on_cell:
        on_cell(cell, "finished", time.monotonic() - started)


def cell_outcomes(out: Path, cells: list[Cell]) -> list[Any]:
    """Each cell's status and flat metrics, read from its directory."""
    from polyreason.report.compare import CellOutcome
    from polyreason.report.runs import load_run, read_json, run_metrics

    outcomes = []
    for cell in cells:
        cell_dir = out / "cells" / cell.name
        record = read_json(cell_dir / "cell.json") or {}
        if is_finished(cell_dir):
            status, metrics = "finished", run_metrics(load_run(cell_dir, cell.name))
        else:
            status, metrics = ("failed" if record.get("status") == "failed" else "pending"), {}
        outcomes.append(CellOutcome(cell.name, cell.group, cell.settings, status, metrics, cell.seed,
                                    record.get("error") if status == "failed" else None))
    return outcomes


def _write_comparison(out: Path, cells: list[Cell], recipe_path: str | Path, grid: list[tuple[str, list[str]]],
                      seeds: list[int] | None, result: SweepResult) -> None:
    from polyreason.report.compare import compare, comparison_markdown

    result.cells = cell_outcomes(out, cells)
    result.failed = sorted({*result.failed, *(c.name for c in result.cells if c.status == "failed")},
                           key=[c.name for c in cells].index)
    if not _is_main():
        return
    table = compare(result.cells)
    payload = {"recipe": str(recipe_path), "grid": dict(grid), "seeds": seeds, **table,
               "cells": [asdict(c) for c in result.cells]}
    result.comparison_json = out / "comparison.json"
    result.comparison_md = out / "comparison.md"
    write_json(result.comparison_json, payload)
    title = f"Sweep of {Path(recipe_path).name}: " + (", ".join(k for k, _ in grid) or "seeds only")
    text = comparison_markdown(table, title)
    pending = [c.name for c in result.cells if c.status != "finished"]
    if pending:
        text += "\nNot finished: " + ", ".join(f"`{n}`" for n in pending) + "\n"
    write_text(out / "comparison.md", text)


def _is_main() -> bool:
    return os.environ.get("RANK", "0") == "0"


def _write_cell(cell_dir: Path, record: dict[str, Any]) -> None:
    if _is_main():
        cell_dir.mkdir(parents=True, exist_ok=True)
        write_json(cell_dir / "cell.json", record)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _describe(path: Path, obj: Any) -> None:
    """Write sweep.json unless it already says the same; array tasks of one sweep all try at once."""
    if path.is_file() and read_json(path) == json.loads(json.dumps(obj, default=str)):
        return
    try:
        write_json(path, obj)
    except OutputBusy:
        log.info("%s is being written by another task of this sweep; leaving it to that one", path)
