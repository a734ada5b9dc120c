"""`polyreason data …`: prepare, curate, tag, mix, translate and synthesise training data.

Every command streams JSONL, is deterministic by ``--seed`` and, where it calls a model, resumable: rerun the
same command after a crash and rows already in ``<output>.partial`` are skipped (``--no-resume`` starts over).
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.console import Console

from polyreason.errors import UserError

data_app = typer.Typer(help="Build training data: prepare, synthetic, stats, dedup, decontaminate, difficulty, "
                            "mix, translate, synth, judge.", no_args_is_help=True)
console = Console()

MODEL_HELP = ("Model spec (tiny-random, smollm2-135m, hub id, local dir) or an OpenAI-compatible endpoint URL "
              "(http://host:8000/v1).")


def register(app: typer.Typer) -> None:
    """Add the `data` command group."""
    app.add_typer(data_app, name="data")


def _parse_map(items: list[str] | None) -> dict[str, str] | None:
    if not items:
        return None
    out = {}
    for item in items:
        target, sep, src = item.partition("=")
        if not sep or not target or not src:
            raise UserError(f"bad --map {item!r}; fix: --map SCHEMA_COLUMN=SOURCE_COLUMN, e.g. --map problem=question")
        out[target.strip()] = src.strip()
    return out


def _report(report: dict, path: Path | None, title: str) -> None:
    if path is not None:
        from polyreason.files import write_json

        write_json(path, report)
    shown = {k: v for k, v in report.items() if k != "examples"}
    console.print(f"[bold green]{title}[/] " + json.dumps(shown, ensure_ascii=False))
    if path is not None:
        console.print(f"report: {path}")


def _rows(path: str, split: str = "train"):
    """Standard rows from any source (RL rows, or SFT rows for chat records), validated as they stream."""
    from polyreason.data.sources import load_rows

    return load_rows(path, split=split, kind="auto")


@dataclass(frozen=True)
class ModelCall:
    """The options every data command that calls a model shares (see :func:`model_command`)."""

    model: str
    endpoint_model: str
    concurrency: int
    batch_size: int
    max_new_tokens: int
    temperature: float | None
    limit: int | None
    seed: int
    device: str | None
    resume: bool

    def backend(self, model: str | None = None):
        """The generation backend for ``model`` (default: --model) with these options."""
        from polyreason.generation import make_backend

        return make_backend(model or self.model, endpoint_model=self.endpoint_model, batch_size=self.batch_size,
                            concurrency=self.concurrency, device=self.device)

    def rows(self, source: str):
        """The rows of ``source`` cut to --limit, and how many that is when cheap to know (for the ETA)."""
        from polyreason.data.sources import count_rows
        from polyreason.data.synth import take

        n = count_rows(source)
        total = self.limit if n is None else n if self.limit is None else min(n, self.limit)
        return take(_rows(source), self.limit), total


def model_command(name: str, *, model: str | None = None, concurrency: int = 4, max_new_tokens: int = 512,
                  temperature: float | None = 0.7):
    """Register data command ``name``; its function takes ``call: ModelCall`` first, then its own options.

    The shared options (--model, --endpoint-model, --concurrency, --batch-size, --max-new-tokens,
    --temperature, --limit, --seed, --device, --resume) are defined here once and follow the command's own
    in --help, with the per-command defaults given here (``model=None``: --model is required;
    ``temperature=None``: the command samples with no temperature option).
    """
    shared = [
        ("model", str, typer.Option(model if model is not None else ..., help=MODEL_HELP)),
        ("endpoint_model", str, typer.Option("default", help="Model name sent to an endpoint.")),
        ("concurrency", int, typer.Option(concurrency, min=1, help="Parallel requests to an endpoint.")),
        ("batch_size", int, typer.Option(8, min=1, help="Prompts per generation batch.")),
        ("max_new_tokens", int, typer.Option(max_new_tokens, help="Most tokens generated per completion.")),
        ("temperature", float, typer.Option(temperature, help="Sampling temperature (0: greedy).")),
        ("limit", int | None, typer.Option(None, help="Only the first N rows.")),
        ("seed", int, typer.Option(0, help="Sampling seed.")),
        ("device", str | None, typer.Option(None, help="cpu, cuda, cuda:1 (local models).")),
        ("resume", bool, typer.Option(True, help="Skip rows already in <output>.partial.")),
    ]
    if temperature is None:
        shared = [option for option in shared if option[0] != "temperature"]
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD

    def register(fn):
        own = [p for p in inspect.signature(fn, eval_str=True).parameters.values() if p.name != "call"]
        params = own + [inspect.Parameter(n, kind, default=info, annotation=t) for n, t, info in shared]

        def command(**options):
            values = {field: options.pop(field, None) for field in ModelCall.__dataclass_fields__}
            return fn(ModelCall(**values), **options)

        command.__signature__ = inspect.Signature(params)
        command.__annotations__ = {p.name: p.annotation for p in params}
        command.__name__, command.__doc__ = fn.__name__, fn.__doc__
        data_app.command(name)(command)
        return fn

    return register


@data_app.command("prepare")
def prepare_cmd(
    source: str = typer.Argument(..., help="File (.jsonl/.json/.parquet/.tsv), dataset dir, hub id or synthetic:<n>."),
    output: Path = typer.Option(..., "--output", "-o", help="Output JSONL."),
    kind: str = typer.Option("rl", help="rl (problem+answer) or sft (chat messages with reasoning)."),
    split: str = typer.Option("train", help="Split of a hub dataset / JSON split dict."),
    map_: list[str] = typer.Option(None, "--map", help="SCHEMA=SOURCE column mapping, repeatable."),
    language: str = typer.Option(None, help="Language of rows without one (default: from file name, else en)."),
    source_name: str = typer.Option(None, help="Value of the 'source' column (default: the file/dataset name)."),
    skip_invalid: bool = typer.Option(False, help="Write invalid rows to a rejects file and go on."),
    rejects: Path = typer.Option(None, help="Rejects file (default <output stem>.rejects.jsonl)."),
    limit: int = typer.Option(None, help="Stop after this many valid rows."),
) -> None:
    """Convert GSM8K, MATH, NuminaMath, OpenR1-Math, MGSM TSV or any mapped dataset to the standard schema."""
    from polyreason.data.prepare import prepare

    report = prepare(source, output, kind=kind, split=split, column_map=_parse_map(map_), language=language,
                     source_name=source_name, skip_invalid=skip_invalid, rejects=rejects, limit=limit)
    _report(report, None, "prepared")


@data_app.command("synthetic")
def synthetic_cmd(
    output: Path = typer.Option(..., "--output", "-o", help="Output JSONL."),
    n: int = typer.Option(256, "-n", help="Number of rows."),
    language: str = typer.Option("en", help="en or es."),
    difficulty: str = typer.Option(None, help="easy, medium or hard (default: mixed)."),
    kinds: str = typer.Option(None, help="Comma list of add_sub, mul, multi_op, word (default: all)."),
    kind: str = typer.Option("rl", help="rl rows or sft rows (with reasoning traces)."),
    split: str = typer.Option("train", help="train or eval (hash split: never overlap); 'all' for both."),
    seed: int = typer.Option(0, help="Random seed."),
) -> None:
    """Write built-in synthetic arithmetic / word problems (English or Spanish)."""
    from polyreason.data import synthetic
    from polyreason.files import AtomicJsonl

    gen = synthetic.generate_sft_rows if kind == "sft" else synthetic.generate_problems
    rows = gen(n, seed=seed, language=language, difficulty=difficulty,
               kinds=kinds.split(",") if kinds else None, split=None if split == "all" else split)
    with AtomicJsonl(output) as out:
        for row in rows:
            out.write(row)
    console.print(f"[bold green]wrote[/] {out.count} {kind} rows to {output}")


@data_app.command("stats")
def stats_cmd(
    input: str = typer.Argument(..., help="Rows to describe (any source load_rows reads)."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Count rows per language, source, difficulty and kind; problem length percentiles."""
    from rich.table import Table

    from polyreason.data.curate import stats

    info = stats(_rows(input))
    if as_json:
        typer.echo(json.dumps(info, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"{input}: {info['n_rows']} rows", show_header=False)
    for key in ("kind", "language", "difficulty", "source"):
        table.add_row(key, ", ".join(f"{k} {v}" for k, v in list(info[key].items())[:12]))
    table.add_row("problem chars", ", ".join(f"{k} {v}" for k, v in info["problem_chars"].items()))
    console.print(table)


@data_app.command("dedup")
def dedup_cmd(
    input: str = typer.Argument(..., help="Input JSONL/Parquet (standard rows)."),
    output: Path = typer.Option(..., "--output", "-o"),
    report: Path = typer.Option(None, help="JSON report path (default <output>.report.json)."),
    exact_only: bool = typer.Option(False, help="Only exact (normalised) duplicates, no MinHash."),
    threshold: float = typer.Option(0.85, help="MinHash Jaccard threshold for near-duplicates."),
) -> None:
    """Remove exact and near-duplicate problems (first occurrence kept)."""
    from polyreason.data.curate import dedup
    from polyreason.files import AtomicJsonl
    from polyreason.progress import track

    kept, rep = dedup(_rows(input), near=not exact_only, threshold=threshold)
    with AtomicJsonl(output) as out:
        for row in track(kept, description="dedup", unit="rows"):
            out.write(row)
    _report(rep, report or output.with_name(output.name + ".report.json"), "dedup")


@data_app.command("decontaminate")
def decontaminate_cmd(
    input: str = typer.Argument(..., help="Input JSONL/Parquet (standard rows)."),
    output: Path = typer.Option(..., "--output", "-o"),
    against: list[str] = typer.Option(None, help="Extra benchmark files (repeatable)."),
    registry: bool = typer.Option(True, help="Check every benchmark of the evaluation registry."),
    ngram: int = typer.Option(13, help="Word n-gram length for overlap."),
    report: Path = typer.Option(None, help="JSON report path (default <output>.report.json)."),
) -> None:
    """Remove rows that match a benchmark problem (normalised exact match or a shared word 13-gram)."""
    import itertools

    from polyreason.data.curate import BenchmarkIndex, decontaminate, file_benchmarks, registry_benchmarks
    from polyreason.files import AtomicJsonl
    from polyreason.progress import track

    sources = [file_benchmarks(against or [])]
    if registry:
        sources.append(registry_benchmarks())
    index = BenchmarkIndex(itertools.chain(*sources), n=ngram)
    kept, rep = decontaminate(_rows(input), index)
    with AtomicJsonl(output) as out:
        for row in track(kept, description="decontaminate", unit="rows"):
            out.write(row)
    _report(rep, report or output.with_name(output.name + ".report.json"), "decontaminate")


@model_command("difficulty", model="smollm2-135m", max_new_tokens=512)
def difficulty_cmd(
    call: ModelCall,
    input: str = typer.Argument(..., help="RL rows (JSONL/Parquet or synthetic:<n>)."),
    output: Path = typer.Option(..., "--output", "-o"),
    k: int = typer.Option(8, help="Samples per problem."),
    easy_min: float = typer.Option(0.75, help="Pass rate at or above which a problem is easy."),
    hard_max: float = typer.Option(0.25, help="Pass rate at or below which a problem is hard."),
    keep_samples: bool = typer.Option(False, help="Store the sampled completions and verdicts in each row."),
) -> None:
    """Estimate each problem's pass rate with k samples and tag it easy / medium / hard."""
    from polyreason.data.difficulty import estimate_difficulty

    rows, total = call.rows(input)
    rep = estimate_difficulty(rows, call.backend(), output, k=k, batch_size=call.batch_size,
                              max_new_tokens=call.max_new_tokens, temperature=call.temperature, seed=call.seed,
                              easy_min=easy_min, hard_max=hard_max, resume=call.resume, total=total,
                              keep_samples=keep_samples)
    _report(rep, None, "difficulty")


@data_app.command("mix")
def mix_cmd(
    input: str = typer.Argument(..., help="Rows tagged with difficulty."),
    output: Path = typer.Option(..., "--output", "-o"),
    size: int = typer.Option(..., help="Target number of rows."),
    ratio: str = typer.Option("easy=0.5,hard=0.5", help="Difficulty fractions, e.g. easy=0.3,medium=0.4,hard=0.3 "
                              "(use 'unknown' for untagged rows)."),
    min_chars: int = typer.Option(0, help="Drop problems shorter than this."),
    max_chars: int = typer.Option(None, help="Drop problems longer than this."),
    max_solution_chars: int = typer.Option(None, help="Drop rows whose solution/assistant turn is longer."),
    max_tokens: int = typer.Option(None, help="Drop rows whose problem + solution exceed this many tokens."),
    tokenizer: str = typer.Option(None, help="Tokenizer (model spec) for --max-tokens, e.g. smollm2-135m."),
    seed: int = typer.Option(0),
) -> None:
    """Build a training set of a target size and difficulty mix (deterministic by seed)."""
    from polyreason.data.difficulty import mix, parse_ratio

    tok = None
    if max_tokens is not None:
        if tokenizer is None:
            raise UserError("--max-tokens needs --tokenizer; fix: e.g. --tokenizer smollm2-135m")
        from polyreason.models import load_tokenizer

        tok = load_tokenizer(tokenizer)
    rep = mix(_rows(input), output, size=size, ratio=parse_ratio(ratio), seed=seed, min_chars=min_chars,
              max_chars=max_chars, max_solution_chars=max_solution_chars, max_tokens=max_tokens, tokenizer=tok)
    _report(rep, None, "mix")


@model_command("translate", concurrency=8, max_new_tokens=1024, temperature=None)
def translate_cmd(
    call: ModelCall,
    input: str = typer.Argument(..., help="RL or SFT rows."),
    output: Path = typer.Option(..., "--output", "-o"),
    target: str = typer.Option("es", "--to", help="Target language code."),
    source_lang: str = typer.Option("en", "--from", help="Source language code."),
    retries: int = typer.Option(2, help="Retries of a failed translation before dropping it."),
) -> None:
    """Translate problems and reasoning traces; drop outputs that alter numbers, LaTeX, answers or language."""
    from polyreason.data.translate import translate_rows

    rows, total = call.rows(input)
    rep = translate_rows(rows, call.backend(), output, target=target, source_lang=source_lang,
                         batch_size=call.batch_size, max_new_tokens=call.max_new_tokens, retries=retries,
                         seed=call.seed, resume=call.resume, total=total)
    _report(rep, None, "translate")


@model_command("synth", max_new_tokens=1024)
def synth_cmd(
    call: ModelCall,
    input: str = typer.Argument(..., help="RL rows (problem + answer)."),
    output: Path = typer.Option(..., "--output", "-o"),
    n: int = typer.Option(4, help="Candidate traces per problem."),
    keep: str = typer.Option("first", help="first, shortest or all verified traces."),
    require_format: bool = typer.Option(True, help="Keep only <think>…</think> … \\boxed{} traces."),
    judge_model: str = typer.Option(None, help="Also score kept traces with this judge (model or URL)."),
    min_score: float = typer.Option(7.0, help="Judge score needed to keep a trace."),
) -> None:
    """Generate reasoning traces with a stronger model and keep those whose answer verifies."""
    from polyreason.data.synth import judge_rows, synthesize

    target = output if judge_model is None else output.with_name(output.stem + ".unjudged.jsonl")
    rows, total = call.rows(input)
    rep = synthesize(rows, call.backend(), target, n=n, keep=keep, require_format=require_format,
                     batch_size=call.batch_size, max_new_tokens=call.max_new_tokens, temperature=call.temperature,
                     seed=call.seed, resume=call.resume, total=total)
    _report(rep, None, "synth")
    if judge_model is not None:
        from polyreason.files import read_jsonl

        rep = judge_rows(read_jsonl(target), call.backend(judge_model), output, min_score=min_score,
                         batch_size=call.batch_size, seed=call.seed, resume=call.resume)
        _report(rep, None, "judge")


@model_command("judge", max_new_tokens=256, temperature=0.0)
def judge_cmd(
    call: ModelCall,
    input: str = typer.Argument(..., help="SFT rows to score."),
    output: Path = typer.Option(..., "--output", "-o"),
    min_score: float = typer.Option(7.0, help="Mean score (1-10) needed to keep a row."),
    n: int = typer.Option(1, help="Judge samples per row (scores averaged)."),
    keep_unscored: bool = typer.Option(False, help="Keep rows whose judge output has no parsable score."),
) -> None:
    """Score reasoning traces with an LLM judge (rubric prompt) and keep the good ones."""
    from polyreason.data.synth import judge_rows

    rows, total = call.rows(input)
    rep = judge_rows(rows, call.backend(), output, min_score=min_score, n=n, batch_size=call.batch_size,
                     max_new_tokens=call.max_new_tokens, temperature=call.temperature, seed=call.seed,
                     keep_unscored=keep_unscored, resume=call.resume, total=total)
    _report(rep, None, "judge")
