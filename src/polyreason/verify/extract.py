"""Find the final answer in a model completion without evaluating anything.

Order of preference, looking only at the text after the last ``</think>`` (an unclosed ``<think>`` means no
answer yet): the last complete ``\\boxed{...}`` / ``\\fbox{...}``, then a phrase such as "final answer is ...",
"Respuesta: ..." (several languages), then the last markdown bold ``**...**``, then a number alone on the last
line.  Every scan is linear in the input and the input is capped, so pathological text stays cheap.
"""

from __future__ import annotations

import re

from polyreason.text.region import THINK_CLOSE, THINK_OPEN, answer_region

__all__ = ["THINK_CLOSE", "THINK_OPEN", "answer_region", "clean_text", "extract_answer"]
MAX_SCAN_CHARS = 100_000  # only the tail of a longer completion is searched for the answer
MAX_ANSWER_CHARS = 2_000

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_PHRASES = re.compile(
    r"(?:final answer|the answer|answer|la respuesta final|respuesta final|la respuesta|respuesta|"
    r"el resultado final|resultado final|la réponse finale|réponse finale|la réponse|réponse|"
    r"die antwort|antwort|a resposta final|resposta final|a resposta|resposta|la risposta|risposta|"
    r"окончательный ответ|ответ|最终答案|答案|答え|คำตอบ|jibu|উত্তর|సమాధానం)"
    r"(?:\s+(?:est|ist|is|es|é|è|ni)\b)?\s*(?:\*\*)?\s*(?::|：|is|es|=|是|は)?\s*(?P<ans>[^\n]{1,300})",
    re.IGNORECASE,
)
_BOLD = re.compile(r"\*\*([^*\n]{1,300})\*\*")
_LAST_LINE_NUMBER = re.compile(r"^[^\w$\\]*\$?\s*(?P<ans>[-\u2212]?\d[\d.,\s]*\d?)\s*\$?\s*\.?\s*$")


def clean_text(text: str) -> str:
    """Drop control characters (keeping newlines and tabs) and cap the length to the last MAX_SCAN_CHARS."""
    if len(text) > MAX_SCAN_CHARS:
        text = text[-MAX_SCAN_CHARS:]
    return _CONTROL.sub("", text)


def _brace_pairs(text: str) -> dict[int, int]:
    """Map the index of every ``{`` to its closing ``}`` in one linear pass (escaped braces skipped)."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            stack.append(i)
        elif ch == "}" and stack:
            pairs[stack.pop()] = i
        i += 1
    return pairs


def boxed_contents(text: str) -> list[str]:
    """Contents of every complete ``\\boxed{...}`` in ``text``, in order (nested boxes are not split)."""
    found: list[str] = []
    pairs: dict[int, int] | None = None
    pos = 0
    while True:
        m = _BOXED.search(text, pos)
        if not m:
            return found
        if pairs is None:
            pairs = _brace_pairs(text)
        end = pairs.get(m.end() - 1, -1)
        if end < 0:
            pos = m.end()
            continue
        found.append(text[m.end() : end].strip())
        pos = end + 1


def _strip_answer(ans: str) -> str:
    ans = ans.strip()
    for _ in range(3):
        ans = ans.strip().rstrip(".;:!。．").strip()
        if ans.startswith("**") and ans.endswith("**") and len(ans) > 4:
            ans = ans[2:-2]
        elif ans.startswith("**") or ans.endswith("**"):
            ans = ans.strip("*")
        if len(ans) > 2 and ans[0] == "$" and ans[-1] == "$":
            ans = ans.strip("$")
        if ans.startswith("\\(") and ans.endswith("\\)") or ans.startswith("\\[") and ans.endswith("\\]"):
            ans = ans[2:-2]
    return ans.strip()


def extract_answer(text: str, language: str = "en") -> str | None:
    """Return the final answer of a completion as text (no evaluation), or None if there is none.

    Looks after the last ``</think>`` only (so reasoning is never graded); prefers the last ``\\boxed{}``,
    then "final answer is ...", "Respuesta: ...", then markdown bold, then a bare number on the last line.
    ``language`` is accepted for symmetry with :func:`polyreason.verify.verify`; the phrase list covers
    English, Spanish, French, German, Portuguese, Italian, Russian, Chinese, Japanese, Thai, Swahili,
    Bengali and Telugu whatever its value.

    >>> extract_answer("<think>maybe 3</think> The answer is \\\\boxed{4}.")
    '4'
    """
    del language  # the phrase patterns are multilingual
    if not text:
        return None
    region = answer_region(clean_text(text))
    if region is None:
        return None
    boxes = boxed_contents(region)
    if boxes:
        return boxes[-1][:MAX_ANSWER_CHARS] if boxes[-1] else None
    if _BOXED.search(region):
        return None  # a \boxed{ that never closes: the answer was cut off
    return _phrase_answer(region)


def _phrase_answer(region: str) -> str | None:
    last = None
    for last in _PHRASES.finditer(region):  # noqa: B007 - we want the last match
        pass
    if last is not None:
        ans = _strip_answer(last.group("ans"))
        if ans:
            return ans[:MAX_ANSWER_CHARS]
    bold = None
    for bold in _BOLD.finditer(region):  # noqa: B007
        pass
    if bold is not None:
        ans = _strip_answer(bold.group(1))
        if ans:
            return ans
    lines = [ln for ln in region.strip().splitlines() if ln.strip()]
    if lines:
        m = _LAST_LINE_NUMBER.match(lines[-1][-200:])
        if m:
            return _strip_answer(m.group("ans"))
    return None
