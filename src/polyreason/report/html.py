"""``polyreason report``: one self-contained HTML page for one or more runs, eval runs or sweeps.

The page holds everything inline: CSS in a ``<style>`` block, every plot as a base64 PNG ``data:`` URI, no
script and no external request (a ``data:`` favicon stops browsers asking the server for /favicon.ico), so it
can be mailed, attached to an issue or opened from disk.

Per run: what ran (model, stages, status), the cost table (seed 001's shape), the before/after held-out
table (quickstart.json), eval results, and the training curves of :data:`polyreason.report.plots.PANELS`
(reward and each reward component, completion length and truncation, zero-variance fraction, KL, entropy,
learning rate, loss).  With several runs or a sweep, first the comparison table (mean and 95 % CI over seeds
per setting: :mod:`polyreason.report.compare`), the cost of each run side by side, and overlaid curves.
A metric that was not logged is skipped with a note saying why; nothing missing makes the report fail.
"""

from __future__ import annotations

import base64
import html
import logging
import time
from pathlib import Path
from typing import Any

from polyreason.report import plots
from polyreason.report.compare import CellOutcome, compare, comparison_rows
from polyreason.report.cost import cost_columns, cost_rows, reprice
from polyreason.report.runs import RunData, load_inputs, run_metrics

log = logging.getLogger(__name__)

CSS = """
:root { --fg: #1d232b; --muted: #5b6573; --line: #d6dbe1; --head: #eef1f5; --accent: #1f5fa8; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: var(--fg); background: #fafbfc; }
main { max-width: 1340px; margin: 0 auto; padding: 24px 28px 60px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 36px 0 8px; padding-top: 12px; border-top: 2px solid var(--line); }
h3 { font-size: 16px; margin: 22px 0 8px; color: var(--accent); }
p.meta, p.note, li.note { color: var(--muted); font-size: 13px; }
code { font: 13px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; background: #eef1f5; padding: 1px 4px;
       border-radius: 3px; }
table { border-collapse: collapse; margin: 8px 0 14px; background: #fff; font-size: 13.5px; }
th, td { border: 1px solid var(--line); padding: 5px 10px; text-align: right; vertical-align: top;
         white-space: nowrap; }
th { background: var(--head); font-weight: 600; white-space: nowrap; }
td:first-child, th:first-child { text-align: left; }
tbody tr:nth-child(even) td { background: #f7f9fb; }
.scroll { overflow-x: auto; max-width: 100%; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 14px; }
figure { margin: 0; background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 6px; }
figure img { display: block; width: 100%; height: auto; }
details { margin: 10px 0; }
summary { cursor: pointer; font-weight: 600; font-size: 16px; }
.status-failed { color: #b42318; font-weight: 600; }
.status-finished { color: #067647; }
"""


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<figure><img src="data:image/png;base64,{data}" alt="{_esc(alt)}"></figure>'


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _notes(notes: list[str]) -> str:
    if not notes:
        return ""
    return "<ul>" + "".join(f'<li class="note">{_esc(n)}</li>' for n in notes) + "</ul>"


# ------------------------------------------------------------------------------------------------ per run


def _facts(run: RunData) -> str:
    recipe = run.recipe or {}
    model = (recipe.get("model") or {}).get("spec") if isinstance(recipe.get("model"), dict) else recipe.get("model")
    stages = ", ".join(f"{i}-{t}" for i, t in run.stage_types()) or "–"
    status = "finished" if run.summary else "not finished (no summary.json)"
    if run.cell and run.cell.get("status") == "failed":
        status = f"failed: {run.cell.get('error')}"
    css = "status-failed" if "failed" in status else "status-finished" if status == "finished" else ""
    parts = [f"<b>directory</b> <code>{_esc(run.path)}</code>"]
    if run.kind == "eval":
        parts.append(f"<b>model</b> {_esc((run.summary or {}).get('model', '–'))}")
    else:
        parts += [f"<b>model</b> {_esc(model or '–')}", f"<b>stages</b> {_esc(stages)}",
                  f"<b>logged steps</b> {len(run.records)}"]
    if run.cell:
        settings = ", ".join(f"{k}={v}" for k, v in (run.cell.get("settings") or {}).items()) or "base recipe"
        parts.append(f"<b>cell</b> {_esc(settings)}, seed {_esc(run.cell.get('seed'))}")
    parts.append(f'<b>status</b> <span class="{css}">{_esc(status)}</span>')
    return '<p class="meta">' + " · ".join(parts) + "</p>"


def _cost_section(run: RunData, price: float | None) -> tuple[str, list[str]]:
    if not run.cost:
        return "", ["no cost block (a run from before cost accounting, or an unfinished one)"]
    cost = reprice(run.cost, price) if price is not None else run.cost
    header, rows = cost_rows(cost)
    return "<h3>Cost</h3>" + _table(header, rows), []


