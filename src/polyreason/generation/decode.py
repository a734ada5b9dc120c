"""A compacting decode loop: batched generation that drops finished rows from the batch (and its KV cache).

``model.generate`` keeps computing every row of a batch until the longest row is done; rows that already
produced an end-of-sequence token cost a full forward pass each step.  This loop prefills the left-padded
batch once, then decodes one token per step for the *unfinished* rows only: when rows finish, their
entries are removed from the KV cache (``DynamicCache.batch_select_indices``), the attention mask and the
position ids.  Sampling is temperature + nucleus (top-p) with no top-k, as in vLLM and lighteval; with
temperature 0 it is greedy and gives the same tokens as ``generate`` (a test checks this).

Only models whose cache is a plain :class:`transformers.DynamicCache` without sliding-window layers are
decoded this way; :func:`supports_compact` tells, and the transformers backend
(:mod:`polyreason.generation.transformers_backend`) uses ``generate`` otherwise.
"""

from __future__ import annotations

from typing import Any

from polyreason.generation.base import Progress


def sample_next(logits: Any, temperature: float, top_p: float) -> Any:
    """Next token per row: argmax when ``temperature`` is 0, else a draw from the top-p nucleus.

    The nucleus keeps the most likely tokens until their cumulative probability reaches ``top_p`` (the first
    token is always kept).
    """
    import torch

    if temperature <= 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    if top_p < 1.0:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        drop = sorted_probs.cumsum(dim=-1) - sorted_probs > top_p
        sorted_probs = sorted_probs.masked_fill(drop, 0.0)
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
    return torch.multinomial(probs, num_samples=1).squeeze(-1)


def _last_only(model: Any) -> dict[str, int]:
    """``logits_to_keep=1`` where the model accepts it: prefill then computes the vocabulary projection for
    the last position only, not for every prompt token (as ``generate`` does)."""
    import inspect

    try:
        accepts = "logits_to_keep" in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        accepts = False
    return {"logits_to_keep": 1} if accepts else {}


def model_supports_compact(model: Any) -> bool:
    """True for decoder-only models with full attention in every layer (no sliding window, no hybrid layers)."""
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    if getattr(model.config, "is_encoder_decoder", False):
        return False
    layer_types = getattr(config, "layer_types", None)
    if layer_types and any(kind != "full_attention" for kind in layer_types):
        return False
    return not (getattr(config, "sliding_window", None) and getattr(config, "use_sliding_window", True))


def supports_compact(cache: Any) -> bool:
    """True when ``cache`` is a DynamicCache whose layers can be row-selected (no sliding window)."""
    from transformers import DynamicCache

    if type(cache) is not DynamicCache:
        return False
    return not any(getattr(layer, "is_sliding", False) for layer in getattr(cache, "layers", []))


def compact_generate(
    model: Any,
    input_ids: Any,
    attention_mask: Any,
    *,
    max_new_tokens: int,
    eos_ids: list[int],
    temperature: float = 0.0,
    top_p: float = 1.0,
    progress: Progress | None = None,
) -> list[list[int]] | None:
    """Generate up to ``max_new_tokens`` per row; returns each row's new tokens (ending at its first EOS).

    Returns None when the model's cache cannot be compacted (the caller then uses ``generate``).
    Inputs must be left-padded.  ``progress`` is called after every decoding step (see :func:`_decode`).
    """
    import torch
    from transformers import DynamicCache

    if not model_supports_compact(model):
        return None
    positions = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
    with torch.inference_mode():
        out = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=positions,
                    past_key_values=DynamicCache(), use_cache=True, **_last_only(model))
        if not supports_compact(out.past_key_values):
            return None
        return _decode(model, out, attention_mask, max_new_tokens, eos_ids, temperature, top_p, progress)


def common_prefix_length(rows: list[list[int]]) -> int:
    """Length of the token prefix shared by every row, leaving each row at least one token of its own."""
    if len(rows) < 2:
        return 0
    shortest = min(len(r) for r in rows)
    length = 0
    while length < shortest - 1 and all(r[length] == rows[0][length] for r in rows):
        length += 1
    return length


