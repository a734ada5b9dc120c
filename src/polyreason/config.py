"""Typed, validated recipes: YAML (+ ``--set a.b=c`` overrides) → :class:`Recipe`.

A recipe tells the whole story of a run: the model, the data, the stages in order (each a type of the stage
registry, :mod:`polyreason.train.stages`: training, synthetic data, evaluation, data steps), the rewards with
their weights, the evaluation and where outputs go.  A stage can name an earlier stage's output
(``data: {from: NAME}``, ``model: {from: NAME}``); those references are checked here too.  Every field is documented beside its
definition (``polyreason recipe show`` prints the fully resolved recipe).  Unknown keys, wrong types, missing
files and impossible combinations raise :class:`~polyreason.errors.UserError` naming the key and the fix,
before any model loads.

GRPO presets resolve here, so the resolved recipe shows exactly what TRL receives; :data:`PRESETS` is the one
table (docs/training.md prints it via :func:`preset_table_markdown`, and a test keeps the two in sync).

A stage's ``trl:`` block passes any other ``SFTConfig``/``GRPOConfig`` field straight to TRL; its names are checked
against TRL's dataclass fields when the recipe loads (:func:`check_trl_block`), and fields polyreason sets itself
(:data:`TRL_OWNED`) are refused with the recipe key to use instead.
"""

from __future__ import annotations

import difflib
import functools
import operator
import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from polyreason.errors import UserError, did_you_mean
from polyreason.evaluate.runner import EVAL_DEFAULTS

ReportTo = Literal["none", "wandb", "trackio", "tensorboard"]
Preset = Literal["grpo", "dr_grpo", "bnpo", "dapo", "gspo", "cispo", "sapo"]
LossType = Literal["grpo", "dr_grpo", "bnpo", "dapo", "cispo", "sapo", "luspo", "vespo"]
Scheduler = Literal["constant", "constant_with_warmup", "linear", "cosine", "cosine_with_min_lr"]

# What each preset resolves to (fields the recipe sets explicitly win).  ``epsilon_high: None`` = same as epsilon.
# Sources: TRL 1.16 GRPOConfig help texts; GSPO's clip range 3e-4/4e-4 is the GSPO paper (v2, section 5.1) as
# quoted in TRL's paper index; cispo's ε_max 5.0 is TRL's help for epsilon_high (ScaleRL's recommendation);
# sapo uses TRL's default gate temperatures (τ_pos 1.0, τ_neg 1.05; set them in the stage's trl: block).
PRESETS: dict[str, dict[str, Any]] = {
    "grpo": {"loss_type": "grpo", "importance_sampling_level": "token", "scale_rewards": "group",
             "epsilon": 0.2, "epsilon_high": None, "dynamic_sampling": False},
    "dr_grpo": {"loss_type": "dr_grpo", "importance_sampling_level": "token", "scale_rewards": "none",
                "epsilon": 0.2, "epsilon_high": None, "dynamic_sampling": False},
    "bnpo": {"loss_type": "bnpo", "importance_sampling_level": "token", "scale_rewards": "group",
             "epsilon": 0.2, "epsilon_high": None, "dynamic_sampling": False},
    "dapo": {"loss_type": "dapo", "importance_sampling_level": "token", "scale_rewards": "group",
             "epsilon": 0.2, "epsilon_high": 0.28, "dynamic_sampling": True},
    "gspo": {"loss_type": "grpo", "importance_sampling_level": "sequence", "scale_rewards": "group",
             "epsilon": 3e-4, "epsilon_high": 4e-4, "dynamic_sampling": False},
    "cispo": {"loss_type": "cispo", "importance_sampling_level": "token", "scale_rewards": "group",
              "epsilon": 0.2, "epsilon_high": 5.0, "dynamic_sampling": False},
    "sapo": {"loss_type": "sapo", "importance_sampling_level": "token", "scale_rewards": "group",
             "epsilon": 0.2, "epsilon_high": None, "dynamic_sampling": False},
}
# Rewards a preset adds (name → weight) when the recipe does not list them.
PRESET_REWARDS: dict[str, dict[str, float]] = {"dapo": {"soft_overlong": 1.0}}

# What each TRL loss_type computes (TRL 1.16), for the preset table.
LOSS_MEANING: dict[str, str] = {
    "grpo": "per-sequence token mean, then batch mean",
    "dr_grpo": "token sum / (batch · max_completion_length)",
    "bnpo": "token mean over the micro-batch",
    "dapo": "token mean over the global accumulated batch",
    "cispo": "clipped IS weight (≤ ε_high, no gradient) × advantage × log-prob; global token mean",
    "sapo": "sigmoid gate σ(τ(r−1))·4/τ instead of hard clipping; per-sequence mean",
    "luspo": "sequence-level ratio, each sequence's loss scaled by its length",
    "vespo": "Gamma weighting of sequence-level IS weights instead of clipping",
}

