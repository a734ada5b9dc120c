"""Run an evaluation: prompts → (cached) generation → verification → summary files.

Requests (problem × sample) are sorted by prompt length and cut into batches with fixed boundaries; each
batch gets a seed derived from the run seed and its sample keys, and is written to the SQLite cache in one
transaction.  A killed run therefore resumes with exactly the batches it had not finished, generated with
the same seeds, and ends with the same ``summary.json`` as an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polyreason.errors import UserError
from polyreason.evaluate.benchmarks import (
    Problem,
    benchmark_kind,
    expand_names,
    load_benchmark,
    resolve_name,
    task_instruction,
)
from polyreason.evaluate.cache import (
    CachedSample,
    ResultCache,
    SampleKey,
    fingerprint,
    model_fingerprint,
    text_hash,
)
from polyreason.evaluate.code import ExecutionConfig
from polyreason.evaluate.metrics import count_parameters, cross_benchmark
from polyreason.evaluate.prompting import build_eval_messages, render_prompt
from polyreason.evaluate.scoring import (
    Sample,
    group_records,
    markdown_table,
    score_samples,
    summarize_benchmark,
)
from polyreason.files import iter_jsonl, output_lock, write_json, write_jsonl, write_text
from polyreason.generation import Backend, SamplingParams, backend_name, make_backend
from polyreason.progress import Reporter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalDefaults:
    """The evaluation defaults, stated once: :class:`EvalConfig`, the recipe's ``eval`` section
    (:class:`polyreason.config.EvalSettings`) and ``polyreason eval`` all take them from :data:`EVAL_DEFAULTS`.

    Sampling and prompt follow Open-RS's lighteval evaluation (temperature 0.6, top-p 0.95, zero-shot
    lighteval instruction); ``max_new_tokens`` is sized for a CPU.  ``batch_size`` None lets the backend
    choose (16 prompts for transformers, 512 for vLLM).
    """

    benchmarks: tuple[str, ...] = ("math500",)
    samples: int = 1
    temperature: float = SamplingParams.temperature  # the sampling defaults are generation.SamplingParams'
    top_p: float = SamplingParams.top_p
    max_new_tokens: int = SamplingParams.max_new_tokens
    backend: str | None = None  # None: endpoint for an http(s) model, else transformers
    batch_size: int | None = None
    prompt_style: str = "lighteval"
    verify_timeout: float = 2.0


EVAL_DEFAULTS = EvalDefaults()


def eval_params(
    *, temperature: float | None = None, top_p: float | None = None, max_new_tokens: int | None = None
) -> SamplingParams:
    """Sampling settings of an evaluation: the values given, :data:`EVAL_DEFAULTS` for the rest."""
    d = EVAL_DEFAULTS
    return SamplingParams(
        temperature=d.temperature if temperature is None else temperature,
        top_p=d.top_p if top_p is None else top_p,
        max_new_tokens=d.max_new_tokens if max_new_tokens is None else max_new_tokens,
    )


@dataclass
class EvalConfig:
    """Everything one ``polyreason eval`` run needs (CLI flags map 1:1 onto these fields)."""

    model: str
    benchmarks: list[str]
    output: Path
    samples: int = EVAL_DEFAULTS.samples
    limit: int | None = None
    params: SamplingParams = field(default_factory=eval_params)
    seed: int = 0
    backend: str | None = EVAL_DEFAULTS.backend
    endpoint_model: str = "default"
    concurrency: int = 4
    batch_size: int | None = EVAL_DEFAULTS.batch_size
    prompt_style: str = EVAL_DEFAULTS.prompt_style
    prompt_template: str | None = None
    system: str | None = None
    cache: Path | None = None
    dtype: str | None = None
    device: str | None = None
    trust_remote_code: bool = False
    verify_timeout: float = EVAL_DEFAULTS.verify_timeout
    source: str = "package"
    data_file: Path | None = None
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)
    n_parameters: int | None = None
    price_per_hour: float | None = None  # for the cost estimate in run_info.json (not part of the results)

    def __post_init__(self) -> None:
        self.benchmarks = expand_names(self.benchmarks)
        self.output = Path(self.output)
        if self.samples < 1:
            raise UserError(f"--samples must be >= 1, got {self.samples}")
        if self.data_file is not None and len(self.benchmarks) != 1:
            raise UserError("--data-file holds one benchmark; fix: pass exactly one --benchmarks NAME with it")
        if self.batch_size is not None and self.batch_size < 1:
            raise UserError(f"--batch-size must be >= 1, got {self.batch_size}; fix: e.g. --batch-size 16, or "
                            "leave it out for the backend's default")
        if self.limit is not None and self.limit < 1:
            raise UserError(f"--limit must be >= 1, got {self.limit}")
        self.backend = backend_name(self.model, self.backend)

    def generation_info(self) -> dict[str, Any]:
        """What the summary records about generation (everything that changes the samples)."""
        info = {
            "backend": self.backend,
            **self.params.to_dict(),
            "seed": self.seed,
            "samples": self.samples,
            "limit": self.limit,
            "prompt_style": self.prompt_style,
            "source": self.source,
            "prompt_template": self.prompt_template,
            "system": self.system,
            **({"data_file": Path(self.data_file).name} if self.data_file is not None else {}),
        }
        if self.backend == "endpoint":
            info["endpoint_model"] = self.endpoint_model
        return info


def config_from_recipe(recipe: Any, *, model: str, output: str | Path) -> EvalConfig:
    """Build an :class:`EvalConfig` from a recipe (``polyreason.config.Recipe``) for the model it trained.

    Reads ``recipe.eval`` (benchmarks, samples, limit, temperature, top_p, max_new_tokens, backend,
    batch_size, prompt_style, prompt_template, system: how a recipe overrides the evaluation prompt); the run
    seed is ``recipe.seed``.
    """
    ev = recipe.eval
    return EvalConfig(
        model=model,
        benchmarks=list(ev.benchmarks) or list(EVAL_DEFAULTS.benchmarks),
        output=Path(output),
        samples=ev.samples,
        limit=ev.limit,
        params=eval_params(temperature=ev.temperature, top_p=ev.top_p, max_new_tokens=ev.max_new_tokens),
        seed=getattr(recipe, "seed", 0),
        backend=ev.backend,
        batch_size=ev.batch_size,
        prompt_style=ev.prompt_style,
        prompt_template=ev.prompt_template,
        system=ev.system,
        price_per_hour=recipe.cost.price_per_hour,
    )


@dataclass(frozen=True)
class Request:
    """One sample to produce: its cache key, messages, rendered prompt and prompt length (tokens, or
    characters for an endpoint, whose prompt is the messages as JSON)."""

    key: SampleKey
    problem: Problem
    messages: list[dict[str, str]]
    prompt: str
    length: int


@dataclass
class RunStats:
    """Counts from one run (returned next to the summary; not part of it, so resumed summaries match)."""

    cached: int = 0
    generated: int = 0
    generated_tokens: int = 0
    generation_seconds: float = 0.0

    def tokens_per_second(self) -> float:
        """Generated tokens per second of generation time."""
        return self.generated_tokens / self.generation_seconds if self.generation_seconds else 0.0


def batch_seed(seed: int, keys: list[SampleKey]) -> int:
    """A seed for one batch, derived from the run seed and the batch's sample keys (stable across runs)."""
    blob = json.dumps([seed] + [[k.benchmark, k.problem_index, k.sample_index] for k in keys])
    return int(hashlib.sha256(blob.encode()).hexdigest()[:8], 16)


