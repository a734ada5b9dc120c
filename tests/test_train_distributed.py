"""Two training processes on CPU (`accelerate launch`, gloo): the saved models match one process, written once.

accelerate runs data-parallel on CPU through its torchrun launcher (a MULTI_GPU config) with
``ACCELERATE_USE_CPU=true``, which makes every process a MULTI_CPU/gloo rank.  Its FSDP and DeepSpeed modes do
not run on CPU (accelerate 1.15 enables FSDP only from GPU-like device types, and skips DeepSpeed on CPU),
although torch 2.13's FSDP2 itself works with gloo; so the FSDP test checks that such a launch is refused
instead of silently training unsharded copies that race to write the model.

The comparison is exact up to float32 reduction order: SGD (the update is the gradient, not Adam's sign), and
greedy generation with an entropy bonus for GRPO (G greedy completions agree, so advantages are zero and the
entropy term is the whole, deterministic, gradient).  Two processes of B rows equal one process of 2B rows.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from polyreason.config import load_recipe
from polyreason.train import run_recipe

pytestmark = pytest.mark.usefixtures("one_torch_thread")

REPO = Path(__file__).resolve().parents[1]
STEP = {"max_steps": 1, "save_steps": 1000, "optim": "sgd", "learning_rate": 0.5, "lr_scheduler": "constant"}
RECIPE = {
    "model": "tiny-random",
    "data": {"train": "synthetic:16:en:easy", "sft": "synthetic:8:en:easy"},
    "rewards": {"accuracy": 1.0},
    "tracking": {"report_to": ["none"], "log_completions": False},
    "stages": [
        {"type": "sft", "per_device_batch_size": 2, "max_length": 96, **STEP},
        {"type": "grpo", "per_device_batch_size": 4, "num_generations": 2, "max_completion_length": 8,
         "entropy_coef": 0.5, "trl": {"generation_kwargs": {"do_sample": False}}, **STEP},
    ],
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _accelerate_config(path: Path, distributed_type: str) -> Path:
    config = {"compute_environment": "LOCAL_MACHINE", "distributed_type": distributed_type, "num_processes": 2,
              "num_machines": 1, "machine_rank": 0, "main_process_ip": "127.0.0.1",
              "main_process_port": _free_port(), "mixed_precision": "no", "use_cpu": False,
              "rdzv_backend": "static", "same_network": True, "gpu_ids": "all"}
    if distributed_type == "FSDP":
        config["fsdp_config"] = {"fsdp_version": 2, "fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
                                 "fsdp_state_dict_type": "SHARDED_STATE_DICT", "fsdp_cpu_ram_efficient_loading": False}
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _launch(tmp_path: Path, recipe: dict, distributed_type: str, out: Path) -> subprocess.CompletedProcess:
    """Write ``recipe`` to tmp_path/recipe.yaml and train it under a 2-process accelerate launch."""
    recipe_path = tmp_path / "recipe.yaml"
    recipe_path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    config = _accelerate_config(tmp_path / f"{distributed_type.lower()}.yaml", distributed_type)
    env = {**os.environ, "ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1", "POLYREASON_PROGRESS": "0",
           "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config),
           "-m", "polyreason.cli", "train", str(recipe_path), "-o", str(out)]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=REPO)


def _weights(directory: Path) -> dict:
    from safetensors.torch import load_file

    assert sorted(p.name for p in directory.glob("*.safetensors")) == ["model.safetensors"]
    return load_file(directory / "model.safetensors")


def _max_diff(a: dict, b: dict) -> float:
    assert set(a) == set(b)
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a)


def test_two_processes_train_like_one_and_write_once(tmp_path, tiny_model_path):
    multi = tmp_path / "two"
    proc = _launch(tmp_path, RECIPE, "MULTI_GPU", multi)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]

    single = tmp_path / "one"  # the same global batch in one process: twice the rows per device
    run_recipe(load_recipe(tmp_path / "recipe.yaml", ["stages.0.per_device_batch_size=4", "stages.1.per_device_batch_size=8"]),
               single)

    for stage_dir in ("stages/0-sft/final", "model"):
        assert log.count(f"final model written to {multi / stage_dir} by process 0 of 2") == 1, log[-4000:]
    assert not list(multi.glob("**/*.tmp")), "a temporary directory was left behind"
    start = _weights(Path(tiny_model_path))
    sft_one, sft_two = _weights(single / "stages/0-sft/final"), _weights(multi / "stages/0-sft/final")
    grpo_one, grpo_two = _weights(single / "model"), _weights(multi / "model")
    assert _max_diff(sft_one, start) > 1e-2 and _max_diff(grpo_one, sft_one) > 1e-4  # both steps moved weights
    assert _max_diff(sft_two, sft_one) < 1e-6
    grpo_step_one = {k: grpo_one[k] - sft_one[k] for k in grpo_one}
    grpo_step_two = {k: grpo_two[k] - sft_two[k] for k in grpo_two}
    assert _max_diff(grpo_step_two, grpo_step_one) < 1e-6


def test_fsdp_on_cpu_is_refused_instead_of_training_unsharded(tmp_path, tiny_model_path):
    proc = _launch(tmp_path, {**RECIPE, "stages": RECIPE["stages"][:1]}, "FSDP", tmp_path / "run")
    assert proc.returncode != 0
    assert "asks for FSDP, but accelerate did not enable it" in proc.stdout + proc.stderr
    assert not (tmp_path / "run" / "model").exists()


def test_data_and_eval_stages_run_in_the_main_process_while_the_others_wait(tmp_path):
    """Under two processes, a dedup stage and an eval stage run once (rank 0); rank 1 waits for their
    stage.json, and both ranks then train GRPO on the dedup stage's rows."""
    import json

    recipe = {**RECIPE, "stages": [
        {"type": "dedup", "name": "unique", "exact_only": True},
        {"type": "eval", "benchmarks": ["math500"], "limit": 1, "max_new_tokens": 4, "backend": "transformers"},
        {**RECIPE["stages"][1], "data": {"from": "unique"}},
    ]}
    out = tmp_path / "two"
    proc = _launch(tmp_path, recipe, "MULTI_GPU", out)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["finished"] and summary["stages"][0]["report"]["n_input"] == 16
    assert summary["stages"][1]["eval"]["benchmarks"]["math500"]["n_problems"] == 1
    assert sum(1 for _ in (out / "stages" / "1-eval" / "samples.jsonl").open()) == 1  # evaluated once
    assert log.count(f"final model written to {out / 'model'} by process 0 of 2") == 1, log[-4000:]


def test_only_the_main_process_refuses_a_directory_that_holds_a_run(tmp_path, monkeypatch):
    """Rank 0 marks the directory (metrics.jsonl) as soon as it starts; a later rank must not refuse it."""
    from polyreason.config import recipe_from_dict
    from polyreason.errors import UserError
    from polyreason.train.runner import _prepare_output

    recipe = recipe_from_dict(RECIPE)
    (tmp_path / "metrics.jsonl").write_text("", encoding="utf-8")
    monkeypatch.setenv("RANK", "1")
    _prepare_output(tmp_path, recipe, resume=False)
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(UserError, match="already holds a run"):
        _prepare_output(tmp_path, recipe, resume=False)
