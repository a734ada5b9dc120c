"""SFT loss covers assistant turns only, every one of them: proven on real tokenised rows through TRL."""

from __future__ import annotations

import pytest

from polyreason.config import recipe_from_dict
from polyreason.data import generate_sft_rows
from polyreason.train import args as targs
from polyreason.train.datasets import sft_conversation, sft_records, to_dataset, tokenize_conversation
from polyreason.train.stages.training import load_for_training

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def sft_trainer(tmp_path_factory):
    from trl import SFTTrainer

    recipe = recipe_from_dict({"model": "tiny-random", "stages": [{"type": "sft", "max_length": 256}]})
    model, tokenizer = load_for_training(recipe, "tiny-random")
    rows = list(generate_sft_rows(4, seed=3, language="es", difficulty="easy", kinds=["add_sub"]))
    config = targs.build_sft_config(recipe, recipe.stages[0], str(tmp_path_factory.mktemp("sft")))
    trainer = SFTTrainer(model=model, args=config, train_dataset=to_dataset(sft_records(rows, tokenizer)),
                         processing_class=tokenizer)
    return trainer, tokenizer, rows


def test_labels_are_exactly_the_assistant_turn(sft_trainer):
    trainer, tokenizer, rows = sft_trainer
    examples = [trainer.train_dataset[i] for i in range(len(rows))]
    batch = trainer.data_collator(examples)
    for i, row in enumerate(rows):
        ids = batch["input_ids"][i]
        labels = batch["labels"][i]
        learned = tokenizer.decode(ids[labels != -100])
        masked = tokenizer.decode(ids[(labels == -100) & (batch["attention_mask"][i] == 1)])
        system, user, assistant = (m["content"] for m in row["messages"])
        assert learned.strip().startswith(assistant.strip()[:20]), learned
        assert assistant.strip() in learned  # the whole answer is learned ...
        assert learned.strip().endswith("<|im_end|>")  # ... and where it stops
        assert system not in learned and user not in learned  # system + user tokens are masked
        assert system in masked and user in masked


def test_loss_starts_after_the_generation_prompt(sft_trainer):
    trainer, tokenizer, _ = sft_trainer
    example = trainer.train_dataset[0]
    labels = example["labels"]
    first = next(i for i, v in enumerate(labels) if v != -100)
    assert all(v != -100 for v in labels[first:])  # one contiguous learned span: the completion
    prefix = tokenizer.decode(example["input_ids"][:first])
    assert prefix.rstrip().endswith("<|im_start|>assistant")


def test_rows_without_system_get_the_language_prompt():
    from polyreason.models import load_tokenizer

    tok = load_tokenizer("tiny-random")
    row = {"messages": [{"role": "user", "content": "¿Cuánto es 2 + 2?"},
                        {"role": "assistant", "content": "<think>\n2 + 2 = 4\n</think>\n\n\\boxed{4}"}],
           "language": "es"}
    messages = sft_conversation(row, 0, system_prompt=None, language="en", system_ok=True)
    assert messages[0]["role"] == "system" and "piensa" in messages[0]["content"]
    assert messages[1:] == row["messages"]
    rec = sft_records([row], tok)[0]
    assert "piensa" in tok.decode(rec["input_ids"])


MULTI_TURN = {"messages": [
    {"role": "system", "content": "You are a careful tutor."},
    {"role": "user", "content": "What is 17 + 25?"},
    {"role": "assistant", "content": "<think>\n17 + 25 = 42\n</think>\n\nThe answer is \\boxed{42}"},
    {"role": "user", "content": "Now double it."},
    {"role": "assistant", "content": "<think>\n42 · 2 = 84\n</think>\n\nThe answer is \\boxed{84}"},
]}


def _learned_spans(tokenizer, ids, labels) -> list[str]:
    spans, current = [], []
    for token, label in zip(ids, labels, strict=True):
        if label != -100:
            current.append(token)
        elif current:
            spans.append(tokenizer.decode(current))
            current = []
    if current:
        spans.append(tokenizer.decode(current))
    return spans


def test_every_assistant_turn_is_trained_through_trl(tmp_path):
    """A real SmolLM2-tokenised two-turn row through SFTTrainer: both answers labelled, both prompts masked."""
    from trl import SFTTrainer

    recipe = recipe_from_dict({"model": "tiny-random", "stages": [{"type": "sft", "max_length": 512}]})
    model, tokenizer = load_for_training(recipe, "tiny-random")
    records = sft_records([MULTI_TURN], tokenizer)
    assert len(records) == 1  # ChatML renders history unchanged: one sequence, both turns in it
    config = targs.build_sft_config(recipe, recipe.stages[0], str(tmp_path))
    trainer = SFTTrainer(model=model, args=config, train_dataset=to_dataset(records), processing_class=tokenizer)
    example = trainer.train_dataset[0]
    spans = _learned_spans(tokenizer, example["input_ids"], example["labels"])
    first, second = MULTI_TURN["messages"][2]["content"], MULTI_TURN["messages"][4]["content"]
    assert [s.strip() for s in spans] == [first + "<|im_end|>", second + "<|im_end|>"]
    masked = tokenizer.decode([t for t, lab in zip(example["input_ids"], example["labels"], strict=True)
                               if lab == -100])
    for text in ("You are a careful tutor.", "What is 17 + 25?", "Now double it."):
        assert text in masked and all(text not in s for s in spans)


def test_a_template_that_rewrites_history_gets_one_sample_per_turn():
    """If rendering a later turn changes an earlier one (e.g. reasoning stripped), each turn is its own sample."""
    from polyreason.models import load_tokenizer

    tok = load_tokenizer("tiny-random")
    tok.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
        "{% if m['role'] == 'assistant' and not loop.last %}[earlier answer]{% else %}{{ m['content'] }}{% endif %}"
        "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    records = sft_conversation(MULTI_TURN, 0, system_prompt=None, language="en", system_ok=True)
    out = tokenize_conversation(records, tok)
    assert len(out) == 2
    for rec, k in zip(out, (2, 4), strict=True):
        learned = tok.decode([t for t, m in zip(rec["input_ids"], rec["completion_mask"], strict=True) if m])
        assert learned.strip() == MULTI_TURN["messages"][k]["content"] + "<|im_end|>"
    assert "[earlier answer]" in tok.decode(out[1]["input_ids"])  # the context the model sees at turn 2
