"""The reasoning contract: system prompts, chat formatting, think/answer split."""

from __future__ import annotations

import pytest

from polyreason import prompts
from polyreason.errors import UserError


def test_system_prompts_ask_for_think_and_boxed_in_language():
    for lang in ("en", "es", "fr", "de", "pt"):
        text = prompts.system_prompt(lang)
        assert "<think>" in text and "</think>" in text and "\\boxed{}" in text
    assert "piensa" in prompts.system_prompt("es") and "español" in prompts.system_prompt("es")
    assert "Swahili" in prompts.system_prompt("sw")
    with pytest.raises(UserError, match="language"):
        prompts.system_prompt("xx")


def test_build_messages_and_override():
    msgs = prompts.build_messages("¿Cuánto es 2+2?", "es")
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert prompts.build_messages("q", system="S")[0]["content"] == "S"


class NoSystemTokenizer:
    """Mimics a template that rejects the system role (as Gemma 2's does)."""

    chat_template = "x"

    def apply_chat_template(self, messages, tokenize, add_generation_prompt):
        if messages[0]["role"] == "system":
            raise ValueError("System role not supported")
        return "|".join(f"{m['role']}:{m['content']}" for m in messages)


def test_format_prompt_folds_system_when_unsupported():
    text = prompts.format_prompt(NoSystemTokenizer(), prompts.build_messages("Q", system="SYS"))
    assert text == "user:SYS\n\nQ"


def test_format_prompt_with_real_template(tiny_model_path):
    from polyreason.models import load_tokenizer

    tok = load_tokenizer("tiny-random")
    text = prompts.format_prompt(tok, prompts.build_messages("What is 1+1?"))
    assert text.startswith("<|im_start|>system\nYou are a helpful assistant.")
    assert text.endswith("<|im_start|>assistant\n")


def test_format_prompt_without_template():
    class Plain:
        chat_template = None

    assert prompts.format_prompt(Plain(), [{"role": "user", "content": "Q"}]) == "user: Q\n\nassistant:"


@pytest.mark.parametrize(
    "completion, reasoning, answer",
    [
        ("<think>\nadd them\n</think>\n\nSo \\boxed{4}", "add them", "So \\boxed{4}"),
        ("no tags \\boxed{4}", "no tags \\boxed{4}", ""),
        ("<think>a</think>b</think>c", "a</think>b", "c"),  # the last </think> ends the reasoning
        ("<think>cut off \\boxed{4}", "cut off \\boxed{4}", ""),
    ],
)
def test_split_reasoning(completion, reasoning, answer):
    assert prompts.split_reasoning(completion) == (reasoning, answer)


@pytest.mark.parametrize(
    "completion, region",
    [
        ("<think>\\boxed{1}</think> \\boxed{2}", " \\boxed{2}"),
        ("<think>a</think> \\boxed{1} </think> \\boxed{2}", " \\boxed{2}"),  # same rule as split_reasoning
        ("<think>cut off \\boxed{1}", None),  # reasoning never closed: no answer yet
        ("plain \\boxed{3}", "plain \\boxed{3}"),
    ],
)
def test_answer_region_is_shared_by_verifier_and_eval(completion, region):
    from polyreason.evaluate.language import graded_text
    from polyreason.verify.extract import answer_region as verifier_region

    assert prompts.answer_region(completion) == region
    assert verifier_region is prompts.answer_region
    assert graded_text(completion) == (region or "")
