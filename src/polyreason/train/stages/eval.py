"""``type: eval`` — registry benchmarks on the current model; the results go into the run's summary.json.

Runs :func:`polyreason.evaluate.runner.run_eval` (the same run as ``polyreason eval``) on the model the stages
before left (or ``model``: ``{from: NAME}``, a spec, an endpoint URL).  Every setting left unset here is the
recipe's ``eval:`` section (itself :data:`~polyreason.evaluate.runner.EVAL_DEFAULTS` where unset), so one recipe
can evaluate on its own benchmarks after several stages.  Each benchmark's summary carries pass@k with its
interval, lengths, truncation and the language metrics (reasoning/answer compliance with the benchmark's
language, naturalness, repetition flags).

Files in ``stages/<name>/``: the eval run (``summary.json``, ``summary.md``, ``samples.jsonl``, ``run_info.json``,
``cache.sqlite``).  Resume: generated samples are cached per batch, so an interrupted stage continues with the
batches it had not finished and ends with the same results.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, ValidationError, field_validator

from polyreason.config import EvalSettings, StageRef, StageSettings
from polyreason.train.stages.base import StageContext, StageOutcome, StageType, check_model_input

if TYPE_CHECKING:
    from polyreason.config import Recipe


class EvalStage(StageSettings):
    """Evaluate a model on registry benchmarks; unset fields take the recipe's ``eval:`` values."""

    type: Literal["eval"] = "eval"
    model: str | StageRef | None = Field(
        None, description="Model to evaluate: None = the model the stages before left; {from: NAME}, a spec or "
        "an endpoint URL.")
    benchmarks: list[str] | None = Field(None, description="Registry names, e.g. [aime24, math500]; None = eval.")
    samples: int | None = Field(None, ge=1, description="n samples per problem; None = eval.samples.")
    limit: int | None = Field(None, gt=0, description="First N problems of each benchmark; None = eval.limit.")
    temperature: float | None = Field(None, ge=0, description="None = eval.temperature.")
    top_p: float | None = Field(None, gt=0, le=1, description="None = eval.top_p.")
    max_new_tokens: int | None = Field(None, gt=0, description="None = eval.max_new_tokens.")
    backend: Literal["transformers", "vllm", "endpoint"] | None = Field(None, description="None = eval.backend.")
    batch_size: int | None = Field(None, gt=0, description="None = eval.batch_size.")
    prompt_style: Literal["lighteval", "polyreason"] | None = Field(None, description="None = eval.prompt_style.")
    prompt_template: str | None = Field(None, description="None = eval.prompt_template.")
    system: str | None = Field(None, description="None = eval.system.")

    @field_validator("model")
    @classmethod
    def _model_shape(cls, v: str | StageRef | None) -> str | StageRef | None:
        return check_model_input(v)


def effective_settings(recipe: Recipe, stage: EvalStage) -> EvalSettings:
    """The recipe's ``eval:`` with this stage's settings laid over it (validated: known benchmarks, …)."""
    own = stage.model_dump(exclude={"type", "name", "model"}, exclude_none=True)
    return EvalSettings.model_validate({**recipe.eval.model_dump(), **own})


def _check(recipe: Recipe, index: int) -> None:
    try:
        effective_settings(recipe, recipe.stages[index])
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        raise ValueError(f"stages.{index}.{key}: {err['msg'].removeprefix('Value error, ')}") from None


def _preflight(recipe: Recipe, index: int) -> None:
    """Before the first stage: the benchmarks load (hub ones: downloaded now, not after training) and code
    benchmarks have a working sandbox."""
    from polyreason.evaluate.benchmarks import benchmark_kind, load_benchmark
    from polyreason.evaluate.code import ExecutionConfig

    settings = effective_settings(recipe, recipe.stages[index])
    for name in settings.benchmarks:
        load_benchmark(name, limit=1)
    if any(benchmark_kind(name) == "code" for name in settings.benchmarks):
        ExecutionConfig().make_sandbox()


def run(ctx: StageContext) -> StageOutcome:
    from polyreason.evaluate.runner import config_from_recipe, run_eval

    recipe = ctx.recipe.model_copy(update={"eval": effective_settings(ctx.recipe, ctx.settings)})
    config = config_from_recipe(recipe, model=ctx.model, output=ctx.directory)
    config.dtype = ctx.recipe.model.dtype
    config.trust_remote_code = ctx.recipe.model.trust_remote_code
    summary, stats = run_eval(config)
    return StageOutcome(tokens_generated=stats.generated_tokens, record={"eval": summary})


def _label(stage: Any) -> str:
    return f"eval({','.join(stage.benchmarks)})" if stage.benchmarks else "eval"


STAGE = StageType(
    settings=EvalStage, run=run, about="registry benchmarks on the current model; results in the run summary",
    check=_check, preflight=_preflight, label=_label,
)
