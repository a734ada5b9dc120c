"""``type: dedup`` — drop exact and near-duplicate problems (:func:`polyreason.data.curate.dedup`).

Reads any rows (its ``data``: a source or ``{from: NAME}``; default ``data.train``) and writes the kept ones, of
the same kind, to ``stages/<name>/data.jsonl``; the first of each duplicate family is kept.  The report (counts
and examples) goes into the run summary.  Resume: a finished stage is skipped; an interrupted one starts over
(the output is written atomically, so no half-written file is left).
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


class DedupStage(StageSettings):
    """Exact (normalised problem text) and MinHash near-duplicate removal."""

    type: Literal["dedup"] = "dedup"
    data: DataSource | StageRef | None = Field(None, description="Rows: a source or {from: NAME}; default: "
                                               "data.train.")
    exact_only: bool = Field(False, description="Only exact (normalised) duplicates, no MinHash.")
    threshold: float = Field(0.85, gt=0, le=1, description="MinHash Jaccard threshold for near-duplicates.")


def run(ctx: StageContext) -> StageOutcome:
    from polyreason.data.curate import dedup

    s: DedupStage = ctx.settings
    kept, report = dedup(read_rows(ctx), near=not s.exact_only, threshold=s.threshold)
    return rows_outcome(ctx, kept, report)


STAGE = StageType(
    settings=DedupStage, run=run, about="drop exact and near-duplicate problems",
    data=DataInput(kind="auto", accepts=("rl", "sft"), default=lambda recipe: recipe.data.train),
    produces_rows="input",
)
