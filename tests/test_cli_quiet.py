"""A new user's terminal: `polyreason eval`, a one-step `polyreason train` and a one-step-per-stage
`polyreason quickstart` at 80 columns print no third-party warning or loading bar, no cell cut to '…' and no
line past column 80 (log lines wrap too); --verbose shows what the quiet mode hides."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from polyreason.quiet import ENVIRONMENT

REPO = Path(__file__).resolve().parents[1]
# what third-party noise looks like: warnings, tqdm bars ("it/s]", "examples/s]"), the named loading bars
NOISE = re.compile(r"Warning|warnings\.warn|it/s\]|examples/s\]|Loading weights|Writing model shards|GGUF tensors")


def _run(args: list[str], tmp_path: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ENVIRONMENT}  # as a fresh shell has it
    env.update(COLUMNS="80", OMP_NUM_THREADS="1", PYTHONPATH=str(REPO / "src"))
    proc = subprocess.run([sys.executable, "-m", "polyreason.cli", *args], capture_output=True, text=True,
                          timeout=600, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def _assert_clean(output: str) -> None:
    noisy = [line for line in output.splitlines() if NOISE.search(line)]
    assert not noisy, noisy
    assert "…" not in output
    assert any(re.search("[┃│┏└┡]", line) for line in output.splitlines()), "no result table"
    wide = [line for line in output.splitlines() if len(line) > 80]
    assert not wide, wide


def test_eval_is_quiet_and_fits_80_columns(tmp_path: Path) -> None:
    args = ["eval", "--model", "tiny-random", "--benchmarks", "gsm8k,mgsm-es,olympiadbench", "--limit", "2",
            "--samples", "2", "--max-new-tokens", "4", "--threads", "1"]
    output = _run(args + ["--output", str(tmp_path / "quiet")], tmp_path)
    _assert_clean(output)
    assert "olympiadbench" in output and "answer lang %" in output and "best pass@k %" in output
    loud = _run(["--verbose", "eval", "--model", "tiny-random", "--benchmarks", "gsm8k", "--limit", "1",
                 "--max-new-tokens", "2", "--output", str(tmp_path / "loud")], tmp_path)
    assert NOISE.search(loud), "the check above would not see third-party noise"


def _one_step_sets(train: str) -> list[str]:
    """--set arguments that shrink the quickstart recipe to tiny-random and one step per stage."""
    items = ["model=tiny-random", f"data.train={train}", "data.sft=synthetic:8:en:easy", "tracking.report_to=[none]",
             "stages.0.per_device_batch_size=2", "stages.0.max_length=96", "stages.1.num_generations=2",
             "stages.1.per_device_batch_size=4", "stages.1.max_completion_length=8"]
    for i in (0, 1):
        items += [f"stages.{i}.max_steps=1", f"stages.{i}.save_steps=1000", f"stages.{i}.gradient_accumulation_steps=1"]
    return [a for item in items for a in ("--set", item)]


# a long -o makes the model column (and the log lines naming it) wide
LONG_DIR = Path("a-rather-long-run-directory-name") / "that-makes-the-model-column-wide"


@pytest.mark.usefixtures("one_torch_thread")
def test_one_step_train_is_quiet_and_fits_80_columns(tmp_path: Path) -> None:
    args = ["train", str(REPO / "recipes" / "quickstart.yaml"), "-o", str(tmp_path / LONG_DIR)]
    output = _run(args + _one_step_sets("synthetic:16:en:easy"), tmp_path)
    _assert_clean(output)
    assert "stages" in output and "1 grpo" in output


@pytest.mark.usefixtures("one_torch_thread")
def test_quickstart_is_quiet_and_fits_80_columns(tmp_path: Path) -> None:
    args = ["quickstart", "--eval-problems", "10", "-o", str(tmp_path / LONG_DIR)]
    output = _run(args + _one_step_sets("synthetic:200:en:easy:add_sub"), tmp_path)  # >= 10 held-out test rows
    _assert_clean(output)
    assert "held-out test problems" in output and "GRPO's own gain" in output and "after grpo" in output
