"""What every TRL training stage (sft, grpo) shares: load, resume from a checkpoint, train with polyreason's
callbacks and the held-out evaluation, save the final model once, and tell whether a stage already finished.

A stage type supplies only ``build_trainer(ctx, model, tokenizer)``; :func:`run_training` does the rest:

* **resume**: with ``ctx.resume`` the stage restarts from its last complete ``checkpoint-N`` (model, optimizer,
  scheduler, RNG state), and metrics/completions logged after that checkpoint are dropped first, so the files end
  with no duplicated and no missing steps; a checkpoint at the stage's last step (a kill during the final save)
  is not trained further: its model is saved as the final one.  Without a checkpoint the stage starts over and
  forgets whatever an earlier attempt logged for it.
* **finished**: the final model directory is complete (``config.json`` or an adapter), see
  :func:`training_finished`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyreason.errors import UserError
from polyreason.files import read_json
from polyreason.train.callbacks import CheckpointIsFinal, make_callbacks, make_disk_guard, truncate_jsonl
from polyreason.train.disk import checkpoint_bytes, disk_errors, require_free
from polyreason.train.stages.base import RECORD_FILE, StageContext, StageOutcome

if TYPE_CHECKING:
    from collections.abc import Callable

    from polyreason.config import Recipe

log = logging.getLogger(__name__)


def last_checkpoint(directory: Path) -> Path | None:
    """The highest-numbered complete ``checkpoint-N`` directory (one with trainer_state.json), if any."""
    best: tuple[int, Path] | None = None
    for child in directory.glob("checkpoint-*"):
        suffix = child.name.rsplit("-", 1)[-1]
        if suffix.isdigit() and (child / "trainer_state.json").is_file():
            if best is None or int(suffix) > best[0]:
                best = (int(suffix), child)
    return best[1] if best else None


def is_complete(directory: Path) -> bool:
    """True when ``directory`` holds a saved model (``config.json``) or adapter."""
    return (directory / "config.json").is_file() or (directory / "adapter_config.json").is_file()


def training_finished(directory: Path, model_target: Path | None) -> StageOutcome | None:
    """A training stage is finished when its final model is complete; its steps come from ``stage.json``
    (else from its last checkpoint)."""
    if model_target is None or not is_complete(model_target):
        return None
    record = read_json(directory / RECORD_FILE) if (directory / RECORD_FILE).is_file() else None
    if isinstance(record, dict):
        return StageOutcome.from_json({**record, "model_dir": str(model_target)})
    checkpoint = last_checkpoint(directory)
    steps = int(checkpoint.name.rsplit("-", 1)[-1]) if checkpoint else 0
    return StageOutcome(model_dir=str(model_target), steps=steps)


def run_training(ctx: StageContext, build_trainer: Callable[[StageContext, Any, Any], Any]) -> StageOutcome:
    """Train one stage (see the module docstring); ``build_trainer(ctx, model, tokenizer)`` makes the trainer."""
    from polyreason.train.runner import is_main_process

    sdir, stage = ctx.directory, ctx.settings
    checkpoint = last_checkpoint(sdir) if ctx.resume else None
    if not is_main_process():
        pass  # only rank 0 writes (and so trims) the run's log files
    elif checkpoint is not None:
        step = int(checkpoint.name.rsplit("-", 1)[-1])
        truncate_jsonl(ctx.metrics_path, ctx.index, step)
        truncate_jsonl(ctx.run_dir / "completions.jsonl", ctx.index, step)
        log.info("stage %d (%s): resuming from %s", ctx.index, ctx.name, checkpoint)
    else:
        # a fresh start of this stage: forget whatever a killed earlier attempt logged for it
        truncate_jsonl(ctx.metrics_path, ctx.index, -1)
        truncate_jsonl(ctx.run_dir / "completions.jsonl", ctx.index, -1)
    model, tokenizer = load_for_training(ctx.recipe, ctx.model)
    if stage.trainable_layers is not None:
        from polyreason.train.freeze import train_top_layers

        train_top_layers(model, stage.trainable_layers)
    checkpoint_size, model_size = checkpoint_bytes(model), checkpoint_bytes(model, optimizer_moments=0)
    trainer = build_trainer(ctx, model, tokenizer)
    callbacks = make_callbacks(ctx.metrics_path, ctx.index, stage.type)
    heldout = _heldout_callback(ctx)
    checkpoints_dir = Path(trainer.args.output_dir)  # where the trainer writes checkpoint-N/
    guard = make_disk_guard(checkpoints_dir, checkpoint_size)
    _install_callbacks(trainer, callbacks + ([heldout] if heldout is not None else []) + [guard])
    started = time.monotonic()
    with disk_errors(checkpoints_dir, checkpoint_size, "a checkpoint"):
        try:
            trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
        except CheckpointIsFinal:  # killed during the final save: the checkpoint holds the trained model
            log.info("stage %d (%s): %s is the last step; saving its model without training", ctx.index,
                     ctx.name, checkpoint)
    runtime = time.monotonic() - started
    require_free(ctx.model_target.parent, model_size, "the final model")
    with disk_errors(ctx.model_target.parent, model_size, "the final model"):
        save_final(trainer, tokenizer, ctx.model_target)
    return StageOutcome(model_dir=str(ctx.model_target), steps=trainer.state.global_step, runtime_s=runtime,
                        record={"trainer_summary": dict(callbacks[0].summary)})


def _heldout_callback(ctx: StageContext) -> Any:
    """The periodic held-out evaluation of ``tracking.heldout`` for this stage, or None."""
    recipe, index, stage, metrics_path = ctx.recipe, ctx.index, ctx.settings, ctx.metrics_path
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
    rewards = recipe.stage_rewards(stage)

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


def peft_config(stage: Any) -> Any:
    """peft's LoraConfig for a stage with ``lora:``, else None (full fine-tuning)."""
    if stage.lora is None:
        return None
    from peft import LoraConfig

    lora = stage.lora
    return LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                      target_modules=lora.target_modules, task_type="CAUSAL_LM")


def check_world(trainer: Any) -> None:
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
