"""``type: grpo`` — GRPO-family RL with TRL's GRPOTrainer and the recipe's (or the stage's own) rewards.

Reads RL problems (problem + answer): the stage's ``data`` (a source, or ``{from: NAME}`` of a stage that writes
rows: synth's SFT rows carry their problem and answer too), else the recipe's ``data.train``.  Writes a model.
Resume: from the last checkpoint (:mod:`polyreason.train.stages.training`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from polyreason.config import (
    MAX_TOKENS,
    PRESET_REWARDS,
    PRESETS,
    TRL_OWNED_GRPO,
    DataSource,
    LossType,
    Preset,
    RewardSpec,
    StageRef,
    _check_reward_names,
    _expand_reward_shorthand,
    _StageCommon,
)
from polyreason.train.stages.base import DataInput, StageContext, StageOutcome, StageType, read_rows

if TYPE_CHECKING:
    from polyreason.config import Recipe

RewardFactory = Callable[[str, dict[str, Any]], Callable[..., Any]]


class GRPOStage(_StageCommon):
    """GRPO-family RL with TRL's GRPOTrainer; ``preset`` fills the loss fields left unset (see PRESETS)."""

    trl_config: ClassVar[str] = "trl.trainer.grpo_config:GRPOConfig"
    trl_owned: ClassVar[dict[str, str]] = TRL_OWNED_GRPO
    uses_rewards: ClassVar[bool] = True

    type: Literal["grpo"] = "grpo"
    data: DataSource | StageRef | None = Field(
        None, description="RL problems (problem + answer rows) for this stage: a source, or {from: NAME} of a "
        "stage that writes rows (synth, mix, …); default: data.train.")
    preset: Preset = Field("grpo", description="grpo | dr_grpo | bnpo | dapo | gspo | cispo | sapo (docs/training.md).")
    num_generations: int = Field(8, ge=2, le=1024, description="G: completions sampled per prompt.")
    beta: float = Field(0.0, ge=0, le=100, description="KL coefficient (0 = no reference model).")
    epsilon: float | None = Field(None, gt=0, le=10, description="Lower clip range ε; None = preset.")
    epsilon_high: float | None = Field(
        None, gt=0, le=10, description="Upper clip range (clip-higher; cispo: ε_max); None = preset."
    )
    loss_type: LossType | None = Field(None, description="TRL loss_type; None = preset.")
    importance_sampling_level: Literal["token", "sequence"] | None = Field(
        None, description="'sequence' = GSPO-style ratios; None = preset (luspo: sequence)."
    )
    scale_rewards: Literal["group", "batch", "none"] | None = Field(None, description="None = preset.")
    dynamic_sampling: bool | None = Field(None, description="Drop and refill zero-variance groups; None = preset.")
    dynamic_sampling_max_rounds: int = Field(
        4, ge=1, le=100, description="Extra generation rounds allowed per step to refill dropped groups."
    )
    dynamic_sampling_rewards: list[str] | None = Field(
        None, description="Rewards whose spread within a group counts as signal for dynamic sampling (DAPO "
        "filters on accuracy alone); None = the weighted sum of every reward.")
    num_iterations: int = Field(1, ge=1, le=1000, description="μ: optimisation passes per generation batch.")
    max_prompt_length: int = Field(
        512, gt=0, le=MAX_TOKENS,
        description="Prompts longer than this many tokens (chat template applied) are dropped, with a warning.",
    )
    max_completion_length: int = Field(256, gt=0, le=MAX_TOKENS, description="Generation budget per completion.")
    temperature: float = Field(1.0, gt=0, le=10, description="Sampling temperature.")
    top_p: float = Field(1.0, gt=0, le=1, description="Nucleus sampling.")
    mask_truncated_completions: bool = Field(False, description="Exclude truncated completions from the loss.")
    top_entropy_quantile: float = Field(
        1.0, ge=0, le=1, description="ρ: train only the top-ρ quantile of tokens by entropy (1.0 = all tokens)."
    )
    off_policy_mask_threshold: float | None = Field(
        None, gt=0, le=100, description="Mask negative-advantage sequences whose KL to the sampler exceeds this."
    )
    entropy_coef: float = Field(0.0, ge=0, le=1, description="Entropy bonus coefficient (0 = off).")
    multi_objective_aggregation: Literal["sum_then_normalize", "normalize_then_sum"] = Field(
        "sum_then_normalize", description="Combine weighted rewards then normalise, or normalise each (GDPO)."
    )
    use_vllm: bool = Field(False, description="Generate with vLLM (GPU only).")
    vllm_mode: Literal["colocate", "server"] = Field("colocate", description="vLLM in-process or `trl vllm-serve`.")
    vllm_gpu_memory_utilization: float = Field(0.3, gt=0, le=1, description="colocate: GPU share for vLLM.")
    vllm_max_model_len: int | None = Field(None, gt=0, le=MAX_TOKENS, description="vLLM context length.")
    vllm_server_base_url: str | None = Field(
        None, description="server mode: URL of `trl vllm-serve` (None = http://0.0.0.0:8000, TRL's default)."
    )
    vllm_importance_sampling_correction: bool = Field(
        True, description="Correct for vLLM-vs-trainer log-prob mismatch (TRL's default: on)."
    )
    vllm_importance_sampling_mode: Literal["token_truncate", "token_mask", "sequence_truncate", "sequence_mask"] = (
        Field("sequence_mask", description="How that correction truncates or masks ratios (TRL's default).")
    )
    rewards: dict[str, RewardSpec] | None = Field(None, description="Override the recipe's rewards here.")

    @field_validator("rewards", mode="before")
    @classmethod
    def _reward_shorthand(cls, v: Any) -> Any:
        return _expand_reward_shorthand(v)

    @model_validator(mode="after")
    def _resolve_preset(self) -> GRPOStage:
        preset = PRESETS[self.preset]
        if self.preset == "dr_grpo" and self.scale_rewards not in (None, "none"):
            raise ValueError(
                f"preset dr_grpo divides by no std, but scale_rewards={self.scale_rewards!r}; "
                "fix: remove scale_rewards or set it to 'none' (or use preset grpo)"
            )
        for key in ("loss_type", "scale_rewards", "epsilon", "dynamic_sampling"):
            if getattr(self, key) is None:
                object.__setattr__(self, key, preset[key])
        if self.importance_sampling_level is None:
            level = "sequence" if self.loss_type == "luspo" else preset["importance_sampling_level"]
            object.__setattr__(self, "importance_sampling_level", level)
        if self.epsilon_high is None:
            object.__setattr__(self, "epsilon_high", preset["epsilon_high"] or self.epsilon)
        if self.epsilon_high < self.epsilon:
            raise ValueError(f"epsilon_high ({self.epsilon_high}) < epsilon ({self.epsilon}); fix: raise it")
        _check_loss_combination(self)
        generation_batch = self.per_device_batch_size * self.gradient_accumulation_steps
        if generation_batch % self.num_generations:
            raise ValueError(
                f"per_device_batch_size × gradient_accumulation_steps = {generation_batch} completions is not "
                f"divisible by num_generations = {self.num_generations}; fix: make it a multiple "
                f"(e.g. per_device_batch_size={self.num_generations})"
            )
        return self


