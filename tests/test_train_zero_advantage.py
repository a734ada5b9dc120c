"""Zero-advantage micro-batches: grouped last and skipped, with the same update as training on them."""

from __future__ import annotations

import hashlib

import pytest
import torch

from polyreason.train.shared_prompt import regroup

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_regroup_useful_first_puts_zero_advantage_prompts_in_the_last_micro_batches():
    prompts = torch.tensor([[1, 1], [2, 2], [3, 3], [4, 4]]).repeat_interleave(4, 0)
    advantages = torch.tensor([0.0, 0, 0, 0, 1, -1, 0, 0, 0, 0, 0, 0, 0.5, -0.5, 0.5, -0.5])
    perm = torch.randperm(16, generator=torch.Generator().manual_seed(1))
    whole = {"prompt_ids": prompts[perm], "prompt_mask": torch.ones(16, 2, dtype=torch.long),
             "advantages": advantages[perm], "row": perm}
    batches = [{k: v[i * 4:(i + 1) * 4] for k, v in whole.items()} for i in range(4)]
    out = regroup(batches, useful_first=True)
    firsts = [int(b["prompt_ids"][0, 0]) for b in out]
    assert firsts == [2, 4, 1, 3]  # prompts 2 and 4 have signal (even prompt 2's zero rows come along)
    assert [bool(b["advantages"].any()) for b in out] == [True, True, False, False]
    for b in out:  # rows moved in unison
        assert torch.equal(b["prompt_ids"], prompts[b["row"]]) and torch.equal(b["advantages"], advantages[b["row"]])
    assert [int(b["prompt_ids"][0, 0]) for b in regroup(batches)] == [1, 2, 3, 4]  # default: prompt order only


def _half_constant_reward(name, params):
    """Rewards vary within a group for about half the prompts and are constant (zero advantage) for the rest."""

    def reward(prompts, completions, **kwargs):
        out = []
        for prompt, completion in zip(prompts, completions, strict=True):
            p = prompt[-1]["content"] if isinstance(prompt, list) else prompt
            c = completion[0]["content"] if isinstance(completion, list) else completion
            varies = hashlib.sha256(p.encode()).digest()[0] % 2
            out.append(hashlib.sha256(c.encode()).digest()[0] / 255 if varies else 0.5)
        return out

    reward.__name__ = name
    return reward


def _constant_reward(name, params):
    def reward(prompts, completions, **kwargs):
        return [0.5] * len(completions)

    reward.__name__ = name
    return reward


def test_a_step_with_every_micro_batch_skipped_still_applies_weight_decay(tiny_grpo_run, tiny_start_weights):
    """All groups have equal rewards: every micro-batch is skipped, yet AdamW's weight decay must act on every
    trained weight as it does after a full zero-gradient backward (a weight without a gradient is left alone)."""
    stage = {"max_steps": 1, "gradient_accumulation_steps": 2, "max_completion_length": 6, "learning_rate": 0.1,
             "weight_decay": 0.5, "trainable_layers": 1}
    on, _ = tiny_grpo_run(stage, _constant_reward, skip_zero_advantage=True)
    off, _ = tiny_grpo_run(stage, _constant_reward, skip_zero_advantage=False)
    start = tiny_start_weights
    decayed = [n for n in start if (off[n] - start[n]).abs().max() > 1e-4]
    assert len(decayed) > 1  # weight decay moved the trained weights without skipping
    for name in start:
        torch.testing.assert_close(on[name], off[name], msg=name)


def test_skipping_zero_advantage_micro_batches_gives_the_same_update(tiny_grpo_run, tiny_start_weights):
    forwards: list[int] = []
    stage = {"max_steps": 2, "gradient_accumulation_steps": 4, "max_completion_length": 10, "learning_rate": 0.5,
             "optim": "sgd", "temperature": 1.0}
    on, metrics = tiny_grpo_run(stage, _half_constant_reward, on_compute_loss=lambda: forwards.append(1),
                                skip_zero_advantage=True)
    off, _ = tiny_grpo_run(stage, _half_constant_reward, on_compute_loss=lambda: forwards.append(0),
                           skip_zero_advantage=False)
    assert forwards.count(0) == 8  # without skipping: 2 steps × 4 micro-batches
    assert 0 < forwards.count(1) < 8  # some micro-batches skipped, not all
    logged = [r["zero_advantage/skipped_frac"] for r in map(__import__("json").loads, metrics.read_text().splitlines())
              if "zero_advantage/skipped_frac" in r]
    assert logged and sum(logged) / len(logged) == pytest.approx((8 - forwards.count(1)) / 8)
    start = tiny_start_weights
    assert max((on[n] - start[n]).abs().max().item() for n in on) > 1e-4  # the useful groups moved the weights
    for name in on:
        torch.testing.assert_close(on[name], off[name], atol=1e-5, rtol=1e-4, msg=name)