def _before_after(run: RunData) -> tuple[str, list[bytes]]:
    scores = (run.quickstart or {}).get("scores") or []
    if not scores:
        return "", []
    header = ["model", "accuracy", "format", "mean reward", "mean length (tokens)", "problems", "eval time"]
    rows = [[str(s.get("label")), _pct(s.get("accuracy")), _pct(s.get("format")), _f(s.get("mean_reward"), 3),
             _f(s.get("mean_length"), 1), str(s.get("n", "–")), _f(s.get("seconds"), 0, " s")] for s in scores]
    labels = [str(s.get("label")) for s in scores]
    png = plots.bar_plot("Held-out problems before/after each stage", "rate", labels,
                         {"accuracy": [s.get("accuracy") for s in scores],
                          "format": [s.get("format") for s in scores]}, ylim=(0, 1.12))
    text = "<h3>Held-out before/after (quickstart.json)</h3>" + _table(header, rows)
    for after, before in zip(labels[1:], labels, strict=False):
        a, b = scores[labels.index(after)], scores[labels.index(before)]
        if isinstance(a.get("accuracy"), int | float) and isinstance(b.get("accuracy"), int | float):
            text += (f'<p class="meta">{_esc(after)} vs {_esc(before)}: accuracy '
                     f'{100 * (a["accuracy"] - b["accuracy"]):+.1f} points</p>')
    return text, [png]


def _evals(run: RunData) -> tuple[str, list[bytes]]:
    if not run.evals:
        return "", []
    benches: list[str] = []
    for summary in run.evals.values():
        for b in summary.get("benchmarks", {}):
            if b not in benches:
                benches.append(b)
    header = ["eval", *[f"{b} pass@1 % (95% CI)" for b in benches]]
    rows = []
    for label, summary in run.evals.items():
        row = [label]
        for b in benches:
            r = summary.get("benchmarks", {}).get(b) or {}
            ci = r.get("ci95")
            row.append("–" if r.get("pass@1") is None else
                       f"{100 * r['pass@1']:.1f}" + (f" ({100 * ci[0]:.1f}–{100 * ci[1]:.1f})" if ci else ""))
        rows.append(row)
    png = plots.bar_plot("Eval accuracy (pass@1)", "pass@1", benches,
                         {label: [(s.get("benchmarks", {}).get(b) or {}).get("pass@1") for b in benches]
                          for label, s in run.evals.items()}, ylim=(0, 1.12))
    return "<h3>Evaluation</h3>" + _table(header, rows), [png]


def _curves_section(run: RunData) -> tuple[list[bytes], list[str]]:
    if not run.records:
        return [], ["no metrics.jsonl: no training curves"] if run.kind == "train" else []
    c = plots.curves(run.records)
    images, notes = [], []
    for panel in plots.PANELS:
        png = plots.run_panel(panel, c)
        if png is None:
            notes.append(f"{panel.title}: not plotted ({plots.MISSING_HINTS.get(panel.key, 'not logged')}; "
                         f"looked for {', '.join(panel.metrics)})")
        else:
            images.append(png)
    return images, notes


def run_section(run: RunData, price: float | None, open_: bool = True, label: str | None = None) -> str:
    """The HTML of one run (inside a ``<details>`` element, open or closed), headed ``label`` or its name."""
    notes: list[str] = []
    cost_html, cost_notes = _cost_section(run, price)
    notes += cost_notes
    ba_html, ba_png = _before_after(run)
    ev_html, ev_png = _evals(run)
    curve_png, curve_notes = _curves_section(run)
    notes += curve_notes
    figures = [_img(p, "before/after") for p in ba_png] + [_img(p, "eval") for p in ev_png]
    figures += [_img(p, "training curve") for p in curve_png]
    body = [_facts(run), cost_html, ba_html, ev_html]
    if figures:
        body.append("<h3>Plots</h3>")
        body.append('<div class="grid">' + "".join(figures) + "</div>")
    body.append(_notes(notes))
    return (f'<details{" open" if open_ else ""}><summary>{_esc(label or run.name)}</summary>'
            + "".join(body) + "</details>")


# ------------------------------------------------------------------------------------------------ several runs


def short_keys(keys: list[str]) -> dict[str, str]:
    """Each dotted key's shortest dotted suffix that no other key ends with (``stages.0.learning_rate`` →
    ``learning_rate``, unless ``stages.1.learning_rate`` is also there: then ``0.learning_rate``)."""
    out = {}
    for key in keys:
        parts = key.split(".")
        for n in range(1, len(parts) + 1):
            tail = ".".join(parts[-n:])
            if not any(other != key and (other == tail or other.endswith("." + tail)) for other in keys):
                break
        out[key] = tail
    return out


def _label(settings: dict[str, Any], seed: Any, short: dict[str, str]) -> str:
    items = [f"{short.get(k, k)}={v}" for k, v in settings.items()] + ([f"seed={seed}"] if seed is not None else [])
    return ", ".join(items)


