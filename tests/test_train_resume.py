"""Crash-safe resume: kill -9 a real `polyreason train` mid-run, --resume, and get every step exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from polyreason.train.callbacks import read_jsonl_tolerant

RECIPE = """
name: resume-test
model: tiny-random
data:
  train: synthetic:64:en:easy:add_sub
  sft: synthetic:16:en:easy:add_sub
rewards:
  accuracy: 1.0
  format: 0.5
stages:
  - type: sft
    max_steps: 1
    per_device_batch_size: 4
    max_length: 128
    save_steps: 1
  - type: grpo
    preset: dr_grpo
    max_steps: 3
    per_device_batch_size: 4
    num_generations: 2
    max_completion_length: 8
    save_steps: 1
"""


def _train(recipe: Path, out: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "POLYREASON_PROGRESS": "0", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "polyreason.cli", "train", str(recipe), "-o", str(out), *extra]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_kill_then_resume_reaches_the_same_final_step_without_duplicates(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(RECIPE)
    out = tmp_path / "run"
    proc = _train(recipe, out)
    grpo_dir = out / "stages" / "1-grpo"
    deadline = time.monotonic() + 240
    while not (grpo_dir / "checkpoint-1" / "trainer_state.json").exists():
        assert proc.poll() is None, proc.stderr.read()[-3000:]
        assert time.monotonic() < deadline, "no GRPO checkpoint-1 within 240 s"
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)  # a crash mid-stage: no cleanup, possibly a torn metrics line
    proc.wait()
    assert not (out / "model").exists()

    resumed = _train(recipe, out, "--resume")
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err[-3000:]

    records = read_jsonl_tolerant(out / "metrics.jsonl")
    assert [(r["stage"], r["step"]) for r in records] == [(0, 1), (1, 1), (1, 2), (1, 3)]
    assert (out / "model" / "config.json").is_file() and (out / "summary.json").is_file()
    assert "resuming from" in err and "checkpoint-" in err
    completions = read_jsonl_tolerant(out / "completions.jsonl")
    steps = [c["step"] for c in completions]
    assert steps == sorted(steps) and set(steps) == {1, 2, 3}


def test_refuses_to_overwrite_a_run_without_resume(tmp_path):
    import pytest

    from polyreason.config import load_recipe
    from polyreason.errors import UserError
    from polyreason.train import run_recipe

    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.jsonl").write_text("")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(RECIPE)
    with pytest.raises(UserError, match="--resume"):
        run_recipe(load_recipe(recipe), out)
