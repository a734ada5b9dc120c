"""The quickstart's per-seed table (docs/quickstart.md): run `polyreason quickstart` for several seeds, then tabulate.

    python benchmarks/quickstart_seeds.py run --language en --seeds 42,7,1 --runs runs/qs-seeds
    python benchmarks/quickstart_seeds.py table --language en --seeds 42,7,1 --runs runs/qs-seeds

``run`` executes one quickstart per seed, one after another, under ``/usr/bin/time -v``, skipping seeds whose
``quickstart.json`` exists.  Peak RSS is the larger of the quickstart's own figure (the maximum over its stages
and evaluations) and ``/usr/bin/time``'s: each stage resets the kernel's peak mark (``/proc/self/clear_refs``)
to meter itself, so ``/usr/bin/time`` alone sees only the peak after the last reset.  ``table`` prints a markdown
row per seed — accuracy before/after each stage, RL's own gain (after GRPO − after SFT), format, the Spanish
columns when present, wall time and peak RSS — and the mean over seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path


def run_dir(runs: Path, language: str, seed: int) -> Path:
    return runs / f"qs-{language}-s{seed}"


def run(runs: Path, language: str, seeds: list[int]) -> int:
    runs.mkdir(parents=True, exist_ok=True)
    failures = 0
    for seed in seeds:
        out = run_dir(runs, language, seed)
        if (out / "quickstart.json").exists():
            continue
        cmd = ["/usr/bin/time", "-v", "-o", f"{out}.time", sys.executable, "-m", "polyreason.cli", "quickstart",
               "--language", language, "--seed", str(seed), "-o", str(out)]
        with open(f"{out}.log", "w", encoding="utf-8") as log:
            failures += subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ)) != 0
    return 1 if failures else 0


def _peak_rss_gib(time_file: Path, own_mib: float | None) -> float | None:
    peaks = [own_mib / 1024] if own_mib else []
    if time_file.exists():
        found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", time_file.read_text(encoding="utf-8"))
        peaks += [int(found.group(1)) / 1024**2] if found else []
    return max(peaks) if peaks else None


def table(runs: Path, language: str, seeds: list[int]) -> str:
    rows, gains = [], []
    spanish = language != "en"
    head = "| seed | base | after SFT | after GRPO | **RL's own gain** | format (SFT → GRPO) |"
    if spanish:
        head += " language (SFT → GRPO) | naturalness / 100 (GRPO) | repetition (GRPO) |"
    head += " wall time | peak RSS |"
    rows.append(head)
    rows.append("|" + "---|" * (head.count("|") - 1))
    for seed in seeds:
        out = run_dir(runs, language, seed)
        result = json.loads((out / "quickstart.json").read_text(encoding="utf-8"))
        by = {s["label"]: s for s in result["scores"]}
        base, sft, grpo = by["base"], by["after sft"], by["after grpo"]
        gain = 100 * (grpo["accuracy"] - sft["accuracy"])
        gains.append(gain)
        rss = _peak_rss_gib(Path(f"{out}.time"), result.get("peak_rss_mb"))
        cells = [str(seed), f"{100 * base['accuracy']:.1f} %", f"{100 * sft['accuracy']:.1f} %",
                 f"{100 * grpo['accuracy']:.1f} %", f"**{gain:+.1f}**",
                 f"{100 * sft['format']:.0f} → {100 * grpo['format']:.0f} %"]
        if spanish:
            cells += [f"{100 * sft['language_compliance']:.1f} → {100 * grpo['language_compliance']:.1f} %",
                      f"{grpo['naturalness_per_100']:.1f}", f"{grpo['repetition_penalty']:.3f}"]
        cells += [f"{result['total_seconds'] / 60:.1f} min", f"{rss:.2f} GiB" if rss is not None else "n/a"]
        rows.append("| " + " | ".join(cells) + " |")
    rows.append(f"\nRL's own gain, mean of {len(gains)} seeds: **{sum(gains) / len(gains):+.1f} points** "
                f"(min {min(gains):+.1f}).")
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cmd", choices=("run", "table"))
    parser.add_argument("--language", default="en")
    parser.add_argument("--seeds", default="42,7,1")
    parser.add_argument("--runs", type=Path, default=Path("runs/qs-seeds"))
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.cmd == "run":
        return run(args.runs, args.language, seeds)
    print(table(args.runs, args.language, seeds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