def _check_loss_combination(stage: GRPOStage) -> None:
    """Refuse the loss/ratio combinations TRL 1.16 warns about or rejects at trainer start."""
    loss, level = stage.loss_type, stage.importance_sampling_level
    if loss == "luspo" and level != "sequence":
        raise ValueError("loss_type luspo is defined on sequence-level ratios; fix: importance_sampling_level: sequence")
    if loss == "vespo" and level != "token":
        raise ValueError("loss_type vespo builds sequence weights itself; fix: importance_sampling_level: token")
    if level == "sequence" and loss in ("bnpo", "dr_grpo", "dapo", "cispo"):
        raise ValueError(
            f"importance_sampling_level sequence with loss_type {loss} weights each sequence by its length; "
            "fix: use loss_type grpo (GSPO) or luspo, or importance_sampling_level token"
        )
    if (loss == "vespo" and stage.use_vllm and stage.vllm_importance_sampling_correction
            and not stage.vllm_importance_sampling_mode.startswith("token_")):
        raise ValueError(
            "loss_type vespo with vLLM needs a token-level correction; fix: vllm_importance_sampling_mode: "
            "token_truncate or token_mask (or vllm_importance_sampling_correction: false)"
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


def build_trainer(ctx: StageContext, model: Any, tokenizer: Any) -> Any:
    """polyreason's GRPOTrainer (dynamic sampling, compact rollouts) for this stage, on its problems."""
    from polyreason.train import args as targs
    from polyreason.train.datasets import grpo_records, to_dataset
    from polyreason.train.dynamic import make_trainer_class
    from polyreason.train.stages.training import check_world, peft_config

    recipe, stage = ctx.recipe, ctx.settings
    funcs, weights = build_reward_funcs(recipe.stage_rewards(stage), ctx.reward_factory, stage.max_completion_length)
    dataset = to_dataset(grpo_records(list(read_rows(ctx)), tokenizer, max_prompt_length=stage.max_prompt_length,
                                      system_prompt=recipe.data.system_prompt, language=recipe.language))
    config = targs.build_grpo_config(recipe, stage, str(ctx.directory), weights)
    trainer_cls = make_trainer_class()
    trainer = trainer_cls(
        model=model,
        reward_funcs=funcs,
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config(stage),
        dynamic_sampling=bool(stage.dynamic_sampling),
        dynamic_sampling_max_rounds=stage.dynamic_sampling_max_rounds,
        dynamic_sampling_rewards=stage.dynamic_sampling_rewards,
        completions_path=str(ctx.run_dir / "completions.jsonl") if recipe.tracking.log_completions else None,
        completions_meta={"stage": ctx.index},
    )
    check_world(trainer)
    return trainer


def _check(recipe: Recipe, index: int) -> None:
    """Rewards: every name builds, the stage has some, and its preset's extra rewards are added."""
    stage = recipe.stages[index]
    if stage.rewards is not None:
        _check_reward_names(stage.rewards, f"stages.{index}.rewards")
    if not (stage.rewards or recipe.rewards):
        raise ValueError(f"stages.{index}: a grpo stage needs rewards; fix: add a `rewards:` section")
    target = stage.rewards if stage.rewards is not None else recipe.rewards
    for name in stage.dynamic_sampling_rewards or ():
        if name not in target or not target[name].weight:
            raise ValueError(f"stages.{index}.dynamic_sampling_rewards names {name!r}, which is not one of the "
                             f"stage's weighted rewards ({', '.join(target)}); fix: name one of those")
    for name, weight in PRESET_REWARDS.get(stage.preset, {}).items():
        target.setdefault(name, RewardSpec(weight=weight))


def run(ctx: StageContext) -> StageOutcome:
    from polyreason.train.stages.training import run_training

    return run_training(ctx, build_trainer)


def _finished(directory: Any, model_target: Any) -> StageOutcome | None:
    from polyreason.train.stages.training import training_finished

    return training_finished(directory, model_target)


def _label(stage: GRPOStage) -> str:
    return f"grpo({stage.preset})"


STAGE = StageType(
    settings=GRPOStage, run=run, about="GRPO-family RL on verifiable (or model) rewards (TRL GRPOTrainer)",
    data=DataInput(kind="rl", accepts=("rl", "sft"), default=lambda recipe: recipe.data.train),
    produces_model=True, trains=True, check=_check, finished=_finished, label=_label,
)