def build_requests(config: EvalConfig, backend: Backend, problems: dict[str, list[Problem]]) -> list[Request]:
    """All (problem, sample) requests, sorted by prompt length (stable), with cache keys."""
    fp = fingerprint({"backend": backend.variant, **config.params.to_dict(), "seed": config.seed,
                      "weights": model_fingerprint(config.model)})
    requests = []
    for bench in config.benchmarks:
        for problem in problems[bench]:
            messages = build_eval_messages(
                problem.problem, problem.language, style=config.prompt_style,
                template=config.prompt_template, system=config.system, instruction=task_instruction(problem),
            )
            if backend.tokenizer is None:  # an endpoint applies the chat template itself
                prompt = json.dumps(messages, ensure_ascii=False, sort_keys=True)
                length = len(prompt)
            else:
                prompt = render_prompt(backend.tokenizer, messages)
                length = len(backend.tokenizer(prompt, add_special_tokens=False)["input_ids"])
            for s in range(config.samples):
                key = SampleKey(config.model, bench, problem.index, text_hash(prompt), s, fp)
                requests.append(Request(key, problem, messages, prompt, length))
    requests.sort(key=lambda r: r.length)
    return requests


def _generate_missing(
    requests: list[Request], backend: Backend, config: EvalConfig, cache: ResultCache, stats: RunStats,
    report: Reporter,
) -> None:
    """Generate the uncached requests batch by batch, committing each batch; progress per decoding step."""
    size = config.batch_size or backend.batch_size
    for start in range(0, len(requests), size):
        batch = requests[start : start + size]
        have = cache.get_many(r.key for r in batch)
        todo = [r for r in batch if r.key not in have]
        stats.cached += len(batch) - len(todo)
        if not todo:
            continue
        began = time.perf_counter()
        seed = batch_seed(config.seed, [r.key for r in todo])
        if backend.tokenizer is None:
            outputs = [out[0] for out in backend.chat([r.messages for r in todo], config.params, seed=seed,
                                                      progress=report.advance)]
        else:
            outputs = backend.generate([r.prompt for r in todo], config.params, seed, progress=report.advance)
        stats.generation_seconds += time.perf_counter() - began
        cache.put_many(
            (r.key, CachedSample(o.completion, o.n_tokens, o.truncated)) for r, o in zip(todo, outputs, strict=True)
        )
        stats.generated += len(todo)
        stats.generated_tokens += sum(o.n_tokens or 0 for o in outputs)


