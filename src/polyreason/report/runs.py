"""Read what a run left on disk, and flatten its headline numbers for comparison tables.

Three kinds of directory are understood:

* a **train run** (``polyreason train``/``quickstart``/a sweep cell): ``metrics.jsonl``, ``summary.json``
  (with ``cost``), ``recipe.yaml``, optionally ``quickstart.json`` (held-out before/after scores) and
  evaluation results: ``eval/**/summary.json`` below the run, or summary stages that carry ``benchmarks``;
* an **eval run** (``polyreason eval -o DIR``): ``summary.json`` with ``benchmarks`` and ``run_info.json``
  (with ``cost``);
* a **sweep** (``polyreason sweep -o DIR``): ``sweep.json`` and one train run per cell under ``cells/``.

Everything is optional: a missing or torn file leaves its field empty, and the report says so.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polyreason.errors import UserError

log = logging.getLogger(__name__)

SWEEP_FILE = "sweep.json"
CELL_FILE = "cell.json"


@dataclass
class RunData:
    """One run directory's contents (fields are empty when the file is absent)."""

    path: Path
    name: str
    kind: str  # "train" | "eval"
    summary: dict[str, Any] | None = None
    records: list[dict[str, Any]] = field(default_factory=list)
    recipe: dict[str, Any] | None = None
    quickstart: dict[str, Any] | None = None
    evals: dict[str, dict[str, Any]] = field(default_factory=dict)  # label → eval summary (with benchmarks)
    cost: dict[str, Any] | None = None
    cell: dict[str, Any] | None = None  # sweep cell record (settings, seed, status)

    @property
    def group(self) -> str:
        """The sweep setting this run belongs to (its name outside a sweep)."""
        return (self.cell or {}).get("group") or self.name

    def stage_types(self) -> list[tuple[int, str]]:
        """(index, type) of each training stage, from the summary, else from the logged records."""
        if self.summary and self.summary.get("stages"):
            return [(int(s["index"]), str(s["type"])) for s in self.summary["stages"] if "index" in s]
        seen: dict[int, str] = {}
        for r in self.records:
            seen.setdefault(int(r.get("stage", 0)), str(r.get("stage_type", "train")))
        return sorted(seen.items())


