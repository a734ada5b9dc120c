"""Cost accounting (polyreason.report.cost) and the cost blocks of train and eval summaries."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from polyreason.config import recipe_from_dict
from polyreason.report import cost


def _grpo(**kw):
    base = dict(type="grpo", per_device_batch_size=4, gradient_accumulation_steps=2, num_iterations=1)
    return SimpleNamespace(**{**base, **kw})


def test_counter_total_reads_a_drop_as_a_restart():
    assert cost.counter_total([]) is None
    assert cost.counter_total([10, 20, 30]) == 30
    # SFT's counter restarts at 0 when a stage resumes: 30 before the restart, then 25 more
    assert cost.counter_total([10, 20, 30, 12, 25]) == 55


def test_grpo_tokens_generated_from_logged_mean_length_steps_and_refill_rounds():
    records = [  # logging every 2 steps; 8 completions per step; the second window refilled once per step
        {"step": 2, "num_tokens": 300.0, "completions/mean_length": 10.0},
        {"step": 4, "num_tokens": 700.0, "completions/mean_length": 20.0, "dynamic_sampling/rounds": 1.0},
    ]
    trained, generated = cost.stage_tokens(records, _grpo(), world=1)
    assert trained == 700.0
    assert generated == 10 * 8 * 2 + 20 * 8 * 2 * 2
    # two processes double the completions per step; num_iterations=2 generates every other step
    assert cost.stage_tokens(records[:1], _grpo(), world=2)[1] == 10 * 16 * 2
    assert cost.stage_tokens(records[:1], _grpo(num_iterations=2), world=1)[1] == 10 * 4 * 2


def test_sft_tokens_trained_only():
    records = [{"step": 1, "num_tokens": 466.0}, {"step": 2, "num_tokens": 926.0}]
    assert cost.stage_tokens(records, SimpleNamespace(type="sft"), 1) == (926.0, None)
    assert cost.stage_tokens([{"step": 1, "loss": 1.0}], _grpo(), 1) == (None, None)


def _recipe(price=None, stages=None):
    raw = {"model": "tiny-random", "rewards": {"accuracy": 1.0},
           "stages": stages or [{"type": "sft", "max_steps": 1}, {"type": "grpo", "per_device_batch_size": 8}]}
    if price is not None:
        raw["cost"] = {"price_per_hour": price}
    return recipe_from_dict(raw)


def _usage(wall, count=1, kind="cuda", rss=100.0, cuda=None):
    return {"wall_s": wall, "device": {"type": kind, "name": "NVIDIA A40", "count": count}, "processes": count,
            "peak_rss_mb": rss, "rss_scope": "stage", "peak_cuda_allocated_mb": cuda}


def test_train_cost_is_seed_001s_table_device_hours_times_price():
    # Open-RS: 24 h on 4 A40s = 96 device-hours; $42 is about $0.4375 per device-hour
    recipe = _recipe(price=0.4375)
    records = [{"stage": 0, "step": 1, "num_tokens": 1000.0},
               {"stage": 1, "step": 1, "num_tokens": 5000.0, "completions/mean_length": 100.0}]
    block = cost.train_cost(recipe, [_usage(3600.0, 4, cuda=900.0), _usage(23 * 3600.0, 4, cuda=4000.0)], records)
    sft, grpo = block["stages"]
    assert sft["device_hours"] == 4.0 and grpo["device_hours"] == 92.0
    assert grpo["tokens_generated"] == 100 * 8 * 4  # 8 completions per process, 4 processes
    total = block["total"]
    assert total["device_hours"] == 96.0 and total["cost_estimate"] == pytest.approx(42.0)
    assert total["tokens_trained"] == 6000.0 and total["peak_cuda_allocated_mb"] == 4000.0
    header, rows = cost.cost_rows(block)
    assert header == ["", "0-sft", "1-grpo", "total"]
    table = dict((r[0], r[1:]) for r in rows)
    assert table["Hardware"][2] == "4× NVIDIA A40" and table["Time"][2] == "24.0 h"
    assert table["Cost est. ($0.4375/device-h)"] == ["$1.75", "$40.25", "$42.00"]
    assert "| Device-hours | 4.0000 | 92.0000 | 96.0000 |" in cost.cost_markdown(block)


def test_unmeasured_stage_and_no_price_leave_blanks_not_zeros():
    block = cost.train_cost(_recipe(), [None, _usage(7200.0)], [])
    assert block["stages"][0]["wall_s"] is None and block["stages"][0]["device_hours"] is None
    assert block["total"]["device_hours"] == 2.0 and block["total"]["cost_estimate"] is None
    repriced = cost.reprice(block, 1.5)
    assert repriced["total"]["cost_estimate"] == 3.0 and repriced["stages"][0]["cost_estimate"] is None
    assert block["total"]["cost_estimate"] is None  # reprice returns a copy


def test_stage_meter_measures_wall_time_and_the_stage_peak(tmp_path: Path):
    before = cost.StageMeter.start()
    blob = bytearray(200 * 1024 * 1024)
    blob[::4096] = b"x" * len(blob[::4096])  # touch every page so it is resident
    time.sleep(0.05)
    usage = before.finish(tmp_path / "usage.json")
    assert usage["wall_s"] >= 0.05
    assert usage["peak_rss_mb"] >= 200
    assert usage["device"]["type"] == "cpu" and usage["device"]["count"] == 1
    assert json.loads((tmp_path / "usage.json").read_text()) == usage
    del blob
    after = cost.StageMeter.start().finish()
    if after["rss_scope"] == "stage":  # Linux let us reset the peak: the 200 MiB is gone from this stage's
        assert after["peak_rss_mb"] < usage["peak_rss_mb"] - 150
    assert cost.read_usage(tmp_path / "missing.json") is None


def test_device_count_override_and_cpu_detection(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "3")
    dev = cost.detect_device("cpu")
    assert dev.type == "cpu" and dev.count == 1 and dev.name.startswith("CPU (")
    assert cost.detect_device("cpu", count=4).count == 4


class _Tok:
    chat_template = None

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": text.split()}


class _Backend:
    name = variant = "fake"
    batch_size = 4
    tokenizer = _Tok()

    def generate(self, prompts, params, seed, progress=None):
        from polyreason.generation import Generated

        return [Generated("Therefore, the final answer is: $\\boxed{1}$.", 12, False) for _ in prompts]


def test_eval_run_info_carries_the_cost_block(tmp_path: Path):
    from polyreason.evaluate.runner import EvalConfig, run_eval
    from polyreason.generation import SamplingParams

    config = EvalConfig(model="fake", benchmarks="mgsm-en", output=tmp_path / "ev", samples=2, limit=3,
                        params=SamplingParams(max_new_tokens=16), price_per_hour=2.0)
    summary, _ = run_eval(config, backend=_Backend())
    assert "cost" not in summary  # summary.json stays identical across resumes; cost is per run
    block = json.loads((tmp_path / "ev" / "run_info.json").read_text())["cost"]
    stage = block["stages"][0]
    assert stage["type"] == "eval" and stage["tokens_generated"] == 3 * 2 * 12
    assert stage["wall_s"] > 0 and stage["device"]["type"] == "cpu"
    assert block["total"]["cost_estimate"] == pytest.approx(stage["device_hours"] * 2.0, abs=1e-4)
    # rerun: every sample comes from the cache, so nothing is generated and the tokens are 0
    run_eval(config, backend=_Backend())
    again = json.loads((tmp_path / "ev" / "run_info.json").read_text())["cost"]
    assert again["stages"][0]["tokens_generated"] == 0


def test_train_summary_cost_survives_a_resume_that_skips_every_stage(tmp_path: Path, one_torch_thread):
    from polyreason.train import run_recipe

    recipe = _recipe(price=3.0, stages=[{"type": "grpo", "preset": "dr_grpo", "max_steps": 2,
                                         "per_device_batch_size": 4, "num_generations": 2,
                                         "max_completion_length": 6, "max_prompt_length": 64}])
    recipe.data.train = "synthetic:16:en:easy:add_sub"
    out = tmp_path / "run"
    result = run_recipe(recipe, out)
    block = json.loads((out / "summary.json").read_text())["cost"]
    (stage,) = block["stages"]
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert json.loads((out / "summary.json").read_text())["finished"] is True  # what sweeps read
    assert stage["wall_s"] >= result.stages[0].runtime_s > 0
    assert stage["tokens_trained"] == records[-1]["num_tokens"]
    assert stage["tokens_generated"] == round(sum(r["completions/mean_length"] * 4 for r in records))
    assert stage["peak_rss_mb"] > 50 and stage["cost_estimate"] == pytest.approx(stage["device_hours"] * 3.0,
                                                                                 abs=1e-4)
    run_recipe(recipe, out, resume=True)  # the stage is skipped; its measured cost must not vanish
    again = json.loads((out / "summary.json").read_text())["cost"]
    assert again["stages"][0]["wall_s"] == stage["wall_s"] and again["total"] == block["total"]
