"""`polyreason score INPUT -o OUTPUT`: add reward values to a JSONL file of completions."""

from __future__ import annotations

from pathlib import Path

import typer

from polyreason.commands.deprecated import renamed
from polyreason.errors import UserError


def register(app: typer.Typer) -> None:
    """Add the ``score`` command."""
    app.command("score")(score_command)


def score_command(
    input: Path = typer.Argument(
        None, metavar="INPUT", show_default=False,
        help='JSONL rows {"completion": str, "answer": str, "language"?: str, "n_tokens"?: int}.',
    ),
    output: Path = typer.Option(
        ..., "--output", "-o", help='JSONL out: each row plus {"rewards": {...}, "total": x}.'
    ),
    rewards: str = typer.Option(
        None, "--rewards", "-r", help="Weights, e.g. accuracy=1.0,language=0.2,format=0.1."
    ),
    recipe: Path = typer.Option(
        None, "--recipe", help="Build the rewards as this recipe's (first) GRPO stage trains with them."
    ),
    param: list[str] = typer.Option(
        [], "--param", "-p", help="Reward parameter REWARD.NAME=VALUE (repeatable)."
    ),
    language: str = typer.Option(
        None, "--language", "-l", help='Target language for rows without "language".'
    ),
    chunk: int = typer.Option(256, "--chunk", help="Rows scored per batch."),
    old_input: Path = typer.Option(None, "--input", "-i", hidden=True, help="Deprecated: pass INPUT."),
) -> None:
    """Score completions with a weighted sum of rewards, built as GRPO training builds them.

    A total leaves out rewards that returned None and is None when none scored (TRL's rule; docs/rewards.md).
    """
    from rich.console import Console
    from rich.table import Table

    from polyreason.files import count_lines, write_jsonl
    from polyreason.rewards.scoring import (
        parse_param,
        parse_weights,
        read_rows,
        score_rows,
    )

    input = renamed(input, old_input, old="--input", new="the INPUT argument (polyreason score FILE -o OUT)")
    if input is None:
        raise UserError("no input file; fix: polyreason score FILE.jsonl -o OUT.jsonl --rewards …")
    if (rewards is None) == (recipe is None):
        raise UserError(
            "give exactly one of --rewards or --recipe; fix: e.g. --rewards accuracy=1.0,format=0.1"
        )
    if chunk <= 0:
        raise UserError(f"--chunk must be > 0 (got {chunk})")
    params: dict[str, dict] = {}
    default_language = "en"
    if recipe is not None:
        weights, params, default_language = _recipe_rewards(recipe)
    else:
        weights = parse_weights(rewards)
    for item in param:
        name, key, value = parse_param(item)
        if name not in weights:
            raise UserError(f"--param {item!r}: reward {name!r} has no weight; fix: add it to --rewards")
        params.setdefault(name, {})[key] = value
    rows = read_rows(input)  # streamed: checked and scored chunk by chunk while the output is written
    scored = score_rows(rows, weights, params, language=language or default_language, chunk=chunk,
                        total=count_lines(input) if input.is_file() else None)
    n = 0
    sums: dict[str, list[float]] = {name: [] for name in [*weights, "total"]}

    def collect():
        nonlocal n
        for row in scored:
            n += 1
            for name, value in [*row["rewards"].items(), ("total", row["total"])]:
                if value is not None:
                    sums[name].append(value)
            yield row

    write_jsonl(output, collect())
    table = Table(title=f"{n} rows scored → {output}")
    table.add_column("reward")
    table.add_column("weight", justify="right")
    table.add_column("mean", justify="right")
    table.add_column("scored", justify="right")
    for name, values in sums.items():
        mean = f"{sum(values) / len(values):.4f}" if values else "-"
        weight = "" if name == "total" else f"{weights[name]:g}"
        table.add_row(name, weight, mean, f"{len(values)}/{n}")
    Console().print(table)


def _recipe_rewards(path: Path) -> tuple[dict[str, float], dict[str, dict], str]:
    """(weights, params, language) of the rewards a recipe trains with (:meth:`Recipe.trained_rewards`)."""
    from polyreason.config import load_recipe
    from polyreason.rewards import suite_from_specs

    recipe = load_recipe(path)
    specs, max_completion_length = recipe.trained_rewards()
    if not specs:
        raise UserError(f"{path}: the recipe has no rewards section; fix: add `rewards:` or use --rewards")
    weights, params = suite_from_specs(specs, max_completion_length)
    return weights, params, recipe.language
