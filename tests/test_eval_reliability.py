"""Evaluation never reuses samples of other weights and never runs twice into one output directory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from polyreason.cli import _app

runner = CliRunner()
ARGS = ["--benchmarks", "gsm8k", "--limit", "3", "--max-new-tokens", "4", "--temperature", "0"]


def _retrain(model_dir: Path, seed: int) -> None:
    """New weights saved at the same path (what a second training run into the same directory does)."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir)
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    model.save_pretrained(model_dir)


def test_new_weights_at_the_same_path_are_generated_again(tmp_path, tiny_model_path):
    model = tmp_path / "model"
    shutil.copytree(tiny_model_path, model)
    args = ["eval", "--model", str(model), *ARGS, "--output", str(tmp_path / "ev")]
    first = runner.invoke(_app, args)
    assert first.exit_code == 0, first.output
    assert "generated 3 samples" in first.output
    again = runner.invoke(_app, args)
    assert "generated 0 samples" in again.output and "3 reused" in again.output  # same weights: cached

    _retrain(model, seed=1)
    after = runner.invoke(_app, args)
    assert after.exit_code == 0, after.output
    assert "generated 3 samples" in after.output and "0 reused" in after.output

    template = model / "chat_template.jinja"
    if template.exists():
        template.write_text(template.read_text() + "{# edited #}")
    else:
        _edit_tokenizer_config(model)
    edited = runner.invoke(_app, args)
    assert "generated 3 samples" in edited.output, edited.output  # a changed chat template counts too


def _edit_tokenizer_config(model: Path) -> None:
    path = model / "tokenizer_config.json"
    config = json.loads(path.read_text())
    config["chat_template"] = config.get("chat_template", "") + "{# edited #}"
    path.write_text(json.dumps(config))


def test_a_second_eval_on_the_same_output_refuses_instead_of_generating_twice(tmp_path):
    out = tmp_path / "ev"
    env = {**os.environ, "POLYREASON_PROGRESS": "0", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "polyreason.cli", "eval", "--model", "tiny-random", "--benchmarks", "gsm8k",
           "--limit", "12", "--max-new-tokens", "32", "--batch-size", "2", "--output", str(out)]
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    # the first run holds the output: its lock (or, before the fix, its result cache) exists
    while not ((out / ".polyreason.lock").exists() or (out / "cache.sqlite").exists()):
        assert first.poll() is None, first.communicate()[1][-2000:]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    first_out, first_err = first.communicate(timeout=600)
    assert first.returncode == 0, first_err[-2000:]
    assert second.returncode == 2, second.stdout[-2000:] + second.stderr[-2000:]
    assert "is being written by PID" in second.stderr and "generated" not in second.stdout
    assert "generated 12 samples" in first_out
    assert json.loads((out / "summary.json").read_text())["benchmarks"]["gsm8k"]["n_problems"] == 12
