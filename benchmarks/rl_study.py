"""The GRPO study behind docs/rl-study.md: run its arms with `polyreason train`, then plot and tabulate them.

Each arm is one `polyreason train RECIPE --set …` run whose recipe logs greedy accuracy on 200 *validation*
problems (``tracking.heldout``, split ``val``) every few steps; the quickstart's reported numbers come from the
disjoint *test* half, which no arm ever sees.

    python benchmarks/rl_study.py run benchmarks/rl_study_arms.json --runs runs/rl-study [--core 0]
    python benchmarks/rl_study.py report --runs runs/rl-study -o docs/images/rl-study --table docs/rl-study-table.md

``run`` executes the arms one after another (pinned to ``--core`` with one torch thread, so two cores can run two
arm queues side by side without disturbing each other's timings), skipping arms whose ``summary.json`` exists,
and re-reads the arms file after every arm (append arms while it runs).  ``report`` draws, per family of arms,
validation accuracy against GRPO step and against training wall time (evaluation time excluded), and writes a
markdown table: mean over seeds at each evaluated step, seconds per step, zero-variance group fraction, and
useful completions per minute (completions in groups with non-zero advantage, per minute of GRPO training).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def load_arms(path: Path) -> list[dict]:
    arms = json.loads(path.read_text(encoding="utf-8"))
    for arm in arms:
        arm.setdefault("family", arm["name"].split("_")[0])
    return arms


def run(arms_path: Path, runs: Path, core: str) -> int:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "POLYREASON_PROGRESS": "0", "TOKENIZERS_PARALLELISM": "false"}
    done: set[str] = set()
    failures = 0
    while True:
        todo = [a for a in load_arms(arms_path) if a["name"] not in done and str(a.get("core", core)) == core]
        if not todo:
            return 1 if failures else 0
        arm = todo[0]
        done.add(arm["name"])
        out = runs / arm["name"]
        if _finished(out):
            continue
        if out.exists():
            shutil.rmtree(out)  # an interrupted arm restarts from scratch (its timings would mix otherwise)
        out.mkdir(parents=True)
        recipe = str((REPO / arm["recipe"]) if not Path(arm["recipe"]).is_absolute() else arm["recipe"])
        cmd = ["taskset", "-c", core, sys.executable, "-m", "polyreason.cli", "train", recipe, "-o", str(out)]
        for item in arm.get("set", []):
            cmd += ["--set", item]
        started = time.time()
        with (out / "train.log").open("w") as log:
            log.write(" ".join(cmd) + "\n")
            log.flush()
            rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        failures += rc != 0
        print(f"{arm['name']}: rc {rc} in {time.time() - started:.0f} s", flush=True)


def read_arm(run_dir: Path) -> dict | None:
    from polyreason.report.runs import load_run

    if not (run_dir / "metrics.jsonl").exists():
        return None
    run = load_run(run_dir)
    records = run.records
    grpo = [r for r in records if r.get("stage_type") == "grpo" and "step_time" in r]
    held = [r for r in records if "heldout/accuracy" in r]
    if not held:
        return None
    def mean(xs):
        return (sum(xs) / len(xs) if xs else None)
    timed = grpo[1:] or grpo  # the first step also pays for warm-up
    completions = _completions_per_step(run.recipe)
    return {
        "finished": _finished(run_dir),  # an arm stopped early still counts up to its last eval
        "curve": [(r["step"], r["heldout/accuracy"], r["heldout/train_seconds"]) for r in held],
        "step_time": mean([r["step_time"] for r in timed]),
        "zero_std": mean([r["frac_reward_zero_std"] for r in grpo if r.get("frac_reward_zero_std") is not None]),
        "entropy": mean([r["entropy"] for r in grpo if r.get("entropy") is not None]),
        # dynamic sampling only: generation rounds per step and the useful share before refilling
        "rounds": mean([r["dynamic_sampling/rounds"] for r in grpo if "dynamic_sampling/rounds" in r]),
        "useful_first": mean([r["dynamic_sampling/useful_frac_first"] for r in grpo
                              if "dynamic_sampling/useful_frac_first" in r]),
        # the issue's figure of merit: completions in groups with non-zero advantage, per minute of training
        "useful_per_min": mean([60 * completions * _useful_share(r) / r["step_time"] for r in timed
                                if r["step_time"] > 0 and _useful_share(r) is not None]) if completions else None,
    }


def _completions_per_step(recipe: dict | None) -> int | None:
    """Completions one GRPO optimiser step trains on (batch × accumulation of the run's last GRPO stage)."""
    stages = [s for s in (recipe or {}).get("stages", []) if s.get("type") == "grpo"]
    return stages[-1]["per_device_batch_size"] * stages[-1]["gradient_accumulation_steps"] if stages else None


def _useful_share(record: dict) -> float | None:
    """Share of a step's trained completions whose group has reward variance: dynamic sampling logs it for the
    batch it kept; otherwise every group generated is trained, and TRL logs the zero-variance share."""
    if "dynamic_sampling/useful_frac" in record:
        return record["dynamic_sampling/useful_frac"]
    zero = record.get("frac_reward_zero_std")
    return None if zero is None else 1.0 - zero


def _finished(run_dir: Path) -> bool:
    """The run completed every stage (summary.json is rewritten after each stage; ``finished`` marks the end)."""
    summary = run_dir / "summary.json"
    return summary.exists() and bool(json.loads(summary.read_text(encoding="utf-8")).get("finished", True))


def report(arms_path: Path, runs: Path, out: Path, table: Path | None, start: dict[str, float]) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = load_arms(arms_path)
    by_setting: dict[str, list[tuple[dict, dict]]] = defaultdict(list)
    for arm in arms:
        data = read_arm(runs / arm["name"])
        if data is not None:
            by_setting[arm.get("setting", arm["name"].rsplit("_s", 1)[0])].append((arm, data))
    families: dict[str, list[str]] = defaultdict(list)
    for setting, items in by_setting.items():
        for fam in {f for a, _ in items for f in (a["families"] if "families" in a else [a["family"]])}:
            families[fam].append(setting)
    out.mkdir(parents=True, exist_ok=True)
    for fam, settings in sorted(families.items()):
        legend_in = 0.17 * len(settings) + 0.15  # the settings' labels are long: one line each, under the plots
        fig, axes = plt.subplots(1, 2, figsize=(11, 4 + legend_in))
        for i, setting in enumerate(sorted(settings)):
            color = f"C{i % 10}"
            for arm, data in by_setting[setting]:
                base = start.get(arm.get("start", ""), None)
                curve = data["curve"]
                if base is not None and curve[0][0] != 0:
                    curve = [(0, base, 0.0)] + curve
                steps, acc, secs = zip(*curve, strict=True)
                label = setting if arm is by_setting[setting][0][0] else None
                axes[0].plot(steps, [100 * a for a in acc], "-o", color=color, label=label, alpha=0.8, ms=3)
                offset = float(arm.get("offset_seconds", 0.0))  # e.g. the SFT stage a GRPO arm starts from
                axes[1].plot([(offset + s) / 60 for s in secs], [100 * a for a in acc], "-o", color=color, alpha=0.8, ms=3)
        axes[0].set_xlabel("GRPO step (SFT: optimiser step)")
        axes[1].set_xlabel("train wall time, min (no eval; pipeline arms: GRPO only)")
        for ax in axes:
            ax.set_ylabel("validation accuracy, % (200 problems, greedy)")
            ax.grid(alpha=0.3)
        fig.legend(loc="lower center", fontsize=8, frameon=False)
        fig.suptitle(f"RL study: {fam} (one line per seed)")
        fig.tight_layout(rect=(0, legend_in / (4 + legend_in), 1, 1))
        fig.savefig(out / f"{fam}.png", dpi=110)
        plt.close(fig)
    if table is not None:
        lines = ["| setting | runs (stopped early) | val accuracy by step (mean over runs) | s/step | zero-var groups "
                 "| entropy | generation rounds | useful groups, first round | useful completions / min |",
                 "|---|---|---|---|---|---|---|---|---|"]
        for setting, items in sorted(by_setting.items()):
            steps = sorted({s for _, d in items for s, _, _ in d["curve"]})
            cells = []
            for s in steps:
                vals = [a for _, d in items for st, a, _ in d["curve"] if st == s]
                cells.append(f"{s}: {100 * sum(vals) / len(vals):.1f}" + (f" (n={len(vals)})" if len(vals) < len(items) else ""))
            stopped = sum(not d["finished"] for _, d in items)
            lines.append(f"| `{setting}` | {len(items)}{f' ({stopped})' if stopped else ''} | {', '.join(cells)} | {_cell(items, 'step_time', '.1f')} | "
                         f"{_cell(items, 'zero_std', '.2f')} | {_cell(items, 'entropy', '.3f')} | "
                         f"{_cell(items, 'rounds', '.2f')} | {_cell(items, 'useful_first', '.2f')} | "
                         f"{_cell(items, 'useful_per_min', '.1f')} |")
        table.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


def _cell(items: list[tuple[dict, dict]], key: str, fmt: str) -> str:
    """The mean over runs, or "–" where no run logged the metric (SFT-only arms; rounds without dynamic sampling)."""
    value = _mean_of(items, key)
    return "–" if value != value else format(value, fmt)


def _mean_of(items: list[tuple[dict, dict]], key: str) -> float:
    values = [d[key] for _, d in items if d[key] is not None]
    return sum(values) / len(values) if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("arms", type=Path)
    r.add_argument("--runs", type=Path, default=Path("runs/rl-study"))
    r.add_argument("--core", default="0")
    p = sub.add_parser("report")
    p.add_argument("--arms", type=Path, default=REPO / "benchmarks" / "rl_study_arms.json")
    p.add_argument("--runs", type=Path, default=Path("runs/rl-study"))
    p.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "images" / "rl-study")
    p.add_argument("--table", type=Path)
    p.add_argument("--start", action="append", default=[],
                   help="NAME=ACC: the validation accuracy an arm's starting checkpoint has at step 0")
    args = parser.parse_args()
    if args.cmd == "run":
        return run(args.arms, args.runs, args.core)
    start = {k: float(v) for k, v in (item.split("=", 1) for item in args.start)}
    return report(args.arms, args.runs, args.out, args.table, start)


if __name__ == "__main__":
    sys.exit(main())
