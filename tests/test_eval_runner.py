"""Evaluation runner: resumable generation through the SQLite cache, predictions scoring, output files."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from polyreason.errors import UserError
from polyreason.evaluate.benchmarks import load_benchmark
from polyreason.evaluate.runner import EvalConfig, run_eval, score_predictions
from polyreason.generation import Generated, SamplingParams


class FakeTokenizer:
    chat_template = None

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": text.split()}


class FakeBackend:
    """Deterministic stand-in for a model: answers MGSM problems right when (index + seed) is even."""

    name = "fake"
    variant = "fake"
    batch_size = 2

    def __init__(self, benchmark: str, fail_after: int | None = None):
        self.tokenizer = FakeTokenizer()
        self.golds = {p.problem: (p.index, p.gold) for p in load_benchmark(benchmark)}
        self.calls: list[int] = []
        self.fail_after = fail_after

    def generate(self, prompts, params, seed, progress=None):
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise KeyboardInterrupt("simulated kill")
        self.calls.append(len(prompts))
        out = []
        for prompt in prompts:
            index, gold = next(v for k, v in self.golds.items() if prompt.rstrip().endswith(k + "\n\nassistant:"))
            answer = gold if (index + seed) % 2 == 0 else gold + "1"
            out.append(Generated(f"Some reasoning.\nTherefore, the final answer is: $\\boxed{{{answer}}}$.", 12,
                                 False))
        return out


def _config(tmp_path: Path, name: str, **kw) -> EvalConfig:
    base = dict(model="fake-model", benchmarks="mgsm-en", output=tmp_path / name, samples=3, limit=5,
                params=SamplingParams(temperature=0.6, max_new_tokens=16), seed=1)
    base.update(kw)
    return EvalConfig(**base)


def test_run_writes_summary_samples_and_table(tmp_path: Path) -> None:
    summary, stats = run_eval(_config(tmp_path, "a"), backend=FakeBackend("mgsm-en"))
    block = summary["benchmarks"]["mgsm-en"]
    assert 0.0 <= block["pass@1"] <= 1.0 and block["n_problems"] == 5 and block["n_samples"] == 15
    assert "pass@2" in block and block["ci95"][0] <= block["pass@1"] <= block["ci95"][1]
    assert summary["model"] == "fake-model" and summary["generation"]["temperature"] == 0.6
    assert stats.generated == 15 and stats.cached == 0
    out = tmp_path / "a"
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk == summary
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 15
    assert {"problem", "completion", "extracted", "correct", "reason"} <= set(rows[0])
    assert "| mgsm-en |" in (out / "summary.md").read_text()
    assert json.loads((out / "run_info.json").read_text())["generated_samples"] == 15
    assert not list(out.glob("*.tmp"))


def test_killed_run_resumes_without_regenerating_and_matches(tmp_path: Path) -> None:
    clean, _ = run_eval(_config(tmp_path, "clean"), backend=FakeBackend("mgsm-en"))
    killer = FakeBackend("mgsm-en", fail_after=3)
    with pytest.raises(KeyboardInterrupt):
        run_eval(_config(tmp_path, "resumed"), backend=killer)
    done_before = sum(killer.calls)
    assert done_before == 6  # three batches of two were committed before the kill
    resumer = FakeBackend("mgsm-en")
    resumed, stats = run_eval(_config(tmp_path, "resumed"), backend=resumer)
    assert stats.cached == done_before and stats.generated == 15 - done_before == sum(resumer.calls)
    assert resumed == clean
    again, stats = run_eval(_config(tmp_path, "resumed"), backend=FakeBackend("mgsm-en"))
    assert stats.generated == 0 and again == clean


def test_changed_generation_params_do_not_reuse_cache(tmp_path: Path) -> None:
    run_eval(_config(tmp_path, "p"), backend=FakeBackend("mgsm-en"))
    other = FakeBackend("mgsm-en")
    _, stats = run_eval(_config(tmp_path, "p", params=SamplingParams(temperature=0.7, max_new_tokens=16), seed=1),
                        backend=other)
    assert stats.generated == 15 and stats.cached == 0


def test_tiny_model_resume_is_identical(tmp_path: Path) -> None:
    """Real generation (tiny random Llama): drop the last committed batch, rerun, same summary and samples."""
    from polyreason.generation import make_backend

    backend = make_backend("tiny-random", batch_size=2)
    cfg = dict(model="tiny-random", benchmarks="math500,mgsm-es", samples=2, limit=2,
               params=SamplingParams(temperature=0.6, max_new_tokens=6), seed=3, batch_size=2)
    first, stats = run_eval(EvalConfig(output=tmp_path / "one", **cfg), backend=backend)
    assert stats.generated == 8
    cache = tmp_path / "two" / "cache.sqlite"
    cache.parent.mkdir()
    shutil.copy(tmp_path / "one" / "cache.sqlite", cache)
    with sqlite3.connect(cache) as db:  # forget the last committed batch, as if killed while generating it
        db.execute("DELETE FROM samples WHERE rowid IN (SELECT rowid FROM samples ORDER BY rowid DESC LIMIT 2)")
    second, stats = run_eval(EvalConfig(output=tmp_path / "two", **cfg), backend=backend)
    assert stats.generated == 2 and stats.cached == 6
    assert second == first
    assert (tmp_path / "one" / "samples.jsonl").read_text() == (tmp_path / "two" / "samples.jsonl").read_text()


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_score_predictions(tmp_path: Path) -> None:
    golds = [p.gold for p in load_benchmark("mgsm-en", limit=4)]
    rows = [
        {"index": 0, "completion": f"Therefore, the final answer is: $\\boxed{{{golds[0]}}}$."},
        {"index": 1, "completion": f"\\boxed{{{golds[1]}}}", "sample": 0},
        {"index": 1, "completion": "\\boxed{-12345}", "sample": 1},
        {"index": 2, "completion": f"<think>I think \\boxed{{{golds[2]}}}</think>\nSo \\boxed{{-1}}"},
        {"index": 3, "completion": f"<think>so it is \\boxed{{{golds[3]}}} but I ran out of"},
    ]
    summary = score_predictions(_write(tmp_path / "p.jsonl", rows), "mgsm-en", tmp_path / "out")
    block = summary["benchmarks"]["mgsm-en"]
    assert block["n_problems"] == 4 and block["n_samples"] == 5
    assert block["pass@1"] == pytest.approx((1 + 0.5 + 0 + 0) / 4)
    samples = [json.loads(line) for line in (tmp_path / "out" / "samples.jsonl").read_text().splitlines()]
    assert [s["correct"] for s in samples] == [True, True, False, False, False]
    assert samples[4]["extracted"] is None  # reasoning inside an unclosed <think> is never graded


@pytest.mark.parametrize(
    "rows, message",
    [([{"index": 999, "completion": "x"}], "outside"), ([{"completion": "x"}], "bad prediction row"),
     ([{"index": 0, "completion": "a"}, {"index": 0, "completion": "b", "sample": 0}], "duplicate"),
     ([], "no predictions"), ([{"index": 0, "completion": 3}], "must be a string")],
)
def test_bad_predictions_are_user_errors(tmp_path: Path, rows, message: str) -> None:
    with pytest.raises(UserError, match=message):
        score_predictions(_write(tmp_path / "p.jsonl", rows), "mgsm-en", tmp_path / "out")


def test_bad_eval_settings() -> None:
    with pytest.raises(UserError):
        EvalConfig(model="m", benchmarks="math500", output=Path("x"), samples=0)


def test_config_from_recipe(tmp_path: Path) -> None:
    from polyreason.config import recipe_from_dict
    from polyreason.evaluate.runner import config_from_recipe

    recipe = recipe_from_dict({
        "model": "tiny-random", "seed": 7, "stages": [{"type": "sft"}],
        "eval": {"benchmarks": ["mgsm-es"], "samples": 4, "limit": 10, "temperature": 0.7, "top_p": 0.9,
                 "max_new_tokens": 64, "batch_size": 8, "prompt_template": "Problema: {problem}"},
    })
    cfg = config_from_recipe(recipe, model="runs/x/final", output=tmp_path)
    assert cfg.benchmarks == ["mgsm-es"] and cfg.samples == 4 and cfg.seed == 7
    assert cfg.params.temperature == 0.7 and cfg.prompt_template == "Problema: {problem}"
    assert cfg.prompt_style == "lighteval" and cfg.system is None


def test_eval_defaults_are_stated_once(tmp_path: Path) -> None:
    """The recipe's eval section, the runner and `polyreason eval` without options all use EVAL_DEFAULTS."""
    from polyreason.config import EvalSettings
    from polyreason.evaluate.runner import EVAL_DEFAULTS, eval_params

    section = EvalSettings()
    for name in ("samples", "temperature", "top_p", "max_new_tokens", "backend", "batch_size", "prompt_style"):
        assert getattr(section, name) == getattr(EVAL_DEFAULTS, name), name
    assert section.benchmarks == list(EVAL_DEFAULTS.benchmarks)
    cfg = EvalConfig(model="m", benchmarks="math500", output=tmp_path)
    assert cfg.params == eval_params() and cfg.samples == EVAL_DEFAULTS.samples
    assert eval_params(temperature=0.0) == SamplingParams(
        temperature=0.0, top_p=EVAL_DEFAULTS.top_p, max_new_tokens=EVAL_DEFAULTS.max_new_tokens)
    assert (EVAL_DEFAULTS.temperature, EVAL_DEFAULTS.top_p) == (SamplingParams.temperature, SamplingParams.top_p)


def test_eval_cli_without_options_uses_the_defaults(tmp_path: Path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from polyreason.cli import _app
    from polyreason.evaluate import runner as eval_runner

    seen = []

    def fake_run(config):
        seen.append(config)
        raise SystemExit(0)

    monkeypatch.setattr(eval_runner, "run_eval", fake_run)
    CliRunner().invoke(_app, ["eval", "--model", "tiny-random", "--output", str(tmp_path)])
    (config,) = seen
    assert config.params == eval_runner.eval_params() and config.benchmarks == list(eval_runner.EVAL_DEFAULTS.benchmarks)
    d = eval_runner.EVAL_DEFAULTS
    assert (config.samples, config.prompt_style) == (d.samples, d.prompt_style)
    assert config.backend == "transformers"  # d.backend None: chosen from the model spec (a URL: endpoint)
