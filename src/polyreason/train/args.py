"""Map a recipe stage onto TRL's ``SFTConfig`` / ``GRPOConfig`` keyword arguments, explicitly.

Every TRL field we set is set here, from the recipe, so TRL's own defaults never decide a run silently.  Two
TRL defaults matter on CPU and are overridden on purpose (see docs/training.md):

* ``bf16``: TRL defaults to ``True``; on CPUs without native bf16 that is ~10x slower.  ``bf16: auto`` in a
  recipe means "bf16 only where it is native" (:func:`polyreason.models.bf16_native`).
* ``gradient_checkpointing``: TRL defaults to ``True``; the recipe decides (default off).  It is passed as
  transformers 5's ``activation_checkpointing`` (``gradient_checkpointing`` is its deprecated alias).

TRL defaults that change results are passed explicitly too: ``vllm_importance_sampling_correction`` (TRL: on,
mode ``sequence_mask``), ``multi_objective_aggregation``, ``top_entropy_quantile``, ``entropy_coef``.  A stage's
``trl:`` block (checked in :func:`polyreason.config.check_trl_block`) adds any other TRL field last; it can never
override a field set here, because those names are refused when the recipe loads.

transformers 5 removed ``warmup_ratio``; ``warmup_steps`` accepts a float in ``[0, 1)`` as a ratio of the total
steps, so ``warmup_ratio: 0.1`` becomes ``warmup_steps=0.1`` (and a ratio of 0 becomes ``warmup_steps=0``).

The functions return plain dicts so the mapping can be inspected and tested without building a trainer.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from polyreason.config import Recipe
    from polyreason.train.stages.grpo import GRPOStage
    from polyreason.train.stages.sft import SFTStage


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
        "activation_checkpointing": stage.gradient_checkpointing,
        "disable_tqdm": True,  # polyreason draws its own progress bar (with ETA) from a callback
        "save_only_model": False,  # optimizer + scheduler + RNG state are needed for an exact resume
        "dataloader_num_workers": 0,
        "push_to_hub": stage.push_to_hub,
        "hub_model_id": stage.hub_model_id,
        "hub_strategy": stage.hub_strategy,
        "hub_private_repo": stage.hub_private_repo,
    }
    if stage.lr_scheduler == "cosine_with_min_lr":
        kwargs["lr_scheduler_kwargs"] = (
            {"min_lr_rate": stage.min_lr_rate} if stage.min_lr_rate is not None else {"min_lr": stage.min_lr}
        )
    if stage.gradient_checkpointing:
        kwargs["activation_checkpointing_kwargs"] = {"use_reentrant": False}
    return kwargs


def sft_kwargs(recipe: Recipe, stage: SFTStage, output_dir: str) -> dict[str, Any]:
    """Keyword arguments for ``trl.SFTConfig``."""
    kwargs = common_kwargs(recipe, stage, output_dir)
    kwargs.update(
        max_length=stage.max_length,
        packing=stage.packing,
        # rows arrive tokenised with a completion_mask over every assistant turn (train/datasets.py)
        completion_only_loss=stage.completion_only_loss,
        assistant_only_loss=False,
    )
    if stage.packing:
        # Best-fit-decreasing packing is padding-free: the collator emits position_ids restarting at 0 for each
        # sample and no attention mask, and the attention (see packing_attention) keeps samples apart.
        kwargs["packing_strategy"] = "bfd"
    kwargs.update(copy.deepcopy(stage.trl))  # TRL may mutate dict values (generation_kwargs)
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
        importance_sampling_level=stage.importance_sampling_level,
        scale_rewards=stage.scale_rewards,
        num_iterations=stage.num_iterations,
        mask_truncated_completions=stage.mask_truncated_completions,
        top_entropy_quantile=stage.top_entropy_quantile,
        off_policy_mask_threshold=stage.off_policy_mask_threshold,
        entropy_coef=stage.entropy_coef,
        multi_objective_aggregation=stage.multi_objective_aggregation,
        reward_weights=reward_weights,
        log_completions=False,  # polyreason samples completions into completions.jsonl itself (no console dump)
        use_vllm=stage.use_vllm,
        vllm_importance_sampling_correction=stage.vllm_importance_sampling_correction,
        vllm_importance_sampling_mode=stage.vllm_importance_sampling_mode,
    )
    if stage.use_vllm:
        kwargs["vllm_mode"] = stage.vllm_mode
        if stage.vllm_mode == "colocate":
            kwargs["vllm_gpu_memory_utilization"] = stage.vllm_gpu_memory_utilization
        if stage.vllm_mode == "server" and stage.vllm_server_base_url:
            kwargs["vllm_server_base_url"] = stage.vllm_server_base_url
        if stage.vllm_max_model_len is not None:
            kwargs["vllm_max_model_length"] = stage.vllm_max_model_len
    kwargs.update(copy.deepcopy(stage.trl))  # TRL may mutate dict values (generation_kwargs)
    return kwargs


def packing_attention(recipe: Recipe, dtype: Any) -> str:
    """The attention implementation a packed SFT stage uses: the recipe's, else chosen from the hardware.

    flash_attention_2 where it can run (CUDA, the ``flash_attn`` package, a 16-bit dtype): it reads the
    collator's ``cu_seq_lens`` and never builds a mask.  Elsewhere ``sdpa``: transformers 5.23 turns packed
    ``position_ids`` (no attention mask, no cache: TRL's SFT forward passes ``use_cache=False``) into a
    block-diagonal causal mask, so samples do not attend to each other (tests/test_train_packing.py).
    """
    if recipe.model.attn_implementation:
        return recipe.model.attn_implementation
    import importlib.util

    import torch

    flash_ok = torch.cuda.is_available() and importlib.util.find_spec("flash_attn") is not None
    return "flash_attention_2" if flash_ok and dtype in (torch.bfloat16, torch.float16) else "sdpa"


def build_sft_config(recipe: Recipe, stage: SFTStage, output_dir: str) -> Any:
    """A ``trl.SFTConfig`` for ``stage``."""
    from trl import SFTConfig

    return SFTConfig(**sft_kwargs(recipe, stage, output_dir))


def build_grpo_config(recipe: Recipe, stage: GRPOStage, output_dir: str, reward_weights: list[float]) -> Any:
    """A ``trl.GRPOConfig`` for ``stage``."""
    from trl import GRPOConfig

    return GRPOConfig(**grpo_kwargs(recipe, stage, output_dir, reward_weights))
