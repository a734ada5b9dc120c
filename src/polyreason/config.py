"""Typed, validated recipes: YAML (+ ``--set a.b=c`` overrides) → :class:`Recipe`.

A recipe tells the whole story of a run: the model, the data, the stages in order (``sft``, ``grpo``), the
rewards with their weights, the evaluation and where outputs go.  Every field is documented beside its
definition (``polyreason recipe show`` prints the fully resolved recipe).  Unknown keys, wrong types, missing
files and impossible combinations raise :class:`~polyreason.errors.UserError` naming the key and the fix,
before any model loads.

GRPO presets resolve here, so the resolved recipe shows exactly what TRL receives:

==========  ===========  =============  ============  ================  =======================
preset      loss_type    scale_rewards  epsilon_high  dynamic_sampling  extra reward
==========  ===========  =============  ============  ================  =======================
grpo        grpo         group          = epsilon     off               —
dr_grpo     dr_grpo      none           = epsilon     off               —
bnpo        bnpo         group          = epsilon     off               —
dapo        dapo         group          0.28          on                soft_overlong (1.0)
==========  ===========  =============  ============  ================  =======================
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from polyreason.errors import UserError
from polyreason.generation.base import SamplingParams

ReportTo = Literal["none", "wandb", "trackio", "tensorboard"]
Preset = Literal["grpo", "dr_grpo", "bnpo", "dapo"]
Scheduler = Literal["constant", "constant_with_warmup", "linear", "cosine", "cosine_with_min_lr"]

PRESETS: dict[str, dict[str, Any]] = {
    "grpo": {"loss_type": "grpo", "scale_rewards": "group", "epsilon_high": None, "dynamic_sampling": False},
    "dr_grpo": {"loss_type": "dr_grpo", "scale_rewards": "none", "epsilon_high": None, "dynamic_sampling": False},
    "bnpo": {"loss_type": "bnpo", "scale_rewards": "group", "epsilon_high": None, "dynamic_sampling": False},
    "dapo": {"loss_type": "dapo", "scale_rewards": "group", "epsilon_high": 0.28, "dynamic_sampling": True},
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


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

    train: str = Field("synthetic:2000", description="RL problems (problem/answer/language rows).")
    sft: str | None = Field(None, description="SFT rows (chat messages); defaults to synthetic traces for sft.")
    split: str = Field("train", description="Split name for hub datasets.")
    column_map: dict[str, str] = Field(default_factory=dict, description="Rename source columns: {source: ours}.")
    system_prompt: str | None = Field(None, description="Override the language's default system prompt.")
    limit: int | None = Field(None, gt=0, description="Use at most this many rows.")

    @field_validator("train", "sft")
    @classmethod
    def _source_exists(cls, v: str | None) -> str | None:
        if v is not None:
            _check_source(v)
        return v


class _StageCommon(_Strict):
    learning_rate: float = Field(1e-6, gt=0, description="Peak learning rate.")
    lr_scheduler: Scheduler = Field("cosine", description="Learning-rate schedule.")
    min_lr_rate: float | None = Field(
        None, ge=0, le=1, description="For cosine_with_min_lr: floor as a fraction of the peak LR."
    )
    min_lr: float | None = Field(None, ge=0, description="For cosine_with_min_lr: absolute floor (alternative).")
    warmup_ratio: float = Field(0.0, ge=0, lt=1, description="Fraction of steps spent warming up.")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay.")
    adam_beta1: float = Field(0.9, gt=0, lt=1, description="AdamW β1.")
    adam_beta2: float = Field(0.999, gt=0, lt=1, description="AdamW β2.")
    max_grad_norm: float = Field(1.0, gt=0, description="Gradient clipping norm.")
    per_device_batch_size: int = Field(8, gt=0, description="Rows (SFT) or completions (GRPO) per device step.")
    gradient_accumulation_steps: int = Field(1, gt=0, description="Micro-batches per optimiser step.")
    epochs: float = Field(1.0, gt=0, description="Passes over the data (ignored when max_steps is set).")
    max_steps: int | None = Field(None, gt=0, description="Stop after this many optimiser steps.")
    save_steps: int = Field(50, gt=0, description="Checkpoint every N steps (resume restarts from the last).")
    gradient_checkpointing: bool = Field(False, description="Trade compute for memory (slower; for big models).")
    bf16: Literal["auto", True, False] = Field("auto", description="'auto' = only where bf16 is native (GPU).")
    lora: LoraConfig | None = Field(None, description="Train LoRA adapters instead of all weights.")
    optim: str = Field("adamw_torch", description="transformers optimiser name, e.g. adamw_torch_fused.")

    @model_validator(mode="after")
    def _scheduler_floor(self) -> _StageCommon:
        if self.lr_scheduler == "cosine_with_min_lr" and self.min_lr_rate is None and self.min_lr is None:
            raise ValueError("lr_scheduler cosine_with_min_lr needs min_lr_rate or min_lr; fix: set one of them")
        if self.min_lr_rate is not None and self.min_lr is not None:
            raise ValueError("set only one of min_lr_rate and min_lr")
        return self


class SFTStage(_StageCommon):
    """Supervised fine-tuning on chat rows with TRL's SFTTrainer."""

    type: Literal["sft"] = "sft"
    learning_rate: float = Field(5e-5, gt=0, description="Peak learning rate.")
    max_length: int = Field(1024, gt=0, description="Truncate/pack sequences to this many tokens.")
    packing: bool = Field(False, description="Pack several rows into each max_length sequence.")
    completion_only_loss: bool = Field(True, description="Loss on assistant tokens only (system/user masked).")
    data: str | None = Field(None, description="SFT source for this stage; default: data.sft.")

    @field_validator("data")
    @classmethod
    def _source_exists(cls, v: str | None) -> str | None:
        if v is not None:
            _check_source(v)
        return v


