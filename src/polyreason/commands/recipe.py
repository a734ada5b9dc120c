"""`polyreason recipe validate|show`: check a recipe and print it fully resolved."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

recipe_app = typer.Typer(help="Validate and inspect YAML recipes.", no_args_is_help=True)

SetOption = typer.Option(None, "--set", help="Override a key before validation, e.g. --set stages.0.max_steps=10.")


def register(app: typer.Typer) -> None:
    app.add_typer(recipe_app, name="recipe")


@recipe_app.command("validate")
def validate(
    path: Path = typer.Argument(..., help="Recipe YAML file."),
    overrides: list[str] = SetOption,
) -> None:
    """Validate a recipe; exit code 2 with a message naming the bad key when it is invalid."""
    from polyreason.config import load_recipe

    recipe = load_recipe(path, overrides)
    stages = " → ".join(s.type if s.type == "sft" else f"grpo({s.preset})" for s in recipe.stages)
    Console().print(f"[green]ok[/] {path}: model {recipe.model.spec}, stages {stages}, rewards "
                    f"{', '.join(recipe.rewards) or 'none'}", highlight=False)


@recipe_app.command("show")
def show(
    path: Path = typer.Argument(..., help="Recipe YAML file."),
    overrides: list[str] = SetOption,
) -> None:
    """Print the fully resolved recipe (defaults and preset values filled in) as YAML."""
    from polyreason.config import dump_recipe, load_recipe

    typer.echo(dump_recipe(load_recipe(path, overrides)), nl=False)


@recipe_app.command("reference")
def reference() -> None:
    """Print the reference of every recipe field (type, default, meaning) as Markdown."""
    from polyreason.config import reference_markdown

    typer.echo(reference_markdown())
