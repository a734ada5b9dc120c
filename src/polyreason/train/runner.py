"""Run a recipe's stages in order; each stage's outputs feed the stages after it.

What a stage does is its type's business (:mod:`polyreason.train.stages`, one module per type); this module
owns what every stage shares: order, directories, resolving ``{from: NAME}``, the model that flows from stage to
stage, cost metering, resume and the run's files.

Output directory layout::

    OUT/recipe.yaml           the fully resolved recipe
    OUT/metrics.jsonl         one record per logged training step: {stage, stage_type, step, time, loss, …}
    OUT/completions.jsonl     a sample of GRPO completions per logged step (prompt, completion, rewards, advantage)
    OUT/stages/<name>/        one directory per stage (<name>: its ``name:``, else <index>-<type>, e.g. 0-sft):
        checkpoint-<step>/    training stages: TRL checkpoints (model, optimizer, scheduler, RNG state), deleted
                              once the stage has finished (``keep_checkpoints: true`` keeps them)
        final/                training stages: the final model (the last model-writing stage: OUT/model)
        data.jsonl            data stages (synth, dedup, …): the rows they wrote
        summary.json …        eval stages: the evaluation run's files
        usage.json            wall time, device, peak memory, tokens generated (polyreason.report.cost)
        stage.json            the stage's outcome, written as its last act (the "finished" mark of data and
                              eval stages)
    OUT/model/                the run's final model (+ tokenizer): written by the last stage that writes a model
    OUT/summary.json          per-stage records (steps, time, last metrics, eval results, data counts), cost and
                              where the final model is; rewritten after every stage, so a killed run keeps the
                              record of the stages it finished (``finished`` is true once every stage is)

The model flows: a stage works on its ``model`` input when it has one (``{from: NAME}``, or a spec where its
type allows), else on the last model an earlier stage wrote (``model.spec`` before any).

Before the first stage runs, every data source a stage names yields its first row and each type's preflight
runs (eval: its benchmarks load), so a missing file fails then, not after an hour of SFT.  The output directory
is locked for the run (a second ``polyreason train`` on it stops at once, exit code 2); files are written
through :mod:`polyreason.files`.

Resume (``resume=True``): a stage its type calls finished (training: the final model is complete; the others:
``stage.json`` exists) is skipped and keeps its summary entry as it was; an interrupted stage continues as its
type says (training from its last checkpoint, generation from the rows it had written, evaluation from its
cache).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polyreason.config import Recipe, StageRef, dump_recipe
from polyreason.errors import UserError
from polyreason.files import ensure_dir, output_lock, read_jsonl, write_json, write_text
from polyreason.report import cost
from polyreason.train.stages import STAGE_TYPES, Source, StageContext, StageOutcome, data_source
from polyreason.train.stages.base import RECORD_FILE, return_freed_memory

log = logging.getLogger(__name__)

RewardFactory = Callable[[str, dict[str, Any]], Callable[..., Any]]
StageHook = Callable[[int, Any, str], None]


@dataclass
class StageResult:
    """What one stage produced."""

    index: int
    type: str
    model_dir: str | None  # the model the stage wrote (None: it writes none)
    steps: int
    runtime_s: float
    skipped: bool = False
    summary: dict[str, Any] = field(default_factory=dict)  # its record: trainer summary, eval results, counts…
    name: str = ""
    data: str | None = None  # the rows file it wrote


@dataclass
class RunResult:
    """What a whole run produced."""

    output_dir: str
    model_dir: str  # the final model: the last one a stage wrote (model.spec when none did)
    stages: list[StageResult]
    metrics_path: str
    runtime_s: float


@dataclass(frozen=True)
class _Plan:
    """Where each stage lives, fixed before anything runs."""

    names: list[str]
    directories: list[Path]
    model_targets: list[Path | None]


def _plan(recipe: Recipe, out: Path) -> _Plan:
    names = [stage.stage_name(i) for i, stage in enumerate(recipe.stages)]
    writers = [i for i, stage in enumerate(recipe.stages) if STAGE_TYPES[stage.type].produces_model]
    directories = [out / "stages" / name for name in names]
    targets: list[Path | None] = [None] * len(names)
    for i in writers:
        targets[i] = out / "model" if i == writers[-1] else directories[i] / "final"
    return _Plan(names, directories, targets)


def stage_dir(out: Path, index: int, recipe: Recipe) -> Path:
    """Stage ``index``'s directory: OUT/stages/<name>."""
    return out / "stages" / recipe.stages[index].stage_name(index)


