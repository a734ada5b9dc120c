"""``type: mix`` — a training set of a target size and difficulty mix (:func:`polyreason.data.difficulty.mix`).

Reads rows tagged with ``difficulty`` (typically ``{from: NAME}`` of a ``difficulty`` stage; untagged rows count
as ``unknown``), drops problems outside the length bounds, and writes ``size`` rows in the fractions ``ratio``
(reservoir sampling per bucket, shuffled, deterministic by ``seed``) to ``stages/<name>/data.jsonl``.  A bucket
with too few rows gives all it has; the report's ``shortfall`` says so.  Resume: a finished stage is skipped; an
interrupted one starts over.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from polyreason.config import DataSource, StageRef, StageSettings
from polyreason.train.stages.base import DataInput, StageContext, StageOutcome, StageType, read_rows


class MixStage(StageSettings):
    """Size and difficulty mix of a training set (Open-RS mixed easy and hard problems)."""

    type: Literal["mix"] = "mix"
    data: DataSource | StageRef | None = Field(None, description="Rows tagged with difficulty: a source or "
                                               "{from: NAME}; default: data.train.")
    size: int = Field(..., gt=0, description="Number of rows to write.")
    ratio: dict[str, float] = Field(default_factory=lambda: {"easy": 0.5, "hard": 0.5},
                                    description="Difficulty fractions (normalised), e.g. {easy: 0.3, medium: 0.4, "
                                    "hard: 0.3}; 'unknown' for untagged rows.")
    min_chars: int = Field(0, ge=0, description="Drop problems shorter than this.")
    max_chars: int | None = Field(None, gt=0, description="Drop problems longer than this.")
    max_solution_chars: int | None = Field(None, gt=0, description="Drop rows whose solution/assistant turn is "
                                           "longer.")
    max_tokens: int | None = Field(None, gt=0, description="Drop rows whose problem + solution exceed this many "
                                   "tokens of the current model's tokenizer.")
    seed: int | None = Field(None, description="Sampling seed; None = the recipe's seed.")

    @field_validator("ratio", mode="before")
    @classmethod
    def _ratio(cls, v: object) -> object:
        from polyreason.data.difficulty import parse_ratio
        from polyreason.errors import UserError

        if isinstance(v, str):  # the CLI's form: easy=0.5,hard=0.5
            try:
                return parse_ratio(v)
            except UserError as exc:
                raise ValueError(str(exc)) from None
        return v

    @field_validator("ratio")
    @classmethod
    def _positive(cls, v: dict[str, float]) -> dict[str, float]:
        if not v or any(f < 0 for f in v.values()) or sum(v.values()) <= 0:
            raise ValueError(f"ratio {v}: fractions must be >= 0 and sum above 0; fix: e.g. {{easy: 0.5, hard: 0.5}}")
        return v


def run(ctx: StageContext) -> StageOutcome:
    from polyreason.data.difficulty import mix

    s: MixStage = ctx.settings
    tokenizer = None
    if s.max_tokens is not None:
        from polyreason.models import load_tokenizer

        tokenizer = load_tokenizer(ctx.model, trust_remote_code=ctx.recipe.model.trust_remote_code)
    total = sum(s.ratio.values())
    out = ctx.directory / "data.jsonl"
    report = mix(read_rows(ctx), out, size=s.size, ratio={k: v / total for k, v in s.ratio.items()},
                 seed=ctx.recipe.seed if s.seed is None else s.seed, min_chars=s.min_chars, max_chars=s.max_chars,
                 max_solution_chars=s.max_solution_chars, max_tokens=s.max_tokens, tokenizer=tokenizer)
    return StageOutcome(data=str(out), record={"report": {k: v for k, v in report.items() if k != "output"}})


STAGE = StageType(
    settings=MixStage, run=run, about="a training set of a target size and difficulty mix",
    data=DataInput(kind="auto", accepts=("rl", "sft"), default=lambda recipe: recipe.data.train),
    produces_rows="input",
)
