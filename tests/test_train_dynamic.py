"""Dynamic sampling: zero-variance groups are detected, dropped and refilled inside a real TRL GRPO step."""

from __future__ import annotations

import hashlib

import pytest
import torch

from polyreason.config import recipe_from_dict
from polyreason.errors import UserError
from polyreason.files import read_jsonl
from polyreason.train import run_recipe
from polyreason.train.dynamic import group_has_signal, merge_scored_batches, select_rows

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_group_has_signal_marks_whole_groups():
    rewards = torch.tensor([1.0, 1.0, 1.0, 0.0, 0.5, 0.5, 0.5, 0.5, float("nan"), 2.0, 2.0, 2.0])
    mask = group_has_signal(rewards, 4)
    assert mask.tolist() == [True] * 4 + [False] * 4 + [False] * 4  # NaN rows are ignored, not "different"


def test_merge_repads_prompts_left_and_completions_right():
    a = {"prompt_ids": torch.tensor([[5, 6]]), "prompt_mask": torch.tensor([[1, 1]]),
         "completion_ids": torch.tensor([[7]]), "completion_mask": torch.tensor([[1]]),
         "advantages": torch.tensor([0.5]), "num_items_in_batch": torch.tensor(1)}
    b = {"prompt_ids": torch.tensor([[1, 2, 3]]), "prompt_mask": torch.tensor([[1, 1, 1]]),
         "completion_ids": torch.tensor([[8, 9, 4]]), "completion_mask": torch.tensor([[1, 1, 0]]),
         "advantages": torch.tensor([-0.5]), "num_items_in_batch": torch.tensor(2)}
    merged = merge_scored_batches([a, b], pad_token_id=0)
    assert merged["prompt_ids"].tolist() == [[0, 5, 6], [1, 2, 3]]
    assert merged["prompt_mask"].tolist() == [[0, 1, 1], [1, 1, 1]]
    assert merged["completion_ids"].tolist() == [[7, 0, 0], [8, 9, 4]]
    assert merged["completion_mask"].tolist() == [[1, 0, 0], [1, 1, 0]]
    assert merged["advantages"].tolist() == [0.5, -0.5] and "num_items_in_batch" not in merged
    picked = select_rows(merged, torch.tensor([0]))
    assert picked["completion_ids"].tolist() == [[7]]  # trailing padding columns trimmed


def parity_reward(name, params):
    """Stand-in reward: every completion of an even-answer prompt gets 0.5 (a zero-variance group); odd-answer
    prompts get a pseudo-random reward per completion (a group with signal)."""

    def reward(prompts, completions, answer, **kwargs):
        out = []
        for completion, gold in zip(completions, answer, strict=True):
            if int(gold) % 2 == 0:
                out.append(0.5)
            else:
                text = completion[0]["content"] if isinstance(completion, list) else completion
                out.append(hashlib.sha256(text.encode()).digest()[0] / 255)
        return out

    reward.__name__ = name
    return reward


def noisy_reward(name, params):
    """``accuracy``: :func:`parity_reward`; any other name: a small pseudo-random score for every completion, so
    every group's weighted sum differs (like a language probability in a composite reward)."""
    if name == "accuracy":
        return parity_reward(name, params)

    def reward(prompts, completions, **kwargs):
        return [hashlib.sha256(repr(c).encode()).digest()[1] / 2550 for c in completions]

    reward.__name__ = name
    return reward


def _run(tmp_path, dynamic, rewards=None, signal=None, factory=parity_reward):
    # the non-dynamic path is exercised by every recipe smoke run
    stage = {"type": "grpo", "preset": "grpo", "dynamic_sampling": dynamic, "dynamic_sampling_max_rounds": 8,
             "max_steps": 2, "per_device_batch_size": 8, "num_generations": 4, "max_completion_length": 6,
             "save_steps": 100, "learning_rate": 1e-4}
    if signal is not None:
        stage["dynamic_sampling_rewards"] = signal
    recipe = recipe_from_dict({
        "model": "tiny-random", "seed": 1,
        "data": {"train": "synthetic:64:en:easy:add_sub"},
        "rewards": rewards or {"accuracy": 1.0},
        "stages": [stage],
    })
    out = tmp_path / f"dyn-{dynamic}-{signal}"
    run_recipe(recipe, out, reward_factory=factory)
    return list(read_jsonl(out / "metrics.jsonl", tolerant=True))


def test_dynamic_sampling_refills_zero_variance_groups(tmp_path):
    rows = _run(tmp_path, True)
    assert [r["step"] for r in rows] == [1, 2]
    for r in rows:
        assert r["dynamic_sampling/useful_frac"] == 1.0  # every kept group has reward variance
        assert r["dynamic_sampling/useful_frac_first"] <= r["dynamic_sampling/useful_frac"]
    assert any(r["dynamic_sampling/rounds"] > 0 for r in rows)  # even-answer prompts were dropped and refilled
    assert all(r["loss"] is not None for r in rows)


def test_dynamic_sampling_can_judge_groups_by_accuracy_alone(tmp_path):
    """A continuous second reward makes every group's sum differ: by default nothing is dropped; with
    ``dynamic_sampling_rewards: [accuracy]`` the all-equal-accuracy groups are dropped and refilled."""
    rewards = {"accuracy": 1.0, "language": 0.2}
    summed = _run(tmp_path, True, rewards, factory=noisy_reward)
    assert all(r["dynamic_sampling/useful_frac_first"] == 1.0 and r["dynamic_sampling/rounds"] == 0 for r in summed)
    by_accuracy = _run(tmp_path, True, rewards, signal=["accuracy"], factory=noisy_reward)
    assert any(r["dynamic_sampling/useful_frac_first"] < 1.0 for r in by_accuracy)
    assert any(r["dynamic_sampling/rounds"] > 0 for r in by_accuracy)
    assert all(r["dynamic_sampling/useful_frac"] == 1.0 for r in by_accuracy)


@pytest.mark.parametrize("name, rewards", [("langauge", {"accuracy": 1.0, "language": 0.2}),
                                           ("language", {"accuracy": 1.0, "language": 0.0})])
def test_dynamic_sampling_rewards_must_name_a_weighted_reward(name, rewards):
    stage = {"type": "grpo", "dynamic_sampling": True, "dynamic_sampling_rewards": [name]}
    with pytest.raises(UserError, match=f"dynamic_sampling_rewards names '{name}'.*fix"):
        recipe_from_dict({"model": "tiny-random", "rewards": rewards, "stages": [stage]})
