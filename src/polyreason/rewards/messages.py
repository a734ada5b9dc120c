"""Prompts and completions as chat messages, for the rewards that show them to a model (judge, reward models)."""

from __future__ import annotations

from typing import Any

from polyreason.rewards.inputs import completion_text


def prompt_messages(prompt: Any) -> list[dict[str, str]]:
    """A TRL prompt as chat messages: a message list as given, a string as one user turn, None as none."""
    if prompt is None:
        return []
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    if isinstance(prompt, dict):
        return [{"role": str(prompt.get("role") or "user"), "content": str(prompt.get("content") or "")}]
    return [{"role": str(m.get("role") or "user"), "content": str(m.get("content") or "")}
            for m in prompt if isinstance(m, dict)]


def prompt_text(prompt: Any) -> str:
    """The request a prompt makes: its last user turn (a string prompt is one), "" when there is none."""
    users = [m["content"] for m in prompt_messages(prompt) if m["role"] == "user"]
    return users[-1] if users else ""


def conversation(prompt: Any, completion: Any) -> list[dict[str, str]]:
    """Prompt messages followed by the completion as the assistant's turn (what a reward model reads)."""
    return [*prompt_messages(prompt), {"role": "assistant", "content": completion_text(completion)}]
