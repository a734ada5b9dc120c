"""The quickstart, end to end.  The fast test checks the flow on the tiny model; the slow one is the real
quality run (embedded SmolLM2-135M, 100 held-out problems, ~15 min on an idle 2-core CPU)."""

from __future__ import annotations

import pytest

from polyreason.train.quickstart import heldout_problems, quickstart_recipe, run_quickstart


def test_heldout_problems_never_meet_the_training_stream():
    from polyreason.data import load_rows

    held = {p["problem"] for p in heldout_problems(100, seed=42)}
    train = {r["problem"] for r in load_rows(quickstart_recipe().data.train, split="train", kind="rl")}
    assert len(held) == 100 and not held & train


@pytest.mark.slow
def test_quickstart_reaches_the_target(tmp_path):
    recipe = quickstart_recipe(output_dir=str(tmp_path / "qs"))
    result = run_quickstart(recipe, eval_problems=100)
    labels = [s["label"] for s in result.scores]
    assert labels == ["base", "after sft", "after grpo"]
    assert result.gain("after grpo", "base") >= 0.10  # the target: +10 points held-out accuracy
    assert result.gain("after grpo", "after sft") >= -0.05  # RL must not undo SFT (its own gain is reported)
