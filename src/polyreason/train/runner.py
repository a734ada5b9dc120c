"""Run a recipe's stages in order; each stage's final model feeds the next.

Output directory layout::

    OUT/recipe.yaml           the fully resolved recipe
    OUT/metrics.jsonl         one record per logged step: {stage, stage_type, step, time, loss, learning_rate, …}
    OUT/completions.jsonl     a sample of GRPO completions per logged step (prompt, completion, rewards, advantage)
    OUT/stages/<i>-<type>/    the stage's TRL output: checkpoint-<step>/ (model, optimizer, scheduler, RNG state)
    OUT/stages/<i>-<type>/final/   the stage's final model (the last stage writes OUT/model/ instead)
    OUT/model/                the run's final model (+ tokenizer)
    OUT/stages/<i>-<type>/usage.json   the stage's wall time, device, peak memory (polyreason.report.cost)
    OUT/summary.json          per-stage runtime, steps, last metrics, cost; where the final model is (rewritten
                              after every stage, so a killed run keeps the record of the stages it finished;
                              ``finished`` is true once every stage is)

Before the first stage runs, every stage's data source yields its first row (a missing file or an unreachable
hub dataset fails then, not after an hour of SFT).  The output directory is locked for the run (a second
``polyreason train`` on it stops at once, exit code 2); files are written through :mod:`polyreason.files`.

Resume (``resume=True``): finished stages (final model present) are skipped and keep their summary entry as it
was; the interrupted stage restarts from its last checkpoint, and metrics/completions logged after that
checkpoint are dropped first, so the files end with no duplicated and no missing steps.  A checkpoint at the
stage's last step (a kill during the final save) is not trained further: its model is saved as the final one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polyreason.config import GRPOStage, Recipe, SFTStage, dump_recipe
from polyreason.errors import UserError
from polyreason.files import ensure_dir, output_lock, read_jsonl, write_json, write_text
from polyreason.report import cost
from polyreason.train import args as targs
from polyreason.train.callbacks import CheckpointIsFinal, make_callbacks, truncate_jsonl
from polyreason.train.datasets import grpo_records, sft_records, to_dataset

log = logging.getLogger(__name__)

RewardFactory = Callable[[str, dict[str, Any]], Callable[..., Any]]
StageHook = Callable[[int, Any, str], None]


@dataclass
class StageResult:
    """What one stage produced."""

    index: int
    type: str
    model_dir: str
    steps: int
    runtime_s: float
    skipped: bool = False
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunResult:
    """What a whole run produced."""

    output_dir: str
    model_dir: str
    stages: list[StageResult]
    metrics_path: str
    runtime_s: float


def stage_dir(out: Path, index: int, stage: SFTStage | GRPOStage) -> Path:
    return out / "stages" / f"{index}-{stage.type}"


def final_dir(out: Path, index: int, recipe: Recipe) -> Path:
    """Where stage ``index`` saves its final model (the last stage: OUT/model)."""
    if index == len(recipe.stages) - 1:
        return out / "model"
    return stage_dir(out, index, recipe.stages[index]) / "final"


def last_checkpoint(directory: Path) -> Path | None:
    """The highest-numbered complete ``checkpoint-N`` directory (one with trainer_state.json), if any."""
    best: tuple[int, Path] | None = None
    for child in directory.glob("checkpoint-*"):
        suffix = child.name.rsplit("-", 1)[-1]
        if suffix.isdigit() and (child / "trainer_state.json").is_file():
            if best is None or int(suffix) > best[0]:
                best = (int(suffix), child)
    return best[1] if best else None


def run_recipe(
    recipe: Recipe,
    output_dir: str | Path | None = None,
    *,
    resume: bool = False,
    reward_factory: RewardFactory | None = None,
    on_stage_end: StageHook | None = None,
) -> RunResult:
    """Run every stage of ``recipe`` and return where things went (see the module docstring)."""
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
    previous = _previous_stages(out) if resume else {}
    todo = [i for i in range(len(recipe.stages)) if not (resume and _is_complete(final_dir(out, i, recipe)))]
    check_data_sources(recipe, todo)
    metrics_path = out / "metrics.jsonl"
    start = time.monotonic()
    model_spec = recipe.model.spec
    results: list[StageResult] = []
    for index, stage in enumerate(recipe.stages):
        target = final_dir(out, index, recipe)
        if index not in todo:
            log.info("stage %d (%s) already finished: %s", index, stage.type, target)
            results.append(_finished_stage(out, index, stage, target, previous.get(index)))
        else:
            results.append(
                _run_stage(recipe, index, stage, model_spec, out, resume=resume, reward_factory=reward_factory)
            )
        model_spec = str(target)
        result = RunResult(str(out), model_spec, results, str(metrics_path), time.monotonic() - start)
        if is_main_process():
            write_json(out / "summary.json", _summary(recipe, result, previous))
        if on_stage_end is not None:
            on_stage_end(index, stage, model_spec)
    return result


def check_data_sources(recipe: Recipe, stages: list[int]) -> None:
    """Read the first row of every data source the given stages use (UserError if one cannot be read)."""
    from polyreason.data import load_rows

    seen: set[tuple[str, str]] = set()
    for index in stages:
        stage = recipe.stages[index]
        source, kind = (sft_source(recipe, stage), "sft") if isinstance(stage, SFTStage) else (recipe.data.train, "rl")
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


def _finished_stage(out: Path, index: int, stage: SFTStage | GRPOStage, target: Path,
                    record: dict[str, Any] | None) -> StageResult:
    """A stage an earlier attempt finished: its recorded steps and time (else the steps of its last checkpoint)."""
    if record is not None:
        return StageResult(index, stage.type, str(target), int(record.get("steps") or 0),
                           float(record.get("runtime_s") or 0.0), skipped=True,
                           summary=dict(record.get("trainer_summary") or {}))
    checkpoint = last_checkpoint(stage_dir(out, index, stage))
    steps = int(checkpoint.name.rsplit("-", 1)[-1]) if checkpoint else 0
    return StageResult(index, stage.type, str(target), steps, 0.0, skipped=True)


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
    if not resume and (out / "metrics.jsonl").exists():
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


def _is_complete(directory: Path) -> bool:
    return (directory / "config.json").is_file() or (directory / "adapter_config.json").is_file()


def _run_stage(
    recipe: Recipe,
    index: int,
    stage: SFTStage | GRPOStage,
    model_spec: str,
    out: Path,
    *,
    resume: bool,
    reward_factory: RewardFactory | None,
) -> StageResult:
    sdir = stage_dir(out, index, stage)
    sdir.mkdir(parents=True, exist_ok=True)
    checkpoint = last_checkpoint(sdir) if resume else None
    if not is_main_process():
        pass  # only rank 0 writes (and so trims) the run's log files
    elif checkpoint is not None:
        step = int(checkpoint.name.rsplit("-", 1)[-1])
        truncate_jsonl(out / "metrics.jsonl", index, step)
        truncate_jsonl(out / "completions.jsonl", index, step)
        log.info("stage %d (%s): resuming from %s", index, stage.type, checkpoint)
    else:
        # a fresh start of this stage: forget whatever a killed earlier attempt logged for it
        truncate_jsonl(out / "metrics.jsonl", index, -1)
        truncate_jsonl(out / "completions.jsonl", index, -1)
    meter = cost.StageMeter.start(device_count=recipe.cost.device_count)
    model, tokenizer = load_for_training(recipe, model_spec)
    if stage.trainable_layers is not None:
        from polyreason.train.freeze import train_top_layers

        train_top_layers(model, stage.trainable_layers)
    if isinstance(stage, SFTStage):
        trainer = _sft_trainer(recipe, index, stage, model, tokenizer, sdir)
    else:
        trainer = _grpo_trainer(recipe, index, stage, model, tokenizer, sdir, out, reward_factory)
    callbacks = make_callbacks(out / "metrics.jsonl", index, stage.type)
    heldout = _heldout_callback(recipe, index, stage, out / "metrics.jsonl")
    _install_callbacks(trainer, callbacks + ([heldout] if heldout is not None else []))
    started = time.monotonic()
    try:
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    except CheckpointIsFinal:  # killed during the final save: the checkpoint holds the trained model
        log.info("stage %d (%s): %s is the last step; saving its model without training", index, stage.type,
                 checkpoint)
    runtime = time.monotonic() - started
    target = final_dir(out, index, recipe)
    save_final(trainer, tokenizer, target)
    meter.finish(sdir / cost.USAGE_FILE)
    summary = dict(callbacks[0].summary)
    return StageResult(index, stage.type, str(target), trainer.state.global_step, runtime, summary=summary)


def _heldout_callback(recipe: Recipe, index: int, stage: SFTStage | GRPOStage, metrics_path: Path) -> Any:
    """The periodic held-out evaluation of ``tracking.heldout`` for this stage, or None."""
    cfg = recipe.tracking.heldout
    if cfg is None or stage.type not in cfg.stages:
        return None
    from polyreason.data import load_rows
    from polyreason.train.heldout import make_heldout_callback

    problems = list(load_rows(cfg.source or recipe.data.train, split=cfg.split, kind="rl",
                              language=recipe.language, limit=cfg.problems))
    if not problems:
        raise UserError(f"tracking.heldout: no problems in split {cfg.split!r} of {cfg.source or recipe.data.train}; "
                        "fix: set tracking.heldout.source/split to a source with held-out rows")
    max_new = cfg.max_new_tokens or getattr(stage, "max_completion_length", None) or 64
    rewards = recipe.stage_rewards(stage) if isinstance(stage, GRPOStage) else recipe.rewards

    def on_record(step: int, values: dict[str, Any]) -> None:
        record = {"stage": index, "stage_type": stage.type, "step": step, "time": time.time(), **values}
        with metrics_path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
        log.info("stage %d step %d: held-out accuracy %.3f (%d problems)", index, step,
                 values["heldout/accuracy"], values["heldout/n"])

    return make_heldout_callback(
        problems, every=cfg.every, at_start=cfg.at_start, max_new_tokens=max_new,
        reward_weights={name: spec.weight for name, spec in rewards.items()},
        reward_params={name: dict(spec.params) for name, spec in rewards.items()},
        on_record=on_record, system_prompt=recipe.data.system_prompt,
    )


def _install_callbacks(trainer: Any, callbacks: list[Any]) -> None:
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)  # it prints raw log dicts to stdout
    trainer.remove_callback(ProgressCallback)
    for cb in callbacks:
        trainer.add_callback(cb)


def load_for_training(recipe: Recipe, spec: str) -> tuple[Any, Any]:
    """Model (not moved: the Trainer places it) and tokenizer for a stage."""
    from transformers import AutoModelForCausalLM

    from polyreason.models import load_tokenizer, loading_errors, resolve_dtype, resolve_model_path

    path = resolve_model_path(spec)
    kwargs: dict[str, Any] = {"dtype": resolve_dtype(recipe.model.dtype),
                              "trust_remote_code": recipe.model.trust_remote_code}
    if recipe.model.attn_implementation:
        kwargs["attn_implementation"] = recipe.model.attn_implementation
    with loading_errors(spec):
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    tokenizer = load_tokenizer(spec, trust_remote_code=recipe.model.trust_remote_code)
    return model, tokenizer


def _peft_config(stage: SFTStage | GRPOStage) -> Any:
    if stage.lora is None:
        return None
    from peft import LoraConfig

    lora = stage.lora
    return LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                      target_modules=lora.target_modules, task_type="CAUSAL_LM")


def _load_rows(source: str, recipe: Recipe, kind: str) -> list[dict[str, Any]]:
    from polyreason.data import load_rows

    return list(load_rows(source, split=recipe.data.split, column_map=recipe.data.column_map or None, kind=kind,
                          language=recipe.language, limit=recipe.data.limit))


def sft_source(recipe: Recipe, stage: SFTStage) -> str:
    """The SFT data source: the stage's, else data.sft, else synthetic traces in the recipe's language."""
    return stage.data or recipe.data.sft or f"synthetic:256:{recipe.language}"


def _sft_trainer(recipe: Recipe, index: int, stage: SFTStage, model: Any, tokenizer: Any, sdir: Path) -> Any:
    from trl import SFTTrainer

    rows = _load_rows(sft_source(recipe, stage), recipe, "sft")
    dataset = to_dataset(sft_records(rows, tokenizer, system_prompt=recipe.data.system_prompt,
                                     language=recipe.language))
    config = targs.build_sft_config(recipe, stage, str(sdir))
    if stage.packing:  # packed samples are kept apart by position ids; the attention must honour them
        model.set_attn_implementation(targs.packing_attention(recipe, model.dtype))
    tokenizer.padding_side = "right"  # training pads on the right; generation (GRPO, eval) on the left
    trainer = SFTTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer,
                         peft_config=_peft_config(stage))
    _check_world(trainer)
    return trainer


def _check_world(trainer: Any) -> None:
    """Refuse launches where accelerate silently ignored the requested parallelism.

    Two real cases (accelerate 1.15): without GPUs, FSDP and DeepSpeed configs are not enabled (its
    AcceleratorState switches to FSDP only from the GPU-like multi-device types, and DeepSpeed is skipped on
    CPU), so N launched processes either train as N independent single processes that each write the model, or
    as plain DDP while the config promised sharding.
    """
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if launched > 1 and trainer.accelerator.num_processes == 1:
        raise UserError(
            f"launched as {launched} processes, but the trainer runs as 1 (accelerate found no distributed "
            "backend: no GPUs, and the process was not told to use the CPU); every process would train alone and "
            "write the model; fix: on CPU set ACCELERATE_USE_CPU=true (gloo), or launch one process"
        )
    for env, enabled, name in (("ACCELERATE_USE_FSDP", trainer.is_fsdp_enabled, "FSDP"),
                               ("ACCELERATE_USE_DEEPSPEED", trainer.is_deepspeed_enabled, "DeepSpeed")):
        if os.environ.get(env, "false").lower() == "true" and not enabled:
            raise UserError(
                f"the accelerate config asks for {name}, but accelerate did not enable it (it needs GPUs; on CPU "
                f"it would run unsharded DDP instead); fix: use a GPU machine, or a config with distributed_type "
                "MULTI_GPU plus ACCELERATE_USE_CPU=true for plain data-parallel on CPU"
            )


def build_reward_funcs(
    rewards: dict[str, Any], reward_factory: RewardFactory | None = None, max_completion_length: int | None = None
) -> tuple[list[Any], list[float]]:
    """One TRL reward callable per recipe reward and the matching weights, built as
    :func:`polyreason.rewards.suite.suite_from_specs` says (``polyreason score --recipe`` builds the same)."""
    from polyreason.rewards import build_reward, suite_from_specs

    if reward_factory is None:

        def reward_factory(name: str, params: dict[str, Any]) -> Any:
            return build_reward(name, **params)

    weights, params = suite_from_specs(rewards, max_completion_length)
    return [reward_factory(name, params[name]) for name in weights], list(weights.values())


def _grpo_trainer(
    recipe: Recipe,
    index: int,
    stage: GRPOStage,
    model: Any,
    tokenizer: Any,
    sdir: Path,
    out: Path,
    reward_factory: RewardFactory | None,
) -> Any:
    from polyreason.train.dynamic import make_trainer_class

    funcs, weights = build_reward_funcs(recipe.stage_rewards(stage), reward_factory, stage.max_completion_length)
    rows = _load_rows(recipe.data.train, recipe, "rl")
    dataset = to_dataset(grpo_records(rows, tokenizer, max_prompt_length=stage.max_prompt_length,
                                      system_prompt=recipe.data.system_prompt, language=recipe.language))
    config = targs.build_grpo_config(recipe, stage, str(sdir), weights)
    trainer_cls = make_trainer_class()
    trainer = trainer_cls(
        model=model,
        reward_funcs=funcs,
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=_peft_config(stage),
        dynamic_sampling=bool(stage.dynamic_sampling),
        dynamic_sampling_max_rounds=stage.dynamic_sampling_max_rounds,
        completions_path=str(out / "completions.jsonl") if recipe.tracking.log_completions else None,
        completions_meta={"stage": index},
    )
    _check_world(trainer)
    return trainer


def save_final(trainer: Any, tokenizer: Any, target: Path) -> None:
    """Save the trained model and tokenizer to ``target`` through the trainer, written once, atomically.

    Every process calls this: ``trainer.save_model`` gathers the full state dict (FSDP: switched to
    FULL_STATE_DICT for this save; DeepSpeed ZeRO-3: its 16-bit consolidation) and only the main process writes,
    into ``target.tmp``, which is renamed to ``target`` when complete.  LoRA adapters are merged into the base
    weights (from the gathered adapter, so it works when parameters are sharded).  With ``push_to_hub`` the final
    model is uploaded to ``hub_model_id`` too.
    """
    acc = trainer.accelerator
    tmp = target.with_name(target.name + ".tmp")
    if acc.is_main_process and tmp.exists():
        shutil.rmtree(tmp)
    # training pads on the right; generation (GRPO, eval) on the left.  init_kwargs is what save_pretrained
    # writes to tokenizer_config.json: without it the saved tokenizer reloads with transformers' default (right).
    tokenizer.padding_side = tokenizer.init_kwargs["padding_side"] = "left"
    acc.wait_for_everyone()
    with _full_state_dict(trainer):
        trainer.save_model(str(tmp), _internal_call=True)  # collective; writes on the main process only
    if acc.is_main_process:
        if (tmp / "adapter_config.json").is_file():
            _merge_adapter(trainer, tmp)
        tokenizer.save_pretrained(tmp)
        _check_saved(tmp)
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
        log.info("final model written to %s by process 0 of %d", target, acc.num_processes)
        if trainer.args.push_to_hub:
            _push_final(trainer, target)
    acc.wait_for_everyone()


@contextlib.contextmanager
def _full_state_dict(trainer: Any) -> Any:
    """Under FSDP, make ``save_model`` gather a full state dict (it writes nothing for SHARDED_STATE_DICT)."""
    plugin = getattr(trainer.accelerator.state, "fsdp_plugin", None) if trainer.is_fsdp_enabled else None
    if plugin is None:
        yield
        return
    before = plugin.state_dict_type
    plugin.set_state_dict_type("FULL_STATE_DICT")
    try:
        yield
    finally:
        plugin.set_state_dict_type(before)


def _merge_adapter(trainer: Any, directory: Path) -> None:
    """Replace the adapter ``save_model`` wrote in ``directory`` by base weights with the adapter merged in."""
    from peft import PeftModel

    unwrapped = trainer.accelerator.unwrap_model(trainer.model)
    base_model = unwrapped.get_base_model()
    base_path = unwrapped.peft_config["default"].base_model_name_or_path
    base = type(base_model).from_pretrained(base_path, dtype=base_model.dtype)
    merged = PeftModel.from_pretrained(base, str(directory)).merge_and_unload()
    for name in ("adapter_config.json", "adapter_model.safetensors", "adapter_model.bin"):
        (directory / name).unlink(missing_ok=True)
    merged.save_pretrained(directory, safe_serialization=True)


def _check_saved(directory: Path) -> None:
    if not (directory / "config.json").is_file() or not any(directory.glob("*.safetensors")):
        raise UserError(
            f"the final model in {directory} has no config.json or weights (under DeepSpeed ZeRO-3 the 16-bit "
            "weights are only gathered with zero3_save_16bit_model: true); fix: set it in the accelerate config"
        )


def _push_final(trainer: Any, target: Path) -> None:
    from huggingface_hub import upload_folder

    repo = trainer.hub_model_id or trainer.args.hub_model_id
    upload_folder(repo_id=repo, folder_path=str(target), commit_message=f"polyreason: final model ({target.name})",
                  token=trainer.args.hub_token, revision=trainer.args.hub_revision)
    log.info("final model pushed to the hub: %s", repo)


def _summary(recipe: Recipe, result: RunResult, previous: dict[int, dict[str, Any]] | None = None) -> dict[str, Any]:
    records = list(read_jsonl(result.metrics_path, tolerant=True))
    stages = []
    for st in result.stages:
        if st.skipped and previous and st.index in previous:
            stages.append(previous[st.index])  # finished by an earlier attempt: its record as it was
            continue
        last = [r for r in records if r.get("stage") == st.index]
        stages.append({"index": st.index, "type": st.type, "model_dir": st.model_dir, "steps": st.steps,
                       "runtime_s": round(st.runtime_s, 2), "skipped": st.skipped,
                       "logged_steps": len(last), "last_metrics": last[-1] if last else None,
                       "trainer_summary": st.summary})
    usages = [cost.read_usage(stage_dir(Path(result.output_dir), st.index, recipe.stages[st.index]) / cost.USAGE_FILE)
              for st in result.stages]
    return {"name": recipe.name, "finished": len(result.stages) == len(recipe.stages), "model_dir": result.model_dir,
            "output_dir": result.output_dir, "metrics": result.metrics_path, "runtime_s": round(result.runtime_s, 2),
            "stages": stages, "cost": cost.train_cost(recipe, usages, records, [st.index for st in result.stages])}
