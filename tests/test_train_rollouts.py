"""GRPO rollouts through polyreason's compact decoder, top-block training, and held-out learning curves."""

from __future__ import annotations

import pytest
import torch

from polyreason.config import recipe_from_dict
from polyreason.errors import UserError
from polyreason.files import read_jsonl
from polyreason.train import run_recipe

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _grpo_recipe(**stage):
    return {
        "model": "tiny-random", "seed": 3,
        "data": {"train": "synthetic:64:en:easy:add_sub"},
        "rewards": {"accuracy": 1.0, "format": 0.5},
        "stages": [{"type": "grpo", "preset": "dr_grpo", "max_steps": 1, "per_device_batch_size": 8,
                    "num_generations": 4, "max_completion_length": 12, "save_steps": 100,
                    "learning_rate": 1e-4, **stage}],
        "tracking": {"log_completions": False},
    }


def _trainer(tmp_path, **stage):
    """A PolyGRPOTrainer built the way run_recipe builds it (no training)."""
    from polyreason.train.runner import stage_context
    from polyreason.train.stages import grpo
    from polyreason.train.stages.training import load_for_training

    recipe = recipe_from_dict(_grpo_recipe(**stage))
    model, tok = load_for_training(recipe, recipe.model.spec)
    return grpo.build_trainer(stage_context(recipe, 0, tmp_path), model, tok), tok


def test_compact_rollouts_give_the_tokens_trl_generate_gives(tmp_path):
    # At a vanishing temperature both samplers pick the argmax, so the token ids must be identical.
    trainer, tok = _trainer(tmp_path, temperature=1e-6)
    prompts = [tok("<|im_start|>user\nWhat is 12 + 7?<|im_end|>\n<|im_start|>assistant\n")["input_ids"],
               tok("<|im_start|>user\nWhat is 3?<|im_end|>\n<|im_start|>assistant\n")["input_ids"]] * 2
    assert trainer._compact_rollouts_apply(None, {})
    ours, _ = trainer._generate_single_turn(prompts, None, {}, 2)
    theirs, _ = super(type(trainer), trainer)._generate_single_turn(prompts, None, {}, 2)
    assert ours == theirs
    assert all(0 < len(ids) <= 12 for ids in ours)


def test_compact_rollouts_step_aside_for_settings_they_do_not_reproduce(tmp_path):
    trainer, _ = _trainer(tmp_path)
    assert trainer._compact_rollouts_apply(None, {})
    trainer.top_k = 5
    assert not trainer._compact_rollouts_apply(None, {})
    trainer.top_k, trainer.repetition_penalty = 0, 1.1
    assert not trainer._compact_rollouts_apply(None, {})


def test_trainable_layers_freezes_embeddings_and_lower_blocks(tmp_path):
    from polyreason.train.stages.training import load_for_training

    recipe = recipe_from_dict({"model": "tiny-random", "seed": 3, "data": {"sft": "synthetic:8:en:easy:add_sub"},
                               "stages": [{"type": "sft", "max_steps": 1, "per_device_batch_size": 4,
                                           "learning_rate": 1e-3, "trainable_layers": 0.5, "save_steps": 100}]})
    before, _ = load_for_training(recipe, recipe.model.spec)
    run_recipe(recipe, tmp_path / "run")
    after, _ = load_for_training(recipe, str(tmp_path / "run" / "model"))
    b, a = dict(before.named_parameters()), dict(after.named_parameters())
    changed = {name for name in b if not torch.equal(b[name], a[name])}
    assert changed and all(name.startswith(("model.layers.1.", "model.norm.")) for name in changed)
    assert not any(name.startswith(("model.embed_tokens", "model.layers.0.")) for name in changed)


def test_trainable_layers_beyond_the_model_is_a_user_error(tmp_path):
    recipe = recipe_from_dict(_grpo_recipe(trainable_layers=3))  # tiny-random has 2 blocks
    with pytest.raises(UserError, match="2 decoder blocks"):
        run_recipe(recipe, tmp_path / "run")


def test_trainable_layers_and_lora_conflict():
    with pytest.raises(UserError, match="only one"):
        recipe_from_dict(_grpo_recipe(trainable_layers=1, lora={"r": 4}))


def test_heldout_curve_is_logged_at_start_every_n_steps_and_at_the_end(tmp_path):
    raw = _grpo_recipe(max_steps=3)
    raw["tracking"]["heldout"] = {"every": 2, "problems": 5, "split": "val"}
    run_recipe(recipe_from_dict(raw), tmp_path / "run")
    rows = [r for r in read_jsonl(tmp_path / "run" / "metrics.jsonl", tolerant=True) if "heldout/accuracy" in r]
    assert [r["step"] for r in rows] == [0, 2, 3]
    assert all(r["heldout/n"] == 5 and 0 <= r["heldout/accuracy"] <= 1 for r in rows)
    times = [r["heldout/train_seconds"] for r in rows]
    assert times[0] < times[1] < times[2]  # training time excludes the evaluations themselves


def test_heldout_problems_come_from_the_validation_half(tmp_path):
    from polyreason.data import load_rows

    val = {r["id"] for r in load_rows("synthetic:300:en:easy:add_sub", split="val", kind="rl")}
    test = {r["id"] for r in load_rows("synthetic:300:en:easy:add_sub", split="test", kind="rl")}
    train = {r["id"] for r in load_rows("synthetic:3000:en:easy:add_sub", split="train", kind="rl")}
    assert len(val) == len(test) == 300
    assert not (val & test) and not (val & train) and not (test & train)


def test_trainable_layers_count_or_fraction():
    from polyreason.train.freeze import block_count

    assert [block_count(30, 15), block_count(30, 0.5), block_count(2, 0.5), block_count(30, 0.01)] == [15, 15, 1, 1]
    with pytest.raises(UserError, match="fraction must be < 1"):
        recipe_from_dict(_grpo_recipe(trainable_layers=1.5))
