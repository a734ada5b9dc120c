"""The reasoning contract: how a model is asked to reason and where its answer goes.

Every part of polyreason (SFT data, GRPO prompts, rewards, evaluation) agrees on one convention::

    <think>
    reasoning, in the target language
    </think>

    short answer sentence \\boxed{ANSWER}

The reasoning sits between ``<think>`` and ``</think>`` exactly once; the final answer is the last
``\\boxed{}`` after ``</think>`` (:mod:`polyreason.text.region` reads completions by this convention).
System prompts ask for it in the user's language (the Spanish one follows the SmolLM3-ES model card:
"Primero piensa en etiquetas <think> y luego da tu respuesta").
"""

from __future__ import annotations

from typing import Any

from polyreason.errors import UserError

SYSTEM_PROMPTS: dict[str, str] = {
    "en": (
        "You are a helpful assistant. First think through the problem step by step inside <think> and "
        "</think> tags, then give the final answer inside \\boxed{}."
    ),
    "es": (
        "Eres un asistente útil. Primero piensa paso a paso, en español, dentro de etiquetas <think> y "
        "</think>, y luego da tu respuesta final dentro de \\boxed{}."
    ),
    "fr": (
        "Tu es un assistant utile. Réfléchis d'abord étape par étape, en français, entre les balises <think> "
        "et </think>, puis donne ta réponse finale dans \\boxed{}."
    ),
    "de": (
        "Du bist ein hilfreicher Assistent. Denke zuerst Schritt für Schritt auf Deutsch zwischen den Tags "
        "<think> und </think> nach und gib dann deine endgültige Antwort in \\boxed{} an."
    ),
    "pt": (
        "Você é um assistente útil. Primeiro pense passo a passo, em português, dentro das tags <think> e "
        "</think>, e depois dê sua resposta final dentro de \\boxed{}."
    ),
}

# Names used when no native-language prompt exists: the English prompt asks for reasoning in that language.
LANGUAGE_NAMES: dict[str, str] = {
    "en": "English", "es": "Spanish", "fr": "French", "de": "German", "pt": "Portuguese", "it": "Italian",
    "ru": "Russian", "zh": "Chinese", "ja": "Japanese", "bn": "Bengali", "sw": "Swahili", "te": "Telugu",
    "th": "Thai", "ar": "Arabic", "hi": "Hindi", "ko": "Korean", "nl": "Dutch", "ca": "Catalan",
}


def system_prompt(language: str = "en") -> str:
    """The system prompt asking for ``<think>`` reasoning then a ``\\boxed{}`` answer, in ``language``.

    >>> "piensa" in system_prompt("es")
    True
    """
    if language in SYSTEM_PROMPTS:
        return SYSTEM_PROMPTS[language]
    if language in LANGUAGE_NAMES:
        name = LANGUAGE_NAMES[language]
        return (
            f"You are a helpful assistant. First think through the problem step by step in {name} inside "
            f"<think> and </think> tags, then give the final answer inside \\boxed{{}}."
        )
    raise UserError(
        f"no system prompt for language {language!r}; fix: use an ISO 639-1 code among "
        f"{', '.join(sorted(LANGUAGE_NAMES))}, or give the recipe an explicit system_prompt"
    )


def build_messages(problem: str, language: str = "en", system: str | None = None) -> list[dict[str, str]]:
    """Chat messages for one problem: the system prompt (``system`` overrides the default) and the problem."""
    return [
        {"role": "system", "content": system if system is not None else system_prompt(language)},
        {"role": "user", "content": problem},
    ]


def fold_system(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """Merge a leading system message into the first user turn, for templates without a system role."""
    if not messages or messages[0]["role"] != "system":
        return list(messages)
    system, rest = messages[0]["content"], list(messages[1:])
    if rest and rest[0]["role"] == "user":
        rest[0] = {"role": "user", "content": f"{system}\n\n{rest[0]['content']}"}
    else:
        rest.insert(0, {"role": "user", "content": system})
    return rest


def format_prompt(tokenizer: Any, messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
    """Render ``messages`` with the tokenizer's chat template.

    Templates that reject a system role (they raise, as Gemma 2's does) get the system text folded into the
    first user message instead; tokenizers without a chat template get a plain ``role: content`` layout.
    """
    if not getattr(tokenizer, "chat_template", None):
        body = "\n\n".join(f"{m['role']}: {m['content']}" for m in messages)
        return body + ("\n\nassistant:" if add_generation_prompt else "")
    try:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)
    except Exception as exc:  # jinja raises TemplateError; some templates raise plain exceptions
        if messages and messages[0]["role"] == "system" and "system" in str(exc).lower():
            return tokenizer.apply_chat_template(
                fold_system(messages), tokenize=False, add_generation_prompt=add_generation_prompt
            )
        raise
