"""The comparison table of a sweep: per setting (grid point), mean and 95 % CI over seeds of every metric.

Input is one :class:`CellOutcome` per cell; cells of the same ``group`` (same grid values, different seeds)
are pooled.  The interval is Student's t with n − 1 degrees of freedom (:func:`polyreason.report.stats.mean_ci`),
reported for n ≥ 2; with one seed only the value is shown.  Failed and unfinished cells are counted, not
averaged.  :func:`comparison_markdown` prints metrics as rows and settings as columns, ``mean ± half-width``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from polyreason.report.stats import mean_ci

CI_METHOD = "95% CI: Student's t with n-1 degrees of freedom over seeds (mean ± t·s/√n); none for n = 1"


@dataclass
class CellOutcome:
    """One cell's result: its group and settings, status, and flat metrics (from ``run_metrics``)."""

    name: str
    group: str
    settings: dict[str, Any]
    status: str  # finished | failed | pending
    metrics: dict[str, float] = field(default_factory=dict)
    seed: int | None = None
    error: str | None = None


def compare(cells: list[CellOutcome]) -> dict[str, Any]:
    """Pool cells by group: ``{"ci_method", "metrics": [ordered keys], "groups": [{group, settings, cells,
    n_finished, n_failed, metrics: {key: {mean, ci95, n, std, values}}}]}``."""
    order: list[str] = []
    for cell in cells:
        for key in cell.metrics:
            if key not in order:
                order.append(key)
    groups: dict[str, dict[str, Any]] = {}
    for cell in cells:
        g = groups.setdefault(cell.group, {"group": cell.group, "settings": cell.settings, "cells": [],
                                            "seeds": [], "n_finished": 0, "n_failed": 0, "values": {}})
        g["cells"].append(cell.name)
        g["seeds"].append(cell.seed)
        if cell.status == "failed":
            g["n_failed"] += 1
        if cell.status != "finished":
            continue
        g["n_finished"] += 1
        for key, value in cell.metrics.items():
            g["values"].setdefault(key, []).append(value)
    out_groups = []
    for g in groups.values():
        values = g.pop("values")
        g["metrics"] = {k: {**mean_ci(values[k]).as_dict(), "values": values[k]} for k in order if k in values}
        out_groups.append(g)
    return {"ci_method": CI_METHOD, "metrics": order, "groups": out_groups}


def format_value(value: float | None) -> str:
    """Four significant digits; integers above 10^4 with separators."""
    if value is None:
        return "–"
    if abs(value) >= 1e4:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def format_estimate(entry: dict[str, Any] | None) -> str:
    """``mean ± half-width`` (n ≥ 2) or the single value."""
    if not entry:
        return "–"
    if entry.get("ci95") is None:
        return format_value(entry["mean"])
    half = (entry["ci95"][1] - entry["ci95"][0]) / 2
    return f"{format_value(entry['mean'])} ± {format_value(half)}"


def comparison_rows(comparison: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """(header, rows): a column per group, rows for finished/failed counts then every metric."""
    groups = comparison["groups"]
    header = ["metric", *[g["group"] for g in groups]]
    rows = [["finished runs", *[str(g["n_finished"]) for g in groups]]]
    if any(g["n_failed"] for g in groups):
        rows.append(["cells failed", *[str(g["n_failed"]) for g in groups]])
    for key in comparison["metrics"]:
        rows.append([key, *[format_estimate(g["metrics"].get(key)) for g in groups]])
    return header, rows


def comparison_markdown(comparison: dict[str, Any], title: str = "Sweep comparison") -> str:
    """The comparison as a Markdown document (a title, the CI method, one table)."""
    header, rows = comparison_rows(comparison)
    lines = [f"# {title}", "", f"Values: mean ± half-width of the {comparison['ci_method']}.", "",
             "| " + " | ".join(_md(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|")
