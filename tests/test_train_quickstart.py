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
