"""``type: decontaminate`` — drop rows that match a benchmark problem (:mod:`polyreason.data.curate`).

A row is removed when its normalised problem equals a benchmark problem or shares a word ``ngram``-gram with
one (13 by default, the GPT-3 / open-r1 rule), against every offline benchmark of the evaluation registry
(``registry: true``) and any extra benchmark files (``against``).  Reads any rows (default ``data.train``) and
writes the kept ones, of the same kind, to ``stages/<name>/data.jsonl``; the report (removed per benchmark,
examples) goes into the run summary.  Resume: a finished stage is skipped; an interrupted one starts over.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from polyreason.config import DataSource, StageRef, StageSettings
from polyreason.train.stages.base import (
    DataInput,
    StageContext,
    StageOutcome,
    StageType,
    read_rows,
    rows_outcome,
)


class DecontaminateStage(StageSettings):
    """Benchmark decontamination by exact match and shared word n-grams."""

    type: Literal["decontaminate"] = "decontaminate"
    data: DataSource | StageRef | None = Field(None, description="Rows: a source or {from: NAME}; default: "
                                               "data.train.")
    against: list[DataSource] = Field(default_factory=list, description="Extra benchmark files to check against.")
    registry: bool = Field(True, description="Check every offline benchmark of the evaluation registry.")
    ngram: int = Field(13, ge=3, le=64, description="Word n-gram length for overlap.")


def _check(recipe, index: int) -> None:  # noqa: ANN001 - the StageType hook signature
    stage = recipe.stages[index]
    if not stage.registry and not stage.against:
        raise ValueError(f"stages.{index}: nothing to decontaminate against; fix: registry: true or against: "
                         "[benchmark files]")


def run(ctx: StageContext) -> StageOutcome:
    import itertools

    from polyreason.data.curate import BenchmarkIndex, decontaminate, file_benchmarks, registry_benchmarks

    s: DecontaminateStage = ctx.settings
    sources = [file_benchmarks(s.against)] + ([registry_benchmarks()] if s.registry else [])
    index = BenchmarkIndex(itertools.chain(*sources), n=s.ngram)
    kept, report = decontaminate(read_rows(ctx), index)
    return rows_outcome(ctx, kept, report)


STAGE = StageType(
    settings=DecontaminateStage, run=run, about="drop rows that match a benchmark problem (exact or n-gram)",
    data=DataInput(kind="auto", accepts=("rl", "sft"), default=lambda recipe: recipe.data.train),
    produces_rows="input", check=_check,
)