def run_recipe(
    recipe: Recipe,
    output_dir: str | Path | None = None,
    *,
    resume: bool = False,
    reward_factory: RewardFactory | None = None,
    on_stage_end: StageHook | None = None,
) -> RunResult:
    """Run every stage of ``recipe`` and return where things went (see the module docstring).

    ``on_stage_end(index, stage, model)`` is called after each stage with the current model.
    """
    out = Path(output_dir or recipe.output_dir)
    check_trackers(recipe.tracking.report_to)
    with output_lock(out, directory=True, hold=is_main_process()):
        return _run_recipe(recipe, out, resume, reward_factory, on_stage_end)


def is_main_process() -> bool:
    """Rank 0 of a distributed launch (torchrun/accelerate set RANK), or a plain run: the run-file writer."""
    return os.environ.get("RANK", "0") == "0"


def _run_recipe(recipe: Recipe, out: Path, resume: bool, reward_factory: RewardFactory | None,
                on_stage_end: StageHook | None) -> RunResult:
    _prepare_output(out, recipe, resume)
    plan = _plan(recipe, out)
    previous = _previous_stages(out) if resume else {}
    done: dict[int, StageOutcome] = {}
    for i, stage in enumerate(recipe.stages):
        found = STAGE_TYPES[stage.type].finished(plan.directories[i], plan.model_targets[i]) if resume else None
        if found is not None:
            if found.data:  # the run directory may have moved since: the rows are where the stage writes them
                found.data = str(plan.directories[i] / Path(found.data).name)
            done[i] = found
    todo = [i for i in range(len(recipe.stages)) if i not in done]
    check_data_sources(recipe, todo)
    for i in todo:
        STAGE_TYPES[recipe.stages[i].type].preflight(recipe, i)
    metrics_path = out / "metrics.jsonl"
    if is_main_process() and not metrics_path.exists():  # marks the directory as a run (sweeps resume those)
        write_text(metrics_path, "")
    start = time.monotonic()
    model = recipe.model.spec
    outcomes: dict[str, StageOutcome] = {}
    results: list[StageResult] = []
    for index, stage in enumerate(recipe.stages):
        name = plan.names[index]
        if index in done:
            log.info("stage %d (%s) already finished: %s", index, name, plan.directories[index])
            outcome = done[index]
            results.append(_result(index, stage, name, outcome, 0.0, skipped=True, record=previous.get(index)))
        else:
            ctx = _context(recipe, index, plan, out, outcomes, model, resume, reward_factory)
            outcome, wall = _run_stage(ctx)
            results.append(_result(index, stage, name, outcome, wall))
            return_freed_memory()  # the next stage (or the caller's evaluation) loads onto a trimmed heap
        outcomes[name] = outcome
        model = outcome.model_dir or model
        result = RunResult(str(out), model, results, str(metrics_path), time.monotonic() - start)
        if is_main_process():
            write_json(out / "summary.json", _summary(recipe, result, previous))
        if on_stage_end is not None:
            on_stage_end(index, stage, model)
    return result


