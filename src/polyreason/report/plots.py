"""Training curves and before/after bars as PNG bytes (matplotlib's object API on the Agg canvas).

No pyplot and no global backend switch: each figure is a ``matplotlib.figure.Figure`` drawn on its own
``FigureCanvasAgg``, so plotting works headless and never touches a caller's matplotlib state.

Steps run on one x-axis across stages: stage k's steps are shifted by the last step of the stages before
it, and dashed lines mark where a stage begins.  A panel whose metrics were not logged returns ``None`` with
the reason (see :data:`MISSING_HINTS`); the report prints the reason instead of a picture.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#7f7f7f", "#bcbd22"]
STYLES = ["-", "--", ":", "-."]


@dataclass(frozen=True)
class Panel:
    """One plot: a title, a y label, the metrics drawn (first = the one overlaid across runs)."""

    key: str
    title: str
    ylabel: str
    metrics: tuple[str, ...]
    components: str | None = None  # a prefix/suffix pattern "rewards/{}/mean" for per-reward lines
    band: tuple[str, str] | None = None  # (low, high) metrics drawn as a shaded band


PANELS: list[Panel] = [
    Panel("reward", "Training reward (GRPO)", "reward", ("reward",), components="rewards/{}/mean"),
    Panel("length", "Completion length", "tokens", ("completions/mean_length",),
          band=("completions/min_length", "completions/max_length")),
    Panel("truncation", "Truncated completions (hit max_completion_length)", "fraction",
          ("completions/clipped_ratio",)),
    Panel("zero_std", "Groups with zero reward variance", "fraction",
          ("frac_reward_zero_std", "dynamic_sampling/useful_frac")),
    Panel("kl", "KL to the reference model", "KL", ("kl",)),
    Panel("entropy", "Token entropy", "nats", ("entropy",)),
    Panel("lr", "Learning rate", "learning rate", ("learning_rate",)),
    Panel("loss", "Training loss", "loss", ("loss",)),
]

MISSING_HINTS = {
    "reward": "no GRPO stage logged a reward",
    "length": "completion lengths are logged by GRPO stages only",
    "truncation": "truncation is logged by GRPO stages only",
    "zero_std": "frac_reward_zero_std is logged by GRPO stages only",
    "kl": "TRL logs KL only when beta > 0 (a reference model)",
    "entropy": "no stage logged entropy",
    "lr": "no stage logged a learning rate",
    "loss": "no stage logged a loss",
}


@dataclass
class Series:
    label: str
    x: list[float]
    y: list[float]
    color: str | None = None
    style: str = "-"
    band: tuple[list[float], list[float]] | None = None
    legend: bool = True


@dataclass
class Curves:
    """A run's records on one x-axis: ``x[i]`` for ``records[i]``, and stage boundaries (x, label)."""

    records: list[dict[str, Any]]
    x: list[float]
    boundaries: list[tuple[float, str]] = field(default_factory=list)

    def series(self, metric: str) -> tuple[list[float], list[float]]:
        """(x, y) of ``metric`` where logged; a NaN between stages so no line joins two stages."""
        xs, ys, last_stage = [], [], None
        for x, r in zip(self.x, self.records, strict=True):
            v = r.get(metric)
            if isinstance(v, int | float) and v == v:  # skip NaN
                stage = r.get("stage", 0)
                if last_stage is not None and stage != last_stage:
                    xs.append(x - 0.5)
                    ys.append(float("nan"))
                last_stage = stage
                xs.append(x)
                ys.append(float(v))
        return xs, ys

    def components(self, pattern: str) -> list[str]:
        head, _, tail = pattern.partition("{}")
        names: list[str] = []
        for r in self.records:
            for k in r:
                if k.startswith(head) and k.endswith(tail) and len(k) > len(head) + len(tail):
                    name = k[len(head): len(k) - len(tail)]
                    if name not in names:
                        names.append(name)
        return names


def curves(records: list[dict[str, Any]]) -> Curves:
    """Place each record at (offset of its stage) + step; offsets accumulate each stage's last step."""
    stages: list[tuple[int, str]] = []
    last: dict[int, float] = {}
    for r in records:
        s = int(r.get("stage", 0))
        if s not in last:
            stages.append((s, str(r.get("stage_type", ""))))
        last[s] = max(last.get(s, 0.0), float(r.get("step", 0)))
    offsets, total, boundaries = {}, 0.0, []
    for s, stype in sorted(stages):
        offsets[s] = total
        if len(stages) > 1:
            boundaries.append((total, f"{s}-{stype}"))
        total += last[s]
    return Curves(records, [offsets[int(r.get("stage", 0))] + float(r.get("step", 0)) for r in records],
                  boundaries)