def _check_source(source: str) -> str:
    """A data source that names a local file must exist (hub ids and synthetic specs are checked later)."""
    if source.startswith("synthetic:"):
        parts = source.split(":")
        if len(parts) < 2 or not parts[1].isdigit() or int(parts[1]) <= 0:
            raise ValueError(f"bad synthetic source {source!r}; fix: use synthetic:N[:lang[:difficulty]] with N > 0")
        return source
    if source.startswith("hf:") or Path(source).expanduser().exists():
        return source
    parts = source.split(":")[0].split("/")
    fix = "check the path (relative to where you run)"
    if source.startswith((".", "/", "~")) or source.endswith((".jsonl", ".json", ".parquet", ".tsv", ".csv")):
        why = ""
    elif len(parts) != 2:
        why = " (and it is not a hub id owner/name)"
    elif Path(parts[0]).is_dir():
        why = f" ({parts[0]}/ is a local directory, so this reads as a local path)"
        fix += f", or write hf:{source} for a hub dataset"
    else:
        return source  # a hub id: read when training starts, before the first stage runs
    raise ValueError(f"data file {source!r} does not exist{why}; fix: {fix}")


# A data source: a local file must exist (hub ids and synthetic specs are checked when loaded).
DataSource = Annotated[str, AfterValidator(_check_source)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


_STAGE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class StageRef(BaseModel):
    """``{from: NAME}``: the output of the earlier stage called NAME (its ``name:``, else ``<index>-<type>``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_alias=True, validate_by_name=True,
                              serialize_by_alias=True)

    stage: str = Field(alias="from", description="Name of an earlier stage (`name:`, else e.g. `0-sft`).")

    def __str__(self) -> str:
        return f"{{from: {self.stage}}}"


class StageSettings(_Strict):
    """What every stage has: its ``type`` (a name in the stage registry) and a ``name`` other stages use."""

    uses_rewards: ClassVar[bool] = False  # a stage whose training optimises the recipe's rewards (GRPO)

    type: str
    name: str | None = Field(
        None, description="Name later stages use to refer to this one's outputs ({from: NAME}) and its directory "
        "under stages/; None = '<index>-<type>', e.g. '0-sft'.")

    @field_validator("name")
    @classmethod
    def _name_shape(cls, v: str | None) -> str | None:
        if v is not None and not _STAGE_NAME.match(v):
            raise ValueError(f"stage name {v!r}: use letters, digits, '-', '_' or '.' (it names a directory), "
                             "starting with a letter or digit; fix: e.g. name: synth1")
        return v

    def stage_name(self, index: int) -> str:
        """This stage's name: ``name`` when set, else ``<index>-<type>``."""
        return self.name or f"{index}-{self.type}"


class LoraConfig(_Strict):
    """Low-rank adapters (peft); leave ``lora`` unset for full fine-tuning."""

    r: int = Field(16, gt=0, description="Adapter rank.")
    alpha: int = Field(32, gt=0, description="Scaling numerator (alpha / r).")
    dropout: float = Field(0.05, ge=0, lt=1, description="Dropout on adapter inputs.")
    target_modules: list[str] | str = Field("all-linear", description="Modules to adapt (peft names).")


class ModelConfig(_Strict):
    """Which model to start from."""

    spec: str = Field(
        "smollm2-135m",
        description="Hub id, local directory, 'smollm2-135m' (embedded) or 'tiny-random' (tests).",
    )
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="'auto' = bfloat16 on GPUs with native support, float32 elsewhere."
    )
    trust_remote_code: bool = Field(False, description="Run the model repo's own code (only if you trust it).")
    attn_implementation: str | None = Field(None, description="e.g. 'sdpa', 'flash_attention_2'; None = default.")

    @field_validator("spec")
    @classmethod
    def _spec_shape(cls, v: str) -> str:
        from polyreason.models import validate_model_spec

        try:
            validate_model_spec(v)
        except UserError as exc:
            raise ValueError(str(exc)) from None
        return v


class DataConfig(_Strict):
    """Training data. Sources: a .jsonl/.json/.parquet path, 'synthetic:N[:lang[:difficulty]]', or a hub id."""

    train: DataSource = Field("synthetic:2000", description="RL problems (problem/answer/language rows).")
    sft: DataSource | None = Field(None, description="SFT rows (chat messages); defaults to synthetic traces for sft.")
    split: str = Field("train", description="Split name for hub datasets.")
    column_map: dict[str, str] = Field(default_factory=dict, description="Rename source columns: {source: ours}.")
    system_prompt: str | None = Field(None, description="Override the language's default system prompt.")
    limit: int | None = Field(None, gt=0, description="Use at most this many rows.")


# Upper bounds that catch typos and unit mix-ups (1e23 steps, a batch of a million) before anything loads.
MAX_STEPS = 10_000_000
MAX_TOKENS = 1_048_576  # 1M-token sequences: beyond any model polyreason trains
MAX_BATCH = 65_536


