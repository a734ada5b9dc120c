"""Turn polyreason rows into the datasets TRL's trainers expect.

* SFT: conversational **prompt/completion** rows — ``prompt`` = the system and user messages, ``completion`` =
  the assistant message.  TRL's ``completion_only_loss`` then masks every prompt token, so the loss covers the
  assistant turn only.  (SmolLM2's chat template has no ``{% generation %}`` markers, so TRL's
  ``assistant_only_loss`` cannot be used with it; prompt/completion rows work with every template.)
* GRPO: conversational ``prompt`` (system + user) plus the columns rewards read (``answer``, ``language``).
  Prompts longer than ``max_prompt_length`` tokens are dropped (TRL 1.16 has no prompt truncation of its own)
  and the count is logged.

Templates that reject a system role (Gemma's) get the system text folded into the first user turn.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from polyreason.errors import UserError
from polyreason.prompts import build_messages, fold_system

log = logging.getLogger(__name__)


def accepts_system_role(tokenizer: Any) -> bool:
    """True when the tokenizer's chat template renders a system message (Gemma's raises instead)."""
    if not getattr(tokenizer, "chat_template", None):
        return True
    try:
        tokenizer.apply_chat_template(
            [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}], tokenize=False
        )
    except Exception:  # jinja TemplateError or a template's own raise_exception
        return False
    return True


def _prefix(messages: list[dict[str, str]], system_ok: bool) -> list[dict[str, str]]:
    return messages if system_ok else fold_system(messages)


def sft_records(
    rows: Iterable[dict], tokenizer: Any, *, system_prompt: str | None = None, language: str = "en"
) -> list[dict[str, Any]]:
    """SFT rows (``messages``) → prompt/completion conversational records (last assistant turn = completion)."""
    system_ok = accepts_system_role(tokenizer)
    out = []
    for i, row in enumerate(rows):
        messages = [dict(m) for m in row["messages"]]
        if not messages or messages[-1]["role"] != "assistant":
            raise UserError(f"SFT row {i}: the last message must be the assistant's; fix: check the data's messages")
        prompt = messages[:-1]
        if system_prompt is not None:
            prompt = [m for m in prompt if m["role"] != "system"]
            prompt.insert(0, {"role": "system", "content": system_prompt})
        elif not any(m["role"] == "system" for m in prompt):
            prompt = build_messages("", row.get("language", language))[:1] + prompt
        out.append({"prompt": _prefix(prompt, system_ok), "completion": [messages[-1]]})
    if not out:
        raise UserError("the SFT data has no rows; fix: check data.sft (or the stage's data)")
    return out


def grpo_records(
    rows: Iterable[dict],
    tokenizer: Any,
    *,
    max_prompt_length: int,
    system_prompt: str | None = None,
    language: str = "en",
) -> list[dict[str, Any]]:
    """RL rows (problem/answer/language) → records with a conversational ``prompt`` and reward columns."""
    system_ok = accepts_system_role(tokenizer)
    out, dropped = [], 0
    for row in rows:
        lang = row.get("language") or language
        messages = _prefix(build_messages(row["problem"], lang, system_prompt), system_ok)
        ids = tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=True)
        if hasattr(ids, "keys"):  # some tokenizers return a BatchEncoding
            ids = ids["input_ids"]
        if len(ids) > max_prompt_length:
            dropped += 1
            continue
        out.append({"prompt": messages, "answer": str(row["answer"]), "language": lang,
                    "id": row.get("id") or "", "difficulty": row.get("difficulty") or ""})
    if dropped:
        log.warning("dropped %d prompt(s) longer than max_prompt_length=%d tokens", dropped, max_prompt_length)
    if not out:
        raise UserError(
            f"no RL prompt fits max_prompt_length={max_prompt_length} (or the data is empty); "
            "fix: raise the stage's max_prompt_length or check data.train"
        )
    return out


def to_dataset(records: list[dict[str, Any]]) -> Any:
    """A ``datasets.Dataset`` from a list of records."""
    from datasets import Dataset

    return Dataset.from_list(records)
