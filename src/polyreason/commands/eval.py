"""`polyreason eval`: zero-shot pass@k on the vendored math benchmarks, or score predictions made elsewhere."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from polyreason.commands.tables import print_table
from polyreason.errors import UserError
from polyreason.generation import SamplingParams


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)


def eval_command(
    output: Path = typer.Option(None, "--output", "-o", help="Directory for samples.jsonl, summary.json, summary.md."),
    model: str = typer.Option(
        None, "--model", "-m",
        help="Model spec (hub id, local dir, smollm2-135m, tiny-random) or a served model's URL (http://HOST/v1).",
    ),
    benchmarks: str = typer.Option(
        "math500", "--benchmarks", "-b",
        help="Comma list: aime24, math500, amc23, minerva, olympiadbench, gsm8k, mgsm-XX (or 'mgsm' for all 11).",
    ),
    samples: int = typer.Option(1, "--samples", "-n", help="Samples per problem; pass@1 is averaged over them."),
    limit: int = typer.Option(None, "--limit", help="Only the first N problems of each benchmark."),
    temperature: float = typer.Option(SamplingParams.temperature, help="Sampling temperature (0 = greedy). Open-RS "
                                      "used 0.6."),
    top_p: float = typer.Option(SamplingParams.top_p, "--top-p", help="Nucleus sampling threshold (no top-k). "
                                "Open-RS used 0.95."),
    max_new_tokens: int = typer.Option(SamplingParams.max_new_tokens, "--max-new-tokens",
                                       help="Length limit per completion (tokens)."),
    seed: int = typer.Option(0, help="Run seed; each batch's seed derives from it, so resumed runs match."),
    backend: str = typer.Option(
        None, help="transformers (CPU/GPU), vllm (GPU, optional extra) or endpoint (default: endpoint for a URL "
        "--model, else transformers)."
    ),
    batch_size: int = typer.Option(
        None, "--batch-size", help="Prompts per generate call (default 16; vllm 512; endpoint 8 × concurrency)."
    ),
    endpoint_model: str = typer.Option("default", "--endpoint-model", help="Served model name sent to an endpoint."),
    concurrency: int = typer.Option(4, help="Parallel requests to an endpoint."),
    prompt_style: str = typer.Option(
        "lighteval", "--prompt-style", help="lighteval (Open-RS zero-shot instruction) or polyreason (<think> prompt)."
    ),
    prompt_template: str = typer.Option(None, "--prompt-template", help="User text with {problem}; overrides style."),
    system: str = typer.Option(None, "--system", help="System prompt (default: none for lighteval style)."),
    cache: Path = typer.Option(None, "--cache", help="Result cache (SQLite); default OUTPUT/cache.sqlite."),
    dtype: str = typer.Option(None, help="auto, float32, bfloat16, float16 (default: bf16 only where native)."),
    device: str = typer.Option(None, help="cpu, cuda, cuda:1 … (default: cuda if available)."),
    trust_remote_code: bool = typer.Option(False, "--trust-remote-code", help="Allow model repos' own code."),
    predictions: Path = typer.Option(
        None, "--predictions", help='Score this JSONL of {"index": i, "completion": str} rows instead of generating.'
    ),
    benchmark: str = typer.Option(None, "--benchmark", help="The benchmark the --predictions rows belong to."),
    verify_timeout: float = typer.Option(2.0, "--verify-timeout", help="Seconds allowed per verification."),
    source: str = typer.Option(
        "package", help="package (vendored copy, offline) or hub (the same sets read through `datasets`)."
    ),
    list_benchmarks: bool = typer.Option(False, "--list-benchmarks", help="List the benchmarks and exit."),
    threads: int = typer.Option(
        None, "--threads", help="torch CPU threads (default: torch's choice; 1 can be faster on a busy machine)."
    ),
) -> None:
    """Evaluate a model zero-shot (pass@1 over n samples, pass@k, 95% CI, length, language) — resumable."""
    from polyreason.evaluate.runner import EvalConfig, run_eval, score_predictions

    console = Console()
    if list_benchmarks:
        _print_registry(console)
        return
    if output is None:
        raise UserError("no output directory; fix: add --output DIR (results and the resumable cache go there)")
    if predictions is not None:
        if model is not None:
            raise UserError("--predictions scores existing completions; fix: drop --model (or drop --predictions)")
        name = benchmark or (benchmarks if "," not in benchmarks else None)
        if name is None:
            raise UserError("--predictions needs one benchmark; fix: add --benchmark NAME")
        summary = score_predictions(predictions, name, output, limit=limit, timeout=verify_timeout)
        _print_summary(console, summary, output)
        return
    if model is None:
        raise UserError("no model given; fix: add --model SPEC (e.g. smollm2-135m) or --predictions FILE")
    if threads is not None:
        if threads < 1:
            raise UserError(f"--threads must be >= 1, got {threads}")
        import torch

        torch.set_num_threads(threads)
    if benchmark is not None:
        benchmarks = benchmark
    config = EvalConfig(
        model=model, benchmarks=benchmarks, output=output, samples=samples, limit=limit,
        params=SamplingParams(temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens), seed=seed,
        backend=backend, batch_size=batch_size, endpoint_model=endpoint_model, concurrency=concurrency,
        prompt_style=prompt_style, prompt_template=prompt_template, system=system, cache=cache, dtype=dtype, device=device, trust_remote_code=trust_remote_code,
        verify_timeout=verify_timeout, source=source,
    )
    summary, stats = run_eval(config)
    _print_summary(console, summary, output)
    console.print(
        f"generated {stats.generated} samples ({stats.tokens_per_second():.1f} tokens/s), "
        f"{stats.cached} reused from the cache"
    )


def _print_registry(console: Console) -> None:
    from polyreason.evaluate.benchmarks import REGISTRY

    rows = []
    for name, spec in REGISTRY.items():
        hub = f"{spec.hub_id}:{spec.hub_config}" if spec.hub_config and spec.name.startswith("mgsm") else spec.hub_id
        rows.append([name, spec.language, hub or "–", spec.description])
    print_table(console, "benchmarks (vendored, offline)", ("name", "language", "hub id", "about"), rows)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


SUMMARY_COLUMNS = ("benchmark", "pass@1 %", "95% CI", "best pass@k %", "problems", "samples", "tokens", "trunc %",
                   "reasoning lang %", "answer lang %")


def _print_summary(console: Console, summary: dict, output: Path) -> None:
    rows = []
    for name, b in summary["benchmarks"].items():
        ks = [k for k in b if k.startswith("pass@") and k != "pass@1"]
        best = max(ks, key=lambda k: int(k.split("@")[1])) if ks else None
        lm = b.get("language_metrics", {})
        rows.append([
            name, _pct(b["pass@1"]), f"{_pct(b['ci95'][0])}–{_pct(b['ci95'][1])}",
            f"{_pct(b[best])} (k={best.split('@')[1]})" if best else "–",
            str(b["n_problems"]), str(b["n_samples"]),
            "–" if b.get("mean_tokens") is None else f"{b['mean_tokens']:.0f}",
            _pct(b.get("truncation_rate")), _pct(lm.get("reasoning_compliance")), _pct(lm.get("answer_compliance")),
        ])
    print_table(console, f"polyreason eval: {summary['model']}", SUMMARY_COLUMNS, rows, right=SUMMARY_COLUMNS[1:])
    console.print(f"wrote {output / 'summary.json'}, {output / 'summary.md'}, {output / 'samples.jsonl'}")
