"""``type: synth`` — generate reasoning traces, keep the verified ones, optionally keep only what a judge likes.

For each problem of its ``data`` (RL rows; default ``data.train``) the stage samples ``n`` traces from a
generator — the current policy by default, or a stronger teacher (a model spec, an OpenAI-compatible endpoint
URL, or ``{from: NAME}``) — keeps those whose final answer verifies against the gold (and, with
``require_format``, follow ``<think>…</think> … \\boxed{}``), and writes SFT rows.  With ``judge:``, an LLM
judge scores each kept trace (1-10 rubric) and only those at or above ``min_score`` are written.  The work is
:func:`polyreason.data.synth.synthesize` and :func:`~polyreason.data.synth.judge_rows` (the same functions as
``polyreason data synth``/``data judge``) through the generation package.

Files in ``stages/<name>/``: ``data.jsonl`` (the dataset; each row carries ``synth`` and, judged, ``judge``
provenance), ``candidates.jsonl`` (verified traces before the judge), ``data.rejects.jsonl`` (judged below
the bar, with the judge's scores), ``provenance.json`` (model, judge, settings, counts).
Resume: rows already written (``*.jsonl.partial``) are not generated or judged again.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from polyreason.config import DataSource, StageRef, StageSettings, _Strict
from polyreason.files import count_lines, read_json, write_json
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

if TYPE_CHECKING:
    from polyreason.generation import Backend

SYNTH_REPORT = "synth-report.json"  # synthesize's counts, written when generation finished


class JudgeSettings(_Strict):
    """The LLM judge of a synth stage: ``judge_rows`` with its rubric (polyreason.data.synth.JUDGE_SYSTEM)."""

    model: str = Field(..., description="Judge: a model spec or an OpenAI-compatible endpoint URL "
                       "(http://host:8001/v1).")
    endpoint_model: str = Field("default", description="Served model name sent to an endpoint judge.")
    min_score: float = Field(7.0, ge=1, le=10, description="Mean judge score (1-10) a trace needs to be kept.")
    n: int = Field(1, ge=1, le=16, description="Judge samples per trace (scores averaged).")
    max_new_tokens: int = Field(256, gt=0, description="Length limit of each judgement.")
    temperature: float = Field(0.0, ge=0, le=2, description="Judge sampling temperature (0 = greedy).")
    keep_unscored: bool = Field(False, description="Keep traces whose judgement has no readable score.")
    batch_size: int = Field(8, gt=0, description="Traces per judge call.")
    concurrency: int = Field(4, ge=1, description="Requests in flight to an endpoint judge.")

    @field_validator("model")
    @classmethod
    def _model_shape(cls, v: str) -> str:
        return check_model_input(v)


class SynthStage(StageSettings):
    """Verified (and optionally judged) reasoning traces for a problem set, as SFT rows with provenance."""

    type: Literal["synth"] = "synth"
    data: DataSource | StageRef | None = Field(
        None, description="Problems (problem + answer rows): a source or {from: NAME}; default: data.train.")
    model: str | StageRef | None = Field(
        None, description="Generator: None = the current policy; a model spec, an OpenAI-compatible endpoint URL "
        "(a stronger teacher), or {from: NAME} (an earlier stage's model).")
    endpoint_model: str = Field("default", description="Served model name sent to an endpoint generator.")
    limit: int | None = Field(None, gt=0, description="Use only the first N problems.")
    n: int = Field(4, ge=1, le=256, description="Candidate traces sampled per problem.")
    keep: Literal["first", "shortest", "all"] = Field("first", description="Which verified traces to keep.")
    require_format: bool = Field(True, description="Keep only <think>…</think> … \\boxed{} traces.")
    temperature: float = Field(0.7, ge=0, le=2, description="Sampling temperature.")
    top_p: float = Field(0.95, gt=0, le=1, description="Nucleus sampling.")
    max_new_tokens: int = Field(1024, gt=0, description="Length limit per trace.")
    batch_size: int = Field(8, gt=0, description="Problems per generation call.")
    concurrency: int = Field(4, ge=1, description="Requests in flight to an endpoint generator.")
    system_prompt: str | None = Field(None, description="System prompt for generation; None = data.system_prompt, "
                                      "else the language's default.")
    judge: JudgeSettings | None = Field(None, description="Keep only traces an LLM judge scores >= min_score.")

    @field_validator("model")
    @classmethod
    def _model_shape(cls, v: str | StageRef | None) -> str | StageRef | None:
        return check_model_input(v)


def run(ctx: StageContext) -> StageOutcome:
    from polyreason.data.synth import synthesize, take

    s: SynthStage = ctx.settings
    out = ctx.directory / "data.jsonl"
    candidates = ctx.directory / "candidates.jsonl" if s.judge else out
    made = read_json(ctx.directory / SYNTH_REPORT) if ctx.resume and s.judge else None
    if not (isinstance(made, dict) and candidates.is_file()):  # else: generation finished, the judge did not
        generator = make_generator(ctx, ctx.model, endpoint_model=s.endpoint_model, batch_size=s.batch_size,
                                   concurrency=s.concurrency)
        system = s.system_prompt if s.system_prompt is not None else ctx.recipe.data.system_prompt
        made = synthesize(take(read_rows(ctx), s.limit), generator, candidates, n=s.n, keep=s.keep,
                          require_format=s.require_format, batch_size=s.batch_size,
                          max_new_tokens=s.max_new_tokens, temperature=s.temperature, top_p=s.top_p,
                          seed=ctx.recipe.seed, system=system, resume=ctx.resume, total=s.limit)
        made["model"] = generator.name
        write_json(ctx.directory / SYNTH_REPORT, made)
        release(generator)
    provenance = {"model": made["model"], "judge": None, "problems": ctx.data.path if ctx.data else None,
                  "settings": s.model_dump(mode="json", by_alias=True, exclude={"type", "name"}),
                  "synth": _counts(made), "judged": None}
    tokens = made["tokens_generated"]
    if s.judge is not None:
        judged, judge_name = _judge(ctx, s.judge, candidates, out)
        provenance.update(judge=judge_name, judged=_counts(judged))
        tokens += judged["tokens_generated"]
    provenance["rows"] = count_lines(out)
    write_json(ctx.directory / "provenance.json", provenance)
    return StageOutcome(data=str(out), tokens_generated=tokens, record={"synth": provenance})


def _judge(ctx: StageContext, judge: JudgeSettings, candidates: Path, out: Path) -> tuple[dict, str]:
    from polyreason.data.synth import judge_rows
    from polyreason.files import read_jsonl

    backend: Backend = make_generator(ctx, judge.model, endpoint_model=judge.endpoint_model,
                                      batch_size=judge.batch_size, concurrency=judge.concurrency)
    try:
        report = judge_rows(read_jsonl(candidates), backend, out, min_score=judge.min_score, n=judge.n,
                            batch_size=judge.batch_size, max_new_tokens=judge.max_new_tokens,
                            temperature=judge.temperature, seed=ctx.recipe.seed,
                            keep_unscored=judge.keep_unscored, resume=ctx.resume)
        return report, backend.name
    finally:
        release(backend)


def _counts(report: dict) -> dict:
    return {k: v for k, v in report.items() if k not in ("output", "rejects", "model")}


STAGE = StageType(
    settings=SynthStage, run=run,
    about="sample traces (policy or teacher), keep the verified ones, optionally judged; writes SFT rows",
    data=DataInput(kind="rl", accepts=("rl", "sft"), default=lambda recipe: recipe.data.train),
    produces_rows="sft",
)
