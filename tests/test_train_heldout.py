"""Held-out scoring generates through polyreason.generation: the same greedy completions model.generate gives."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_heldout_completions_match_plain_greedy_generate() -> None:
    torch = pytest.importorskip("torch")
    from polyreason.data.synthetic import generate_problems
    from polyreason.models import load_model
    from polyreason.prompts import build_messages, format_prompt
    from polyreason.train.heldout import score_heldout

    model, tok = load_model("tiny-random", device="cpu")
    problems = list(generate_problems(5, seed=3, kinds=["add_sub"], split="eval"))
    score, records = score_heldout(model, tok, problems, label="base", reward_weights={"accuracy": 1.0},
                                   max_new_tokens=6, batch_size=2)
    expected, lengths = [], []
    for p in problems:
        ids = tok(format_prompt(tok, build_messages(p["problem"], "en")), return_tensors="pt",
                  add_special_tokens=False)
        with torch.inference_mode():
            row = model.generate(**ids, max_new_tokens=6, do_sample=False, pad_token_id=tok.pad_token_id,
                                 eos_token_id=tok.eos_token_id)[0, ids["input_ids"].shape[1]:].tolist()
        n = next((i + 1 for i, t in enumerate(row) if t == tok.eos_token_id), len(row))
        expected.append(tok.decode(row[:n], skip_special_tokens=True))
        lengths.append(n)
    assert [r["completion"] for r in records] == expected
    assert score.n == 5 and score.mean_length == pytest.approx(sum(lengths) / 5)