def read_json(path: Path) -> Any:
    """Parsed JSON, or None when missing or unreadable (logged)."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        log.warning("%s: unreadable (%s); skipped", path, exc)
        return None


def _read_yaml(path: Path) -> dict[str, Any] | None:
    import yaml

    if not path.is_file():
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return None
    return data if isinstance(data, dict) else None


def is_sweep(path: Path) -> bool:
    return (path / SWEEP_FILE).is_file()


def load_run(path: str | Path, name: str | None = None) -> RunData:
    """Read a train or eval run directory; :class:`UserError` when it holds neither."""
    from polyreason.files import read_jsonl

    path = Path(path)
    if not path.is_dir():
        raise UserError(f"{str(path)!r} is not a directory; fix: pass a run directory (polyreason train -o DIR)")
    summary = read_json(path / "summary.json")
    records = list(read_jsonl(path / "metrics.jsonl", tolerant=True))
    if isinstance(summary, dict) and "benchmarks" in summary and not records:
        info = read_json(path / "run_info.json") or {}
        return RunData(path, name or path.name, "eval", summary=summary, evals={"eval": summary},
                       cost=info.get("cost"))
    if summary is None and not records:
        raise UserError(
            f"{str(path)!r} holds no run (no summary.json or metrics.jsonl); fix: pass the --output-dir of a "
            "train, eval or sweep run"
        )
    run = RunData(path, name or path.name, "train", summary=summary if isinstance(summary, dict) else None,
                  records=records, recipe=_read_yaml(path / "recipe.yaml"),
                  quickstart=read_json(path / "quickstart.json"), cell=read_json(path / CELL_FILE))
    run.cost = (run.summary or {}).get("cost")
    run.evals = _evals_of(path, run.summary)
    return run


def _evals_of(path: Path, summary: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for stage in (summary or {}).get("stages", []):
        results = stage.get("eval") if isinstance(stage.get("eval"), dict) else stage
        if isinstance(results, dict) and isinstance(results.get("benchmarks"), dict):
            out[stage.get("name") or f"{stage.get('index')}-{stage.get('type', 'eval')}"] = results
    for found in sorted((path / "eval").glob("**/summary.json")) if (path / "eval").is_dir() else []:
        data = read_json(found)
        if isinstance(data, dict) and isinstance(data.get("benchmarks"), dict):
            out[str(found.parent.relative_to(path))] = data
    return out


def load_inputs(paths: list[str | Path]) -> tuple[list[RunData], list[dict[str, Any]]]:
    """Runs named on the command line, sweeps expanded into their cells; plus the sweep plans found."""
    runs: list[RunData] = []
    sweeps: list[dict[str, Any]] = []
    for raw in paths:
        path = Path(raw)
        if is_sweep(path):
            plan = read_json(path / SWEEP_FILE) or {}
            sweeps.append({**plan, "path": str(path)})
            for cell in plan.get("cells", []):
                cell_dir = path / "cells" / cell["name"]
                if (cell_dir / "metrics.jsonl").is_file() or (cell_dir / "summary.json").is_file():
                    runs.append(load_run(cell_dir, cell["name"]))
        else:
            runs.append(load_run(path))
    names = [r.name for r in runs]
    for run in runs:  # two runs named alike (run/ in two places): use the longer path
        if names.count(run.name) > 1:
            run.name = str(run.path)
    return runs, sweeps


# ------------------------------------------------------------------------------------------------ metrics

# (metric in metrics.jsonl, aggregation) per stage type, in table order.
STAGE_METRICS: dict[str, list[tuple[str, str]]] = {
    "grpo": [("reward", "last"), ("reward", "mean"), ("frac_reward_zero_std", "mean"),
             ("completions/mean_length", "last"), ("completions/clipped_ratio", "mean"), ("kl", "last"),
             ("entropy", "last")],
    "sft": [("loss", "last"), ("mean_token_accuracy", "last")],
}
COST_METRICS = [("wall_s", "wall hours", 1 / 3600), ("device_hours", "device-hours", 1.0),
                ("cost_estimate", "estimate", 1.0), ("tokens_trained", "tokens trained", 1.0),
                ("tokens_generated", "tokens generated", 1.0), ("peak_rss_mb", "peak RSS MiB", 1.0)]


def _values(records: list[dict[str, Any]], key: str) -> list[float]:
    return [float(r[key]) for r in records if isinstance(r.get(key), int | float)]


def run_metrics(run: RunData) -> dict[str, float]:
    """Flat headline numbers of a run: ``"1-grpo reward (last)"``, ``"eval math500 pass@1"``, ``"cost …"``.

    Training metrics come from metrics.jsonl (last logged value, or the mean over the stage's logged steps),
    held-out scores from quickstart.json, eval scores from the run's eval summaries, cost from the summary.
    """
    out: dict[str, float] = {}
    for index, stype in run.stage_types():
        rows = [r for r in run.records if int(r.get("stage", 0)) == index]
        for key, agg in STAGE_METRICS.get(stype, []):
            values = _values(rows, key)
            if values:
                out[f"{index}-{stype} {key} ({agg})"] = values[-1] if agg == "last" else sum(values) / len(values)
    for score in (run.quickstart or {}).get("scores", []):
        for key in ("accuracy", "format"):
            if isinstance(score.get(key), int | float):
                out[f"heldout {score.get('label')} {key}"] = float(score[key])
    for label, summary in run.evals.items():
        # "eval" (an eval run), "eval/<name>" (results under the run: "eval <name>"), a stage's name ("<i>-eval")
        prefix = "eval " + label[5:] if label.startswith("eval/") else label
        for bench, result in summary.get("benchmarks", {}).items():
            if isinstance(result.get("pass@1"), int | float):
                out[f"{prefix} {bench} pass@1"] = float(result["pass@1"])
            compliance = (result.get("language_metrics") or {}).get("reasoning_compliance")
            if result.get("language") not in (None, "en") and isinstance(compliance, int | float):
                out[f"{prefix} {bench} reasoning in {result['language']}"] = float(compliance)
    total = (run.cost or {}).get("total", {})
    for key, label, scale in COST_METRICS:
        if isinstance(total.get(key), int | float):
            out[f"cost {label}"] = float(total[key]) * scale
    return out
