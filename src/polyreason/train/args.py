"""Map a recipe stage onto TRL's ``SFTConfig`` / ``GRPOConfig`` keyword arguments, explicitly.

Every TRL field we set is set here, from the recipe, so TRL's own defaults never decide a run silently.  Two
TRL defaults matter on CPU and are overridden on purpose (see docs/training.md):

* ``bf16``: TRL defaults to ``True``; on CPUs without native bf16 that is ~10x slower.  ``bf16: auto`` in a
  recipe means "bf16 only where it is native" (:func:`polyreason.models.bf16_native`).
* ``gradient_checkpointing``: TRL defaults to ``True``; the recipe decides (default off).

transformers 5 removed ``warmup_ratio``; ``warmup_steps`` accepts a float in ``[0, 1)`` as a ratio of the total
steps, so ``warmup_ratio: 0.1`` becomes ``warmup_steps=0.1`` (and a ratio of 0 becomes ``warmup_steps=0``).

The functions return plain dicts so the mapping can be inspected and tested without building a trainer.
"""

from __future__ import annotations

from typing import Any

from polyreason.config import GRPOStage, Recipe, SFTStage

# TRL GRPO settings each preset resolves to (config.py fills the stage fields; this is what TRL receives).
# dr_grpo: loss = token sum / (batch · max_completion_length), advantage r − mean (scale_rewards="none").
# dapo: loss = global token mean, clip-higher ε_high = 0.28, plus soft overlong reward and dynamic sampling.


def resolve_bf16(value: bool | str) -> bool:
    """``auto`` → True only on hardware with native bf16; explicit booleans pass through."""
    if value == "auto":
        from polyreason.models import bf16_native

        return bf16_native()
    return bool(value)


def common_kwargs(recipe: Recipe, stage: SFTStage | GRPOStage, output_dir: str) -> dict[str, Any]:
    """TrainingArguments shared by SFT and GRPO stages."""
    kwargs: dict[str, Any] = {
        "output_dir": output_dir,
        "seed": recipe.seed,
        "learning_rate": stage.learning_rate,
        "lr_scheduler_type": stage.lr_scheduler,
        "warmup_steps": stage.warmup_ratio,  # transformers 5: a float < 1 is a ratio of the total steps
        "weight_decay": stage.weight_decay,
        "adam_beta1": stage.adam_beta1,
        "adam_beta2": stage.adam_beta2,
        "max_grad_norm": stage.max_grad_norm,
        "optim": stage.optim,
        "per_device_train_batch_size": stage.per_device_batch_size,
        "gradient_accumulation_steps": stage.gradient_accumulation_steps,
        "num_train_epochs": stage.epochs,
        "max_steps": stage.max_steps if stage.max_steps is not None else -1,
        "save_strategy": "steps",
        "save_steps": stage.save_steps,
        "save_total_limit": stage.save_total_limit,  # resume needs the last (+1 in case it is torn)
        "logging_strategy": "steps",
        "logging_steps": recipe.tracking.logging_steps,
        "logging_first_step": True,
        "report_to": [r for r in recipe.tracking.report_to if r != "none"] or "none",
        "run_name": recipe.tracking.run_name or recipe.name,
        "bf16": resolve_bf16(stage.bf16),
        "fp16": False,
        "gradient_checkpointing": stage.gradient_checkpointing,
        "disable_tqdm": True,  # polyreason draws its own progress bar (with ETA) from a callback
        "save_only_model": False,  # optimizer + scheduler + RNG state are needed for an exact resume
        "dataloader_num_workers": 0,
    }
    if stage.lr_scheduler == "cosine_with_min_lr":
        kwargs["lr_scheduler_kwargs"] = (
            {"min_lr_rate": stage.min_lr_rate} if stage.min_lr_rate is not None else {"min_lr": stage.min_lr}
        )
    if stage.gradient_checkpointing:
        kwargs["gradient_checkpointing_kwargs"] = {"use_reentrant": False}
    return kwargs


def sft_kwargs(recipe: Recipe, stage: SFTStage, output_dir: str) -> dict[str, Any]:
    """Keyword arguments for ``trl.SFTConfig``."""
    kwargs = common_kwargs(recipe, stage, output_dir)
    kwargs.update(
        max_length=stage.max_length,
        packing=stage.packing,
        # prompt/completion rows: TRL masks the prompt (system + user turns) out of the loss
        completion_only_loss=stage.completion_only_loss,
        assistant_only_loss=False,
        dataset_num_proc=None,
    )
    if stage.packing:
        # "wrapped" packing needs no flash-attention (position_ids) support and works on CPU; "bfd" is TRL's
        # default and implies padding_free, which silently mixes sequences with sdpa/eager attention.
        kwargs["packing_strategy"] = "bfd" if _flash_attention(recipe) else "wrapped"
    return kwargs


def grpo_kwargs(recipe: Recipe, stage: GRPOStage, output_dir: str, reward_weights: list[float]) -> dict[str, Any]:
    """Keyword arguments for ``trl.GRPOConfig`` (the preset is already resolved onto ``stage``)."""
    kwargs = common_kwargs(recipe, stage, output_dir)
    kwargs.update(
        num_generations=stage.num_generations,
        max_completion_length=stage.max_completion_length,
        temperature=stage.temperature,
        top_p=stage.top_p,
        beta=stage.beta,
        epsilon=stage.epsilon,
        epsilon_high=stage.epsilon_high,
        loss_type=stage.loss_type,
        scale_rewards=stage.scale_rewards,
        num_iterations=stage.num_iterations,
        mask_truncated_completions=stage.mask_truncated_completions,
        reward_weights=reward_weights,
        log_completions=False,  # polyreason samples completions into completions.jsonl itself (no console dump)
        use_vllm=stage.use_vllm,
    )
    if stage.use_vllm:
        kwargs["vllm_mode"] = stage.vllm_mode
        if stage.vllm_mode == "colocate":
            kwargs["vllm_gpu_memory_utilization"] = stage.vllm_gpu_memory_utilization
        if stage.vllm_mode == "server" and stage.vllm_server_base_url:
            kwargs["vllm_server_base_url"] = stage.vllm_server_base_url
        if stage.vllm_max_model_len is not None:
            kwargs["vllm_max_model_length"] = stage.vllm_max_model_len
    return kwargs


def _flash_attention(recipe: Recipe) -> bool:
    impl = recipe.model.attn_implementation or ""
    return impl.startswith("flash_attention") or impl.startswith("kernels-community/flash")


def build_sft_config(recipe: Recipe, stage: SFTStage, output_dir: str) -> Any:
    """A ``trl.SFTConfig`` for ``stage``."""
    from trl import SFTConfig

    return SFTConfig(**sft_kwargs(recipe, stage, output_dir))


def build_grpo_config(recipe: Recipe, stage: GRPOStage, output_dir: str, reward_weights: list[float]) -> Any:
    """A ``trl.GRPOConfig`` for ``stage``."""
    from trl import GRPOConfig

    return GRPOConfig(**grpo_kwargs(recipe, stage, output_dir, reward_weights))