def prefix_shared_generate(
    model: Any,
    rows: list[list[int]],
    *,
    pad_id: int,
    max_new_tokens: int,
    eos_ids: list[int],
    temperature: float = 0.0,
    top_p: float = 1.0,
    min_prefix: int = 16,
    progress: Progress | None = None,
) -> list[list[int]] | None:
    """Like :func:`compact_generate`, from unpadded token lists, computing a shared prompt prefix once.

    Evaluation prompts share their start (chat-template header, system prompt, instruction).  That prefix
    is run through the model once with batch size 1, its KV cache is repeated for every row, and only each
    row's own suffix is prefilled (left-padded *between* prefix and suffix, the gap masked out, position
    ids continuing from the prefix).  Rows sharing fewer than ``min_prefix`` tokens are prefilled whole.
    """
    import torch
    from transformers import DynamicCache

    if not model_supports_compact(model):
        return None
    device = model.device
    shared = common_prefix_length(rows)
    if shared < min_prefix:
        width = max(len(r) for r in rows)
        ids = torch.tensor([[pad_id] * (width - len(r)) + r for r in rows], device=device)
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=device)
        return compact_generate(model, ids, mask, max_new_tokens=max_new_tokens, eos_ids=eos_ids,
                                temperature=temperature, top_p=top_p, progress=progress)
    suffixes = [r[shared:] for r in rows]
    width = max(len(s) for s in suffixes)
    ids = torch.tensor([[pad_id] * (width - len(s)) + s for s in suffixes], device=device)
    suffix_mask = torch.tensor([[0] * (width - len(s)) + [1] * len(s) for s in suffixes], device=device)
    with torch.inference_mode():
        cache = DynamicCache()
        head = torch.tensor([rows[0][:shared]], device=device)
        out = model(input_ids=head, position_ids=torch.arange(shared, device=device)[None], past_key_values=cache,
                    use_cache=True, **_last_only(model))
        cache = out.past_key_values
        if not supports_compact(cache):
            return None
        cache.batch_repeat_interleave(len(rows))
        mask = torch.cat([suffix_mask.new_ones((len(rows), shared)), suffix_mask], dim=-1)
        positions = shared + (suffix_mask.long().cumsum(-1) - 1).clamp(min=0)
        out = model(input_ids=ids, attention_mask=mask, position_ids=positions, past_key_values=cache, use_cache=True,
                    **_last_only(model))
        return _decode(model, out, mask, max_new_tokens, eos_ids, temperature, top_p, progress)


def _decode(
    model: Any, out: Any, attention_mask: Any, max_new_tokens: int, eos_ids: list[int], temperature: float,
    top_p: float, progress: Progress | None = None,
) -> list[list[int]]:
    """The decode loop after prefill: one token per step for unfinished rows; finished rows are dropped.

    After each step ``progress(samples, tokens)`` gets the step's tokens and its share of the batch's work
    in samples: each live row advances ``1 / max_new_tokens`` and a row that stops early advances by what
    it left unused, so a row's shares add up to one sample and the caller's ETA moves every step.
    """
    import torch

    cache = out.past_key_values
    device = attention_mask.device
    eos = torch.tensor(eos_ids, device=device)
    rows = torch.arange(attention_mask.shape[0], device=device)
    results: list[list[int]] = [[] for _ in range(attention_mask.shape[0])]
    logits = out.logits[:, -1, :]
    for step in range(max_new_tokens):
        tokens = sample_next(logits, temperature, top_p)
        for row, token in zip(rows.tolist(), tokens.tolist(), strict=True):
            results[row].append(token)
        keep = ~torch.isin(tokens, eos)
        if progress is not None:
            finished = len(tokens) - int(keep.sum())
            progress((len(tokens) + finished * (max_new_tokens - step - 1)) / max_new_tokens, len(tokens))
        if step == max_new_tokens - 1 or not bool(keep.any()):
            break
        if not bool(keep.all()):
            index = keep.nonzero().squeeze(-1)
            cache.batch_select_indices(index)
            rows, tokens, attention_mask = rows[index], tokens[index], attention_mask[index]
        attention_mask = torch.cat([attention_mask, attention_mask.new_ones((attention_mask.shape[0], 1))], -1)
        positions = attention_mask.long().sum(-1, keepdim=True) - 1
        out = model(input_ids=tokens[:, None], attention_mask=attention_mask, position_ids=positions,
                    past_key_values=cache, use_cache=True)
        cache = out.past_key_values
        logits = out.logits[:, -1, :]
    return results