class _StageCommon(StageSettings):
    """Fields every training stage (a TRL trainer) shares; a training stage type subclasses this and names
    its TRL config class and the TRL fields polyreason sets (``trl_config``, ``trl_owned``)."""

    trl_config: ClassVar[str] = ""  # "module:Class" of the TRL config the stage's trl: block is checked against
    trl_owned: ClassVar[dict[str, str]] = {}  # TRL field → the recipe key that sets it

    model: StageRef | None = Field(
        None, description="Start from an earlier stage's model ({from: NAME}); None = the model the stages before "
        "left (model.spec for the first).")
    learning_rate: float = Field(1e-6, gt=0, le=1, description="Peak learning rate.")
    lr_scheduler: Scheduler = Field("cosine", description="Learning-rate schedule.")
    min_lr_rate: float | None = Field(
        None, ge=0, le=1, description="For cosine_with_min_lr: floor as a fraction of the peak LR."
    )
    min_lr: float | None = Field(None, ge=0, le=1, description="For cosine_with_min_lr: absolute floor (alternative).")
    warmup_ratio: float = Field(0.0, ge=0, lt=1, description="Fraction of steps spent warming up.")
    weight_decay: float = Field(0.0, ge=0, le=1, description="AdamW weight decay.")
    adam_beta1: float = Field(0.9, gt=0, lt=1, description="AdamW β1.")
    adam_beta2: float = Field(0.999, gt=0, lt=1, description="AdamW β2.")
    max_grad_norm: float = Field(1.0, gt=0, le=1e6, description="Gradient clipping norm.")
    per_device_batch_size: int = Field(
        8, gt=0, le=MAX_BATCH, description="Rows (SFT) or completions (GRPO) per device step."
    )
    gradient_accumulation_steps: int = Field(1, gt=0, le=MAX_BATCH, description="Micro-batches per optimiser step.")
    epochs: float = Field(1.0, gt=0, le=10_000, description="Passes over the data (ignored when max_steps is set).")
    max_steps: int | None = Field(None, gt=0, le=MAX_STEPS, description="Stop after this many optimiser steps.")
    save_steps: int = Field(
        50, gt=0, le=MAX_STEPS, description="Checkpoint every N steps (resume restarts from the last)."
    )
    save_total_limit: int | None = Field(
        2, ge=1, le=MAX_STEPS, description="Checkpoints kept per stage, oldest deleted: 2 = the last and the one "
        "before it (in case a kill tore the last); resume needs no more. None keeps every one."
    )
    keep_checkpoints: bool = Field(
        False, description="Keep checkpoint-N directories once the stage's final model is written (resume "
        "needs none of them then; each holds the optimizer state, about 3x the model's size)."
    )
    gradient_checkpointing: bool = Field(False, description="Trade compute for memory (slower; for big models).")
    bf16: Literal["auto", True, False] = Field("auto", description="'auto' = only where bf16 is native (GPU).")
    lora: LoraConfig | None = Field(None, description="Train LoRA adapters instead of all weights.")
    trainable_layers: int | float | None = Field(
        None, gt=0, description="Train only the top decoder blocks (+ final norm): N blocks (an integer) or a "
        "fraction of them (0 < x < 1, rounded up); embeddings, LM head and lower blocks stay frozen, so no backward "
        "pass runs through them. None = train every weight.")
    optim: str = Field("adamw_torch", description="transformers optimiser name, e.g. adamw_torch_fused.")
    push_to_hub: bool = Field(False, description="Push checkpoints (hub_strategy) and the stage's final model.")
    hub_model_id: str | None = Field(None, description="Hub repo for push_to_hub, e.g. 'me/open-rs3'.")
    hub_strategy: Literal["end", "every_save", "checkpoint", "all_checkpoints"] = Field(
        "every_save", description="What TRL pushes during training (transformers' hub_strategy)."
    )
    hub_private_repo: bool | None = Field(None, description="Create the hub repo private (None = account default).")
    trl: dict[str, Any] = Field(
        default_factory=dict,
        description="Any other SFTConfig/GRPOConfig field, passed to TRL as is (names checked against TRL).",
    )

    @model_validator(mode="after")
    def _scheduler_floor(self) -> _StageCommon:
        if self.trainable_layers is not None and self.lora is not None:
            raise ValueError("trainable_layers and lora both choose what trains; fix: set only one of them")
        if isinstance(self.trainable_layers, float) and self.trainable_layers >= 1:
            raise ValueError(f"trainable_layers={self.trainable_layers}: a fraction must be < 1 and a count an "
                             "integer; fix: e.g. 0.5 (the top half) or 15")
        if self.lr_scheduler == "cosine_with_min_lr" and self.min_lr_rate is None and self.min_lr is None:
            raise ValueError("lr_scheduler cosine_with_min_lr needs min_lr_rate or min_lr; fix: set one of them")
        if self.min_lr_rate is not None and self.min_lr is not None:
            raise ValueError("set only one of min_lr_rate and min_lr")
        if self.push_to_hub and not self.hub_model_id:
            raise ValueError("push_to_hub needs hub_model_id; fix: set hub_model_id: OWNER/NAME")
        return self

    @model_validator(mode="after")
    def _trl_block(self) -> _StageCommon:
        if self.trl:
            check_trl_block(type(self), self.trl)
        return self


