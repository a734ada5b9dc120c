"""Crash-safe resume: kill -9 a real `polyreason train` mid-run, --resume, and get every step exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from polyreason.files import read_jsonl

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

    records = list(read_jsonl(out / "metrics.jsonl", tolerant=True))
    assert [(r["stage"], r["step"]) for r in records] == [(0, 1), (1, 1), (1, 2), (1, 3)]
    assert (out / "model" / "config.json").is_file() and (out / "summary.json").is_file()
    assert "resuming from" in err and "checkpoint-" in err
    completions = list(read_jsonl(out / "completions.jsonl", tolerant=True))
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


FINAL_RECIPE = """
name: final-save-test
model: tiny-random
data:
  train: synthetic:64:en:easy:add_sub
  sft: synthetic:16:en:easy:add_sub
rewards:
  accuracy: 1.0
  format: 0.5
stages:
  - type: sft
    max_steps: 3
    per_device_batch_size: 2
    max_length: 128
    save_steps: 1
  - type: grpo
    preset: dr_grpo
    max_steps: 2
    per_device_batch_size: 4
    num_generations: 2
    max_completion_length: 8
    save_steps: 1
"""

# `polyreason train` whose final save (after the last step's checkpoint) stops until the test kills it
SLOW_FINAL_SAVE = """
import os, sys, time
import polyreason.train.stages.training as training
real = training.save_final
def save_final(trainer, tokenizer, target):
    with open(os.environ["FINAL_SAVE_MARKER"], "a") as fh:
        fh.write(f"{trainer.state.global_step}\\n")
    if target.name == os.environ["STOP_AT_SAVE_OF"]:
        time.sleep(300)
    real(trainer, tokenizer, target)
training.save_final = save_final
sys.argv = ["polyreason", *sys.argv[1:]]
from polyreason.cli import app
app()
"""


def _kill_during_final_save(recipe: Path, out: Path, marker: Path, stage_count: int, stop_at: str,
                            *extra: str, check_second_run: bool = False) -> None:
    env = {**os.environ, "POLYREASON_PROGRESS": "0", "OMP_NUM_THREADS": "1", "FINAL_SAVE_MARKER": str(marker),
           "STOP_AT_SAVE_OF": stop_at}
    proc = subprocess.Popen([sys.executable, "-c", SLOW_FINAL_SAVE, "train", str(recipe), "--output-dir", str(out),
                             *extra], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not (marker.exists() and len(marker.read_text().split()) >= stage_count):
        assert proc.poll() is None, proc.stderr.read()[-3000:]
        assert time.monotonic() < deadline, "no final save within 300 s"
        time.sleep(0.1)
    if check_second_run:  # the first run holds the directory (asleep in its final save): a second one refuses
        second = _train(recipe, out, "--resume")
        _, err = second.communicate(timeout=120)
        assert second.returncode == 2 and f"is being written by PID {proc.pid}" in err, err[-2000:]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def test_kill_during_the_final_save_never_trains_past_max_steps(tmp_path):
    import collections
    import json

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(FINAL_RECIPE)
    out, marker = tmp_path / "run", tmp_path / "final-saves"
    # killed while saving the SFT stage's final model (a second `train` started meanwhile exits 2)
    _kill_during_final_save(recipe, out, marker, 1, "final", check_second_run=True)
    assert marker.read_text().split() == ["3"]
    # resumed: the SFT checkpoint is the last step, so its final model is saved again without training (the
    # bug trained a 4th step here); then the resumed run is killed while saving GRPO's final model
    _kill_during_final_save(recipe, out, marker, 3, "model", "--resume")
    assert marker.read_text().split() == ["3", "3", "2"]
    resumed = _train(recipe, out, "--resume")
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err[-3000:]

    records = list(read_jsonl(out / "metrics.jsonl", tolerant=True))
    assert [(r["stage"], r["step"]) for r in records] == [(0, 1), (0, 2), (0, 3), (1, 1), (1, 2)]
    summary = json.loads((out / "summary.json").read_text())
    assert [s["steps"] for s in summary["stages"]] == [3, 2]
    steps = collections.Counter(c["step"] for c in read_jsonl(out / "completions.jsonl", tolerant=True))
    assert steps == {1: 4, 2: 4}  # 4 sampled completions per step, the last step's written once

    # resuming a finished run changes nothing: the summary keeps each stage's steps and time
    again = _train(recipe, out, "--resume")
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err[-3000:]
    kept = json.loads((out / "summary.json").read_text())
    assert kept["stages"] == summary["stages"]
