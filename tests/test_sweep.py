"""Sweeps (polyreason.train.sweep): grid parsing, the cell plan, skip-on-rerun, failures, cluster modes, table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyreason.cli import _app
from polyreason.errors import UserError
from polyreason.report.stats import mean_ci
from polyreason.train import sweep

RECIPE = """
name: sweep-test
model: tiny-random
data:
  train: synthetic:16:en:easy:add_sub
rewards:
  accuracy: 1.0
stages:
  - type: grpo
    preset: dr_grpo
    max_steps: 1
    per_device_batch_size: 4
    num_generations: 2
    max_completion_length: 6
"""


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(RECIPE)
    return path


def test_parse_grid_splits_values_outside_brackets():
    assert sweep.parse_grid(["a.b=1,2", "c=[x, y],[z]"]) == [("a.b", ["1", "2"]), ("c", ["[x, y]", "[z]"])]
    for bad in ["novalue", "k=", "k=1,,2", "=1"]:
        with pytest.raises(UserError, match="KEY=v1,v2"):
            sweep.parse_grid([bad])
    with pytest.raises(UserError, match="--seeds"):
        sweep.parse_grid(["seed=1,2"])
    with pytest.raises(UserError, match="twice"):
        sweep.parse_grid(["a=1", "a=2"])
    assert sweep.parse_seeds("1,2,3") == [1, 2, 3] and sweep.parse_seeds(None) is None
    with pytest.raises(UserError, match="integers"):
        sweep.parse_seeds("1,x")


def test_plan_is_the_full_product_with_seeds_innermost():
    cells = sweep.plan_cells([("lr", ["1", "2"]), ("g", ["4", "8"])], [7, 8])
    assert len(cells) == 8 and [c.index for c in cells] == list(range(8))
    assert cells[0].name == "lr=1,g=4,seed=7" and cells[1].name == "lr=1,g=4,seed=8"
    assert cells[2].group == "lr=1,g=8" and cells[7].overrides() == ["lr=2", "g=8", "seed=8"]
    assert len({c.name for c in cells}) == 8
    (only,) = sweep.plan_cells([], None)
    assert only.name == "base" and only.overrides() == []
    odd = sweep.plan_cells([("k", ["a b", "a/b"])], None)  # values that slug alike still get distinct dirs
    assert odd[0].name != odd[1].name and "/" not in odd[1].name


class FakeRunner:
    """Writes what run_recipe would (metrics.jsonl, summary.json) with a reward set by lr and seed."""

    def __init__(self, fail: set[str] = frozenset()):
        self.calls: list[tuple[float, int, bool]] = []
        self.fail = fail

    def __call__(self, recipe, out, *, resume=False):
        lr, seed = recipe.stages[0].learning_rate, recipe.seed
        self.calls.append((lr, seed, resume))
        out = Path(out)
        (out / "metrics.jsonl").write_text(json.dumps({"stage": 0, "stage_type": "grpo", "step": 1,
                                                       "reward": lr * 1e5 + seed / 10}) + "\n")
        if f"{lr:g},{seed}" in self.fail:
            raise RuntimeError("CUDA out of memory (simulated)")
        (out / "summary.json").write_text(json.dumps({"stages": [{"index": 0, "type": "grpo"}]}))


def test_sweep_runs_every_cell_skips_finished_ones_and_tabulates(recipe: Path, tmp_path: Path):
    out = tmp_path / "sw"
    grid = [("stages.0.learning_rate", ["1e-5", "2e-5"])]
    runner = FakeRunner()
    result = sweep.run_sweep(recipe, grid, [1, 2, 3], out, runner=runner)
    assert sorted(runner.calls) == sorted((lr, s, False) for lr in (1e-5, 2e-5) for s in (1, 2, 3))
    assert len(result.ran) == 6 and not result.failed and not result.skipped
    table = json.loads((out / "comparison.json").read_text())
    assert "Student's t" in table["ci_method"]
    g1 = next(g for g in table["groups"] if g["group"] == "stages.0.learning_rate=1e-5")
    est = mean_ci([1.1, 1.2, 1.3])
    reward = g1["metrics"]["0-grpo reward (last)"]
    assert g1["n_finished"] == 3 and reward["mean"] == pytest.approx(1.2)
    assert reward["ci95"] == [pytest.approx(est.low), pytest.approx(est.high)]
    md = (out / "comparison.md").read_text()
    assert "| 0-grpo reward (last) | 1.2 ± 0.2484 | 2.2 ± 0.2484 |" in md
    plan = json.loads((out / "sweep.json").read_text())
    assert [c["name"] for c in plan["cells"]][:2] == ["stages.0.learning_rate=1e-5,seed=1",
                                                      "stages.0.learning_rate=1e-5,seed=2"]
    again = sweep.run_sweep(recipe, grid, [1, 2, 3], out, runner=runner)
    assert len(runner.calls) == 6 and len(again.skipped) == 6  # nothing reran


def test_a_failing_cell_is_recorded_the_rest_run_and_a_rerun_resumes_it(recipe: Path, tmp_path: Path):
    out = tmp_path / "sw"
    grid = [("stages.0.learning_rate", ["1e-5", "2e-5"])]
    runner = FakeRunner(fail={"1e-05,2"})
    result = sweep.run_sweep(recipe, grid, [1, 2], out, runner=runner)
    assert result.failed == ["stages.0.learning_rate=1e-5,seed=2"] and len(result.ran) == 3
    cell = json.loads((out / "cells" / result.failed[0] / "cell.json").read_text())
    assert cell["status"] == "failed" and "CUDA out of memory" in cell["error"] and "Traceback" in cell["traceback"]
    table = json.loads((out / "comparison.json").read_text())
    g1 = next(g for g in table["groups"] if g["group"].endswith("1e-5"))
    assert g1["n_failed"] == 1 and g1["n_finished"] == 1 and g1["metrics"]["0-grpo reward (last)"]["ci95"] is None
    assert "Not finished" in (out / "comparison.md").read_text()
    fixed = FakeRunner()
    again = sweep.run_sweep(recipe, grid, [1, 2], out, runner=fixed)
    assert fixed.calls == [(1e-5, 2, True)]  # only the failed cell, resumed (it had logged a step)
    assert not again.failed


def test_bad_grid_value_fails_before_any_cell_runs(recipe: Path, tmp_path: Path):
    runner = FakeRunner()
    with pytest.raises(UserError, match=r"sweep cell 1 .*learning_rate"):
        sweep.run_sweep(recipe, [("stages.0.learning_rate", ["1e-5", "-1"])], None, tmp_path / "sw", runner=runner)
    assert runner.calls == [] and not (tmp_path / "sw").exists()


def test_cluster_modes_one_cell_then_collect(recipe: Path, tmp_path: Path):
    out = tmp_path / "sw"
    grid = [("stages.0.learning_rate", ["1e-5", "2e-5"])]
    runner = FakeRunner()
    for index in (3, 0):  # two array tasks, in any order
        res = sweep.run_sweep(recipe, grid, [1, 2], out, only=[index], runner=runner)
        assert res.comparison_md is None and not (out / "comparison.md").exists()
    assert sorted(runner.calls) == [(1e-5, 1, False), (2e-5, 2, False)]
    collected = sweep.run_sweep(recipe, grid, [1, 2], out, collect=True, runner=runner)
    assert len(runner.calls) == 2
    statuses = {c.name: c.status for c in collected.cells}
    assert list(statuses.values()).count("finished") == 2 and list(statuses.values()).count("pending") == 2
    with pytest.raises(UserError, match="cells 0..3"):
        sweep.run_sweep(recipe, grid, [1, 2], out, only=[4], runner=runner)


def test_is_finished_reads_the_summary(tmp_path: Path):
    assert not sweep.is_finished(tmp_path)
    (tmp_path / "summary.json").write_text("{torn")
    assert not sweep.is_finished(tmp_path)
    (tmp_path / "summary.json").write_text('{"finished": false}')
    assert not sweep.is_finished(tmp_path)
    (tmp_path / "summary.json").write_text('{"stages": []}')
    assert sweep.is_finished(tmp_path)


def test_cli_dry_run_lists_cells_and_runs_nothing(recipe: Path, tmp_path: Path):
    out = tmp_path / "sw"
    res = CliRunner().invoke(_app, ["sweep", str(recipe), "--grid", "stages.0.learning_rate=1e-5,2e-5",
                                    "--grid", "stages.0.num_generations=2,4", "--seeds", "1,2", "-o", str(out),
                                    "--dry-run"])
    assert res.exit_code == 0, res.output
    assert "8 cells" in res.output and "stages.0.num_generations=4" in res.output and not out.exists()
    bad = CliRunner().invoke(_app, ["sweep", str(recipe), "--grid", "stages.0.typo=1,2", "--dry-run"])
    assert isinstance(bad.exception, UserError) and "stages.0.typo: unknown key" in str(bad.exception)
    none = CliRunner().invoke(_app, ["sweep", str(recipe)])
    assert isinstance(none.exception, UserError) and "nothing to sweep" in str(none.exception)