# Attention implementations that honour packed position_ids (transformers 5.23 masking_utils builds a
# block-diagonal mask from them for eager/sdpa/flex; the flash kernels take cu_seq_lens).
PACKING_ATTENTION = ("sdpa", "eager", "flex_attention", "flash_attention_2", "flash_attention_3")


def packing_safe_attention(impl: str | None) -> bool:
    """True when packed samples stay apart under ``impl`` (None = polyreason chooses, always safe)."""
    return impl is None or impl in PACKING_ATTENTION or impl.startswith("kernels-community/flash")


class RewardSpec(_Strict):
    """One reward term: ``weight × reward(**params)``."""

    weight: float = Field(1.0, description="Weight in the composite sum (may be negative).")
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Keyword arguments of the reward (docs/rewards.md); custom: `function` here or beside weight.",
    )


def install_stage_types(models: list[type[StageSettings]]) -> None:
    """Make ``Recipe.stages`` the union of the registered stage settings, told apart by ``type``.

    Called once by the registry (:mod:`polyreason.train.stages`) after it imported every stage type; the
    stage modules import this module, so the union cannot be written here.
    """
    global Stage
    Stage = Annotated[functools.reduce(operator.or_, models), Field(discriminator="type")]
    Recipe.model_rebuild(force=True)


class EvalSettings(_Strict):
    """Evaluation of the trained model (``polyreason eval`` has the same options and the same defaults,
    :data:`polyreason.evaluate.runner.EVAL_DEFAULTS`)."""

    benchmarks: list[str] = Field(
        default_factory=lambda: list(EVAL_DEFAULTS.benchmarks), description="Registry names, e.g. math500, mgsm-es."
    )
    samples: int = Field(EVAL_DEFAULTS.samples, ge=1, description="n samples per problem (pass@1 averages over them).")
    limit: int | None = Field(None, gt=0, description="First N problems of each benchmark.")
    temperature: float = Field(EVAL_DEFAULTS.temperature, ge=0, description="0 = greedy.")
    top_p: float = Field(EVAL_DEFAULTS.top_p, gt=0, le=1, description="Nucleus sampling threshold.")
    max_new_tokens: int = Field(EVAL_DEFAULTS.max_new_tokens, gt=0, description="Length limit per completion.")
    backend: Literal["transformers", "vllm", "endpoint"] | None = Field(
        EVAL_DEFAULTS.backend, description="Generation backend; None = endpoint for an http(s) model, else transformers."
    )
    batch_size: int | None = Field(
        EVAL_DEFAULTS.batch_size, gt=0, description="Prompts per generate call; None = the backend's default."
    )
    prompt_style: Literal["lighteval", "polyreason"] = Field(
        EVAL_DEFAULTS.prompt_style,
        description="lighteval = Open-RS zero-shot instruction; polyreason = our <think> system prompt.",
    )
    prompt_template: str | None = Field(None, description="Custom user-turn template containing {problem}.")
    system: str | None = Field(None, description="System prompt for evaluation (None = the style's default).")

    @field_validator("benchmarks")
    @classmethod
    def _known_benchmarks(cls, v: list[str]) -> list[str]:
        from polyreason.evaluate.benchmarks import expand_names

        try:
            return expand_names(v) if v else v
        except UserError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("prompt_template")
    @classmethod
    def _template_has_problem(cls, v: str | None) -> str | None:
        if v is not None and "{problem}" not in v:
            raise ValueError("prompt_template must contain {problem}; fix: e.g. 'Solve: {problem}'")
        return v


class HeldoutConfig(_Strict):
    """Greedy accuracy on held-out problems every ``every`` training steps (learning curves in metrics.jsonl).

    Each evaluation logs ``heldout/accuracy``, ``heldout/format``, ``heldout/mean_length`` and
    ``heldout/train_seconds`` (the stage's training wall time so far, *excluding* these evaluations) at its step.
    """

    every: int = Field(10, gt=0, description="Evaluate after every N optimiser steps (and after the last one).")
    at_start: bool = Field(True, description="Also evaluate before the stage's first step.")
    source: str | None = Field(None, description="Problem source (RL rows); None = the recipe's data.train.")
    split: str = Field("val", description="Split to draw from: synthetic tasks have disjoint val/test halves.")
    problems: int = Field(200, gt=0, description="Number of problems per evaluation.")
    max_new_tokens: int | None = Field(None, gt=0, description="None = the stage's max_completion_length.")
    stages: list[str] = Field(default_factory=lambda: ["grpo"],
                              description="Training stage types that evaluate (sft, grpo).")


class TrackingConfig(_Strict):
    """Logging and experiment tracking (passed to TRL's report_to)."""

    report_to: list[ReportTo] = Field(default_factory=lambda: ["none"], description="none|wandb|trackio|tensorboard")
    logging_steps: int = Field(1, gt=0)
    log_completions: bool = Field(True, description="Keep a sample of completions per logged step.")
    run_name: str | None = None
    heldout: HeldoutConfig | None = Field(None, description="Periodic held-out evaluation during training.")


