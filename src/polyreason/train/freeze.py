"""Train only the top decoder blocks: a cheaper backward pass for small-compute fine-tuning.

With every parameter below block ``L - n`` frozen (embeddings, the tied LM head and the lower blocks),
autograd records nothing below the first trainable block, so the backward pass skips those blocks entirely
and their activations are not kept for it.  On SmolLM2-135M with 30 blocks, ``trainable_layers: 15`` removes
about a third of a training step's arithmetic (docs/benchmarks.md has the measured split).
"""

from __future__ import annotations

import logging
import math
from typing import Any

from polyreason.errors import UserError

log = logging.getLogger(__name__)


def decoder_blocks(model: Any) -> tuple[Any, Any]:
    """The decoder's block list and its final norm (None when the model has none)."""
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else None
    layers = getattr(decoder, "layers", None)
    if layers is None:
        raise UserError(f"trainable_layers: cannot find the decoder blocks of {type(model).__name__}; fix: remove "
                        "trainable_layers (train every weight) or use lora")
    return layers, getattr(decoder, "norm", None)


def block_count(total: int, trainable: int | float) -> int:
    """Blocks to train: ``trainable`` itself when it is an integer, else that fraction of ``total`` rounded up.

    >>> block_count(30, 15), block_count(30, 0.5), block_count(2, 0.5), block_count(30, 0.01)
    (15, 15, 1, 1)
    """
    if isinstance(trainable, int):
        return trainable
    return max(1, math.ceil(trainable * total - 1e-9))


def train_top_layers(model: Any, trainable: int | float) -> tuple[int, int]:
    """Freeze everything but the top blocks (:func:`block_count`) and the final norm; returns (trainable, total)
    parameter counts.  On SmolLM2-135M (30 blocks) ``15`` and ``0.5`` both leave blocks 15..29 trainable."""
    layers, norm = decoder_blocks(model)
    n = block_count(len(layers), trainable)
    if n > len(layers):
        raise UserError(f"trainable_layers={n} but the model has {len(layers)} decoder blocks; fix: at most "
                        f"{len(layers)}")
    for param in model.parameters():
        param.requires_grad_(False)
    trainable = list(layers[len(layers) - n:]) + ([norm] if norm is not None else [])
    for module in trainable:
        for param in module.parameters():
            param.requires_grad_(True)
    total = sum(p.numel() for p in model.parameters())
    count = sum(p.numel() for p in model.parameters() if p.requires_grad)
    log.info("training the top %d of %d blocks: %.1fM of %.1fM parameters", n, len(layers), count / 1e6,
             total / 1e6)
    return count, total
