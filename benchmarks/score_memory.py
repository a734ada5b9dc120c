"""Peak memory (max RSS) of `polyreason score` against the size of its input.

Generates a JSONL file of completions (``--rows`` rows of ``--words`` words each), then runs
``polyreason score -r REWARDS`` (default ``format``: cheap, so the run measures reading and writing) on it under ``/usr/bin/time -v`` once per ``--src`` directory
(a checkout's ``src/``: e.g. the commit before streaming and this one), and prints input size, max RSS, wall
time and the RSS ratio against the first ``--src``.

    python benchmarks/score_memory.py --src /path/to/old/src --src src
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

WORDS = "we add the numbers carefully then check the sum again and carry the tens digit".split()


def make_input(path: Path, rows: int, words: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as fh:
        for _ in range(rows):
            a, b = rng.randint(10, 99), rng.randint(10, 99)
            text = " ".join(rng.choice(WORDS) for _ in range(words))
            fh.write(json.dumps({"completion": f"<think>{a} + {b}: {text}</think> \\boxed{{{a + b}}}",
                                 "answer": str(a + b), "language": "en"}) + "\n")


def measure(src: str, inp: Path, out: Path, rewards: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(Path(src).resolve()), "POLYREASON_PROGRESS": "0", "OMP_NUM_THREADS": "1"}
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "polyreason.cli", "score", "-r", rewards,
           "-i", str(inp), "-o", str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{src}: exit {proc.returncode}\n{proc.stderr[-3000:]}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", proc.stderr).group(1)
    seconds = sum(float(x) * 60 ** i for i, x in enumerate(reversed(wall.split(":"))))
    return {"rss_mb": rss / 1024, "wall_s": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--words", type=int, default=120)
    parser.add_argument("--rewards", default="format")
    parser.add_argument("--src", action="append", required=True, help="a src/ directory to run (repeatable)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        inp = Path(tmp) / "in.jsonl"
        make_input(inp, args.rows, args.words)
        size_mb = inp.stat().st_size / 2**20
        print(f"input: {args.rows} rows, {size_mb:.0f} MB")
        base = None
        for src in args.src:
            m = measure(src, inp, Path(tmp) / "out.jsonl", args.rewards)
            base = base or m["rss_mb"]
            print(f"{src}: max RSS {m['rss_mb']:.0f} MB, wall {m['wall_s']:.1f} s, RSS {m['rss_mb'] / base:.2f}x "
                  f"the first")


if __name__ == "__main__":
    main()
