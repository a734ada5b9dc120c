"""``type: difficulty`` — tag each problem easy / medium / hard by a model's pass rate
(:func:`polyreason.data.difficulty.estimate_difficulty`).

Samples ``k`` completions per problem from the current policy (or ``model``: a spec, an endpoint URL,
``{from: NAME}``), verifies them against the gold answer and writes the rows with ``pass_rate``, ``n_correct``
and ``difficulty`` to ``stages/<name>/data.jsonl`` — the input a ``mix`` stage balances.  Resume: problems
already tagged (``data.jsonl.partial``) are not sampled again.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from polyreason.config import DataSource, StageRef, StageSettings
from polyreason.train.stages.base import (
    DataInput,
    StageContext,
    StageOutcome,
    StageType,
    check_model_input,
    make_generator,
    read_rows,
    release,
)


class DifficultyStage(StageSettings):
    """Pass-rate difficulty tags from k samples per problem."""

    type: Literal["difficulty"] = "difficulty"
    data: DataSource | StageRef | None = Field(None, description="Problems: a source or {from: NAME}; default: "
                                               "data.train.")
    model: str | StageRef | None = Field(
        None, description="Model whose pass rate is measured: None = the current policy; a spec, an endpoint URL "
        "or {from: NAME}.")
    endpoint_model: str = Field("default", description="Served model name sent to an endpoint.")
    limit: int | None = Field(None, gt=0, description="Only the first N problems.")
    k: int = Field(8, ge=1, le=256, description="Samples per problem.")
    batch_size: int = Field(8, gt=0, description="Problems per generation call.")
    max_new_tokens: int = Field(512, gt=0, description="Length limit per sample.")
    temperature: float = Field(0.7, ge=0, le=2, description="Sampling temperature.")
    easy_min: float = Field(0.75, ge=0, le=1, description="Pass rate at or above which a problem is easy.")
    hard_max: float = Field(0.25, ge=0, le=1, description="Pass rate at or below which a problem is hard.")
    concurrency: int = Field(4, ge=1, description="Requests in flight to an endpoint.")

    @field_validator("model")
    @classmethod
    def _model_shape(cls, v: str | StageRef | None) -> str | StageRef | None:
        return check_model_input(v)

    @model_validator(mode="after")
    def _bands(self) -> DifficultyStage:
        if self.hard_max >= self.easy_min:
            raise ValueError(f"hard_max ({self.hard_max}) must be below easy_min ({self.easy_min}); fix: e.g. "
                             "hard_max: 0.25, easy_min: 0.75")
        return self


def run(ctx: StageContext) -> StageOutcome:
    from polyreason.data.difficulty import estimate_difficulty
    from polyreason.data.synth import take

    s: DifficultyStage = ctx.settings
    out = ctx.directory / "data.jsonl"
    generator = make_generator(ctx, ctx.model, endpoint_model=s.endpoint_model, batch_size=s.batch_size,
                               concurrency=s.concurrency)
    try:
        report = estimate_difficulty(take(read_rows(ctx), s.limit), generator, out, k=s.k, batch_size=s.batch_size,
                                     max_new_tokens=s.max_new_tokens, temperature=s.temperature,
                                     seed=ctx.recipe.seed, easy_min=s.easy_min, hard_max=s.hard_max,
                                     resume=ctx.resume, total=s.limit)
        report["model"] = generator.name
    finally:
        release(generator)
    return StageOutcome(data=str(out), tokens_generated=report["tokens_generated"],
                        record={"report": {k: v for k, v in report.items() if k != "output"}})


STAGE = StageType(
    settings=DifficultyStage, run=run, about="tag problems easy/medium/hard by the policy's pass rate",
    data=DataInput(kind="auto", accepts=("rl", "sft"), default=lambda recipe: recipe.data.train),
    produces_rows="input",
)
