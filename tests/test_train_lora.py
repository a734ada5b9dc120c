"""LoRA stages (peft) train, log KL with a reference (beta > 0), and hand a merged full model to the next stage."""

from __future__ import annotations

import pytest

from polyreason.config import recipe_from_dict
from polyreason.files import read_jsonl
from polyreason.train import run_recipe

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_lora_sft_then_grpo_with_kl(tmp_path):
    recipe = recipe_from_dict({
        "model": "tiny-random",
        "data": {"train": "synthetic:16:en:easy", "sft": "synthetic:8:en:easy"},
        "rewards": {"accuracy": 1.0, "format": 0.5},
        "stages": [
            {"type": "sft", "max_steps": 1, "per_device_batch_size": 2, "max_length": 96, "lora": {"r": 4}},
            {"type": "grpo", "max_steps": 1, "per_device_batch_size": 4, "num_generations": 2,
             "max_completion_length": 8, "beta": 0.04, "lora": {"r": 4, "alpha": 8}},
        ],
    })
    result = run_recipe(recipe, tmp_path / "run")
    records = list(read_jsonl(tmp_path / "run" / "metrics.jsonl", tolerant=True))
    assert [(r["stage"], r["step"]) for r in records] == [(0, 1), (1, 1)]
    assert records[1]["kl"] is not None  # beta > 0: the disabled adapter is the reference
    for stage in result.stages:
        saved = {p.name for p in (tmp_path / "run").glob("**/*.safetensors") if str(p).startswith(stage.model_dir)}
        assert saved == {"model.safetensors"}  # adapters merged: a plain model, loadable by the next stage
