"""`polyreason demo`: the embedded model answers a few built-in synthetic problems (a smoke test of the stack)."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    model: str = typer.Option("smollm2-135m", help="Model spec: hub id, local dir, smollm2-135m or tiny-random."),
    n: int = typer.Option(5, "--n", min=1, help="How many held-out synthetic problems to answer."),
    language: str = typer.Option("en", help="Problem and prompt language (en or es)."),
    kind: str = typer.Option("add_sub", help="Synthetic task kind: add_sub, mul, multi_op or word."),
    seed: int = typer.Option(0, help="Which problems (deterministic)."),
    max_new_tokens: int = typer.Option(128, min=1, help="Generation budget per answer."),
) -> None:
    """Answer N synthetic problems greedily; print each answer, the extracted answer and whether it is correct."""
    from polyreason.data.synthetic import generate_problems
    from polyreason.generation import SamplingParams
    from polyreason.generation.transformers_backend import TransformersBackend
    from polyreason.prompts import build_messages, format_prompt
    from polyreason.verify import verify_batch

    console = Console()
    rows = list(generate_problems(n, seed=seed, language=language, kinds=[kind], difficulty="easy", split="eval"))
    backend = TransformersBackend.load(model, batch_size=n)
    prompts = [format_prompt(backend.tokenizer, build_messages(r["problem"], language)) for r in rows]
    with console.status(f"generating {n} answers with {model} on {backend.model.device}…"):
        outputs = backend.generate(prompts, SamplingParams(temperature=0.0, max_new_tokens=max_new_tokens), seed)
    verdicts = verify_batch([r["answer"] for r in rows], [o.completion for o in outputs], [language] * n)
    table = Table(title=f"{model}: {n} held-out synthetic problems ({language}, greedy)", show_lines=True)
    for column in ("problem", "model answer", "extracted", "gold", "correct"):
        table.add_column(column, overflow="fold")
    for row, out, verdict in zip(rows, outputs, verdicts, strict=True):
        mark = "[green]yes[/]" if verdict.correct else "[red]no[/]"
        table.add_row(row["problem"], out.completion.strip(), verdict.extracted or "—", row["answer"], mark)
    console.print(table)
    correct = sum(bool(v.correct) for v in verdicts)
    console.print(f"correct: {correct}/{n}")
