"""`polyreason env`: versions, hardware, vLLM availability, the embedded model and cache paths."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table


def register(app: typer.Typer) -> None:
    app.command("env")(env)


def env(
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
    build: bool = typer.Option(False, "--build", help="Build and cache the embedded model now if it is not cached."),
) -> None:
    """Show versions, CPU/GPU, vLLM availability, whether the embedded model is installed and cached."""
    from polyreason import environment, models

    if build:
        models.resolve_model_path(models.EMBEDDED_SPEC)
    info = environment.collect()
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    console = Console()
    table = Table(title=f"polyreason {info['polyreason']}", show_header=False)
    table.add_row("python", f"{info['python']} ({info['platform']})")
    for name, version in info["packages"].items():
        table.add_row(name, version or "[dim]not installed[/]")
    hw = info["hardware"]
    gpus = ", ".join(f"{g['name']} ({g['memory_gib']} GiB)" for g in hw["gpus"]) or "none"
    table.add_row("CPU cores", str(hw["cpu_count"]))
    table.add_row("GPUs", gpus)
    table.add_row("vLLM", "available" if info["vllm_available"] else "not installed (pip install 'polyreason\\[vllm]')")
    emb = info["embedded_model"]
    if not emb["installed"]:
        state = f"[red]not installed[/]: {emb['install_command']}"
    elif emb["cached"]:
        state = f"installed, cached at {emb['cache_path']}"
    else:
        state = f"installed ({emb['gguf_path']}), not cached yet: built on first use or `polyreason env --build`"
    table.add_row("embedded model", state)
    table.add_row("tiny test model", "cached" if info["tiny_model"]["cached"] else "built on first use")
    table.add_row("cache dir", info["cache_dir"])
    console.print(table)
