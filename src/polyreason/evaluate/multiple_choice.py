"""Multiple-choice benchmarks (MMLU, GPQA-diamond): row parsers, the zero-shot prompt and letter extraction.

The prompt is the zero-shot instruction lighteval and simple-evals use for GPQA and MMLU ("… The last line
of your response should be of the following format: 'Answer: $LETTER' …"), with the options listed as
``A) …``.  The letter is read only from the answer region (after the last ``</think>``; nothing when the
reasoning never closed, see :func:`polyreason.text.region.answer_region`), in three tiers, each taking its last
match: an answer phrase in any of the supported languages ("The answer is (C)", "Answer: C", "La respuesta
correcta es la B", "答案是 C" …); a ``\\boxed{C}``; the last non-empty line when it starts with a letter
("C", "C)", "(C)", "**C**", "C) 42").
"""

from __future__ import annotations

import hashlib
import random
import re
from typing import TYPE_CHECKING, Any

from polyreason.text.region import answer_region

if TYPE_CHECKING:
    from polyreason.evaluate.benchmarks import Problem

LETTERS = "ABCDEFGHIJ"

INSTRUCTION = (
    "Answer the following multiple choice question. The last line of your response should be of the following "
    "format: 'Answer: $LETTER' (without quotes) where LETTER is one of {letters}. Think step by step before "
    "answering.\n\n{problem}"
)

# "answer" in the languages polyreason evaluates, each with the verbs/markers that may follow it
_PHRASES = (
    r"(?:the\s+)?(?:final\s+|correct\s+|best\s+)?answer(?:\s+(?:is|would\s+be|should\s+be))?",
    r"(?:la\s+)?respuesta(?:\s+(?:correcta|final))?(?:\s+(?:es|sería))?",
    r"(?:la\s+)?r[ée]ponse(?:\s+(?:correcte|finale))?(?:\s+(?:est|serait))?",
    r"(?:die\s+)?(?:richtige\s+|endgültige\s+)?antwort(?:\s+(?:ist|lautet|wäre))?",
    r"(?:la\s+)?risposta(?:\s+(?:corretta|finale))?(?:\s+(?:è|e))?",
    r"(?:a\s+)?resposta(?:\s+(?:correta|final))?(?:\s+(?:é|e))?",
    r"(?:правильный\s+|окончательный\s+)?ответ(?:\s+[—-])?",
    r"(?:最终|正确)?答案(?:是|为|應為|应为)?",
    r"(?:正しい)?答え(?:は)?|正解(?:は)?",
    r"정답(?:은|는)?",
    r"jibu(?:\s+(?:sahihi|la\s+mwisho))?(?:\s+ni)?",
    r"সঠিক\s+উত্তর|উত্তর",
    r"คำตอบ(?:ที่ถูกต้อง)?(?:คือ)?",
    r"సమాధానం",
)
_OPTION_WORD = r"(?:(?:la\s+|l['’]\s*)?(?:option|opción|opção|opzione|choice|variante|вариант|选项|選項)\s*)?"
_LETTER_TOKEN = (
    r"(?:\(\s*(?P<p>[A-Ja-j])\s*\)"  # (C) or (c)
    r"|\[\s*(?P<s>[A-J])\s*\]"  # [C]
    r"|\\boxed\s*\{\s*(?:\\text(?:bf)?\s*\{\s*)?\(?(?P<x>[A-J])\)?\s*\}?\s*\}"  # \boxed{C}, \boxed{\text{C}}
    r"|(?<![A-Za-z0-9])(?P<b>[A-J])(?![A-Za-z0-9'’]))"  # C, C), C.
)
_ANSWER_RE = re.compile(
    r"(?i:" + "|".join(_PHRASES) + r")\s*(?:[:：=]|\bis\b)?\s*" + _OPTION_WORD + r"[:：]?\s*" + _LETTER_TOKEN
)
_BOXED_RE = re.compile(r"\\boxed\s*\{\s*(?:\\text(?:bf)?\s*\{\s*)?\(?(?P<x>[A-Ja-j])\)?\s*\}?\s*\}")
# a line starting with a letter: "C", "C)", "C.", "C: …", "(C) …" (not "A banana …")
_LINE_RE = re.compile(r"^\W{0,3}(?:\(\s*(?P<p>[A-Ja-j])\s*\)|(?P<b>[A-J])(?=\s*$|\s*[).:：]))")
_MARKUP = re.compile(r"[*_`$]|\\\(|\\\)|\\\[|\\\]")


