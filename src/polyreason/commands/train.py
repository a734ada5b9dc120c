"""`polyreason train RECIPE` and `polyreason quickstart`."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console

from polyreason.commands.deprecated import renamed
from polyreason.commands.report import print_cost
from polyreason.commands.tables import print_table

SetOption = typer.Option(None, "--set", help="Override a recipe key, e.g. --set stages.0.max_steps=10.")
PriceOption = typer.Option(
    None, "--price-per-hour", min=0, help="Price of one device-hour for the summary's cost estimate "
    "(= --set cost.price_per_hour=X)."
)
OldOutputOption = typer.Option(None, "--output-dir", hidden=True, help="Deprecated: -o/--output.")


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.command("quickstart")(quickstart)


def train(
    recipe_path: Path = typer.Argument(..., help="Recipe YAML file (see recipes/)."),
    overrides: list[str] = SetOption,
    output: str = typer.Option(None, "--output", "-o", help="Where the run goes (default: the recipe's output_dir)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run from its last checkpoint."),
    price_per_hour: float = PriceOption,
    output_dir: str = OldOutputOption,
) -> None:
    """Run the recipe's stages in order (training, synthetic data, evaluation, data steps); each stage's
    outputs feed the stages after it."""
    from polyreason.config import load_recipe
    from polyreason.train import run_recipe
    from polyreason.train.stages import stage_type

    output = renamed(output, output_dir, old="--output-dir", new="-o/--output")
    recipe = load_recipe(recipe_path, with_price(overrides, price_per_hour))
    console = Console()
    stages = " → ".join(stage_type(s.type).label(s) for s in recipe.stages)
    out = output or recipe.output_dir
    console.print(f"[bold]training[/] {recipe.name}: model {recipe.model.spec}, stages {stages} → {out}",
                  highlight=False)
    result = run_recipe(recipe, out, resume=resume)
    rows = [[f"{st.index} {st.type}" + ("" if st.name == f"{st.index}-{st.type}" else f" {st.name}"), str(st.steps) if stage_type(st.type).trains else "–",
             "skipped" if st.skipped else f"{st.runtime_s:.0f} s", _stage_output(st)] for st in result.stages]
    print_table(console, "stages", ("stage", "steps", "time", "output"), rows)
    print_cost(console, Path(result.output_dir) / "summary.json")
    console.print(f"final model: {result.model_dir}\nmetrics: {result.metrics_path}\n"
                  f"summary: {Path(result.output_dir) / 'summary.json'}", highlight=False)


def quickstart(
    overrides: list[str] = SetOption,
    output: str = typer.Option(None, "--output", "-o", help="Default: runs/quickstart-<time>."),
    language: str = typer.Option("en", "--language", "-l", help="en, or es (the SmolLM3-ES story: Spanish "
                                 "traces, then Dr. GRPO with the card's composite reward)."),
    eval_problems: int = typer.Option(200, "--eval-problems", min=10, help="Held-out test problems to evaluate on."),
    seed: int = typer.Option(None, "--seed", help="Training seed (the held-out problems do not depend on it)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted quickstart in -o/--output."),
    price_per_hour: float = PriceOption,
    output_dir: str = OldOutputOption,
) -> None:
    """Evaluate the embedded SmolLM2-135M, train it (SFT then GRPO) on synthetic arithmetic, evaluate again."""
    from polyreason.train.quickstart import quickstart_recipe, run_quickstart

    output = renamed(output, output_dir, old="--output-dir", new="-o/--output")
    items = with_price(overrides, price_per_hour)
    if seed is not None:
        items.append(f"seed={seed}")
    out = output or f"runs/quickstart-{time.strftime('%Y%m%d-%H%M%S')}"
    recipe = quickstart_recipe(items, out, language=language)
    console = Console()
    console.print(f"[bold]quickstart[/]: {recipe.model.spec}, {eval_problems} held-out problems, stages "
                  f"{' → '.join(s.type for s in recipe.stages)}; files in {out}", highlight=False)

    def show(score: dict) -> None:
        console.print(f"  {score['label']:<12} accuracy {score['accuracy']:.0%}  format {score['format']:.0%}  "
                      f"({score['seconds']:.0f} s)", highlight=False)

    result = run_quickstart(recipe, eval_problems=eval_problems, resume=resume, on_score=show)
    with_language = recipe.language != "en"
    print_table(console, "held-out test problems (greedy)", score_columns(with_language),
                _score_rows(result.scores, with_language), right=score_columns(with_language)[1:])
    labels = [s["label"] for s in result.scores]
    for before, after in zip(labels, labels[1:], strict=False):
        stage = after.removeprefix("after ").upper()
        console.print(f"{stage}'s own gain: accuracy {100 * result.gain(after, before):+.1f} points, format "
                      f"{100 * result.gain(after, before, 'format'):+.1f} points", highlight=False)
    console.print(f"total: accuracy {100 * result.gain(labels[-1], labels[0]):+.1f} points in "
                  f"{result.total_seconds / 60:.1f} min wall time, peak RSS {result.peak_rss_mb / 1024:.1f} GB",
                  highlight=False)
    console.print(f"files: {result.output_dir} (quickstart.json, metrics.jsonl, completions.jsonl, "
                  f"heldout-*.jsonl); final model: {result.model_dir}", highlight=False)


def _stage_output(st) -> str:  # noqa: ANN001 - a StageResult
    """What a stage left: its model, its rows, or its headline eval scores."""
    if st.model_dir or st.data:
        return str(st.model_dir or st.data)
    benchmarks = (st.summary.get("eval") or {}).get("benchmarks") or {}
    scores = [f"{name} {b['pass@1']:.1%}" for name, b in benchmarks.items() if isinstance(b.get("pass@1"), int | float)]
    return ", ".join(scores) or "–"


def with_price(overrides: list[str] | None, price_per_hour: float | None) -> list[str]:
    """``--set`` items plus ``cost.price_per_hour`` when ``--price-per-hour`` was given."""
    items = list(overrides or [])
    if price_per_hour is not None:
        items.append(f"cost.price_per_hour={price_per_hour}")
    return items


def score_columns(with_language: bool = False) -> tuple[str, ...]:
    """The before/after table's columns; ``with_language`` adds reasoning-language compliance, naturalness
    flags per 100 completions and the mean repetition penalty (the Spanish quickstart's columns)."""
    cols = ["model", "acc", "format", "reward", "tokens", "time"]
    if with_language:
        cols[3:3] = ["lang", "nat/100", "rep"]
    return tuple(cols)


def _score_rows(scores: list[dict], with_language: bool = False) -> list[list[str]]:
    rows = []
    for s in scores:
        row = [s["label"], f"{s['accuracy']:.1%}", f"{s['format']:.0%}",
               "–" if s["mean_reward"] is None else f"{s['mean_reward']:.2f}", f"{s['mean_length']:.0f}",
               f"{s['seconds']:.0f} s"]
        if with_language:
            row[3:3] = [f"{s.get('language_compliance', 0.0):.0%}", f"{s.get('naturalness_per_100', 0.0):.1f}",
                        f"{s.get('repetition_penalty', 0.0):.3f}"]
        rows.append(row)
    return rows
