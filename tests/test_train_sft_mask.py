"""SFT loss covers the assistant turn only: proven on real tokenised rows through TRL's own pipeline."""

from __future__ import annotations

import pytest

from polyreason.config import recipe_from_dict
from polyreason.data import generate_sft_rows
from polyreason.train import args as targs
from polyreason.train.datasets import sft_records, to_dataset
from polyreason.train.runner import load_for_training

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
    rec = sft_records([row], tok)[0]
    assert rec["prompt"][0]["role"] == "system" and "piensa" in rec["prompt"][0]["content"]
    assert rec["completion"] == [row["messages"][-1]]
