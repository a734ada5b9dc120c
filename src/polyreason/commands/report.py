"""`polyreason report RUN_DIR … -o report.html`: one self-contained HTML page (tables, plots, cost)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console


def register(app: typer.Typer) -> None:
    app.command("report")(report)


def report(
    run_dirs: list[Path] = typer.Argument(..., help="Run, eval or sweep directories (their --output-dir)."),
    output: Path = typer.Option(Path("report.html"), "--output", "-o", help="The HTML file to write."),
    title: str = typer.Option(None, "--title", help="Page title (default: the directory names)."),
    price_per_hour: float = typer.Option(
        None, "--price-per-hour", min=0, help="Reprice every cost estimate at this price per device-hour."
    ),
) -> None:
    """Training curves (reward and its components, length, truncation, zero-variance groups, KL, entropy,
    learning rate), before/after and eval tables and the cost table; for several runs or a sweep, the
    comparison table (mean, 95% CI over seeds) and overlaid curves.  Images are embedded: one file."""
    from polyreason.report.html import write_report

    path = write_report(list(run_dirs), output, title=title, price_per_hour=price_per_hour)
    Console().print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)", highlight=False)


def print_cost(console: Console, path: Path) -> None:
    """Print the one-line cost of a run from its summary.json / run_info.json (nothing if it has none)."""
    import json

    from polyreason.report.cost import cost_line

    try:
        block = json.loads(path.read_text(encoding="utf-8")).get("cost")
    except (OSError, ValueError):
        return
    if block:
        console.print(f"cost: {cost_line(block)}", highlight=False)