class GRPOStage(_StageCommon):
    """GRPO-family RL with TRL's GRPOTrainer; ``preset`` fills loss_type/scale_rewards/epsilon_high."""

    type: Literal["grpo"] = "grpo"
    preset: Preset = Field("grpo", description="grpo | dr_grpo | bnpo | dapo (see the table in the module doc).")
    num_generations: int = Field(8, ge=2, description="G: completions sampled per prompt.")
    beta: float = Field(0.0, ge=0, description="KL coefficient (0 = no reference model).")
    epsilon: float = Field(0.2, gt=0, description="Lower clip range ε.")
    epsilon_high: float | None = Field(None, gt=0, description="Upper clip range (clip-higher); None = preset.")
    loss_type: Literal["grpo", "dr_grpo", "bnpo", "dapo"] | None = Field(None, description="None = preset.")
    scale_rewards: Literal["group", "batch", "none"] | None = Field(None, description="None = preset.")
    dynamic_sampling: bool | None = Field(None, description="Drop and refill zero-variance groups; None = preset.")
    dynamic_sampling_max_rounds: int = Field(
        4, ge=1, description="Extra generation rounds allowed per step to refill dropped groups."
    )
    num_iterations: int = Field(1, ge=1, description="μ: optimisation passes per generation batch.")
    max_prompt_length: int = Field(512, gt=0, description="Prompts longer than this are truncated (left).")
    max_completion_length: int = Field(256, gt=0, description="Generation budget per completion.")
    temperature: float = Field(1.0, gt=0, description="Sampling temperature.")
    top_p: float = Field(1.0, gt=0, le=1, description="Nucleus sampling.")
    mask_truncated_completions: bool = Field(False, description="Exclude truncated completions from the loss.")
    use_vllm: bool = Field(False, description="Generate with vLLM (GPU only).")
    vllm_mode: Literal["colocate", "server"] = Field("colocate", description="vLLM in-process or `trl vllm-serve`.")
    vllm_gpu_memory_utilization: float = Field(0.3, gt=0, le=1, description="colocate: GPU share for vLLM.")
    vllm_max_model_len: int | None = Field(None, gt=0, description="vLLM context length.")
    vllm_server_base_url: str | None = Field(
        None, description="server mode: URL of `trl vllm-serve` (None = http://0.0.0.0:8000, TRL's default)."
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
        updates = {k: v for k, v in preset.items() if getattr(self, k) is None and k != "epsilon_high"}
        if self.epsilon_high is None:
            updates["epsilon_high"] = preset["epsilon_high"] or self.epsilon
        for key, value in updates.items():
            object.__setattr__(self, key, value)
        if self.epsilon_high < self.epsilon:
            raise ValueError(f"epsilon_high ({self.epsilon_high}) < epsilon ({self.epsilon}); fix: raise it")
        generation_batch = self.per_device_batch_size * self.gradient_accumulation_steps
        if generation_batch % self.num_generations:
            raise ValueError(
                f"per_device_batch_size × gradient_accumulation_steps = {generation_batch} completions is not "
                f"divisible by num_generations = {self.num_generations}; fix: make it a multiple "
                f"(e.g. per_device_batch_size={self.num_generations})"
            )
        return self


class RewardSpec(_Strict):
    """One reward term: ``weight × reward(**params)``."""

    weight: float = Field(1.0, description="Weight in the composite sum (may be negative).")
    params: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments of the reward.")


GRPOStage.model_rebuild()

Stage = Annotated[SFTStage | GRPOStage, Field(discriminator="type")]


class EvalConfig(_Strict):
    """Evaluation after training (``polyreason eval`` uses the same fields)."""

    benchmarks: list[str] = Field(default_factory=list, description="Registry names, e.g. math500, mgsm-es.")
    samples: int = Field(1, ge=1, description="n samples per problem (pass@1 averages over them).")
    limit: int | None = Field(None, gt=0, description="First N problems of each benchmark.")
    temperature: float = Field(SamplingParams.temperature, ge=0, description="0 = greedy.")
    top_p: float = Field(SamplingParams.top_p, gt=0, le=1, description="Nucleus threshold (no top-k cut).")
    max_new_tokens: int = Field(SamplingParams.max_new_tokens, gt=0)
    backend: Literal["transformers", "vllm"] = "transformers"
    batch_size: int = Field(16, gt=0, description="Prompts per generate call (transformers backend).")
    prompt_style: Literal["lighteval", "polyreason"] = Field(
        "lighteval", description="lighteval = Open-RS zero-shot instruction; polyreason = our <think> system prompt."
    )
    prompt_template: str | None = Field(None, description="Custom user-turn template containing {problem}.")
    system: str | None = Field(None, description="System prompt for evaluation (None = the style's default).")

    @field_validator("benchmarks")
    @classmethod
    def _known_benchmarks(cls, v: list[str]) -> list[str]:
        try:
            from polyreason.evaluate.benchmarks import expand_names
        except ImportError:
            return v
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


class TrackingConfig(_Strict):
    """Logging and experiment tracking (passed to TRL's report_to)."""

    report_to: list[ReportTo] = Field(default_factory=lambda: ["none"], description="none|wandb|trackio|tensorboard")
    logging_steps: int = Field(1, gt=0)
    log_completions: bool = Field(True, description="Keep a sample of completions per logged step.")
    run_name: str | None = None


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
    eval: EvalConfig = Field(default_factory=EvalConfig, description="Evaluation settings.")
    tracking: TrackingConfig = Field(default_factory=TrackingConfig, description="Logging and trackers.")

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
            raise ValueError(f"unknown language {v!r}{_did_you_mean(v, LANGUAGE_NAMES)}")
        return v

    @model_validator(mode="after")
    def _cross_checks(self) -> Recipe:
        if not self.stages:
            raise ValueError("stages: the recipe has no stages; fix: add at least one `- type: sft` or `- type: grpo`")
        _check_reward_names(self.rewards, "rewards")
        for i, stage in enumerate(self.stages):
            if isinstance(stage, GRPOStage):
                if stage.rewards is not None:
                    _check_reward_names(stage.rewards, f"stages.{i}.rewards")
                if not (stage.rewards or self.rewards):
                    raise ValueError(f"stages.{i}: a grpo stage needs rewards; fix: add a `rewards:` section")
                if stage.preset == "dapo" and "soft_overlong" not in self.stage_rewards(stage):
                    target = stage.rewards if stage.rewards is not None else self.rewards
                    target["soft_overlong"] = RewardSpec(weight=1.0)
        return self

    def stage_rewards(self, stage: GRPOStage) -> dict[str, RewardSpec]:
        """The rewards a GRPO stage uses: its own override, else the recipe's."""
        return stage.rewards if stage.rewards is not None else self.rewards


def _expand_reward_shorthand(v: Any) -> Any:
    """Allow ``accuracy: 1.0`` for ``accuracy: {weight: 1.0}``."""
    if isinstance(v, dict):
        return {k: ({"weight": w} if isinstance(w, int | float) and not isinstance(w, bool) else w) for k, w in v.items()}
    return v


def _check_reward_names(rewards: dict[str, RewardSpec], where: str) -> None:
    known = _reward_names()
    if known is None:
        return
    for name in rewards:
        if name not in known:
            raise ValueError(
                f"{where}.{name}: unknown reward{_did_you_mean(name, known)}; valid rewards: {', '.join(sorted(known))}"
            )


def _reward_names() -> list[str] | None:
    try:
        from polyreason.rewards import reward_names
    except ImportError:
        return None
    return list(reward_names())


def _check_source(source: str) -> None:
    """A data source that names a local file must exist (hub ids and synthetic specs are checked later)."""
    if source.startswith("synthetic:"):
        parts = source.split(":")
        if len(parts) < 2 or not parts[1].isdigit() or int(parts[1]) <= 0:
            raise ValueError(f"bad synthetic source {source!r}; fix: use synthetic:N[:lang[:difficulty]] with N > 0")
        return
    looks_local = source.startswith((".", "/", "~")) or source.endswith((".jsonl", ".json", ".parquet", ".tsv"))
    if looks_local and not Path(source).expanduser().exists():
        raise ValueError(f"data file {source!r} does not exist; fix: check the path (relative to where you run)")


def _did_you_mean(name: str, options: Any) -> str:
    match = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
    return f"; did you mean {match[0]!r}?" if match else ""


# --------------------------------------------------------------------------------------------- loading


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Read a YAML recipe, apply ``key.sub=value`` overrides, validate, and return the :class:`Recipe`."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"recipe file {str(path)!r} does not exist; fix: check the path")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML: {exc}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise UserError(f"{path}: a recipe is a mapping of keys (model:, stages:, …), got {type(raw).__name__}")
    for item in overrides or []:
        apply_override(raw, item)
    return recipe_from_dict(raw, source=str(path))


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
    lines = [f"{source}: invalid recipe ({exc.error_count()} problem{'s' if exc.error_count() > 1 else ''})"]
    for err in exc.errors():
        loc = [str(p) for p in err["loc"] if p not in ("sft", "grpo")]
        key = ".".join(loc) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key" + _suggest_field(exc, err["loc"]) + "; fix: remove it or correct the spelling"
        elif err["type"] == "missing":
            msg = "required key is missing; fix: add it"
        elif err["type"].startswith(("int_", "float_", "bool_", "string_", "literal_", "greater", "less")):
            msg += f" (got {err.get('input')!r})"
        lines.append(f"  {key}: {msg}")
    return "\n".join(lines)


def _suggest_field(exc: ValidationError, loc: tuple[Any, ...]) -> str:
    model: Any = Recipe
    for part in loc[:-1]:
        field = getattr(model, "model_fields", {}).get(part) if isinstance(part, str) else None
        if part in ("sft", "grpo"):
            model = SFTStage if part == "sft" else GRPOStage
            continue
        if field is None:
            continue
        model = _model_of(field.annotation) or model
    names = list(getattr(model, "model_fields", {}))
    return _did_you_mean(str(loc[-1]), names)


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
    return yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def reference_markdown() -> str:
    """Every recipe field with its type, default and description, generated from the schema (docs/recipes.md)."""
    sections = [
        ("top level", Recipe), ("model", ModelConfig), ("stages.N.lora", LoraConfig),
        ("data", DataConfig), ("stages.N (type: sft)", SFTStage), ("stages.N (type: grpo)", GRPOStage),
        ("rewards.NAME", RewardSpec), ("eval", EvalConfig), ("tracking", TrackingConfig),
    ]
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
    if "discriminator" in text:
        return "list of stages (sft or grpo)"
    return text.replace("<class '", "").replace("'>", "")