def _context(recipe: Recipe, index: int, plan: _Plan, out: Path, outcomes: dict[str, StageOutcome],
             model: str, resume: bool, reward_factory: RewardFactory | None) -> StageContext:
    """Stage ``index``'s inputs resolved: ``{from: NAME}`` → that stage's model directory or rows file."""
    stage = recipe.stages[index]
    wanted = getattr(stage, "model", None)
    if isinstance(wanted, StageRef):
        model = outcomes[wanted.stage].model_dir or model
    elif isinstance(wanted, str):
        model = wanted
    data: Source | None = None
    ref = getattr(stage, "data", None)
    if isinstance(ref, StageRef):
        data = Source(str(outcomes[ref.stage].data), produced_by=ref.stage)
    elif STAGE_TYPES[stage.type].data is not None:
        data = Source(str(data_source(recipe, index)))
    return StageContext(recipe=recipe, index=index, settings=stage, name=plan.names[index], run_dir=out,
                        directory=plan.directories[index], model=model, data=data,
                        model_target=plan.model_targets[index], resume=resume, reward_factory=reward_factory)


def stage_context(recipe: Recipe, index: int, output_dir: str | Path, *, resume: bool = False) -> StageContext:
    """Stage ``index``'s context as a run would build it, without running anything before it (tools, tests:
    e.g. a stage type's ``build_trainer``).  Its ``{from: NAME}`` inputs are resolved to where those stages write."""
    out = Path(output_dir)
    plan = _plan(recipe, out)
    outcomes = {name: StageOutcome(model_dir=str(target) if target else None, data=str(directory / "data.jsonl"))
                for name, directory, target in zip(plan.names, plan.directories, plan.model_targets, strict=True)}
    return _context(recipe, index, plan, out, outcomes, recipe.model.spec, resume, None)


def _run_stage(ctx: StageContext) -> tuple[StageOutcome, float]:
    """Run one stage, metered; write its usage.json and stage.json.  Returns the outcome and its wall time.

    Under a distributed launch every process trains together, but the other stage types run in the main
    process only; the others wait for its ``stage.json`` and read the outcome from it.
    """
    ctx.directory.mkdir(parents=True, exist_ok=True)
    if not is_main_process() and not STAGE_TYPES[ctx.settings.type].trains:
        return _wait_for_main(ctx), 0.0
    log.info("stage %d (%s): %s", ctx.index, ctx.name, STAGE_TYPES[ctx.settings.type].about)
    meter = cost.StageMeter.start(device_count=ctx.recipe.cost.device_count)
    outcome = STAGE_TYPES[ctx.settings.type].run(ctx)
    usage = meter.finish()
    if outcome.tokens_generated is not None:
        usage["tokens_generated"] = outcome.tokens_generated
    if is_main_process():
        write_json(ctx.directory / cost.USAGE_FILE, usage)
        write_json(ctx.directory / RECORD_FILE, outcome.to_json())
        if not getattr(ctx.settings, "keep_checkpoints", True):  # a training stage (the others have no such key)
            _drop_checkpoints(ctx.directory)
    return outcome, float(usage["wall_s"])


def _drop_checkpoints(directory: Path) -> None:
    """Delete a finished training stage's checkpoint-N directories: with its final model and stage.json written,
    resume skips the stage and never reads them."""
    import shutil

    for checkpoint in directory.glob("checkpoint-*"):
        if checkpoint.is_dir():
            shutil.rmtree(checkpoint, ignore_errors=True)


def _wait_for_main(ctx: StageContext, poll_s: float = 2.0) -> StageOutcome:
    """The outcome the main process records for a stage it runs alone (an unfinished stage has no
    stage.json: a finished one is skipped before it runs)."""
    from polyreason.train.stages.base import recorded_outcome

    while (outcome := recorded_outcome(ctx.directory)) is None:
        time.sleep(poll_s)
    return outcome


def _result(index: int, stage: Any, name: str, outcome: StageOutcome, wall: float, *, skipped: bool = False,
            record: dict[str, Any] | None = None) -> StageResult:
    """A StageResult; for a skipped stage, steps and time come from the summary an earlier attempt wrote."""
    steps, runtime = outcome.steps, outcome.runtime_s if outcome.runtime_s is not None else wall
    if skipped:
        runtime = float((record or {}).get("runtime_s") or outcome.runtime_s or 0.0)
        steps = int((record or {}).get("steps") or steps)
    return StageResult(index, stage.type, outcome.model_dir, steps, runtime, skipped=skipped,
                       summary=dict(outcome.record), name=name, data=outcome.data)