def run_eval(config: EvalConfig, backend: Backend | None = None) -> tuple[dict[str, Any], RunStats]:
    """Evaluate ``config.model`` on ``config.benchmarks``; write samples.jsonl, summary.json and summary.md.

    Returns ``(summary, stats)``.  Pass ``backend`` to reuse a loaded model (tests, notebooks).  The output
    directory is locked for the run: a second run on it stops at once with an error (exit code 2).
    """
    with output_lock(config.output, directory=True):
        return _run_eval(config, backend)


def _run_eval(config: EvalConfig, backend: Backend | None) -> tuple[dict[str, Any], RunStats]:
    from polyreason.report.cost import StageMeter, eval_cost

    meter = StageMeter.start(config.device)
    problems = {b: load_benchmark(b, limit=config.limit, source=config.source, data_file=config.data_file)
                for b in config.benchmarks}
    if any(benchmark_kind(b) == "code" for b in config.benchmarks):
        config.execution.make_sandbox()  # refuse before generating when no sandbox is allowed and works
    if backend is None:
        backend = make_backend(
            config.model, backend=config.backend, batch_size=config.batch_size, dtype=config.dtype,
            device=config.device, trust_remote_code=config.trust_remote_code, endpoint_model=config.endpoint_model,
            concurrency=config.concurrency,
        )
    if config.samples > 1 and config.params.temperature == 0:
        log.warning("--samples %d with temperature 0: greedy samples are identical; pass@k will equal pass@1",
                    config.samples)
    requests = build_requests(config, backend, problems)
    cache_path = config.cache or config.output / "cache.sqlite"
    stats = RunStats()
    with ResultCache(cache_path) as cache:
        pending = len(requests) - len(cache.get_many(r.key for r in requests))
        log.info("%d samples to evaluate, %d cached, %d to generate", len(requests), len(requests) - pending, pending)
        with Reporter(pending, description="generating", unit="samples") as report:
            _generate_missing(requests, backend, config, cache, stats, report)
        found = cache.get_many(r.key for r in requests)
    if len(found) != len(requests):  # pragma: no cover - defensive: the loop above fills every key
        raise RuntimeError("result cache is missing samples after generation")
    ordered = sorted(requests, key=lambda r: (config.benchmarks.index(r.key.benchmark), r.key.problem_index,
                                              r.key.sample_index))
    samples = [
        Sample(r.problem, r.key.sample_index, found[r.key].completion, found[r.key].n_tokens, found[r.key].truncated)
        for r in ordered
    ]
    n_parameters = config.n_parameters or count_parameters(getattr(backend, "model", None))
    summary = finish(samples, problems, config.output, model=config.model, generation=config.generation_info(),
                     timeout=config.verify_timeout, execution=config.execution, n_parameters=n_parameters)
    info = {
        "cached_samples": stats.cached,
        "generated_samples": stats.generated,
        "generated_tokens": stats.generated_tokens,
        "generation_seconds": round(stats.generation_seconds, 3),
        "tokens_per_second": round(stats.tokens_per_second(), 3),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cost": eval_cost(meter.finish(), stats.generated_tokens, config.price_per_hour),
    }
    # timings live apart from summary.json, which must be identical for a resumed run
    write_json(config.output / "run_info.json", info)
    return summary, stats


