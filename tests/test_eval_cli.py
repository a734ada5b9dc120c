"""`polyreason eval`: generation with the tiny model, resume, predictions mode, user errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyreason.cli import _app
from polyreason.evaluate.benchmarks import load_benchmark

runner = CliRunner()


def test_eval_tiny_model_then_rerun_uses_cache(tmp_path: Path) -> None:
    args = ["eval", "--model", "tiny-random", "--benchmarks", "gsm8k,mgsm-es", "--limit", "2", "--samples", "2",
            "--max-new-tokens", "4", "--batch-size", "4", "--output", str(tmp_path / "run")]
    first = runner.invoke(_app, args)
    assert first.exit_code == 0, first.output
    assert "generated 8 samples" in first.output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert set(summary["benchmarks"]) == {"gsm8k", "mgsm-es"}
    for block in summary["benchmarks"].values():
        assert 0.0 <= block["pass@1"] <= 1.0 and block["n_problems"] == 2 and block["n_samples"] == 4
        assert block["mean_tokens"] <= 4 and 0.0 <= block["truncation_rate"] <= 1.0
    assert summary["model"] == "tiny-random" and summary["generation"]["max_new_tokens"] == 4
    second = runner.invoke(_app, args)
    assert second.exit_code == 0, second.output
    assert "generated 0 samples" in second.output and "8 reused" in second.output
    assert json.loads((tmp_path / "run" / "summary.json").read_text()) == summary


def test_eval_predictions_mode(tmp_path: Path) -> None:
    gold = load_benchmark("math500", limit=1)[0].gold
    path = tmp_path / "preds.jsonl"
    path.write_text(json.dumps({"index": 0, "completion": f"Therefore, the final answer is: $\\boxed{{{gold}}}$."})
                    + "\n")
    result = runner.invoke(_app, ["eval", "--predictions", str(path), "--benchmark", "math500",
                                  "--output", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["benchmarks"]["math500"]["pass@1"] == 1.0
    assert summary["benchmarks"]["math500"]["n_problems"] == 1


def test_list_benchmarks() -> None:
    result = runner.invoke(_app, ["eval", "--list-benchmarks"])
    assert result.exit_code == 0 and "mgsm-te" in result.output and "olympiadbench" in result.output


def test_eval_user_errors_exit_2(tmp_path: Path) -> None:
    cases = [
        (["--model", "tiny-random"], "no output directory"),
        (["--output", str(tmp_path)], "no model given"),
        (["--model", "tiny-random", "--benchmarks", "math5000", "--output", str(tmp_path)], "did you mean"),
        (["--predictions", str(tmp_path / "missing.jsonl"), "--benchmark", "gsm8k", "--output", str(tmp_path)],
         "does not exist"),
    ]
    for extra, message in cases:
        proc = subprocess.run([sys.executable, "-m", "polyreason.cli", "eval", *extra], capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert message in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_eval_embedded_model_end_to_end(tmp_path: Path) -> None:
    """The real embedded SmolLM2-135M-Instruct: greedy, 2 MGSM-es problems, 48 new tokens."""
    result = runner.invoke(_app, ["eval", "--model", "smollm2-135m", "--benchmarks", "mgsm-es", "--limit", "2",
                                  "--temperature", "0", "--max-new-tokens", "48", "--output", str(tmp_path)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(len(r["completion"].split()) >= 5 for r in rows)
    block = json.loads((tmp_path / "summary.json").read_text())["benchmarks"]["mgsm-es"]
    assert block["n_samples"] == 2 and 0 < block["mean_tokens"] <= 48


def test_eval_imports_stay_light() -> None:
    code = ("import sys, polyreason.cli, polyreason.evaluate, polyreason.commands.eval; "
            "print(sorted(m for m in ('torch', 'transformers', 'datasets', 'vllm') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stderr