class CostConfig(_Strict):
    """The cost estimate in every train and eval summary (``device-hours × price_per_hour``)."""

    price_per_hour: float | None = Field(
        None, ge=0, description="Price of one device-hour, e.g. 0.44 (an A40, USD); None = no estimate."
    )
    device_count: int | None = Field(
        None, gt=0, description="Devices billed; None = the training processes (add a vLLM server's GPUs here)."
    )


class Recipe(_Strict):
    """A whole run: model → data → stages in order → evaluation."""

    name: str = Field("run", description="Short name used in output paths and trackers.")
    seed: int = Field(42, description="Seeds data shuffling, sampling and initialisation.")
    output_dir: str = Field("runs/run", description="Everything the run writes goes here.")
    language: str = Field("en", description="Target language (ISO 639-1) for prompts and language rewards.")
    model: ModelConfig = Field(default_factory=ModelConfig, description="Model to start from; a string is a spec.")
    data: DataConfig = Field(default_factory=DataConfig, description="Training data sources.")
    stages: list[Stage] = Field(default_factory=list, description="Run in order; each feeds the next.")
    rewards: dict[str, RewardSpec] = Field(default_factory=dict, description="name → {weight, params}.")
    eval: EvalSettings = Field(default_factory=EvalSettings, description="Evaluation settings.")
    tracking: TrackingConfig = Field(default_factory=TrackingConfig, description="Logging and trackers.")
    cost: CostConfig = Field(default_factory=CostConfig, description="Price per device-hour for the cost estimate.")

    @field_validator("model", mode="before")
    @classmethod
    def _model_shorthand(cls, v: Any) -> Any:
        return {"spec": v} if isinstance(v, str) else v

    @field_validator("rewards", mode="before")
    @classmethod
    def _reward_shorthand(cls, v: Any) -> Any:
        return _expand_reward_shorthand(v)

    @field_validator("language")
    @classmethod
    def _language_known(cls, v: str) -> str:
        from polyreason.prompts import LANGUAGE_NAMES

        if v not in LANGUAGE_NAMES:
            raise ValueError(f"unknown language {v!r}{did_you_mean(v, LANGUAGE_NAMES)}")
        return v

    @model_validator(mode="after")
    def _cross_checks(self) -> Recipe:
        from polyreason.train.stages import STAGE_TYPES, check_stages

        if not self.stages:
            raise ValueError(f"stages: the recipe has no stages; fix: add at least one, e.g. `- type: sft` "
                             f"(types: {', '.join(STAGE_TYPES)})")
        _check_reward_names(self.rewards, "rewards")
        check_stages(self)  # names, {from: …} references, and each type's own cross-field checks
        heldout = self.tracking.heldout
        for kind in heldout.stages if heldout is not None else []:
            if kind not in STAGE_TYPES or not STAGE_TYPES[kind].trains:
                trains = [name for name, st in STAGE_TYPES.items() if st.trains]
                raise ValueError(f"tracking.heldout.stages: {kind!r} is not a training stage type; fix: use "
                                 f"{' or '.join(trains)}")
        return self

    def stage_rewards(self, stage: StageSettings) -> dict[str, RewardSpec]:
        """The rewards a stage optimises: its own ``rewards`` override, else the recipe's."""
        own = getattr(stage, "rewards", None)
        return own if own is not None else self.rewards

    def trained_rewards(self) -> tuple[dict[str, RewardSpec], int | None]:
        """The rewards RL training uses and the completion budget they are built for (see
        :func:`polyreason.rewards.suite.suite_from_specs`): the first reward-trained (GRPO) stage's rewards and
        its ``max_completion_length``; with no such stage, the recipe's ``rewards`` and no budget."""
        for stage in self.stages:
            if stage.uses_rewards:
                return self.stage_rewards(stage), getattr(stage, "max_completion_length", None)
        return self.rewards, None


def _expand_reward_shorthand(v: Any) -> Any:
    """Allow ``accuracy: 1.0`` for ``accuracy: {weight: 1.0}``, and ``custom: {function: f, …}`` for
    ``custom: {params: {function: f}, …}`` (the function is a parameter of the custom reward)."""
    if isinstance(v, dict):
        return {k: _expand_one(w) for k, w in v.items()}
    return v


def _expand_one(spec: Any) -> Any:
    if isinstance(spec, int | float) and not isinstance(spec, bool):
        return {"weight": spec}
    if isinstance(spec, dict) and "function" in spec:
        spec = dict(spec)
        params = dict(spec.get("params") or {})
        if "function" in params:
            raise ValueError("`function` is given both beside `weight` and in `params`; fix: keep one")
        params["function"] = spec.pop("function")
        spec["params"] = params
    return spec


def _check_reward_names(rewards: dict[str, RewardSpec], where: str) -> None:
    """Every reward must build: known name (or custom:NAME), known parameters, a custom function that imports,
    a model spec of the right shape (no model loads)."""
    from polyreason.rewards.registry import check_reward

    for name, spec in rewards.items():
        try:
            check_reward(name, spec.params)
        except UserError as exc:
            raise ValueError(f"{where}.{name}: {exc}") from None


# --------------------------------------------------------------------------------------------- trl: pass-through