def _relabel(runs: list[RunData], outcomes: list[CellOutcome]) -> dict[str, str]:
    """Display names for sweep cells and groups (short keys); other runs keep their names."""
    keys = sorted({k for o in outcomes for k in o.settings} | {k for r in runs for k in (r.cell or {}).get(
        "settings", {}) or {}})
    short = short_keys(keys)
    names: dict[str, str] = {}
    for o in outcomes:
        if o.settings or o.seed is not None:
            names[o.name] = _label(o.settings, o.seed, short)
            names[o.group] = _label(o.settings, None, short) or o.group
    return names


def _outcomes(runs: list[RunData], sweeps: list[dict[str, Any]]) -> list[CellOutcome]:
    from polyreason.train.sweep import Cell, cell_outcomes

    outcomes: list[CellOutcome] = []
    in_sweeps: set[str] = set()
    for plan in sweeps:
        cells = [Cell(**c) for c in plan.get("cells", [])]
        outcomes += cell_outcomes(Path(plan["path"]), cells)
        in_sweeps |= {str(Path(plan["path"]) / "cells" / c.name) for c in cells}
    for run in runs:
        if str(run.path) in in_sweeps:
            continue
        outcomes.append(CellOutcome(run.name, run.group, (run.cell or {}).get("settings") or {},
                                    "finished" if run.summary else "pending", run_metrics(run),
                                    (run.cell or {}).get("seed")))
    return outcomes


def comparison_section(runs: list[RunData], outcomes: list[CellOutcome], names: dict[str, str],
                       price: float | None) -> str:
    """Comparison table, side-by-side cost, overlaid curves (``names``: display labels)."""
    table = compare(outcomes)
    header, rows = comparison_rows(table)
    parts = ["<h2>Comparison</h2>",
             f'<p class="meta">Values: mean ± half-width of the {_esc(table["ci_method"])}.</p>',
             _table([names.get(h, h) for h in header], rows)]
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        parts.append("<p class=\"status-failed\">Failed cells: "
                     + "; ".join(f"{_esc(names.get(o.name, o.name))} ({_esc(o.error)})" for o in failed) + "</p>")
    costed = [r for r in runs if r.cost]
    if costed:
        blocks = [reprice(r.cost, price) if price is not None else r.cost for r in costed]
        header, cost_table = cost_columns([names.get(r.name, r.name) for r in costed],
                                          [b["total"] for b in blocks], blocks[0].get("price_per_hour"))
        parts += ["<h3>Cost per run (totals)</h3>", _table(header, cost_table)]
    trained = [(names.get(r.name, r.name), names.get(r.group, r.group), plots.curves(r.records))
               for r in runs if r.records]
    images = [png for panel in plots.PANELS if (png := plots.overlay_panel(panel, trained)) is not None]
    if images:
        parts += ["<h3>Curves, overlaid (one colour per setting; seeds as line styles)</h3>",
                  '<div class="grid">' + "".join(_img(p, "overlaid curves") for p in images) + "</div>"]
    return "".join(parts)


# ------------------------------------------------------------------------------------------------ page


def build_report(paths: list[str | Path], *, title: str | None = None, price_per_hour: float | None = None) -> str:
    """The HTML page for ``paths`` (run, eval or sweep directories); see the module docstring."""
    runs, sweeps = load_inputs(paths)
    several = len(runs) > 1 or bool(sweeps)
    title = title or ("polyreason report: " + ", ".join(Path(p).name for p in paths))
    parts = [f"<h1>{_esc(title)}</h1>",
             f'<p class="meta">Generated {_esc(time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))} from '
             + ", ".join(f"<code>{_esc(p)}</code>" for p in paths) + "</p>"]
    if price_per_hour is not None:
        parts.append(f'<p class="meta">Cost estimates repriced at ${price_per_hour:g} per device-hour.</p>')
    names: dict[str, str] = {}
    if several:
        outcomes = _outcomes(runs, sweeps)
        names = _relabel(runs, outcomes)
        parts.append(comparison_section(runs, outcomes, names, price_per_hour))
        parts.append("<h2>Runs</h2>")
    for run in runs:
        parts.append(run_section(run, price_per_hour, open_=not several, label=names.get(run.name)))
    if not runs:
        parts.append('<p class="note">No finished or started runs found.</p>')
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{_esc(title)}</title><link rel=\"icon\" href=\"data:,\"><style>{CSS}</style></head>"
            f"<body><main>{''.join(parts)}</main></body></html>\n")


def write_report(paths: list[str | Path], output: str | Path, **kwargs: Any) -> Path:
    """Build the page and write it atomically to ``output``; returns the path."""
    text = build_report(paths, **kwargs)
    from polyreason.files import ensure_dir, write_text

    output = Path(output)
    ensure_dir(output.parent)
    write_text(output, text)
    return output


def _pct(value: Any) -> str:
    return "–" if not isinstance(value, int | float) else f"{100 * value:.0f}%"


def _f(value: Any, digits: int, unit: str = "") -> str:
    return "–" if not isinstance(value, int | float) else f"{value:.{digits}f}{unit}"
