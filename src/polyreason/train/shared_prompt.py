"""GRPO log-probs that run each prompt through the model once per group, not once per completion.

A GRPO micro-batch holds G completions of the same prompt.  TRL's training forward feeds ``prompt +
completion`` for every row, so the prompt -- often half the tokens -- is computed G times, forward and
backward.  :func:`shared_prompt_logps` runs the *distinct* prompts once (keeping their KV cache, with
gradients), repeats the cache for the rows that share a prompt, and runs only the completions on top of it.
The log-probabilities (and entropies) are the same as the full forward's up to float rounding, and so are the
gradients: the repeated cache is an indexing op, so each prompt's gradient is the sum over its completions,
exactly what the G separate forwards accumulate (tests/test_train_shared_prompt.py checks both).

Only positions that predict a completion token go through the LM head (TRL's CPU path scores every position).

:func:`regroup` puts the completions of one prompt into the same micro-batch again (TRL shuffles the
generation batch before splitting it), which is what makes prompts shareable; it is used only when every
micro-batch of a generation batch feeds the same optimiser step, where the order cannot change the update
(true where the loss normaliser is a per-micro-batch constant or batch-wide: dr_grpo, grpo, dapo, cispo; bnpo
divides by each micro-batch's token count, so there regrouping re-weights micro-batches slightly).
"""

from __future__ import annotations

from typing import Any


def supports_shared_prompt(model: Any) -> bool:
    """True for decoder-only models this module handles exactly: a plain backbone + linear LM head with no
    logit soft-capping or scaling, full attention in every layer, and a KV cache that can be row-indexed."""
    from polyreason.generation.decode import model_supports_compact

    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    if any(getattr(config, name, None) not in (None, 1.0) for name in
           ("final_logit_softcapping", "logit_scale", "output_multiplier", "lm_head_multiplier", "logits_scaling")):
        return False
    backbone = getattr(model, "base_model", None)
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    return backbone is not None and backbone is not model and head is not None and model_supports_compact(model)


def prompt_groups(prompt_ids: Any, prompt_mask: Any) -> tuple[Any, Any] | None:
    """``(first_row_of_each_distinct_prompt, inverse)`` such that ``prompt_ids[first][inverse] == prompt_ids``,
    or None when every row's prompt is different (nothing to share)."""
    import torch

    keyed = prompt_ids.masked_fill(prompt_mask == 0, -1)
    unique, inverse = torch.unique(keyed, dim=0, return_inverse=True)
    if unique.size(0) == keyed.size(0):
        return None
    first = torch.full((unique.size(0),), keyed.size(0), dtype=torch.long, device=keyed.device)
    first = first.scatter_reduce(0, inverse, torch.arange(keyed.size(0), device=keyed.device), reduce="amin")
    return first, inverse


def shared_prompt_logps(
    model: Any, input_ids: Any, attention_mask: Any, logits_to_keep: int, groups: tuple[Any, Any], *,
    temperature: float, compute_entropy: bool,
) -> tuple[Any, Any]:
    """Per-token log-probs (and entropies) of the last ``logits_to_keep`` tokens of each row, as TRL's
    ``_get_per_token_logps_and_entropies`` returns them (zeros at padded completion positions)."""
    import torch
    from transformers import DynamicCache
    from trl.trainer.utils import selective_log_softmax_and_entropy

    first, inverse = groups
    split = input_ids.size(1) - logits_to_keep
    prompt_ids, prompt_mask = input_ids[first, :split], attention_mask[first, :split]
    completion_ids, completion_mask = input_ids[:, split:], attention_mask[:, split:]
    backbone = model.base_model

    positions = (prompt_mask.long().cumsum(-1) - 1).clamp(min=0)
    prompt_out = backbone(input_ids=prompt_ids, attention_mask=prompt_mask, position_ids=positions,
                          past_key_values=DynamicCache(), use_cache=True)
    cache = prompt_out.past_key_values
    cache.batch_select_indices(inverse)  # differentiable gather: one cache row per completion
    last_prompt = prompt_out.last_hidden_state[:, -1][inverse]  # left padding: the last position is real

    full_mask = torch.cat([prompt_mask[inverse], completion_mask], dim=1)
    start = prompt_mask.long().sum(-1)[inverse].unsqueeze(1)
    comp_positions = start + torch.arange(logits_to_keep, device=input_ids.device).unsqueeze(0)
    comp_out = backbone(input_ids=completion_ids, attention_mask=full_mask, position_ids=comp_positions,
                        past_key_values=cache, use_cache=True)
    # the hidden state that predicts completion token j: the last prompt position for j = 0, else position j-1
    predicting = torch.cat([last_prompt.unsqueeze(1), comp_out.last_hidden_state[:, :-1]], dim=1)
    valid = completion_mask.bool()
    logits = model.get_output_embeddings()(predicting[valid])
    logps, entropy = selective_log_softmax_and_entropy(logits, completion_ids[valid], temperature=temperature)
    logps_full = logps.new_zeros(valid.shape).masked_scatter(valid, logps)
    entropies = entropy.new_zeros(valid.shape).masked_scatter(valid, entropy) if compute_entropy else None
    return logps_full, entropies


def regroup(batches: list[dict[str, Any]], useful_first: bool = False) -> list[dict[str, Any]]:
    """The same micro-batches' rows reordered so rows with the same prompt sit together (stable order).

    ``batches`` are TRL's buffered micro-batches of one generation batch (equal sizes, equal tensor widths);
    tensors with a batch dimension are permuted in unison, 0-dim tensors and None are kept as they are.
    ``useful_first``: prompts with any non-zero advantage come first, so the zero-advantage groups fill the last
    micro-batches, which then need no forward or backward at all (``PolyGRPOTrainer`` skips them).
    """
    import torch

    if len(batches) < 2 or any(isinstance(v, list) for v in batches[0].values()) or "prompt_ids" not in batches[0]:
        return batches
    keys = list(batches[0])
    whole = {k: (torch.cat([b[k] for b in batches]) if _rows(batches[0][k]) else batches[0][k]) for k in keys}
    keyed = whole["prompt_ids"].masked_fill(whole["prompt_mask"] == 0, -1)
    _, inverse = torch.unique(keyed, dim=0, return_inverse=True)
    key = inverse
    if useful_first and _rows(whole.get("advantages")):
        n_prompts = int(inverse.max()) + 1
        nonzero = (whole["advantages"].reshape(len(inverse), -1) != 0).any(dim=1).float()
        useful = torch.zeros(n_prompts).scatter_reduce(0, inverse, nonzero, reduce="amax").bool()
        key = inverse + n_prompts * (~useful[inverse]).long()
    order = torch.sort(key, stable=True).indices
    size = whole["prompt_ids"].size(0) // len(batches)
    out = []
    for i in range(len(batches)):
        rows = order[i * size:(i + 1) * size]
        out.append({k: (v[rows] if _rows(batches[0][k]) else v) for k, v in whole.items()})
    return out


def _rows(value: Any) -> bool:
    return value is not None and hasattr(value, "ndim") and value.ndim > 0