# TRL/transformers fields polyreason sets itself (train/args.py), each with the recipe key that decides it.
TRL_OWNED_COMMON: dict[str, str] = {
    "output_dir": "-o/--output (or output_dir)", "seed": "seed", "learning_rate": "learning_rate",
    "lr_scheduler_type": "lr_scheduler", "lr_scheduler_kwargs": "min_lr_rate or min_lr",
    "warmup_steps": "warmup_ratio", "weight_decay": "weight_decay", "adam_beta1": "adam_beta1",
    "adam_beta2": "adam_beta2", "max_grad_norm": "max_grad_norm", "optim": "optim",
    "per_device_train_batch_size": "per_device_batch_size",
    "gradient_accumulation_steps": "gradient_accumulation_steps", "num_train_epochs": "epochs",
    "max_steps": "max_steps", "save_strategy": "save_steps", "save_steps": "save_steps",
    "save_total_limit": "save_total_limit",
    "logging_strategy": "tracking.logging_steps", "logging_steps": "tracking.logging_steps",
    "logging_first_step": "tracking.logging_steps (the first step is always logged)",
    "report_to": "tracking.report_to", "run_name": "tracking.run_name", "bf16": "bf16",
    "fp16": "bf16 (fp16 training is not offered)", "activation_checkpointing": "gradient_checkpointing",
    "activation_checkpointing_kwargs": "gradient_checkpointing", "gradient_checkpointing": "gradient_checkpointing",
    "gradient_checkpointing_kwargs": "gradient_checkpointing",
    "disable_tqdm": "(none: polyreason draws its own progress bar)",
    "save_only_model": "(none: resume needs the optimizer state)", "dataloader_num_workers": "(none: fixed at 0)",
    "resume_from_checkpoint": "--resume", "model_init_kwargs": "model.*", "trust_remote_code": "model.trust_remote_code",
    "push_to_hub": "push_to_hub", "hub_model_id": "hub_model_id", "hub_strategy": "hub_strategy",
    "hub_private_repo": "hub_private_repo",
}
TRL_OWNED_SFT: dict[str, str] = {
    "max_length": "max_length", "packing": "packing", "packing_strategy": "packing (always BFD, padding-free)",
    "padding_free": "packing", "completion_only_loss": "completion_only_loss",
    "assistant_only_loss": "completion_only_loss (every assistant turn is trained)",
}
TRL_OWNED_GRPO: dict[str, str] = {
    "num_generations": "num_generations", "max_completion_length": "max_completion_length",
    "temperature": "temperature", "top_p": "top_p", "beta": "beta", "epsilon": "epsilon or preset",
    "epsilon_high": "epsilon_high or preset", "loss_type": "loss_type or preset",
    "importance_sampling_level": "importance_sampling_level or preset", "scale_rewards": "scale_rewards or preset",
    "num_iterations": "num_iterations", "mask_truncated_completions": "mask_truncated_completions",
    "top_entropy_quantile": "top_entropy_quantile", "off_policy_mask_threshold": "off_policy_mask_threshold",
    "entropy_coef": "entropy_coef", "multi_objective_aggregation": "multi_objective_aggregation",
    "reward_weights": "rewards.NAME.weight", "log_completions": "tracking.log_completions",
    "use_vllm": "use_vllm", "vllm_mode": "vllm_mode", "vllm_gpu_memory_utilization": "vllm_gpu_memory_utilization",
    "vllm_server_base_url": "vllm_server_base_url", "vllm_max_model_length": "vllm_max_model_len",
    "vllm_importance_sampling_correction": "vllm_importance_sampling_correction",
    "vllm_importance_sampling_mode": "vllm_importance_sampling_mode",
}


def trl_config_fields(config: str) -> dict[str, Any]:
    """Name → dataclass field of the TRL config class ``"module:Class"`` (imports trl: a few seconds, once)."""
    import dataclasses
    import importlib

    module, _, name = config.partition(":")
    config_cls = getattr(importlib.import_module(module), name)
    return {f.name: f for f in dataclasses.fields(config_cls) if f.init}


def check_trl_block(stage_cls: type[_StageCommon], block: dict[str, Any]) -> None:
    """Raise ValueError for a ``trl:`` key TRL does not have, one polyreason owns, or a plainly wrong type.

    ``stage_cls`` is the training stage's settings class: its ``trl_config`` names TRL's config class and
    ``trl_owned`` the TRL fields polyreason sets (each with the recipe key that sets it).
    """
    owned = {**TRL_OWNED_COMMON, **stage_cls.trl_owned}
    fields = trl_config_fields(stage_cls.trl_config)
    cls_name = stage_cls.trl_config.rpartition(":")[2]
    for name, value in block.items():
        if name in owned:
            raise ValueError(f"trl.{name}: polyreason sets this TRL field itself; fix: use {owned[name]} instead")
        if name in stage_cls.model_fields:
            raise ValueError(f"trl.{name}: that is a polyreason stage key; fix: set it on the stage, not under trl:")
        if name not in fields:
            hint = did_you_mean(name, fields)
            match = difflib.get_close_matches(name, list(fields), n=1, cutoff=0.6)
            if match and match[0] in owned:
                hint += f" (polyreason sets that one: use {owned[match[0]]})"
            raise ValueError(f"trl.{name}: TRL's {cls_name} has no field {name!r}{hint}")
        problem = _trl_type_problem(fields[name].type, value)
        if problem:
            raise ValueError(f"trl.{name}: {problem} (got {value!r})")


