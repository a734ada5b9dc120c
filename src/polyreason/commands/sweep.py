"""`polyreason sweep RECIPE --grid KEY=v1,v2 … --seeds 1,2,3 -o DIR`: every combination, one comparison table."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from polyreason.errors import UserError


def register(app: typer.Typer) -> None:
    app.command("sweep")(sweep)


def sweep(
    recipe_path: Path = typer.Argument(..., help="Recipe YAML file (see recipes/)."),
    grid: list[str] = typer.Option(
        None, "--grid", "-g", help="KEY=v1,v2,…: a recipe key (as in --set) and the values to try; repeatable."
    ),
    seeds: str = typer.Option(None, "--seeds", help="Comma list of seeds, e.g. 1,2,3 (default: the recipe's seed)."),
    output_dir: Path = typer.Option(None, "--output-dir", "-o", help="Sweep directory (default: runs/sweep-<recipe>)."),
    overrides: list[str] = typer.Option(None, "--set", help="Override a key in every cell, e.g. --set stages.0.max_steps=10."),
    price_per_hour: float = typer.Option(
        None, "--price-per-hour", min=0, help="Price of one device-hour for each cell's cost estimate."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate every cell's recipe, list the cells, run nothing."),
    cell: list[int] = typer.Option(
        None, "--cell", help="Run only this cell index (repeatable; e.g. $SLURM_ARRAY_TASK_ID); no table is written."
    ),
    collect: bool = typer.Option(False, "--collect", help="Run nothing; write the table from the finished cells."),
) -> None:
    """Run every grid combination × seed in turn (finished cells are skipped on rerun); write comparison.md/.json
    with the mean and 95% CI (Student's t) over seeds of every metric.  Exit code 1 when a cell failed."""
    from polyreason.train.sweep import (
        is_finished,
        load_cell_recipes,
        parse_grid,
        parse_seeds,
        plan_cells,
        run_sweep,
    )

    if cell and collect:
        raise UserError("--cell runs cells and --collect runs none; fix: use one of them")
    parsed = parse_grid(grid or [])
    seed_list = parse_seeds(seeds)
    if not parsed and not seed_list:
        raise UserError("nothing to sweep; fix: add --grid KEY=v1,v2 and/or --seeds 1,2,3")
    out = output_dir or Path("runs") / f"sweep-{recipe_path.stem}"
    items = list(overrides or []) + ([f"cost.price_per_hour={price_per_hour}"] if price_per_hour is not None else [])
    console = Console()
    cells = plan_cells(parsed, seed_list)
    if dry_run:
        load_cell_recipes(recipe_path, cells, items)
        table = Table(title=f"{len(cells)} cells → {out}")
        for col in ("#", "cell", "overrides", "state"):
            table.add_column(col)
        for c in cells:
            state = "finished" if is_finished(out / "cells" / c.name) else "to run"
            table.add_row(str(c.index), c.name, " ".join(c.overrides()), state)
        console.print(table)
        return

    def show(c, status: str, seconds: float) -> None:  # noqa: ANN001
        colour = {"finished": "green", "skipped": "dim", "failed": "red"}[status]
        console.print(f"[{colour}]{status}[/] cell {c.index + 1}/{len(cells)} {c.name}"
                      + (f" ({seconds:.0f} s)" if status != "skipped" else " (already finished)"), highlight=False)

    console.print(f"[bold]sweep[/] {recipe_path.name}: {len(cells)} cells → {out}", highlight=False)
    result = run_sweep(recipe_path, parsed, seed_list, out, overrides=items, only=list(cell) if cell else None,
                       collect=collect, on_cell=show)
    if result.comparison_md is not None:
        console.print(f"comparison: {result.comparison_md} and {result.comparison_json}\n"
                      f"report: polyreason report {out} -o {out / 'report.html'}", highlight=False)
    if result.failed:
        console.print(f"[red]{len(result.failed)} cell(s) failed[/]: {', '.join(result.failed)} "
                      f"(errors in {out}/cells/<name>/cell.json; rerun the same command to retry them)", highlight=False)
        raise typer.Exit(1)
