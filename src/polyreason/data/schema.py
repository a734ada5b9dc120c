"""The two row schemas every polyreason dataset uses, and their validators.

RL rows (prompts with a verifiable gold answer; used by GRPO and evaluation)::

    {"problem": str,          # the question shown to the model (non-empty)
     "answer": str,           # the gold final answer, as a string ("68", "\\frac{1}{2}"); numbers are converted
     "language": str,         # ISO 639-1 code of the problem text: "en", "es", ...
     "difficulty": str|None,  # "easy" | "medium" | "hard" | None (unknown)
     "source": str,           # where the row came from: "synthetic/add_sub", "gsm8k", a file name, ...
     "id": str|None}          # stable identifier (optional); :func:`row_id` derives one from the problem text

SFT rows (chat transcripts including the reasoning)::

    {"messages": [{"role": "system"|"user"|"assistant", "content": str}, ...],
     "language": str, "source": str, "id": str|None}

The assistant message follows the convention shared with :mod:`polyreason.prompts` and the verifier::

    "<think>\\n{reasoning}\\n</think>\\n\\n{short answer sentence} \\boxed{ANSWER}"

:func:`format_assistant` builds exactly that string.  Extra columns are allowed and kept (they carry
provenance such as the generating model or judge scores); the validators check only the columns above.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from polyreason.errors import UserError
from polyreason.text.region import THINK_CLOSE, THINK_OPEN

RL_COLUMNS = ("problem", "answer", "language", "difficulty", "source", "id")
SFT_COLUMNS = ("messages", "language", "source", "id")
DIFFICULTIES = ("easy", "medium", "hard")
ROLES = ("system", "user", "assistant")

_LANG_RE = re.compile(r"^[a-z]{2,3}([-_][A-Za-z0-9]{2,8})?$")


def normalize_problem(text: str) -> str:
    """Canonical form of a problem for hashing and exact matching: lower case, single spaces, no edge punctuation."""
    text = re.sub(r"\s+", " ", text.strip().lower())
    return text.strip(" .?!¿¡")


def row_id(text: str, prefix: str = "") -> str:
    """A stable id derived from the normalised problem text: ``prefix`` + 16 hex digits of its sha256."""
    digest = hashlib.sha256(normalize_problem(text).encode("utf-8")).hexdigest()[:16]
    return f"{prefix}{digest}"


def answer_to_str(value: Any, where: str = "row") -> str:
    """Turn a gold answer into the schema's string form: ``27.0`` -> ``"27"``, ``5`` -> ``"5"``, text stripped.

    A one-element list is unwrapped (``[5]`` -> ``"5"``).  A longer list or a mapping is rejected: whether
    ``[1, 2]`` means "both", "either" or a tuple is for the data's author to write out, e.g. ``"1, 2"`` or
    ``"\\{1, 2\\}"``, so the verifier compares what was meant.
    """
    if isinstance(value, list | tuple | dict) and not (isinstance(value, list) and len(value) == 1):
        kind = f"a list of {len(value)} values" if isinstance(value, list | tuple) else "a mapping"
        raise _fail(where, "answer", f"{kind} ({str(value)[:80]})",
                    'write the answer as one string, e.g. "1, 2" or "\\{1, 2\\}" for a set')
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return answer_to_str(value[0], where)
    return str(value).strip()


def format_assistant(reasoning: str, answer: str, sentence: str = "The answer is") -> str:
    """The assistant content convention: think block, blank line, a short sentence, the boxed answer.

    >>> format_assistant("2 + 2 = 4.", "4")
    '<think>\\n2 + 2 = 4.\\n</think>\\n\\nThe answer is \\\\boxed{4}'
    """
    return f"{THINK_OPEN}\n{reasoning.strip()}\n{THINK_CLOSE}\n\n{sentence.strip()} \\boxed{{{answer}}}"


def _fail(where: str, column: str, problem: str, fix: str) -> UserError:
    return UserError(f"{where}, column '{column}': {problem}; fix: {fix}")


def _check_common(row: dict, where: str) -> None:
    lang = row.get("language")
    if not isinstance(lang, str) or not _LANG_RE.match(lang):
        raise _fail(where, "language", f"expected an ISO 639-1 code like 'en' or 'es', got {lang!r}",
                    "set the column or pass --language")
    source = row.get("source")
    if not isinstance(source, str) or not source:
        raise _fail(where, "source", f"expected a non-empty string, got {source!r}", "name the row's origin")
    rid = row.get("id")
    if rid is not None and not isinstance(rid, str):
        raise _fail(where, "id", f"expected a string or null, got {type(rid).__name__}", "store ids as strings")


def validate_rl_row(row: Any, where: str = "row") -> dict:
    """Check an RL row against the schema; return it with ``difficulty``/``id`` defaulted to None.

    ``where`` names the row in the error (e.g. ``"train.jsonl row 17"``); the error also names the column.
    Raises :class:`polyreason.errors.UserError` on the first problem found.
    """
    if not isinstance(row, dict):
        raise UserError(f"{where}: expected a JSON object (dict), got {type(row).__name__}; fix: one object per row")
    for column in ("problem", "answer"):
        if column not in row:
            raise _fail(where, column, "missing", f"map a source column to '{column}' (e.g. --map {column}=COLUMN)")
        value = row[column]
        if not isinstance(value, str) or not value.strip():
            raise _fail(where, column, f"expected a non-empty string, got {value!r}"[:200],
                        "drop the row (--skip-invalid) or fix the source")
    _check_common(row, where)
    diff = row.get("difficulty")
    if diff is not None and diff not in DIFFICULTIES:
        raise _fail(where, "difficulty", f"expected one of {', '.join(DIFFICULTIES)} or null, got {diff!r}",
                    "retag with `polyreason data difficulty`")
    out = dict(row)
    out.setdefault("difficulty", None)
    out.setdefault("id", None)
    return out


def validate_sft_row(row: Any, where: str = "row") -> dict:
    """Check an SFT row: a non-empty ``messages`` list of {role, content} ending with an assistant turn.

    Raises :class:`polyreason.errors.UserError` naming the row, the column and the message index.
    """
    if not isinstance(row, dict):
        raise UserError(f"{where}: expected a JSON object (dict), got {type(row).__name__}; fix: one object per row")
    messages = row.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _fail(where, "messages", f"expected a non-empty list of chat messages, got {messages!r}"[:200],
                    "give [{'role': 'user', 'content': ...}, {'role': 'assistant', 'content': ...}]")
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict) or msg.get("role") not in ROLES or not isinstance(msg.get("content"), str):
            raise _fail(where, f"messages[{i}]", f"expected {{'role': one of {ROLES}, 'content': str}}, got {msg!r}"[:240],
                        "fix the message")
    if messages[-1]["role"] != "assistant" or not messages[-1]["content"].strip():
        raise _fail(where, "messages", "the last message must be a non-empty assistant turn",
                    "end every transcript with the assistant's answer")
    if not any(m["role"] == "user" for m in messages):
        raise _fail(where, "messages", "no user message", "include the problem as a user turn")
    _check_common(row, where)
    out = dict(row)
    out.setdefault("id", None)
    return out


def validate_row(row: Any, where: str, kind: str) -> dict:
    """Dispatch to :func:`validate_rl_row` (``kind="rl"``) or :func:`validate_sft_row` (``kind="sft"``)."""
    if kind == "rl":
        return validate_rl_row(row, where)
    if kind == "sft":
        return validate_sft_row(row, where)
    raise UserError(f"unknown row kind {kind!r}; fix: use 'rl' or 'sft'")
