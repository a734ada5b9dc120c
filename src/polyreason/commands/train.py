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
    """Run the recipe's stages in order (SFT, GRPO or both); each stage's final model feeds the next."""
    from polyreason.config import load_recipe
    from polyreason.train import run_recipe

    output = renamed(output, output_dir, old="--output-dir", new="-o/--output")
    recipe = load_recipe(recipe_path, with_price(overrides, price_per_hour))
    console = Console()
    stages = " → ".join(s.type if s.type == "sft" else f"grpo({s.preset})" for s in recipe.stages)
    out = output or recipe.output_dir
    console.print(f"[bold]training[/] {recipe.name}: model {recipe.model.spec}, stages {stages} → {out}",
                  highlight=False)
    result = run_recipe(recipe, out, resume=resume)
    rows = [[f"{st.index} {st.type}", str(st.steps), "skipped" if st.skipped else f"{st.runtime_s:.0f} s",
             str(st.model_dir)] for st in result.stages]
    print_table(console, "stages", ("stage", "steps", "time", "model"), rows)
    print_cost(console, Path(result.output_dir) / "summary.json")
    console.print(f"final model: {result.model_dir}\nmetrics: {result.metrics_path}\n"
                  f"summary: {Path(result.output_dir) / 'summary.json'}", highlight=False)


def quickstart(
    overrides: list[str] = SetOption,
    output: str = typer.Option(None, "--output", "-o", help="Default: runs/quickstart-<time>."),
    eval_problems: int = typer.Option(100, "--eval-problems", min=10, help="Held-out problems to evaluate on."),
    seed: int = typer.Option(None, "--seed", help="Seed (training and the held-out problem draw)."),
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
    recipe = quickstart_recipe(items, out)
    console = Console()
    console.print(f"[bold]quickstart[/]: {recipe.model.spec}, {eval_problems} held-out problems, stages "
                  f"{' → '.join(s.type for s in recipe.stages)}; files in {out}", highlight=False)

    def show(score: dict) -> None:
        console.print(f"  {score['label']:<12} accuracy {score['accuracy']:.0%}  format {score['format']:.0%}  "
                      f"({score['seconds']:.0f} s)", highlight=False)

    result = run_quickstart(recipe, eval_problems=eval_problems, resume=resume, on_score=show)
    print_table(console, "held-out problems (greedy)", SCORE_COLUMNS, _score_rows(result.scores),
                right=SCORE_COLUMNS[1:])
    labels = [s["label"] for s in result.scores]
    for before, after in zip(labels, labels[1:], strict=False):
        console.print(f"{after.removeprefix('after ').upper()} gain: accuracy "
                      f"{result.gain(after, before):+.0%} (points), format {result.gain(after, before, 'format'):+.0%}",
                      highlight=False)
    console.print(f"total: accuracy {result.gain(labels[-1], labels[0]):+.0%} in {result.total_seconds / 60:.1f} min "
                  f"wall time", highlight=False)
    console.print(f"files: {result.output_dir} (quickstart.json, metrics.jsonl, completions.jsonl, "
                  f"heldout-*.jsonl); final model: {result.model_dir}", highlight=False)


def with_price(overrides: list[str] | None, price_per_hour: float | None) -> list[str]:
    """``--set`` items plus ``cost.price_per_hour`` when ``--price-per-hour`` was given."""
    items = list(overrides or [])
    if price_per_hour is not None:
        items.append(f"cost.price_per_hour={price_per_hour}")
    return items


SCORE_COLUMNS = ("model", "accuracy", "format", "mean reward", "mean length (tokens)", "eval time")


def _score_rows(scores: list[dict]) -> list[list[str]]:
    return [[s["label"], f"{s['accuracy']:.0%}", f"{s['format']:.0%}",
             "–" if s["mean_reward"] is None else f"{s['mean_reward']:.3f}",
             f"{s['mean_length']:.1f}", f"{s['seconds']:.0f} s"] for s in scores]
