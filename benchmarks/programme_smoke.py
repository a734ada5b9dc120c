"""Seed 002's programme (recipes/gemma3-programme.yaml) shrunk to the tiny random model, timed stage by stage.

The teacher and judges are the test suite's 127.0.0.1 stub (tests/stage_stubs.py) and the sizes are the test
suite's (tests/test_recipes_run.py: one step per training stage, 6 synth problems, 1 problem per benchmark), so
this measures the orchestration, not learning: what every stage costs on this machine when the models are tiny.

    OMP_NUM_THREADS=1 taskset -c 1 python benchmarks/programme_smoke.py [-o runs/programme-smoke]

Prints one line per stage (wall seconds, device-hours, tokens generated, peak RSS) and the total, from the run's
summary.json cost block.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default="runs/programme-smoke")
    out = Path(parser.parse_args().output)
    sys.path.insert(0, str(ROOT / "tests"))
    import torch

    from polyreason.config import load_recipe
    from polyreason.train import run_recipe
    from stage_stubs import programme_server
    from test_recipes_run import tiny_overrides

    torch.set_num_threads(1)
    shutil.rmtree(out, ignore_errors=True)
    recipe_path = ROOT / "recipes" / "gemma3-programme.yaml"
    started = time.monotonic()
    with programme_server() as (_, url):
        run_recipe(load_recipe(recipe_path, tiny_overrides(recipe_path, url)), out)
    wall = time.monotonic() - started
    cost = json.loads((out / "summary.json").read_text())["cost"]
    names = [s["name"] for s in json.loads((out / "summary.json").read_text())["stages"]]
    for name, stage in zip(names, cost["stages"], strict=True):
        print(f"{name:<14} {stage['type']:<14} {stage['wall_s']:7.1f} s  {stage['device_hours']:.5f} device-h  "
              f"tokens generated {stage['tokens_generated'] or 0:>5}  peak RSS {stage['peak_rss_mb']:.0f} MiB")
    total = cost["total"]
    print(f"total (stages) {total['wall_s']:.1f} s, {total['device_hours']:.5f} device-hours on "
          f"{total['device']['name']}; whole run incl. startup {wall:.1f} s")


if __name__ == "__main__":
    main()