def finish(
    samples: list[Sample],
    problems: dict[str, list[Problem]],
    output: Path,
    *,
    model: str,
    generation: dict[str, Any],
    timeout: float = EVAL_DEFAULTS.verify_timeout,
    execution: ExecutionConfig | None = None,
    n_parameters: int | None = None,
) -> dict[str, Any]:
    """Score samples and write ``samples.jsonl``, ``summary.json`` and ``summary.md`` into ``output``.

    The summary's ``average``, ``n_parameters`` and ``accuracy_per_billion_parameters`` are
    :func:`polyreason.evaluate.metrics.cross_benchmark`'s.
    """
    records = score_samples(samples, timeout=timeout, execution=execution)
    grouped = group_records(records)
    summary = {
        "model": model,
        "generation": generation,
        "benchmarks": {name: summarize_benchmark(name, problems[name], grouped.get(name, [])) for name in problems},
    }
    summary.update(cross_benchmark(summary["benchmarks"], n_parameters))
    with output_lock(output, directory=True):
        write_jsonl(output / "samples.jsonl", records)
        write_json(output / "summary.json", summary)
        write_text(output / "summary.md", markdown_table(summary))
    return summary


def read_predictions(
    path: Path, benchmark: str, limit: int | None = None, *, source: str = "package",
    data_file: str | Path | None = None,
) -> tuple[list[Problem], list[Sample]]:
    """Read ``{"index": i, "completion": str, "sample"?: k}`` rows and pair them with the benchmark's problems.

    ``index`` is the row's position in the benchmark's canonical file; rows without ``sample`` are numbered
    in file order per index.  Problems with no prediction are left out of the scores (and counted in the log).
    """
    name = resolve_name(benchmark)
    problems = load_benchmark(name, limit=limit, source=source, data_file=data_file)
    by_index = {p.index: p for p in problems}
    if not path.is_file():
        raise UserError(f"predictions file {str(path)!r} does not exist; fix: pass a .jsonl file")
    samples, seen, next_sample = [], set(), {}
    for line_no, row in iter_jsonl(path):
        try:
            index, completion = int(row["index"]), row["completion"]
        except (ValueError, KeyError, TypeError) as exc:
            raise UserError(
                f"{path}:{line_no}: bad prediction row ({exc}); fix: each line must be "
                '{"index": <int>, "completion": <str>} (optionally "sample": <int>)'
            ) from exc
        if not isinstance(completion, str):
            raise UserError(f"{path}:{line_no}: 'completion' must be a string")
        if index not in by_index:
            if limit is not None and 0 <= index:
                continue
            raise UserError(
                f"{path}:{line_no}: index {index} is outside {name} (0..{len(problems) - 1}); fix: use the "
                "row's position in the benchmark's canonical file"
            )
        sample_index = int(row.get("sample", next_sample.get(index, 0)))
        next_sample[index] = sample_index + 1
        if (index, sample_index) in seen:
            raise UserError(f"{path}:{line_no}: duplicate prediction for index {index}, sample {sample_index}")
        seen.add((index, sample_index))
        samples.append(Sample(by_index[index], sample_index, completion, None, bool(row.get("truncated", False))))
    if not samples:
        raise UserError(f"{path} holds no predictions; fix: one JSON object per line")
    covered = {s.problem.index for s in samples}
    if len(covered) < len(problems):
        log.warning("%d of %d %s problems have no prediction and are not scored", len(problems) - len(covered),
                    len(problems), name)
    samples.sort(key=lambda s: (s.problem.index, s.sample_index))
    return [p for p in problems if p.index in covered], samples


def score_predictions(
    path: str | Path, benchmark: str, output: str | Path, *, limit: int | None = None,
    timeout: float = EVAL_DEFAULTS.verify_timeout,
    source: str = "package", data_file: str | Path | None = None, execution: ExecutionConfig | None = None,
    n_parameters: int | None = None,
) -> dict[str, Any]:
    """Score completions made elsewhere; writes the same files as :func:`run_eval`.

    ``n_parameters``: the parameter count of the model that wrote them (for accuracy per parameter).
    """
    path = Path(path)
    name = resolve_name(benchmark)
    if benchmark_kind(name) == "code":
        (execution or ExecutionConfig()).make_sandbox()  # refuse early, before reading anything
    problems, samples = read_predictions(path, benchmark, limit, source=source, data_file=data_file)
    return finish(samples, {name: problems}, Path(output), model=f"predictions:{path.name}",
                  generation={"source": "predictions", "file": path.name, "samples": max(
                      s.sample_index for s in samples) + 1}, timeout=timeout, execution=execution,
                  n_parameters=n_parameters)

