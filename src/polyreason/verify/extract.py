"""Find the final answer in a model completion (or in a gold solution) without evaluating anything.

Only the answer region is read: the text after the last ``</think>`` (a ``<think>`` never closed means no
answer yet).  In it, in order:

1. **Boxes**: the last complete ``\\boxed{}`` / ``\\fbox{}``, together with the boxes just before it that
   form one list with it ("\\boxed{1} and \\boxed{2}", "\\boxed{(2, 2)}, \\boxed{(6, 2)}").  A ``\\boxed{``
   after the last complete box that never closes means the answer was cut off: no answer.
2. **An answer phrase** ("final answer is", "Respuesta:", "答案是", … in the MGSM languages) whose tail,
   read to the end of its sentence, holds an answer.  A phrase after the last box overrides the box
   (a restated final answer beats intermediate boxes); one before it does not.
3. Otherwise the **rightmost** of: the last math span (``$…$``, ``$$…$$``, ``\\(…\\)``, ``\\[…\\]``, with
   the spans just before it joined by "and"/"or"/commas into a list), the last markdown ``**bold**``,
   and the number of the concluding sentence (see below).
4. Otherwise a short answer region that is a bare formula or number ("-5", ".4", "7,425,000").

The concluding-sentence number: the last number of the region (within its last few thousand characters),
if the sentence holding it is just that number (with a unit or currency), or if a copula/equals/colon
("is", "are", "=", ":", "es", "ist", …) comes before it in that sentence ("Therefore, there are 12
distinct sequences"; then the first number after the last cue), or if the sentence opens with a concluding
word ("So", "Therefore", "Por lo tanto", "所以", …).  Numbers without such a cue ("I multiplied 3 by 4 and
then…", "John has 12 apples") are stray numbers: no answer beats a guess from them.  Numbers keep their
sign and their leading dot ("-5", ".4"); a digit inside a word ("AZYUK2A") is not a number.

Every scan is linear in the input and the input is capped, so pathological text stays cheap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from polyreason.text.boxed import BoxSpan, boxed_spans
from polyreason.text.region import THINK_CLOSE, THINK_OPEN, answer_region
from polyreason.text.spans import MathSpan, looks_like_math, math_spans

__all__ = [
    "THINK_CLOSE",
    "THINK_OPEN",
    "Found",
    "answer_region",
    "clean_text",
    "extract_answer",
    "find_answer",
    "gold_answer",
]
MAX_SCAN_CHARS = 100_000  # only the tail of a longer completion is searched for the answer
MAX_ANSWER_CHARS = 2_000
MAX_TAIL_CHARS = 600  # how far after an answer phrase its answer may run
PHRASE_CHARS = 20_000  # answer phrases are looked for in the last this many characters of the region
CONCLUSION_CHARS = 3_000  # the concluding sentence lies within the last this many characters

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BOX_OPEN = re.compile(r"\\(?:boxed|fbox)\s*\{")


@dataclass(frozen=True)
class Found:
    """Where the answer came from.

    answer: the answer text (several parts joined by ", "), or None; parts: the parts of a list answer
    (one item for a single answer); source: boxed | phrase | math | bold | sentence | bare | none |
    cut off | reasoning never closed; boxes: every box content in the answer region (hedge checks).
    """

    answer: str | None
    parts: tuple[str, ...] = ()
    source: str = "none"
    boxes: tuple[str, ...] = ()


_NONE = Found(None)


def clean_text(text: str) -> str:
    """Drop control characters (keeping newlines and tabs) and cap the length to the last MAX_SCAN_CHARS."""
    if len(text) > MAX_SCAN_CHARS:
        text = text[-MAX_SCAN_CHARS:]
    return _CONTROL.sub("", text)


def final_run(items: list, text: str, joinable) -> list:
    """The last item and the items before it that ``joinable(gap_text, earlier, later)`` links to it.

    ``items`` (boxes or math spans) have ``start``/``end``/``content`` and are in order of position in ``text``.
    """
    if not items:
        return []
    run = [items[-1]]
    for earlier in reversed(items[:-1]):
        if not joinable(text[earlier.end : run[-1].start], earlier, run[-1]):
            break
        run.append(earlier)
    return run[::-1]


# ---------------------------------------------------------------- boxes


_CONNECTOR = r"(?:and|or|y|o|et|ou|und|oder|e|и|или|na|au|และ|หรือ|和|或|及|と|または|এবং|మరియు)"
_BOX_GAP_CONNECTOR = re.compile(rf"(?:^|[\s}}{{])(?:{_CONNECTOR})(?:$|[\s{{}}])|[,;]", re.IGNORECASE)


_LETTERS = re.compile(r"(?<!\\)(?<![a-zA-Z])[^\W\d_]+")


def _boxes_join(gap: str, earlier: BoxSpan, later: BoxSpan) -> bool:
    # Boxes next to each other with no words between them, or a little apart with a list word between
    # them ("\boxed{1} and \boxed{2}", "\boxed{(3, 3)} for part (a) and \boxed{(1, 1)}"), form one answer.
    if len(gap) < 10 and not _LETTERS.search(gap):
        return True
    return len(gap) < 70 and earlier.content != later.content and bool(_BOX_GAP_CONNECTOR.search(gap))


def _dedupe(parts: list[str]) -> tuple[str, ...]:
    out: list[str] = []
    for p in parts:
        if not out or out[-1] != p:
            out.append(p)
    return tuple(out)


def _from_boxes(region: str, boxes: list[BoxSpan]) -> Found:
    run = final_run(boxes, region, _boxes_join)
    parts = _dedupe([b.content for b in run])
    contents = tuple(b.content for b in boxes)
    if any(not p for p in parts):
        return Found(None, (), "empty box", contents)
    return Found(", ".join(parts)[:MAX_ANSWER_CHARS], parts, "boxed", contents)


# ---------------------------------------------------------------- math spans

_SPAN_GAP = re.compile(
    rf"^(?:\s|\\quad|\\qquad|\\,|~)*(?:,|;|,?\s*(?:\\text\s*\{{\s*)?{_CONNECTOR}(?:\s*\}})?)?(?:\s|\\quad|\\qquad|\\,|~)*$",
    re.IGNORECASE,
)
_PERCENT_AFTER = re.compile(r"\s*(?:\\?%|percent(?:age)?\b|pct\b|por ciento\b|pour cent\b|prozent\b)", re.I)


def _spans_join(gap: str, earlier: MathSpan, later: MathSpan) -> bool:
    return len(gap) < 40 and bool(_SPAN_GAP.match(gap))  # both spans already look like math


def _from_spans(text: str, spans: list[MathSpan]) -> tuple[int, Found] | None:
    """The final run of math spans (a list joined by and/or/commas) as an answer, with its end position."""
    spans = [s for s in spans if looks_like_math(s.content)]
    if not spans:
        return None
    run = final_run(spans, text, _spans_join)
    parts = [s.content for s in run]
    end = run[-1].end
    pct = _PERCENT_AFTER.match(text, end)
    if pct and not parts[-1].rstrip().endswith("%"):
        parts[-1] = parts[-1] + " \\%"
        end = pct.end()
    parts_t = _dedupe(parts)
    return end, Found(", ".join(parts_t)[:MAX_ANSWER_CHARS], parts_t, "math")


# ---------------------------------------------------------------- numbers and sentences

_NUM_CORE = r"(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?|\.\d+)"
_NUMBER = re.compile(
    rf"(?<![\w.,\-\u2212])(?P<num>[-\u2212]?\s?{_NUM_CORE}(?:\s*[-+*/×÷^]\s*[-\u2212]?{_NUM_CORE})*)(?!\d)"
    r"(?P<pct>\s*(?:\\?%|percent(?:age)?\b|pct\b|por ciento\b|pour cent\b|prozent\b))?",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|[。！？\n]")
_CUE = re.compile(
    r"(?:(?<![^\W\d_])(?:is|are|was|were|be|equals?|gives?|get|gets|got|makes?|total|es|son|fue|da|"
    r"est|sont|fait|ist|sind|ergibt|é|são|dá|è|sono|fa|ni|равно|равен|составляет)(?![^\W\d_])"
    r"|'s\b|=|:|≈|是|为|為|は|です|得|共)",
    re.IGNORECASE,
)
_LEADING_CURRENCY = re.compile(r"^(?:\\\$|\$|€|£|¥|US\$)\s*")
_TRAILING_UNIT = re.compile(r"\s*(?:\$|€|£|¥|[^\W\d_]{1,12}(?:\^?[23²³])?)\s*$")
_TRAILING_PUNCT = re.compile(r"[\s.!。,;:]+$")
_DELIMITER_AFTER = re.compile(r"\$|\\[()\[\]]")


def _only_number(sentence: str) -> re.Match[str] | None:
    """The sentence is one number, maybe with a currency sign, a unit word or a percent sign."""
    if len(sentence) > 200:
        return None
    s = _TRAILING_PUNCT.sub("", sentence.strip())
    s = _LEADING_CURRENCY.sub("", s)
    m = _NUMBER.fullmatch(s)
    if m is None:
        m = _NUMBER.fullmatch(_TRAILING_UNIT.sub("", s))
    return m


def _mask(text: str, spans: list) -> str:
    """``text`` with every span blanked (same length), so its digits and full stops are not seen."""
    if not spans:
        return text
    out, last = [], 0
    for s in spans:
        out.append(text[last : s.start])
        out.append(" " * (s.end - s.start))
        last = s.end
    out.append(text[last:])
    return "".join(out)


def _number_text(m: re.Match[str]) -> str:
    num = m.group("num").replace("\u2212", "-")
    return num + (" \\%" if m.group("pct") else "")


_CONCLUDING = re.compile(
    r"^[\W_]*(?:so|therefore|thus|hence|finally|in total|altogether|in all|overall|por lo tanto|por tanto|"
    r"entonces|así que|en total|finalmente|donc|ainsi|au total|finalement|also|daher|somit|insgesamt|"
    r"folglich|portanto|então|assim|no total|quindi|dunque|in totale|итак|поэтому|всего)(?![^\W\d_])"
    r"|^[\W_]*(?:所以|因此|总共|一共|よって|したがって|合計)",
    re.IGNORECASE,
)


def _sentence_number(text: str, masked: str) -> tuple[int, Found] | None:
    """The number of the concluding sentence (module docstring), with its end position; None if stray.

    Only the last CONCLUSION_CHARS characters are read: a sentence further back concludes nothing."""
    last = None
    for last in _NUMBER.finditer(masked, max(0, len(masked) - CONCLUSION_CHARS)):  # noqa: B007 - the last
        pass
    if last is None:
        return None
    window = max(0, last.start() - CONCLUSION_CHARS)
    start = window
    for stop in _SENTENCE_END.finditer(masked, window):  # not endpos: "$" in its lookahead would see an end
        if stop.start() >= last.start():
            break
        start = stop.end()
    end_m = _SENTENCE_END.search(masked, last.end())
    end = end_m.start() if end_m else len(masked)
    if _DELIMITER_AFTER.search(masked, end):
        return None  # a broken math delimiter follows: the number sits in malformed math, not a sentence
    sentence = masked[start:end]
    m = _only_number(sentence)
    if m is not None:
        return last.end(), Found(_number_text(m), (_number_text(m),), "sentence")
    cue = None
    for cue in _CUE.finditer(sentence, 0, last.start() - start):  # noqa: B007
        pass
    cue_end = cue.end() if cue is not None else None
    if cue_end is None:
        concluding = _CONCLUDING.match(sentence)
        if concluding is None:
            return None
        cue_end = concluding.end()
    m = _NUMBER.search(sentence, cue_end)
    if m is None:
        return None
    answer = _number_text(m)
    return start + m.end(), Found(answer, (answer,), "sentence")


# ---------------------------------------------------------------- answer phrases

_PHRASE = re.compile(
    r"(?<![^\W\d_])(?:final answer|answer|respuesta final|respuesta|resultado final|réponse finale|réponse|"
    r"endgültige antwort|antwort|resposta final|resposta|risposta finale|risposta|окончательный ответ|ответ|"
    r"jibu|উত্তর|సమాధానం|คำตอบ)(?![^\W\d_])|最终答案|答案|答え",
    re.IGNORECASE,
)
_LEAD = re.compile(
    r"^(?:\s|\*\*|\*|[:：=]|\b(?:is|are|was|will be|would be|es|será|sera|est|ist|lautet|é|è|ni|равен|это)\b"
    r"|是|为|為|は|：)+",
    re.IGNORECASE,
)
_INTRO = re.compile(
    r"\s*(?:\*\*)?\s*(?:[:：=]|(?:is|are|was|will be|would be|es|será|sera|est|ist|lautet|é|è|ni)(?![^\W\d_])"
    r"|是|为|為|は|\$|\\\(|\\\[|\\boxed|[-\u2212.]?\d)",
    re.IGNORECASE,
)
_MATHY = re.compile(r"\d|\\[a-zA-Z]")
_COPULA = re.compile(
    r"\s(?:is|are|was|equals|es|son|est|sont|ist|sind|é|são|è|sono|ni)\s", re.IGNORECASE
)
_WORD = re.compile(r"(?<![\\a-zA-Z])[^\W\d_]{2,}")
_HOPE = re.compile(r"\bI hope\b", re.IGNORECASE)


def _sentence_tail(tail: str) -> str:
    """``tail`` up to the end of its sentence: a full stop, ! or ? before a space, or a line break outside
    display math; "I hope it is correct" ends it too.  Full stops inside math spans and decimals do not."""
    spans = math_spans(tail)
    masked = _mask(tail, spans)
    # Line breaks inside a display span are part of it, not the end of the sentence.
    end = _SENTENCE_END.search(masked)
    stop = end.start() if end else len(tail)
    hope = _HOPE.search(masked, 0, stop)
    return tail[: hope.start() if hope else stop]


def _strip(ans: str) -> str:
    ans = ans.strip()
    for _ in range(3):
        ans = ans.strip().rstrip(".;:!,。．").strip()
        if ans.startswith("**") and ans.endswith("**") and len(ans) > 4:
            ans = ans[2:-2]
        elif ans.startswith("**") or ans.endswith("**"):
            ans = ans.strip("*")
        if len(ans) > 2 and ans[0] == "$" and ans[-1] == "$":
            ans = ans.strip("$")
        if ans.startswith("\\(") and ans.endswith("\\)") or ans.startswith("\\[") and ans.endswith("\\]"):
            ans = ans[2:-2]
    return ans.strip()


def _reduce(tail: str) -> Found | None:
    """The answer inside a phrase's sentence tail: after its last copula; its math; a short bare answer; or
    its only number.  None when the tail holds none of these (prose)."""
    tail = _LEAD.sub("", tail, count=1).strip()
    if not tail:
        return None
    spans = math_spans(tail)
    masked = _mask(tail, spans)
    cop = None
    for cop in _COPULA.finditer(masked):  # noqa: B007
        pass
    if cop is not None and tail[cop.end() :].strip():
        tail = tail[cop.end() :]
        spans = math_spans(tail)
        masked = _mask(tail, spans)
    if spans:
        found = _from_spans(tail, spans)
        if found is not None and not _WORD.search(_mask(tail, spans)[found[0] :].strip(" .,;")):
            return found[1]
    bare = _strip(tail)
    if re.search(r"[^\W_]|\\", bare) and len(bare) <= 200 and len(_WORD.findall(_TEXTLESS.sub(" ", bare))) <= 3:
        return Found(bare, (bare,), "phrase")
    numbers = list(_NUMBER.finditer(masked))
    if len(numbers) == 1:
        answer = _number_text(numbers[0])
        return Found(answer, (answer,), "phrase")
    return None


_TEXTLESS = re.compile(r"\\(?:text\w*|mathrm|mbox)\s*\{[^{}]*\}")


def _from_phrase(region: str, after: int = 0, need_math: bool = False) -> Found | None:
    """The last answer phrase starting at or after ``after`` whose tail holds an answer (with a digit or a
    LaTeX command when ``need_math``: "\\boxed{5}. The answer is correct." keeps the box)."""
    start = max(after, len(region) - PHRASE_CHARS)
    matches = [m for m in _PHRASE.finditer(region, start) if _INTRO.match(region, m.end())]
    for m in reversed(matches[-20:]):
        tail = _sentence_tail(_LEAD.sub("", region[m.end() : m.end() + MAX_TAIL_CHARS], count=1))
        found = _reduce(tail)
        if found is not None and (not need_math or _MATHY.search(found.answer or "")):
            parts = tuple(p[:MAX_ANSWER_CHARS] for p in found.parts)
            return Found(", ".join(parts), parts, "phrase")
    return None


# ---------------------------------------------------------------- putting it together

_BOLD = re.compile(r"\*\*([^*\n]{1,300})\*\*")


def _bare(region: str) -> Found | None:
    """A short region that is only a formula or a number (no prose words outside LaTeX commands)."""
    s = _strip(region)
    if not re.search(r"[^\W_]|\\", s) or len(s) > 300 or "\n" in s:
        return None
    words = [w for w in _WORD.findall(_TEXTLESS.sub(" ", s)) if w.lower() not in ("percent", "percentage", "pct")]
    if words:
        return None
    return Found(s, (s,), "bare")


def _rightmost(region: str) -> Found | None:
    spans = math_spans(region)
    candidates: list[tuple[int, Found]] = []
    from_spans = _from_spans(region, spans)
    if from_spans is not None:
        candidates.append(from_spans)
    masked = _mask(region, spans)
    bold = None
    for bold in _BOLD.finditer(masked):  # noqa: B007
        pass
    if bold is not None:
        reduced = _reduce(region[bold.start(1) : bold.end(1)])
        if reduced is not None:
            candidates.append((bold.end(), Found(reduced.answer, reduced.parts, "bold")))
    sentence = _sentence_number(region, masked)
    if sentence is not None:
        candidates.append(sentence)
    if not candidates:
        return None
    return max(candidates, key=lambda c: c[0])[1]


def find_answer(text: str, language: str = "en", *, think: bool = True) -> Found:
    """Locate the final answer of ``text`` (module docstring).  ``think=False`` reads the whole text (golds).

    >>> find_answer("<think>maybe 3</think> So \\\\boxed{1} and \\\\boxed{2}.").parts
    ('1', '2')
    """
    del language  # the phrase patterns are multilingual; numbers are read later, by language
    if not text:
        return _NONE
    text = clean_text(text)
    region = answer_region(text) if think else text
    if region is None:
        return Found(None, (), "reasoning never closed")
    boxes = boxed_spans(region)
    after_boxes = boxes[-1].end if boxes else 0
    if _BOX_OPEN.search(region, after_boxes):
        return Found(None, (), "cut off", tuple(b.content for b in boxes))
    if boxes:
        later = _from_phrase(region, after_boxes, need_math=True)
        if later is not None:
            return Found(later.answer, later.parts, "phrase", tuple(b.content for b in boxes))
        return _from_boxes(region, boxes)
    found = _from_phrase(region) or _rightmost(region) or _bare(region)
    return found or _NONE


def extract_answer(text: str, language: str = "en") -> str | None:
    """Return the final answer of a completion as text (no evaluation), or None if there is none.

    Looks after the last ``</think>`` only (so reasoning is never graded); see :func:`find_answer`.

    >>> extract_answer("<think>maybe 3</think> The answer is \\\\boxed{4}.")
    '4'
    """
    return find_answer(text, language).answer


_DELIMITED = re.compile(r"(?<!\\)\$|\\\(|\\\[|\\boxed|\\fbox")
_DANGLING_BOX = re.compile(r"^\s*\\+(?:boxed|fbox)\s*\{(?!.*\})", re.S)


def gold_answer(gold: str) -> Found:
    """The answer a gold string holds: the gold itself when it is a plain answer ("5600", "x \\in [-2,7]"),
    else what :func:`find_answer` finds in it read as a whole (a worked solution with a box, "$28\\%$",
    "$1$ and $2$").  Falls back to the whole gold."""
    g = gold.strip()
    if _DELIMITED.search(g):
        found = find_answer(g, think=False)
        if found.answer:
            return found
    g = _DANGLING_BOX.sub("", g).strip()
    return Found(g, (g,), "gold")