_SCALARS: dict[str, tuple[type, ...]] = {"bool": (bool,), "int": (int,), "float": (int, float), "str": (str,)}


def _trl_type_problem(annotation: Any, value: Any) -> str | None:
    """A message when ``value`` cannot be the TRL field's declared scalar type; None when fine or not checkable."""
    text = annotation.__name__ if isinstance(annotation, type) else str(annotation)
    parts = [p.strip() for p in text.split("|")]
    if value is None:
        return None if "None" in parts else "this field cannot be null"
    kinds = [p for p in parts if p != "None"]
    if not kinds or any(k not in _SCALARS for k in kinds):
        return None  # dicts, lists, literals as str, unions with str: TRL checks these itself
    allowed = tuple(t for k in kinds for t in _SCALARS[k])
    if isinstance(value, bool) and bool not in allowed:
        return f"expected {' or '.join(kinds)}, not a boolean"
    if not isinstance(value, allowed):
        return f"expected {' or '.join(kinds)}"
    return None


def preset_table_markdown() -> str:
    """The GRPO preset table (what each preset sends to GRPOConfig), as markdown for docs/training.md."""
    rows = ["| preset | `loss_type` | `importance_sampling_level` | `scale_rewards` | `epsilon` | `epsilon_high` "
            "| dynamic sampling | extra reward |", "|---|---|---|---|---|---|---|---|"]
    for name, p in PRESETS.items():
        high = "= `epsilon`" if p["epsilon_high"] is None else f"{p['epsilon_high']:g}"
        extra = ", ".join(f"`{r}` (weight {w})" for r, w in PRESET_REWARDS.get(name, {}).items()) or "—"
        rows.append(
            f"| `{name}` | `{p['loss_type']}` ({LOSS_MEANING[p['loss_type']]}) | `{p['importance_sampling_level']}` "
            f"| `{p['scale_rewards']}` | {p['epsilon']:g} | {high} | {'on' if p['dynamic_sampling'] else 'off'} "
            f"| {extra} |"
        )
    return "\n".join(rows)


