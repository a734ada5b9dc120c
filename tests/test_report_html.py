"""The HTML report (polyreason.report.html) on hand-made run directories: content, notes, self-containment."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyreason.cli import _app
from polyreason.errors import UserError
from polyreason.report.html import build_report
from polyreason.report.runs import load_run, run_metrics

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _cost(wall: float) -> dict:
    stage = {"index": 0, "type": "sft", "wall_s": wall, "device": {"type": "cpu", "name": "CPU (x, 2 cores)",
             "count": 1}, "device_hours": wall / 3600, "tokens_trained": 900.0, "tokens_generated": None,
             "peak_rss_mb": 800.0, "rss_scope": "stage", "peak_cuda_allocated_mb": None, "cost_estimate": None}
    return {"price_per_hour": None, "stages": [stage], "total": {**stage}}


def make_run(path: Path, *, grpo: bool = True, kl: bool = False, quickstart: bool = False, reward: float = 0.2):
    path.mkdir(parents=True)
    rows = [{"stage": 0, "stage_type": "sft", "step": s, "loss": 2.0 - s / 10, "learning_rate": 1e-4,
             "entropy": 1.5, "num_tokens": 300.0 * s} for s in (1, 2, 3)]
    if grpo:
        for s in (1, 2, 3, 4):
            row = {"stage": 1, "stage_type": "grpo", "step": s, "loss": 0.01, "learning_rate": 1e-5,
                   "reward": reward + s / 20, "rewards/accuracy/mean": reward, "rewards/format/mean": s / 4,
                   "completions/mean_length": 30.0 + s, "completions/min_length": 10.0,
                   "completions/max_length": 64.0, "completions/clipped_ratio": 0.25,
                   "frac_reward_zero_std": 0.5, "entropy": 1.2, "num_tokens": 1000.0 * s}
            if kl:
                row["kl"] = 0.001 * s
            rows.append(row)
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"torn": ')
    stages = [{"index": 0, "type": "sft"}] + ([{"index": 1, "type": "grpo"}] if grpo else [])
    (path / "summary.json").write_text(json.dumps({"stages": stages, "cost": _cost(120.0)}))
    (path / "recipe.yaml").write_text("model: {spec: tiny-random}\n")
    if quickstart:
        scores = [{"label": "base", "n": 100, "accuracy": 0.0, "format": 0.0, "mean_reward": 0.0,
                   "mean_length": 40.0, "seconds": 30.0},
                  {"label": "after sft", "n": 100, "accuracy": 0.51, "format": 1.0, "mean_reward": 1.0,
                   "mean_length": 20.0, "seconds": 12.0}]
        (path / "quickstart.json").write_text(json.dumps({"scores": scores}))
    return path


def make_eval(path: Path):
    path.mkdir(parents=True)
    bench = {"pass@1": 0.4, "ci95": [0.3, 0.5], "n_problems": 10, "n_samples": 10}
    (path / "summary.json").write_text(json.dumps({"model": "m", "benchmarks": {"math500": bench}}))
    (path / "run_info.json").write_text(json.dumps({"cost": _cost(60.0)}))
    return path


def _images(page: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)]


def test_single_run_has_every_curve_cost_and_before_after_and_notes_what_is_missing(tmp_path: Path):
    run = make_run(tmp_path / "run", quickstart=True)
    page = build_report([run])
    images = _images(page)
    # 7 curves (reward, length, truncation, zero-std, entropy, lr, loss; no KL) + 1 before/after bar chart
    assert len(images) == 8 and all(png.startswith(PNG_MAGIC) for png in images)
    assert page.count("<img") == 8
    assert "KL to the reference model: not plotted (TRL logs KL only when beta &gt; 0" in page
    assert "<th>0-sft</th>" in page and "Hardware" in page and "CPU (x, 2 cores)" in page
    assert "after sft vs base: accuracy +51.0 points" in page and "<td>51%</td>" in page
    assert "<script" not in page and not re.search(r'(src|href)="(?!data:)', page)  # self-contained


def test_kl_is_plotted_when_logged_and_reprice_changes_the_estimate(tmp_path: Path):
    run = make_run(tmp_path / "run", kl=True)
    page = build_report([run], price_per_hour=3.6)
    assert len(_images(page)) == 8 and "KL to the reference model: not plotted" not in page
    assert "Cost est. ($3.6/device-h)" in page and "$0.12" in page  # 120 s on 1 device at $3.6/h


def test_sft_only_run_eval_run_and_comparison(tmp_path: Path):
    a = make_run(tmp_path / "a", grpo=False)
    b = make_run(tmp_path / "b", reward=0.4)
    ev = make_eval(tmp_path / "ev")
    page = build_report([a, b, ev])
    assert "<h2>Comparison</h2>" in page and "Student&#x27;s t" in page
    assert "Training reward (GRPO): not plotted (no GRPO stage logged a reward" in page  # run a
    assert "math500 pass@1 % (95% CI)" in page and "40.0 (30.0–50.0)" in page
    assert "Cost per run (totals)" in page
    metrics = run_metrics(load_run(b))
    assert metrics["1-grpo reward (last)"] == pytest.approx(0.6)
    assert metrics["1-grpo frac_reward_zero_std (mean)"] == 0.5 and metrics["0-sft loss (last)"] == pytest.approx(1.7)
    assert metrics["cost wall hours"] == pytest.approx(120 / 3600)
    assert run_metrics(load_run(ev))["eval math500 pass@1"] == 0.4


def test_a_run_with_only_a_torn_metrics_file_still_reports(tmp_path: Path):
    run = tmp_path / "r"
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"stage": 0, "stage_type": "sft", "step": 1, "loss": 1.0}\n{"st')
    page = build_report([run])
    assert len(_images(page)) == 1 and "not finished (no summary.json)" in page and "no cost block" in page


def test_bad_inputs_are_user_errors(tmp_path: Path):
    with pytest.raises(UserError, match="not a directory"):
        build_report([tmp_path / "nope"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="holds no run"):
        build_report([tmp_path / "empty"])


def test_cli_writes_the_page(tmp_path: Path):
    run = make_run(tmp_path / "run")
    out = tmp_path / "out" / "r.html"
    res = CliRunner().invoke(_app, ["report", str(run), "-o", str(out), "--title", "My run"])
    assert res.exit_code == 0, res.output
    assert out.is_file() and "<title>My run</title>" in out.read_text()


def test_report_imports_stay_light():
    code = ("import sys, polyreason.cli, polyreason.report.html, polyreason.train.sweep; "
            "print(sorted(m for m in ('torch', 'transformers', 'trl', 'datasets', 'matplotlib') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_short_keys_keep_keys_apart():
    from polyreason.report.html import short_keys

    assert short_keys(["stages.0.learning_rate", "seed"]) == {"stages.0.learning_rate": "learning_rate",
                                                              "seed": "seed"}
    assert short_keys(["stages.0.learning_rate", "stages.1.learning_rate"]) == {
        "stages.0.learning_rate": "0.learning_rate", "stages.1.learning_rate": "1.learning_rate"}
    assert short_keys(["rewards.format.weight", "weight"])["rewards.format.weight"] == "format.weight"


def test_curves_put_stages_on_one_axis_and_do_not_join_them():
    from polyreason.report.plots import curves

    records = [{"stage": 0, "stage_type": "sft", "step": 1, "entropy": 1.0},
               {"stage": 0, "stage_type": "sft", "step": 2, "entropy": 0.9},
               {"stage": 1, "stage_type": "grpo", "step": 1, "entropy": 0.8, "reward": 0.1}]
    c = curves(records)
    assert c.x == [1, 2, 3] and c.boundaries == [(0.0, "0-sft"), (2.0, "1-grpo")]
    xs, ys = c.series("entropy")
    assert xs == [1, 2, 2.5, 3] and ys[2] != ys[2] and ys[3] == 0.8  # NaN between the stages
    assert c.series("reward") == ([3], [0.1]) and c.series("kl") == ([], [])