def _letter(match: re.Match[str]) -> str:
    return next(v for v in match.groupdict().values() if v).upper()


def extract_choice(completion: str, n_choices: int = 4) -> str | None:
    """The option letter a completion chose (``"A"`` …), or None when it names none of the first ``n_choices``.

    >>> extract_choice("<think>maybe (A)</think>The answer is (C).")
    'C'
    >>> extract_choice("Por lo tanto, la respuesta correcta es la opción B.")
    'B'
    >>> extract_choice("<think>The answer is (A)") is None      # reasoning never closed: no answer
    True
    """
    region = answer_region(completion)
    if not region:
        return None
    valid = LETTERS[:n_choices]
    text = _MARKUP.sub("", region)
    for finder in (_ANSWER_RE.finditer, _BOXED_RE.finditer):
        found = [_letter(m) for m in finder(text)]
        found = [f for f in found if f in valid]
        if found:
            return found[-1]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if lines:
        match = _LINE_RE.match(lines[-1])
        if match and _letter(match) in valid:
            return _letter(match)
    return None


def format_question(question: str, choices: list[str]) -> str:
    """The question followed by its options as ``A) …`` lines (the problem text the prompt wraps)."""
    options = "\n".join(f"{LETTERS[i]}) {str(choice).strip()}" for i, choice in enumerate(choices))
    return f"{question.strip()}\n\n{options}"


def instruction(problem: Problem) -> str:
    """The zero-shot instruction template (with ``{problem}``) for a multiple-choice problem."""
    letters = LETTERS[: len(problem.meta.get("choices", ())) or 4]
    return INSTRUCTION.replace("{letters}", letters)


def grade(problem: Problem, completion: str) -> tuple[bool, str | None, str]:
    """(correct, extracted letter, reason) for one completion."""
    letter = extract_choice(completion, len(problem.meta.get("choices", ())) or 4)
    if letter is None:
        return False, None, "no choice found"
    return letter == problem.gold, letter, "match" if letter == problem.gold else "wrong choice"


# ---------------------------------------------------------------- row parsers (hub layouts)


def mmlu_row(row: dict[str, Any]) -> dict[str, Any]:
    """``cais/mmlu`` (config ``all``, split ``test``): question, subject, choices[4], answer (0-3)."""
    choices = [str(c) for c in row["choices"]]
    answer = row["answer"]
    gold = LETTERS[int(answer)] if not isinstance(answer, str) or answer.isdigit() else answer.strip().upper()
    return {
        "problem": format_question(row["question"], choices),
        "gold": gold,
        "raw_gold": str(answer),
        "meta": {"subject": row.get("subject") or None, "choices": choices},
    }


def gpqa_row(row: dict[str, Any]) -> dict[str, Any]:
    """``Idavidrein/gpqa`` (``gpqa_diamond``, split ``train``) or its CSV: the correct answer and three wrong
    ones, shuffled with a seed taken from the row's Record ID (or question), so the order is the same on every
    machine and in every run."""
    correct = str(row["Correct Answer"]).strip()
    choices = [correct] + [str(row[f"Incorrect Answer {i}"]).strip() for i in (1, 2, 3)]
    key = str(row.get("Record ID") or row["Question"])
    random.Random(int(hashlib.sha256(key.encode()).hexdigest()[:16], 16)).shuffle(choices)
    gold = LETTERS[choices.index(correct)]
    return {
        "problem": format_question(str(row["Question"]), choices),
        "gold": gold,
        "raw_gold": correct,
        "meta": {"domain": row.get("High-level domain"), "subdomain": row.get("Subdomain"), "choices": choices,
                 "id": row.get("Record ID")},
    }
