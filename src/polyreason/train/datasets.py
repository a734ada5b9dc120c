"""Turn polyreason rows into the datasets TRL's trainers expect.

* SFT: rows are tokenised here, with the chat template, into ``input_ids`` plus a ``completion_mask`` that is 1
  on **every assistant turn** (its content and end-of-turn tokens) and 0 on system and user turns.  TRL's
  SFTTrainer takes such a dataset as already processed and, with ``completion_only_loss``, turns the mask into
  labels.  A turn's span is found by rendering the conversation up to it: the tokens between "everything before
  this turn + the generation prompt" and "everything through this turn".  That needs a template that renders
  earlier turns the same way whatever follows (SmolLM2's ChatML does); a template that rewrites history (e.g.
  one that strips earlier reasoning) gets one sample per assistant turn instead, each in the exact context the
  model sees when it writes that turn.  (SmolLM2's template has no ``{% generation %}`` markers, so TRL's
  ``assistant_only_loss`` cannot be used with it; this works with every template.)
* GRPO: conversational ``prompt`` (system + user) plus the columns rewards read (``answer``, ``language``).
  Prompts longer than ``max_prompt_length`` tokens are **dropped**, not truncated (TRL 1.16 has no prompt
  truncation of its own, and a cut-off problem keeps its gold answer but is no longer the same problem); the
  count is logged.

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


def _render(tokenizer: Any, messages: list[dict[str, str]], generation_prompt: bool = False) -> list[int]:
    ids = tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=generation_prompt)
    if hasattr(ids, "keys"):  # some tokenizers return a BatchEncoding
        ids = ids["input_ids"]
    return list(ids)


def sft_conversation(
    row: dict, index: int, *, system_prompt: str | None, language: str, system_ok: bool
) -> list[dict[str, str]]:
    """One SFT row's messages with the system prompt applied (override, else the language's default)."""
    messages = [dict(m) for m in row["messages"]]
    if not messages or messages[-1]["role"] != "assistant":
        raise UserError(f"SFT row {index}: the last message must be the assistant's; fix: check the data's messages")
    if system_prompt is not None:
        messages = [{"role": "system", "content": system_prompt}] + [m for m in messages if m["role"] != "system"]
    elif not any(m["role"] == "system" for m in messages):
        messages = build_messages("", row.get("language", language))[:1] + messages
    return _prefix(messages, system_ok)


def tokenize_conversation(messages: list[dict[str, str]], tokenizer: Any) -> list[dict[str, list[int]]]:
    """``input_ids`` + ``completion_mask`` (1 on every assistant turn): one record, or one per turn (see module doc)."""
    full = _render(tokenizer, messages)
    mask = [0] * len(full)
    turns = [k for k, m in enumerate(messages) if m["role"] == "assistant"]
    for k in turns:
        before = _render(tokenizer, messages[:k], generation_prompt=True)
        through = full if k == len(messages) - 1 else _render(tokenizer, messages[: k + 1])
        if through[: len(before)] != before or full[: len(through)] != through:
            return [_turn_record(messages[: j + 1], tokenizer) for j in turns]
        mask[len(before) : len(through)] = [1] * (len(through) - len(before))
    return [{"input_ids": full, "completion_mask": mask}]


def _turn_record(messages: list[dict[str, str]], tokenizer: Any) -> dict[str, list[int]]:
    """The last (assistant) message as the completion of everything before it, rendered as at inference."""
    before = _render(tokenizer, messages[:-1], generation_prompt=True)
    through = _render(tokenizer, messages)
    start = 0
    while start < min(len(before), len(through)) and before[start] == through[start]:
        start += 1
    return {"input_ids": through, "completion_mask": [0] * start + [1] * (len(through) - start)}


def sft_records(
    rows: Iterable[dict], tokenizer: Any, *, system_prompt: str | None = None, language: str = "en"
) -> list[dict[str, Any]]:
    """SFT rows (``messages``) → tokenised records whose ``completion_mask`` covers every assistant turn."""
    system_ok = accepts_system_role(tokenizer)
    out: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        messages = sft_conversation(row, i, system_prompt=system_prompt, language=language, system_ok=system_ok)
        out.extend(tokenize_conversation(messages, tokenizer))
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
        if len(_render(tokenizer, messages, generation_prompt=True)) > max_prompt_length:
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
