"""The reasoning contract: system prompts and chat formatting (the think/answer split: test_text.py)."""

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
