"""The quickstart, end to end.  The fast test checks the flow on the tiny model; the slow one is the real
quality run (embedded SmolLM2-135M, 100 held-out problems, ~15 min on an idle 2-core CPU)."""

from __future__ import annotations

import pytest

from polyreason.train.quickstart import heldout_problems, quickstart_recipe, run_quickstart


@pytest.mark.parametrize("language", ["en", "es"])
def test_heldout_problems_are_the_test_half_never_trained_or_tuned_on(language):
    from polyreason.data import load_rows

    recipe = quickstart_recipe(language=language)
    held = {p["problem"] for p in heldout_problems(recipe, 200)}
    train = {r["problem"] for r in load_rows(recipe.data.train, split="train", kind="rl")}
    sft = {r["messages"][1]["content"] for r in load_rows(recipe.data.sft, split="train", kind="sft")}
    spec = recipe.data.train.split(":")
    val = {r["problem"] for r in load_rows(":".join([spec[0], "500", *spec[2:]]), split="val", kind="rl")}
    assert len(held) == 200 and not held & train and not held & sft and not held & val
    assert all(p["language"] == language for p in heldout_problems(recipe, 5))


@pytest.mark.slow
def test_quickstart_reaches_the_target(tmp_path):
    recipe = quickstart_recipe(output_dir=str(tmp_path / "qs"))
    result = run_quickstart(recipe, eval_problems=100)
    labels = [s["label"] for s in result.scores]
    assert labels == ["base", "after sft", "after grpo"]
    assert result.gain("after grpo", "base") >= 0.10  # the target: +10 points held-out accuracy
    assert result.gain("after grpo", "after sft") >= -0.05  # RL must not undo SFT (its own gain is reported)


@pytest.mark.usefixtures("one_torch_thread")
def test_heldout_mean_reward_follows_the_training_sum_rule():
    """A problem no reward can score (unparseable gold, accuracy only) has no total and is left out of the mean,
    as TRL leaves it out of its logged reward; with format in the sum it counts, accuracy left out."""
    from polyreason.models import load_model
    from polyreason.train.heldout import score_heldout

    model, tok = load_model("tiny-random", device="cpu")
    problems = [{"problem": "What is 1 + 1?", "answer": "$"}, {"problem": "What is 2 + 2?", "answer": "$"}]
    only_accuracy, _ = score_heldout(model, tok, problems, label="x", reward_weights={"accuracy": 1.0},
                                     max_new_tokens=4)
    assert only_accuracy.mean_reward is None
    with_format, _ = score_heldout(model, tok, problems, label="x", reward_weights={"accuracy": 1.0, "format": 2.0},
                                   max_new_tokens=4)
    assert with_format.mean_reward is not None and 0.0 <= with_format.mean_reward <= 2.0  # counted, not skipped


def test_quickstart_scores_heldout_with_the_rewards_training_uses():
    from polyreason.rewards import suite_from_specs

    recipe = quickstart_recipe(["rewards.cosine=1.0"])
    specs, budget = recipe.trained_rewards()
    weights, params = suite_from_specs(specs, budget)
    assert budget == recipe.stages[1].max_completion_length and params["cosine"] == {"max_len": budget}
    assert weights == {"accuracy": 1.0, "format": 0.5, "cosine": 1.0}


@pytest.mark.usefixtures("one_torch_thread")
def test_spanish_quickstart_end_to_end_on_the_tiny_model(tmp_path):
    """`polyreason quickstart --language es` runs base → SFT → GRPO with the card's composite reward and
    prints the per-stage language, naturalness and repetition columns in 80 columns."""
    import json
    import os
    import subprocess
    import sys

    out = tmp_path / "qs"
    sets = ["model.spec=tiny-random", "stages.0.max_steps=1", "stages.1.max_steps=1",
            "stages.1.trainable_layers=1", "stages.1.max_completion_length=16"]
    cmd = [sys.executable, "-m", "polyreason.cli", "quickstart", "--language", "es", "--eval-problems", "10",
           "-o", str(out)] + [arg for s in sets for arg in ("--set", s)]
    env = {**os.environ, "COLUMNS": "80", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    header = next(line for line in lines if "nat/100" in line)
    assert all(col in header for col in ("acc", "format", "lang", "rep", "reward"))
    assert max(len(line) for line in lines if not line.startswith("files:")) <= 80
    assert any(line.startswith("GRPO's own gain: accuracy") for line in lines)
    result = json.loads((out / "quickstart.json").read_text(encoding="utf-8"))
    assert [s["label"] for s in result["scores"]] == ["base", "after sft", "after grpo"]
    assert all(0.0 <= s["language_compliance"] <= 1.0 and s["n"] == 10 for s in result["scores"])
    assert result["peak_rss_mb"] > 0
    recipe = json.loads(json.dumps(__import__("yaml").safe_load((out / "recipe.yaml").read_text())))
    assert recipe["language"] == "es" and set(recipe["rewards"]) == {"accuracy", "language", "format",
                                                                      "repetition", "naturalness"}