def _figure(title: str, ylabel: str, width: float = 6.4, height: float = 3.3) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_title(title, fontsize=11)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    return fig, ax


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def line_plot(title: str, ylabel: str, series: list[Series], boundaries: list[tuple[float, str]] = ()) -> bytes:
    """Lines (markers when a series has few points, so a 1-step run still shows), optional bands."""
    from matplotlib.ticker import MaxNLocator

    fig, ax = _figure(title, ylabel)
    for i, s in enumerate(series):
        color = s.color or PALETTE[i % len(PALETTE)]
        marker = "o" if sum(1 for y in s.y if y == y) <= 25 else None
        ax.plot(s.x, s.y, s.style, color=color, marker=marker, markersize=4, linewidth=1.6,
                label=s.label if s.legend else None)
        if s.band is not None:
            ax.fill_between(s.x, s.band[0], s.band[1], color=color, alpha=0.15, linewidth=0)
    for x, label in boundaries:
        ax.axvline(x, color="#555555", linestyle="--", linewidth=0.8)
        ax.annotate(label, (x, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -12),
                    textcoords="offset points", fontsize=8, color="#555555")
    ax.set_xlabel("step (all stages)" if boundaries else "step")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.ticklabel_format(axis="y", useOffset=False)
    if any(s.legend for s in series):
        ax.legend(fontsize=8, loc="best")
    return _png(fig)


def run_panel(panel: Panel, c: Curves) -> bytes | None:
    """One run's plot for ``panel``, or None when none of its metrics were logged."""
    series: list[Series] = []
    for i, metric in enumerate(panel.metrics):
        xs, ys = c.series(metric)
        if not xs:
            continue
        band = None
        if panel.band and i == 0:
            lo, hi = c.series(panel.band[0]), c.series(panel.band[1])
            if lo[0] == xs and hi[0] == xs:
                band = (lo[1], hi[1])
        label = metric if panel.band is None else f"{metric} (band: min–max)"
        series.append(Series(label, xs, ys, PALETTE[i], band=band))
    if panel.components and series:
        for j, name in enumerate(c.components(panel.components)):
            xs, ys = c.series(panel.components.format(name))
            series.append(Series(name, xs, ys, PALETTE[(j + 2) % len(PALETTE)], style="--"))
    if not series:
        return None
    return line_plot(panel.title, panel.ylabel, series, c.boundaries)


def overlay_panel(panel: Panel, runs: list[tuple[str, str, Curves]]) -> bytes | None:
    """``panel``'s first metric for several runs: (label, group, curves); one colour per group."""
    groups: list[str] = []
    series: list[Series] = []
    metric = panel.metrics[0]
    for label, group, c in runs:
        xs, ys = c.series(metric)
        if not xs:
            continue
        if group not in groups:
            groups.append(group)
            first = True
        else:
            first = False
        gi = groups.index(group)
        members = [r for r in runs if r[1] == group]
        style = STYLES[[m[0] for m in members].index(label) % len(STYLES)] if len(members) > 1 else "-"
        series.append(Series(group if len(members) > 1 else label, xs, ys, PALETTE[gi % len(PALETTE)], style,
                             legend=first))
    if not series:
        return None
    layouts = {tuple(c.boundaries) for _, _, c in runs}
    return line_plot(panel.title, metric, series, runs[0][2].boundaries if len(layouts) == 1 else [])


def bar_plot(title: str, ylabel: str, categories: list[str], bars: dict[str, list[float | None]],
             ylim: tuple[float, float] | None = None) -> bytes:
    """Grouped bars: one group per category, one bar per key of ``bars`` (None = no bar)."""
    fig, ax = _figure(title, ylabel)
    n = max(1, len(bars))
    width = 0.8 / n
    for i, (name, values) in enumerate(bars.items()):
        xs = [c + (i - (n - 1) / 2) * width for c in range(len(categories))]
        heights = [v if v is not None else 0.0 for v in values]
        rects = ax.bar(xs, heights, width, label=name, color=PALETTE[i % len(PALETTE)])
        ax.bar_label(rects, labels=["–" if v is None else f"{v:.2f}" for v in values], fontsize=8, padding=2)
    ax.set_xticks(range(len(categories)), categories, fontsize=9)
    if ylim:
        ax.set_ylim(*ylim)
    ax.legend(fontsize=8, loc="best")
    return _png(fig)
