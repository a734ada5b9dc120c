"""Packed SFT keeps samples apart: a sample's logits inside a pack equal its logits alone."""

from __future__ import annotations

import pytest
import torch

from polyreason.config import recipe_from_dict
from polyreason.errors import UserError
from polyreason.train import args as targs
from polyreason.train.runner import stage_context
from polyreason.train.stages import sft
from polyreason.train.stages.training import load_for_training

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    recipe = recipe_from_dict({
        "model": "tiny-random", "data": {"sft": "synthetic:12:en:easy"},
        "stages": [{"type": "sft", "packing": True, "max_length": 512, "per_device_batch_size": 2}],
    })
    model, tokenizer = load_for_training(recipe, "tiny-random")
    trainer = sft.build_trainer(stage_context(recipe, 0, tmp_path_factory.mktemp("pack")), model, tokenizer)
    return trainer


def _segments(position_ids: torch.Tensor) -> list[tuple[int, int]]:
    starts = (position_ids == 0).nonzero().flatten().tolist() + [len(position_ids)]
    return [(a, b) for a, b in zip(starts, starts[1:], strict=False) if b > a]


def test_packed_samples_do_not_attend_to_each_other(packed):
    model = packed.model.eval()
    assert model.config._attn_implementation == "sdpa"  # chosen on CPU: honours packed position ids
    batch = packed.data_collator([packed.train_dataset[i] for i in range(2)])
    assert "attention_mask" not in batch  # padding-free: boundaries travel in position_ids
    position_ids = batch["position_ids"][0]
    segments = _segments(position_ids)
    assert len(segments) >= 4  # several samples share the pack
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    with torch.no_grad():
        logits = model(**inputs, use_cache=False).logits[0]  # as TRL's SFT forward (use_cache=False)
        naive = model(input_ids=batch["input_ids"], use_cache=False).logits[0]  # one long sequence
        leaked = 0.0
        for start, end in segments:
            alone = model(input_ids=batch["input_ids"][:, start:end], use_cache=False).logits[0]
            torch.testing.assert_close(logits[start:end], alone, rtol=0, atol=1e-4)
            leaked = max(leaked, (naive[start:end] - alone).abs().max().item())
    assert leaked > 1e-2  # without the position ids the same tokens do attend across samples
    labels = batch["labels"][0]
    assert all(labels[start] == -100 for start, _ in segments)  # no sample learns to predict the next one's start


def test_attention_choice_and_refusal():
    recipe = recipe_from_dict({"model": "tiny-random", "stages": [{"type": "sft", "packing": True}]})
    assert targs.packing_attention(recipe, torch.float32) == "sdpa"  # no CUDA here
    eager = recipe_from_dict({"model": {"spec": "tiny-random", "attn_implementation": "eager"},
                              "stages": [{"type": "sft", "packing": True}]})
    assert targs.packing_attention(eager, torch.bfloat16) == "eager"
    with pytest.raises(UserError, match="ignores the position ids"):
        recipe_from_dict({"model": {"spec": "tiny-random", "attn_implementation": "paged|sdpa"},
                          "stages": [{"type": "sft", "packing": True}]})
