"""`polyreason eval`: zero-shot pass@k on math, multiple-choice and code benchmarks, or score predictions
made elsewhere; code runs only in the sandbox (``--unsafe-no-sandbox`` to run it without one)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from polyreason.commands.report import print_cost
from polyreason.commands.tables import print_table
from polyreason.errors import UserError


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)


def eval_command(
    output: Path = typer.Option(None, "--output", "-o", help="Directory for samples.jsonl, summary.json, summary.md."),
    model: str = typer.Option(
        None, "--model", "-m",
        help="Model spec (hub id, local dir, smollm2-135m, tiny-random) or a served model's URL (http://HOST/v1).",
    ),
    benchmarks: str = typer.Option(
        None, "--benchmarks", "-b",
        help="Comma list: aime24, math500, amc23, minerva, olympiadbench, gsm8k, mgsm-XX ('mgsm' = all 11), "
        "mmlu, gpqa, humaneval, mbpp, livecodebench, codeforces (--list-benchmarks).",
    ),
    samples: int = typer.Option(None, "--samples", "-n", help="Samples per problem; pass@1 is averaged over them."),
    limit: int = typer.Option(None, "--limit", help="Only the first N problems of each benchmark."),
    temperature: float = typer.Option(None, help="Sampling temperature (0 = greedy; default 0.6, Open-RS's)."),
    top_p: float = typer.Option(None, "--top-p", help="Nucleus sampling threshold, no top-k (default 0.95, "
                                "Open-RS's)."),
    max_new_tokens: int = typer.Option(None, "--max-new-tokens", help="Length limit per completion (tokens; "
                                       "default 1024)."),
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
        None, "--prompt-style", help="lighteval (Open-RS zero-shot instruction) or polyreason (<think> prompt)."
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
    verify_timeout: float = typer.Option(None, "--verify-timeout", help="Seconds allowed per verification."),
    source: str = typer.Option(
        "package", help="package (vendored copy, offline) or hub (the same sets read through `datasets`)."
    ),
    data_file: Path = typer.Option(
        None, "--data-file", help="Read the (one) benchmark from this local file in the hub's column layout "
        "(.jsonl/.json/.csv/.parquet), e.g. gpqa_diamond.csv.",
    ),
    sandbox: str = typer.Option(
        "auto", "--sandbox", help="Code benchmarks: auto (bwrap, else unshare), bwrap, unshare, or none."
    ),
    unsafe_no_sandbox: bool = typer.Option(
        False, "--unsafe-no-sandbox", help="Allow running model-written code with resource limits only, "
        "no isolation (network and your files reachable). Throwaway machines only.",
    ),
    code_timeout: float = typer.Option(
        None, "--code-timeout", help="Seconds per program run (default: the benchmark's, 4-5 s)."
    ),
    num_params: float = typer.Option(
        None, "--num-params", help="The model's parameter count (e.g. 1.5e9), when it cannot be counted "
        "(vllm, --predictions).",
    ),
    list_benchmarks: bool = typer.Option(False, "--list-benchmarks", help="List the benchmarks and exit."),
    threads: int = typer.Option(
        None, "--threads", help="torch CPU threads (default: torch's choice; 1 can be faster on a busy machine)."
    ),
    price_per_hour: float = typer.Option(
        None, "--price-per-hour", min=0, help="Price of one device-hour: adds a cost estimate to run_info.json."
    ),
) -> None:
    """Evaluate a model zero-shot (pass@1 over n samples, pass@k, 95% CI, length, language) — resumable.

    Options left out take the evaluation defaults, the same as a recipe's eval section (Open-RS's lighteval settings; `polyreason recipe reference` lists them).
    """
    from polyreason.evaluate.code import ExecutionConfig
    from polyreason.evaluate.runner import EVAL_DEFAULTS, EvalConfig, eval_params, run_eval, score_predictions

    console = Console()
    if list_benchmarks:
        _print_registry(console)
        return
    if output is None:
        raise UserError("no output directory; fix: add --output DIR (results and the resumable cache go there)")
    if code_timeout is not None and code_timeout <= 0:
        raise UserError(f"--code-timeout must be > 0, got {code_timeout}")
    if num_params is not None and num_params < 1:
        raise UserError(f"--num-params must be a parameter count such as 1.5e9, got {num_params}")
    execution = ExecutionConfig(sandbox=sandbox, allow_unsafe=unsafe_no_sandbox, timeout=code_timeout)
    n_parameters = int(num_params) if num_params is not None else None
    if predictions is not None:
        if model is not None:
            raise UserError("--predictions scores existing completions; fix: drop --model (or drop --predictions)")
        name = benchmark or (benchmarks if benchmarks and "," not in benchmarks else None)
        if name is None:
            raise UserError("--predictions needs one benchmark; fix: add --benchmark NAME")
        summary = score_predictions(predictions, name, output, limit=limit,
                                    timeout=EVAL_DEFAULTS.verify_timeout if verify_timeout is None else verify_timeout,
                                    source=source, data_file=data_file, execution=execution,
                                    n_parameters=n_parameters)
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
    given = {"samples": samples, "backend": backend, "batch_size": batch_size, "prompt_style": prompt_style,
             "verify_timeout": verify_timeout}
    config = EvalConfig(
        model=model, benchmarks=benchmarks or list(EVAL_DEFAULTS.benchmarks), output=output, limit=limit,
        params=eval_params(temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens), seed=seed,
        endpoint_model=endpoint_model, concurrency=concurrency,
        prompt_template=prompt_template, system=system, cache=cache, dtype=dtype, device=device,
        trust_remote_code=trust_remote_code, source=source, data_file=data_file, execution=execution,
        n_parameters=n_parameters, price_per_hour=price_per_hour,
        **{k: v for k, v in given.items() if v is not None},
    )
    summary, stats = run_eval(config)
    _print_summary(console, summary, output)
    console.print(
        f"generated {stats.generated} samples ({stats.tokens_per_second():.1f} tokens/s), "
        f"{stats.cached} reused from the cache"
    )
    print_cost(console, output / "run_info.json")


def _print_registry(console: Console) -> None:
    from polyreason.evaluate.benchmarks import REGISTRY

    rows = []
    for name, spec in REGISTRY.items():
        hub = f"{spec.hub_id}:{spec.hub_config}" if spec.hub_config and spec.name.startswith("mgsm") else spec.hub_id
        data = "vendored" if spec.filename else (f"{spec.package_data[0]} package" if spec.package_data else "hub")
        rows.append([name, spec.kind, spec.language, data, hub or "–", spec.description])
    print_table(console, "benchmarks", ("name", "kind", "language", "data", "hub id", "about"), rows)


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
    avg = (summary.get("average") or {}).get("pass@1")
    if avg is not None and len(summary["benchmarks"]) > 1:
        rows.append(["Avg.", _pct(avg), *["–"] * 8])
    print_table(console, f"polyreason eval: {summary['model']}", SUMMARY_COLUMNS, rows, right=SUMMARY_COLUMNS[1:])
    from polyreason.evaluate.scoring import size_line

    console.print(size_line(summary))
    console.print(f"wrote {output / 'summary.json'}, {output / 'summary.md'}, {output / 'samples.jsonl'}")
