"""The final model is saved through the trainer: the trained weights (LoRA merged), the tokenizer, atomically."""

from __future__ import annotations

import copy

import pytest
import torch

from polyreason.config import recipe_from_dict
from polyreason.models import resolve_model_path
from polyreason.train import args as targs
from polyreason.train.datasets import sft_records, to_dataset
from polyreason.train.stages.training import load_for_training, save_final

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _trained_sft_trainer(tmp_path, lora):
    from trl import SFTTrainer

    from polyreason.data import generate_sft_rows

    stage = {"type": "sft", "max_steps": 1, "per_device_batch_size": 2, "max_length": 96, "learning_rate": 0.05,
             "lr_scheduler": "constant", "save_steps": 1000}
    if lora:
        stage["lora"] = {"r": 4, "alpha": 8, "dropout": 0.0}
    recipe = recipe_from_dict({"model": "tiny-random", "stages": [stage]})
    model, tokenizer = load_for_training(recipe, "tiny-random")
    rows = list(generate_sft_rows(4, seed=1, language="en", difficulty="easy", kinds=["add_sub"]))
    config = targs.build_sft_config(recipe, recipe.stages[0], str(tmp_path / "stage"))
    peft = None
    if lora:
        from peft import LoraConfig

        peft = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM")
    tokenizer.padding_side = "right"
    trainer = SFTTrainer(model=model, args=config, train_dataset=to_dataset(sft_records(rows, tokenizer)),
                         processing_class=tokenizer, peft_config=peft)
    trainer.train()
    return trainer, tokenizer


@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
def test_saved_model_is_the_trained_model(tmp_path, monkeypatch, lora):
    import huggingface_hub
    from transformers import AutoModelForCausalLM, AutoTokenizer

    trainer, tokenizer = _trained_sft_trainer(tmp_path, lora)
    pushed = []
    monkeypatch.setattr(huggingface_hub, "upload_folder", lambda **kw: pushed.append(kw))
    trainer.args.push_to_hub, trainer.hub_model_id = True, "me/tiny"  # as TRL leaves them after creating the repo
    live = copy.deepcopy(trainer.accelerator.unwrap_model(trainer.model))
    expected = {k: v.detach().clone() for k, v in (live.merge_and_unload() if lora else live).state_dict().items()}
    target = tmp_path / "final"
    target.mkdir()
    (target / "stale.txt").write_text("from an earlier attempt")  # replaced whole, not merged into
    save_final(trainer, tokenizer, target)
    assert not (tmp_path / "final.tmp").exists()
    assert not (target / "stale.txt").exists() and not (target / "adapter_config.json").exists()
    assert sorted(p.name for p in target.glob("*.safetensors")) == ["model.safetensors"]
    reloaded = AutoModelForCausalLM.from_pretrained(target).state_dict()
    base = AutoModelForCausalLM.from_pretrained(resolve_model_path("tiny-random")).state_dict()
    assert set(reloaded) == set(expected)
    moved = max((expected[k] - base[k]).abs().max().item() for k in expected if k in base)
    assert moved > 1e-3  # the step changed the weights, so equality below means the trained ones were saved
    for name, tensor in expected.items():
        torch.testing.assert_close(reloaded[name], tensor, rtol=0, atol=1e-6, msg=name)
    assert AutoTokenizer.from_pretrained(target).padding_side == "left"  # ready for generation
    assert [(p["repo_id"], p["folder_path"]) for p in pushed] == [("me/tiny", str(target))]  # the merged model


def test_a_save_that_produced_no_weights_is_an_error(tmp_path):
    from polyreason.errors import UserError
    from polyreason.train.stages.training import _check_saved

    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(UserError, match="zero3_save_16bit_model"):
        _check_saved(tmp_path)


@pytest.mark.parametrize(
    ("env", "processes", "fsdp", "message"),
    [({"WORLD_SIZE": "2"}, 1, False, "launched as 2 processes, but the trainer runs as 1"),
     ({"WORLD_SIZE": "2", "ACCELERATE_USE_FSDP": "true"}, 2, False, "asks for FSDP"),
     ({"WORLD_SIZE": "2", "ACCELERATE_USE_FSDP": "true"}, 2, True, None),
     ({}, 1, False, None)],
)
def test_launches_accelerate_did_not_honour_are_refused(monkeypatch, env, processes, fsdp, message):
    from types import SimpleNamespace

    from polyreason.errors import UserError
    from polyreason.train.stages.training import check_world

    for key in ("WORLD_SIZE", "ACCELERATE_USE_FSDP", "ACCELERATE_USE_DEEPSPEED"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    trainer = SimpleNamespace(accelerator=SimpleNamespace(num_processes=processes), is_fsdp_enabled=fsdp,
                              is_deepspeed_enabled=False)
    if message is None:
        check_world(trainer)
    else:
        with pytest.raises(UserError, match=message):
            check_world(trainer)
