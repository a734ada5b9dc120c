"""The compacting decode loop gives the same greedy tokens as transformers' generate, and samples validly."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def model():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, initializer_range=0.6,
                         pad_token_id=0, bos_token_id=1, eos_token_id=2)
    return LlamaForCausalLM(config).eval()


def _left_padded(lengths: list[int]):
    width = max(lengths)
    ids = torch.zeros((len(lengths), width), dtype=torch.long)
    mask = torch.zeros_like(ids)
    gen = torch.Generator().manual_seed(1)
    for row, n in enumerate(lengths):
        ids[row, width - n:] = torch.randint(3, 97, (n,), generator=gen)
        mask[row, width - n:] = 1
    return ids, mask


def _until_eos(row: list[int], eos: list[int]) -> list[int]:
    out = []
    for token in row:
        out.append(token)
        if token in eos:
            break
    return out


def test_compact_greedy_matches_generate_with_rows_finishing_early(model) -> None:
    from polyreason.generation.decode import compact_generate

    ids, mask = _left_padded([5, 9, 3, 7])
    with torch.inference_mode():
        free = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=12, do_sample=False,
                              pad_token_id=0, eos_token_id=2)[:, ids.shape[1]:].tolist()
    # pick "end" tokens that some rows emit early, so rows finish at different steps
    eos = sorted({free[0][2], free[2][5]})
    with torch.inference_mode():
        ref = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=12, do_sample=False,
                             pad_token_id=0, eos_token_id=eos)[:, ids.shape[1]:].tolist()
    mine = compact_generate(model, ids, mask, max_new_tokens=12, eos_ids=eos)
    assert mine == [_until_eos(r, eos) for r in ref]
    assert len({len(r) for r in mine}) > 1  # rows really finished at different steps


def test_compact_sampling_is_seeded_and_respects_limits(model) -> None:
    from polyreason.generation.decode import compact_generate, sample_next

    ids, mask = _left_padded([4, 6])
    torch.manual_seed(5)
    first = compact_generate(model, ids, mask, max_new_tokens=8, eos_ids=[2], temperature=0.8, top_p=0.9)
    torch.manual_seed(5)
    second = compact_generate(model, ids, mask, max_new_tokens=8, eos_ids=[2], temperature=0.8, top_p=0.9)
    assert first == second and all(1 <= len(r) <= 8 for r in first)
    logits = torch.tensor([[0.0, 10.0, 0.0], [5.0, 0.0, 0.0]])
    assert sample_next(logits, 0.0, 1.0).tolist() == [1, 0]
    assert sample_next(logits, 1.0, 0.5).tolist() == [1, 0]  # nucleus keeps only the dominant token


def test_sliding_window_models_fall_back(model) -> None:
    from types import SimpleNamespace

    from polyreason.generation.decode import compact_generate, model_supports_compact

    assert model_supports_compact(model)
    sliding = SimpleNamespace(config=SimpleNamespace(sliding_window=4096, use_sliding_window=True))
    hybrid = SimpleNamespace(config=SimpleNamespace(layer_types=["sliding_attention", "full_attention"]))
    qwen_like = SimpleNamespace(config=SimpleNamespace(sliding_window=4096, use_sliding_window=False))
    assert not model_supports_compact(sliding) and not model_supports_compact(hybrid)
    assert model_supports_compact(qwen_like)
    assert compact_generate(sliding, None, None, max_new_tokens=1, eos_ids=[2]) is None


def test_shared_prefix_prefill_gives_the_same_tokens(model) -> None:
    from polyreason.generation.decode import common_prefix_length, compact_generate, prefix_shared_generate

    gen = torch.Generator().manual_seed(3)
    prefix = torch.randint(3, 97, (20,), generator=gen).tolist()
    rows = [prefix + torch.randint(3, 97, (n,), generator=gen).tolist() for n in (4, 9, 1, 6)]
    assert common_prefix_length(rows) == 20 and common_prefix_length([[1, 2], [1, 2]]) == 1
    width = max(len(r) for r in rows)
    ids = torch.tensor([[0] * (width - len(r)) + r for r in rows])
    mask = (torch.arange(width)[None] >= torch.tensor([width - len(r) for r in rows])[:, None]).long()
    plain = compact_generate(model, ids, mask, max_new_tokens=10, eos_ids=[-1])
    eos = sorted({plain[0][3], plain[2][6]})  # make rows end at different steps
    plain = compact_generate(model, ids, mask, max_new_tokens=10, eos_ids=eos)
    shared = prefix_shared_generate(model, rows, pad_id=0, max_new_tokens=10, eos_ids=eos, min_prefix=8)
    assert shared == plain
    assert len({len(r) for r in shared}) > 1