def check_data_sources(recipe: Recipe, stages: list[int]) -> None:
    """Read the first row of every data source the given stages name (UserError if one cannot be read).

    Rows an earlier stage will write (``{from: NAME}``) are not checked: they do not exist yet.
    """
    from polyreason.data import load_rows

    seen: set[tuple[str, str]] = set()
    for index in stages:
        source = data_source(recipe, index)
        if source is None:
            continue
        kind = STAGE_TYPES[recipe.stages[index].type].data.kind
        if (source, kind) in seen:
            continue
        seen.add((source, kind))
        rows = load_rows(source, split=recipe.data.split, column_map=recipe.data.column_map or None, kind=kind,
                         language=recipe.language, limit=1)
        try:
            next(iter(rows), None)
        finally:
            rows.close()


def _previous_stages(out: Path) -> dict[int, dict[str, Any]]:
    """The stage records of an earlier attempt's summary.json, by index (empty when there is none)."""
    path = out / "summary.json"
    try:
        stages = json.loads(path.read_text(encoding="utf-8")).get("stages", [])
    except (OSError, ValueError, AttributeError):
        return {}
    return {s["index"]: s for s in stages if isinstance(s, dict) and isinstance(s.get("index"), int)}


_TRACKER_MODULES = {"wandb": ("wandb",), "trackio": ("trackio",), "tensorboard": ("tensorboard", "tensorboardX")}


def check_trackers(report_to: list[str]) -> None:
    """Fail before any model loads when a requested tracker is not installed."""
    import importlib.util

    for name in report_to:
        modules = _TRACKER_MODULES.get(name, ())
        if modules and not any(importlib.util.find_spec(m) for m in modules):
            raise UserError(
                f"tracking.report_to asks for {name}, which is not installed; fix: `pip install {modules[0]}`, "
                "or --set tracking.report_to=[none]"
            )


def _prepare_output(out: Path, recipe: Recipe, resume: bool) -> None:
    # Only the main process decides: it marks the directory as a run (metrics.jsonl) as soon as it starts, so
    # another rank checking after it would refuse the run the main process has just begun.
    if is_main_process() and not resume and ((out / "metrics.jsonl").exists() or (out / "summary.json").exists()):
        raise UserError(
            f"output directory {str(out)!r} already holds a run; fix: pass --resume to continue it, or choose "
            "another -o/--output"
        )
    ensure_dir(out)
    if not is_main_process():
        return
    text = dump_recipe(recipe)
    saved = out / "recipe.yaml"
    if resume and saved.exists() and saved.read_text(encoding="utf-8") != text:
        log.warning("resuming with a recipe that differs from %s; the new one is saved", saved)
    write_text(saved, text)


def _summary(recipe: Recipe, result: RunResult, previous: dict[int, dict[str, Any]] | None = None) -> dict[str, Any]:
    records = list(read_jsonl(result.metrics_path, tolerant=True))
    stages = []
    for st in result.stages:
        if st.skipped and previous and st.index in previous:
            stages.append(previous[st.index])  # finished by an earlier attempt: its record as it was
            continue
        last = [r for r in records if r.get("stage") == st.index]
        stages.append({"index": st.index, "name": st.name, "type": st.type, "model_dir": st.model_dir,
                       "data": st.data, "steps": st.steps, "runtime_s": round(st.runtime_s, 2),
                       "skipped": st.skipped, "logged_steps": len(last), "last_metrics": last[-1] if last else None,
                       **st.summary})
    out = Path(result.output_dir)
    usages = [cost.read_usage(stage_dir(out, st.index, recipe) / cost.USAGE_FILE) for st in result.stages]
    return {"name": recipe.name, "finished": len(result.stages) == len(recipe.stages), "model_dir": result.model_dir,
            "output_dir": result.output_dir, "metrics": result.metrics_path, "runtime_s": round(result.runtime_s, 2),
            "stages": stages, "cost": cost.train_cost(recipe, usages, records, [st.index for st in result.stages])}
