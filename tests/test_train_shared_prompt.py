"""Shared-prompt GRPO log-probs: the same numbers and gradients as TRL's full forward, prompts run once."""

from __future__ import annotations

import pytest
import torch

from polyreason.config import recipe_from_dict
from polyreason.train.shared_prompt import prompt_groups, regroup, supports_shared_prompt

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _trainer(tmp_path, **stage):
    from polyreason.train.runner import stage_context
    from polyreason.train.stages import grpo
    from polyreason.train.stages.training import load_for_training

    recipe = recipe_from_dict({
        "model": "tiny-random", "seed": 3, "data": {"train": "synthetic:64:en:easy:add_sub"},
        "rewards": {"accuracy": 1.0},
        "stages": [{"type": "grpo", "preset": "dr_grpo", "max_steps": 1, "per_device_batch_size": 8,
                    "num_generations": 4, "max_completion_length": 12, "save_steps": 100, **stage}],
        "tracking": {"log_completions": False},
    })
    model, tok = load_for_training(recipe, recipe.model.spec)
    return grpo.build_trainer(stage_context(recipe, 0, tmp_path), model, tok)


def _batch():
    """Two distinct left-padded prompts, each with three right-padded completions of different lengths."""
    prompts = torch.tensor([[0, 0, 5, 6, 7], [9, 8, 7, 6, 5]])
    prompt_mask = (prompts != 0).long()
    completions = torch.tensor([[11, 12, 13, 2], [14, 15, 0, 0], [16, 0, 0, 0],
                                [21, 22, 23, 24], [25, 26, 27, 0], [28, 29, 0, 0]])
    completion_mask = (completions != 0).long()
    rows = torch.tensor([0, 0, 0, 1, 1, 1])
    input_ids = torch.cat([prompts[rows], completions], 1)
    mask = torch.cat([prompt_mask[rows], completion_mask], 1)
    return input_ids, mask, completions.size(1), completion_mask


def test_logps_entropies_and_gradients_match_trls_full_forward(tmp_path):
    trainer = _trainer(tmp_path)
    model = trainer.model
    input_ids, mask, keep, completion_mask = _batch()
    assert trainer._shared_prompt_model(model)

    def run(shared: bool):
        model.zero_grad()
        trainer.shared_prompt = shared
        logps, entropies, _ = trainer._get_per_token_logps_and_entropies(model, input_ids, mask, keep,
                                                                         compute_entropy=True)
        ((logps * completion_mask).sum() + (entropies * completion_mask).sum()).backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        return logps.detach() * completion_mask, entropies.detach() * completion_mask, grads

    ours, theirs = run(True), run(False)
    torch.testing.assert_close(ours[0], theirs[0], atol=2e-5, rtol=1e-4)
    torch.testing.assert_close(ours[1], theirs[1], atol=2e-5, rtol=1e-4)
    assert ours[2].keys() == theirs[2].keys() and ours[2]
    for name in ours[2]:
        torch.testing.assert_close(ours[2][name], theirs[2][name], atol=1e-5, rtol=1e-3, msg=name)


def test_prompt_groups_find_repeated_prompts_only():
    ids = torch.tensor([[0, 1, 2], [0, 1, 2], [3, 4, 5], [7, 1, 2]])
    mask = torch.tensor([[0, 1, 1], [0, 1, 1], [1, 1, 1], [0, 1, 1]])  # row 3 differs only under padding
    first, inverse = prompt_groups(ids, mask)
    assert torch.equal(ids[first][inverse].masked_fill(mask == 0, 0), ids.masked_fill(mask == 0, 0))
    assert len(first) == 2 and inverse[0] == inverse[1] == inverse[3] != inverse[2]
    assert prompt_groups(ids[1:3], mask[1:3]) is None


def test_regroup_keeps_every_row_and_puts_a_prompts_rows_together():
    g = torch.Generator().manual_seed(0)
    prompts = torch.tensor([[1, 1], [2, 2], [3, 3], [4, 4]]).repeat_interleave(4, 0)
    perm = torch.randperm(16, generator=g)
    whole = {"prompt_ids": prompts[perm], "prompt_mask": torch.ones(16, 2, dtype=torch.long),
             "advantages": torch.arange(16.0)[perm], "num_items_in_batch": torch.tensor(40), "old": None}
    batches = [{k: (v[i * 4:(i + 1) * 4] if v is not None and v.ndim else v) for k, v in whole.items()} for i in range(4)]
    out = regroup(batches)
    assert len(out) == 4 and all(b["num_items_in_batch"] == 40 and b["old"] is None for b in out)
    assert all(len({tuple(r.tolist()) for r in b["prompt_ids"]}) == 1 for b in out)  # one prompt per micro-batch
    assert sorted(torch.cat([b["advantages"] for b in out]).tolist()) == list(range(16))


def test_models_with_logit_transforms_use_trls_path():
    from polyreason.models import load_model

    model, _ = load_model("tiny-random", device="cpu")
    assert supports_shared_prompt(model)
    model.config.final_logit_softcapping = 30.0
    assert not supports_shared_prompt(model)


def test_a_grpo_step_updates_the_weights_the_same_with_and_without_sharing(monkeypatch, tiny_grpo_run,
                                                                           tiny_start_weights):
    from polyreason.train import shared_prompt

    calls = []
    real = shared_prompt.shared_prompt_logps
    monkeypatch.setattr(shared_prompt, "shared_prompt_logps", lambda *a, **k: calls.append(1) or real(*a, **k))
    stage = {"max_steps": 1, "gradient_accumulation_steps": 2, "max_completion_length": 10, "learning_rate": 0.5,
             "optim": "sgd", "temperature": 1.0}
    rewards = {"format": 1.0, "accuracy": 1.0}
    on, _ = tiny_grpo_run(stage, _random_reward, rewards, shared_prompt=True)
    assert len(calls) == 2  # both micro-batches (one prompt × G each after regrouping) went the shared way
    off, _ = tiny_grpo_run(stage, _random_reward, rewards, shared_prompt=False)
    assert len(calls) == 2
    start = tiny_start_weights
    moved = max((on[n] - start[n]).abs().max().item() for n in on)
    assert moved > 1e-4  # the step did something (the stand-in reward gives every group variance)
    for name in on:
        torch.testing.assert_close(on[name], off[name], atol=1e-5, rtol=1e-4, msg=name)


def _random_reward(name, params):
    import hashlib

    def reward(prompts, completions, **kwargs):
        texts = [c[0]["content"] if isinstance(c, list) else c for c in completions]
        return [hashlib.sha256(t.encode()).digest()[0] / 255 for t in texts]

    reward.__name__ = name
    return reward