# --------------------------------------------------------------------------------------------- loading


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Read a YAML recipe, apply ``key.sub=value`` overrides, validate, and return the :class:`Recipe`."""
    from polyreason.files import read_text

    path = Path(path)
    if not path.is_file():
        raise UserError(f"recipe file {str(path)!r} does not exist; fix: check the path")
    return parse_recipe(read_text(path, "the recipe"), str(path), overrides)


def parse_recipe(text: str, source: str, overrides: list[str] | None = None) -> Recipe:
    """A recipe from YAML ``text`` (``source`` names it in errors), with ``key.sub=value`` overrides applied."""
    raw = load_yaml(text, source)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise UserError(f"{source}: a recipe is a mapping of keys (model:, stages:, …), got {type(raw).__name__}")
    for item in overrides or []:
        apply_override(raw, item)
    return recipe_from_dict(raw, source=source)


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that rejects a key repeated in one mapping (PyYAML silently keeps the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, str | int | float | bool) and key in first_line:
                raise UserError(f"{self.name}:{line}: duplicate key {key!r} (first at line {first_line[key]}); "
                                "fix: keep one of them (YAML would silently use the last)")
            first_line.setdefault(key, line)
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str, source: str = "<recipe>") -> Any:
    """Parse YAML text safely; syntax errors and duplicate keys are UserErrors naming ``source`` and the line."""
    loader = _UniqueKeyLoader(text)
    loader.name = source
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        raise UserError(f"{source}: not valid YAML: {exc}; fix: correct the syntax at the line shown") from None
    finally:
        loader.dispose()


def recipe_from_dict(raw: dict[str, Any], source: str = "recipe") -> Recipe:
    """Validate a plain dict as a :class:`Recipe`, turning pydantic errors into one readable UserError."""
    try:
        return Recipe.model_validate(raw)
    except ValidationError as exc:
        raise UserError(format_validation_error(exc, source)) from None


def apply_override(raw: dict[str, Any], item: str) -> None:
    """Apply one ``a.b.c=value`` override in place; list items by index (``stages.0.max_steps=1``).

    Values are parsed as YAML scalars, so ``1e-6``, ``true`` and ``[a, b]`` have their natural types.
    """
    if "=" not in item:
        raise UserError(f"--set {item!r}: expected KEY=VALUE, e.g. --set stages.0.max_steps=10")
    key, _, text = item.partition("=")
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise UserError(f"--set {item!r}: empty key")
    value = yaml.safe_load(text) if text.strip() else ""
    node: Any = raw
    for depth, part in enumerate(parts[:-1]):
        node = _child(node, part, parts[: depth + 1], item)
    last = parts[-1]
    if isinstance(node, list):
        node[_index(node, last, item)] = value
    else:
        node[last] = value


def _child(node: Any, part: str, path: list[str], item: str) -> Any:
    if isinstance(node, list):
        return node[_index(node, part, item)]
    if node.get(part) is None:
        node[part] = {}
    if not isinstance(node[part], dict | list):
        raise UserError(f"--set {item!r}: {'.'.join(path)} is a value, not a section; fix: set it whole")
    return node[part]


def _index(node: list[Any], part: str, item: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise UserError(f"--set {item!r}: {part!r} is not an index of a list of {len(node)} items")
    return int(part)


def format_validation_error(exc: ValidationError, source: str) -> str:
    """One line per problem: the dotted key, what is wrong, and the fix where we know it."""
    from polyreason.train.stages import STAGE_TYPES

    lines = [f"{source}: invalid recipe ({exc.error_count()} problem{'s' if exc.error_count() > 1 else ''})"]
    for err in exc.errors():
        raw_loc = err["loc"]  # a stage's errors carry its type tag after the index: stages.0.sft.max_steps
        loc = [str(p) for i, p in enumerate(raw_loc)
               if not (p in STAGE_TYPES and i and isinstance(raw_loc[i - 1], int))]
        key = ".".join(loc) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if not loc and _KEYED.match(msg):  # a cross-stage check that names its own key (stages.3.data: …)
            lines.append(f"  {msg}")
            continue
        if err["type"] == "extra_forbidden":
            msg = "unknown key" + _suggest_field(exc, err["loc"]) + "; fix: remove it or correct the spelling"
        elif err["type"] == "missing":
            msg = "required key is missing; fix: add it"
        elif err["type"].startswith(("int_", "float_", "bool_", "string_", "literal_", "greater", "less")):
            msg += f" (got {err.get('input')!r})"
        lines.append(f"  {key}: {msg}")
    return "\n".join(lines)


_KEYED = re.compile(r"^[a-z_]+(\.[\w-]+)+: ")


def _suggest_field(exc: ValidationError, loc: tuple[Any, ...]) -> str:
    from polyreason.train.stages import STAGE_TYPES

    model: Any = Recipe
    for part in loc[:-1]:
        field = getattr(model, "model_fields", {}).get(part) if isinstance(part, str) else None
        if part in STAGE_TYPES:
            model = STAGE_TYPES[part].settings
            continue
        if field is None:
            continue
        model = _model_of(field.annotation) or model
    names = list(getattr(model, "model_fields", {}))
    return did_you_mean(str(loc[-1]), names)


def _model_of(annotation: Any) -> Any:
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def dump_recipe(recipe: Recipe) -> str:
    """The fully resolved recipe as YAML (defaults and preset values filled in)."""
    return yaml.safe_dump(recipe.model_dump(mode="json", by_alias=True), sort_keys=False, allow_unicode=True)


def reference_markdown() -> str:
    """Every recipe field with its type, default and description, generated from the schema (docs/recipes.md)."""
    from polyreason.train.stages import STAGE_TYPES

    sections = [("top level", Recipe), ("model", ModelConfig), ("data", DataConfig),
                ("stages.N.{data,model}: {from: NAME}", StageRef), ("stages.N.lora", LoraConfig)]
    sections += [(f"stages.N (type: {name})", st.settings) for name, st in STAGE_TYPES.items()]
    sections += [("rewards.NAME", RewardSpec), ("eval", EvalSettings), ("tracking", TrackingConfig),
                 ("cost", CostConfig)]
    out = ["# Recipe reference", "", "Generated from `polyreason.config` by `polyreason recipe reference`; "
           "do not edit by hand.", ""]
    for title, model in sections:
        out += [f"## {title}", "", "| key | type | default | meaning |", "|---|---|---|---|"]
        for name, field in model.model_fields.items():
            default = "(required)" if field.is_required() else _default_text(field)
            kind = _type_text(field.annotation).replace("|", "\\|")
            desc = (field.description or "").replace("|", "\\|")
            out.append(f"| `{name}` | {kind} | {default} | {desc} |")
        out.append("")
    return "\n".join(out)


def _default_text(field: Any) -> str:
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "(section)"
    return f"`{value!r}`".replace("|", "\\|")


def _type_text(annotation: Any) -> str:
    text = str(annotation).replace("typing.", "").replace("polyreason.config.", "")
    text = re.sub(r"Annotated\[([^,\]]+), AfterValidator\([^)]*\)\]", r"\1", text)  # DataSource -> str
    text = re.sub(r"^Optional\[(.*)\]$", r"\1 | None", text)
    if "discriminator" in text:
        from polyreason.train.stages import STAGE_TYPES

        return "list of stages (" + " | ".join(STAGE_TYPES) + ")"
    return text.replace("<class '", "").replace("'>", "")


# Moved to their stage modules; importable from here as before.
_MOVED = {"SFTStage": "polyreason.train.stages.sft", "GRPOStage": "polyreason.train.stages.grpo"}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        import importlib

        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module 'polyreason.config' has no attribute {name!r}")


# The stage registry imports the stage modules (which import this one) and completes Recipe.stages.
import polyreason.train.stages  # noqa: E402, F401
