"""End to end: a real 2×2 sweep (2 learning rates × 2 seeds) on the tiny random model, then its HTML report
loaded in a real headless Chromium: no console errors, every image decoded, a screenshot saved.

Set POLYREASON_SCREENSHOT_DIR to keep the screenshot (it is written to the test's tmp dir otherwise).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import chromium_check
from polyreason.cli import _app

RECIPE = """
name: sweep-e2e
model: tiny-random
data:
  train: synthetic:32:en:easy:add_sub
rewards:
  accuracy: 1.0
  format: 0.5
stages:
  - type: grpo
    preset: dr_grpo
    max_steps: 2
    per_device_batch_size: 4
    num_generations: 2
    max_prompt_length: 64
    max_completion_length: 8
    save_steps: 100
tracking:
  log_completions: false
"""
GRID = ["--grid", "stages.0.learning_rate=1e-5,1e-4", "--seeds", "1,2"]


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("sweep")
    recipe = root / "recipe.yaml"
    recipe.write_text(RECIPE)
    out = root / "sw"
    first = CliRunner().invoke(_app, ["sweep", str(recipe), *GRID, "-o", str(out), "--price-per-hour", "2.5"])
    second = CliRunner().invoke(_app, ["sweep", str(recipe), *GRID, "-o", str(out), "--price-per-hour", "2.5"])
    torch.set_num_threads(threads)
    return root, recipe, out, first, second


def test_sweep_runs_four_cells_with_costs_and_a_comparison_table(swept):
    _, _, out, first, second = swept
    assert first.exit_code == 0, first.output
    assert first.output.count("finished cell") == 4
    assert second.exit_code == 0 and second.output.count("already finished") == 4  # rerun: nothing ran
    cells = sorted(p.name for p in (out / "cells").iterdir())
    assert cells == ["stages.0.learning_rate=1e-4,seed=1", "stages.0.learning_rate=1e-4,seed=2",
                     "stages.0.learning_rate=1e-5,seed=1", "stages.0.learning_rate=1e-5,seed=2"]
    for name in cells:
        summary = json.loads((out / "cells" / name / "summary.json").read_text())
        total = summary["cost"]["total"]
        assert total["wall_s"] > 0 and total["tokens_trained"] > 0 and total["tokens_generated"] > 0
        assert total["cost_estimate"] == pytest.approx(total["device_hours"] * 2.5, abs=1e-4)
        assert json.loads((out / "cells" / name / "cell.json").read_text())["status"] == "finished"
    table = json.loads((out / "comparison.json").read_text())
    assert [g["n_finished"] for g in table["groups"]] == [2, 2]
    reward = table["groups"][0]["metrics"]["0-grpo reward (last)"]
    assert reward["n"] == 2 and len(reward["values"]) == 2 and reward["ci95"][0] <= reward["mean"] <= reward["ci95"][1]
    md = (out / "comparison.md").read_text()
    assert "| finished runs | 2 | 2 |" in md and "| cost device-hours |" in md


def test_the_sweep_report_renders_in_headless_chromium(swept):
    reason = chromium_check.missing()
    if reason:
        pytest.skip(reason)
    root, _, out, _, _ = swept
    html = root / "report.html"
    res = CliRunner().invoke(_app, ["report", str(out), "-o", str(html)])
    assert res.exit_code == 0, res.output
    page = html.read_text()
    n_img = page.count("<img")
    assert n_img >= 4 * 6 + 6  # per cell ≥ 6 curves (no KL at beta 0), plus the overlays
    shot = root / "report.png"
    seen = chromium_check.check_page(html.as_uri(), shot)
    errors = [e for e in seen["console"] if e.get("level") in ("SEVERE", "WARNING")]
    assert errors == []
    assert len(seen["images"]) == n_img
    bad = [i for i in seen["images"] if not (i["ok"] and i["width"] > 0 and i["height"] > 0)]
    assert bad == []
    assert seen["title"].startswith("polyreason report")
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 20_000
    keep = os.environ.get("POLYREASON_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / "sweep-report.png")
        shutil.copy(html, Path(keep) / "sweep-report.html")


def test_the_browser_check_catches_console_errors_and_broken_images(tmp_path: Path):
    """The check above can fail: a page with a console error and an undecodable image is reported."""
    reason = chromium_check.missing()
    if reason:
        pytest.skip(reason)
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><head><link rel="icon" href="data:,"><title>bad</title></head><body>'
                    '<img src="data:image/png;base64,AAAA" alt="broken">'
                    '<script>console.error("boom from the page")</script></body></html>')
    seen = chromium_check.check_page(page.as_uri(), tmp_path / "bad.png")
    assert any("boom from the page" in e["message"] and e["level"] == "SEVERE" for e in seen["console"])
    assert [i["ok"] for i in seen["images"]] == [False] and seen["images"][0]["width"] == 0


def test_a_failing_cell_is_recorded_and_the_exit_code_is_1(tmp_path: Path, one_torch_thread):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(RECIPE.replace("max_steps: 2", "max_steps: 1"))
    out = tmp_path / "sw"
    # the second value passes validation (a hub id) but cannot load offline: the cell fails at run time
    res = CliRunner().invoke(_app, ["sweep", str(recipe), "--grid",
                                    "data.train=synthetic:16:en:easy:add_sub,polyreason-test/no-such-dataset",
                                    "-o", str(out)])
    assert res.exit_code == 1, res.output
    assert "1 cell(s) failed" in res.output and "finished cell 1/2" in res.output
    failed = json.loads((out / "cells" / "data.train=polyreason-test_no-such-dataset" / "cell.json").read_text())
    assert failed["status"] == "failed" and failed["error"]
    assert re.search(r"cells failed \| 0 \| 1 \|", (out / "comparison.md").read_text())
