"""Cheap canonical forms of short answers, used to decide common cases without math-verify.

:func:`canonical` turns an extracted answer into a small typed value -- a number (exact Fraction, with a
percent flag), a word answer, a multiple-choice letter, or a tuple / set / interval of numbers -- or None
when the answer needs a real parser.  Nothing here evaluates text: only regexes and digit parsing.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from fractions import Fraction

from polyreason.verify.numbers import MAX_DIGITS, format_fraction, parse_number, uses_decimal_comma

MAX_CANON_CHARS = 300


@dataclass(frozen=True)
class Canon:
    """A canonical answer: kind in {"num", "text", "choice", "seq"}."""

    kind: str
    value: object
    percent: bool = False
    brackets: str = ""
    alt: object = None  # a second reading of an ambiguous number (Spanish "5,600": 5.6 or 5600)
    inexact: bool = False  # written as a decimal fraction ("0.0833"): compared after rounding, as a float

    def show(self) -> str:
        """Human-readable canonical text (goes into Verdict.normalized)."""
        if self.kind == "num":
            return format_fraction(self.value) + ("%" if self.percent else "")  # type: ignore[arg-type]
        if self.kind == "seq":
            inner = ", ".join(c.show() for c in self.value)  # type: ignore[attr-defined]
            return f"{self.brackets[:1]}{inner}{self.brackets[1:]}"
        return str(self.value)


_WRAPPERS = re.compile(
    r"^\\(?:text|textbf|textnormal|textrm|mathrm|mathbf|textit|mbox|operatorname)\s*\{(.*)\}$", re.S
)
_SPACES = re.compile(r"\\[,;:! ]|~|\\quad|\\qquad")
_DEGREE = re.compile(r"\^\s*\{?\\circ\}?|°|\\degree|\\textdegree")
_PERCENT = re.compile(
    r"\s*(?:\\?%|\b(?:percent(?:age)?|pct|por ?ciento|pour ?cent|prozent|per ?cento|por ?cento))$", re.IGNORECASE
)
_CURRENCY = re.compile(r"\\\$|\$|€|£|\\euro|\\pounds|US\$|\bUSD\b|\bEUR\b")
_UNIT_TAIL = re.compile(
    r"(?:\s*\\(?:text|textbf|textit|textnormal|textrm|mathrm|mbox)\s*\{[^{}]*\}(?:\^\{?\d\}?)?"
    r"|\s+[^\W\d_]{2,}\.?(?:\^\{?\d\}?)?"
    r"|(?<=\d)[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]{1,3})+$"  # "858颗": a CJK measure word
)
ASSIGN = re.compile(r"^[a-zA-Z](?:_\{?\w+\}?)?\s*=\s*")
_FRAC = re.compile(r"^(-?)\\[dt]?frac\s*\{\s*([^{}]+?)\s*\}\s*\{\s*([^{}]+?)\s*\}$")
_SIMPLE_FRAC = re.compile(r"^(-?)\\[dt]?frac(\d)(\d)$")
_COMMA_THOUSAND = re.compile(r"[-\u2212]?\d{1,3},\d{3}")
_SLASH = re.compile(r"^(-?\d+)\s*/\s*(\d+)$")
_CHOICE = re.compile(
    r"^(?:(?:option|opción|choice|answer|respuesta)\s*)?\(?\s*([A-J])\s*\)?\.?$", re.IGNORECASE
)
_WORD = re.compile(r"^[^\W\d_]+(?:[ '\-][^\W\d_]+){0,5}$")
_HEDGE_WORDS = re.compile(
    r"\\text\s*\{\s*(?:and|or|y|o|ou|et|oder|und|e)\s*\}|\s(?:and|or|y|o|ou|et|oder|und)\s|\\lor|\\vee|\\pm|±|\\mp"
)


def _unwrap(s: str) -> str:
    for _ in range(4):
        s = s.strip()
        m = _WRAPPERS.match(s)
        if m:
            s = m.group(1)
            continue
        if len(s) > 1 and s[0] == "$" and s[-1] == "$":
            s = s.strip("$")
            continue
        break
    return s.strip()


_DOUBLED_COMMAND = re.compile(r"\\\\[a-zA-Z]")
_SINGLE_COMMAND = re.compile(r"(?<!\\)\\[a-zA-Z]")
_LATEX_THOUSANDS = re.compile(r"(?<=\d),\s*\\!\s*(?=\d{3})|(?<=\d)\s*\{\s*,\s*\}\s*(?=\d{3})")
_SHORT_FRAC = re.compile(r"\\frac\s*(?:(\d)|\{([^{}]*)\})\s*(?:(\d)|\{([^{}]*)\})")
_SHORT_SQRT = re.compile(r"\\sqrt\s*(\d)(?!\d)")


def unescape_doubled(s: str) -> str:
    """Halve the backslashes of a string escaped twice (every command written ``\\\\frac``, none ``\\frac``)."""
    if _DOUBLED_COMMAND.search(s) and not _SINGLE_COMMAND.search(s.replace("\\\\", "")):
        return s.replace("\\\\", "\\")
    return s


def _full_frac(m: re.Match[str]) -> str:
    num = m.group(1) if m.group(1) is not None else m.group(2)
    den = m.group(3) if m.group(3) is not None else m.group(4)
    return f"\\frac{{{num}}}{{{den}}}"


def clean_answer(answer: str) -> str:
    """Remove layout-only LaTeX (\\left, \\right, \\displaystyle, spacing macros) and outer wrappers;
    write LaTeX thousands (``11,\\!111``, ``14{,}916``) as plain commas and short forms (``\\frac13``,
    ``\\sqrt3``, ``\\cfrac``) in full."""
    s = unescape_doubled(unicodedata.normalize("NFKC", answer))
    s = _LATEX_THOUSANDS.sub(",", s)
    s = s.replace("\\left", "").replace("\\right", "").replace("\\displaystyle", "").replace("\\!", "")
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("\\cfrac", "\\frac")
    s = s.replace("\u2212", "-")
    s = _SHORT_SQRT.sub(r"\\sqrt{\1}", _SHORT_FRAC.sub(_full_frac, s))
    s = _unwrap(s)
    s = _SPACES.sub(" ", s)
    s = re.sub(r"\s+", " ", s).strip().rstrip(".").strip()
    return s


def text_key(answer: str) -> str:
    """Whitespace- and layout-insensitive text of an answer: equal keys mean the same written answer."""
    s = clean_answer(answer)
    s = re.sub(r"\\(?:text|mathrm|textbf|mbox)\s*\{\s*\}", "", s)
    return re.sub(r"\s+", "", s).rstrip(".")


def split_top_level(s: str, seps: str = ",;") -> list[str]:
    """Split on separators that are not inside (), [], {} (a linear scan)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(s):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch in seps and depth == 0:
            parts.append(s[start:i])
            start = i + 1
    parts.append(s[start:])
    return parts


def has_top_level_comma(s: str) -> bool:
    """True when ``s`` lists several items (a tuple, set, interval or list of answers)."""
    s = clean_answer(s)
    if len(s) > 1 and s[0] in "([" and s[-1] in ")]":
        s = s[1:-1]
    elif s.startswith("\\{") and s.endswith("\\}"):
        s = s[2:-2]
    elif len(s) > 1 and s[0] == "{" and s[-1] == "}":
        s = s[1:-1]  # a bare TeX group "{1,2,3}"
    return len(split_top_level(s)) > 1


def is_hedged(pred: str, gold: str, language: str = "en", gold_lists: bool = False) -> bool:
    """A prediction that offers several candidates ("1331 and 1728", "3 or 4", "\\pm 2") for one gold.

    When the gold itself lists several items (``gold_lists``), "1 or -2" is a way of writing the list.
    """
    if not gold_lists and _HEDGE_WORDS.search(pred) and not _HEDGE_WORDS.search(gold):
        return True
    if not gold_lists and not has_top_level_comma(gold) and "," in pred:
        cleaned = clean_answer(pred)
        if len(cleaned) > 1 and cleaned[0] in "([{" or "\\{" in cleaned or "\\begin" in cleaned:
            return False
        # "1,234" (English) or "3,5" / "1.250,5" (Spanish) is one number, not two answers.
        if (
            _number(cleaned, language) is not None
            or _number(_UNIT_TAIL.sub("", cleaned), language) is not None
        ):
            return False
        items = [p.strip() for p in split_top_level(cleaned, ",;")]
        if len(items) > 1 and all(items):
            return True
    return False


_LIST_WORDS = re.compile(
    r"\\text\s*\{\s*(?:and|or|y|o|ou|et|oder|und|e)\s*\}|\s(?:and|or|y|o|ou|et|oder|und)\s|\\lor|\\vee"
)


def lists_items(answer: str) -> bool:
    """True when a (gold) answer lists several items: top-level commas or semicolons, or "and"/"or"."""
    return has_top_level_comma(answer) or bool(_LIST_WORDS.search(answer))


def connectors_to_commas(answer: str) -> str:
    """ "x = 1 \\text{ or } x = -2" -> "x = 1, x = -2" (for golds that list several items)."""
    return _LIST_WORDS.sub(", ", answer)


def _number(s: str, language: str) -> Canon | None:
    if len(s) > MAX_CANON_CHARS:
        return None
    percent = bool(_PERCENT.search(s))
    s = _PERCENT.sub("", s).strip()
    s = _DEGREE.sub("", s).strip()
    s = _CURRENCY.sub("", s).strip()
    value = parse_number(s, language)
    if value is None:
        m = _FRAC.match(s) or _SIMPLE_FRAC.match(s)
        if m:
            num, den = parse_number(m.group(2), language), parse_number(m.group(3), language)
            if num is not None and den:
                value = (num / den) * (-1 if m.group(1) else 1)
        else:
            m = _SLASH.match(s)
            if m and int(m.group(2)) != 0 and len(s) < MAX_DIGITS:
                value = Fraction(int(m.group(1)), int(m.group(2)))
    alt = None
    if value is not None and uses_decimal_comma(language) and _COMMA_THOUSAND.fullmatch(s):
        # "5,600" in a decimal-comma language is 5.6 by the rules, but MGSM-es and many models write
        # English-style thousands: both readings are accepted (a decimal 5.600 is rarely written so).
        alt = parse_number(s, "en")
    if value is None:
        return None
    inexact = value.denominator != 1 and "/" not in s and "frac" not in s
    return Canon("num", value, percent, alt=alt, inexact=inexact)


def _sequence(s: str, language: str) -> Canon | None:
    if s.startswith("\\{") and s.endswith("\\}"):
        brackets, inner = "{}", s[2:-2]
    elif len(s) > 1 and s[0] in "([" and s[-1] in ")]":
        brackets, inner = s[0] + s[-1], s[1:-1]
    else:
        return None
    items = [i.strip() for i in split_top_level(inner, ",")]
    if len(items) < 2 or not all(items):
        return None
    # Inside a tuple commas separate items, so read each item with dot-decimal rules.
    canon_items = [_number(_unwrap(i), "en") for i in items]
    if any(c is None for c in canon_items):
        return None
    return Canon("seq", tuple(canon_items), brackets=brackets)


def canonical(answer: str, language: str = "en", *, gold_has_equation: bool = True) -> Canon | None:
    """Canonical form of a short answer, or None when math-verify must decide.

    ``language`` picks the number convention (Spanish "5.600" = 5600).  A leading ``x =`` is dropped unless
    the gold itself is an equation (``gold_has_equation``).
    """
    s = clean_answer(answer)
    if not s or len(s) > MAX_CANON_CHARS:
        return None
    if not gold_has_equation:
        s = ASSIGN.sub("", s, count=1)
    m = _CHOICE.match(s)
    if m and (s.startswith("(") or len(s.strip(".")) == 1 or " " in s):
        return Canon("choice", m.group(1).upper())
    seq = _sequence(s, language)
    if seq is not None:
        return seq
    num = _number(s, language)
    if num is None:
        stripped = _UNIT_TAIL.sub("", s).strip()
        if stripped and stripped != s and re.search(r"\d", stripped):
            num = _number(stripped, language)
    if num is not None:
        return num
    word = _unwrap(s)
    if _WORD.match(word) and len(word) > 1:
        return Canon("text", _fold(word))
    return None


def _fold(word: str) -> str:
    word = unicodedata.normalize("NFKD", word.lower())
    word = "".join(ch for ch in word if not unicodedata.combining(ch))
    return re.sub(r"^(?:the|a|an|el|la|los|las|le|les|der|die|das)\s+", "", word).strip()


def _num_eq(a: Fraction, b: Fraction, inexact: bool, float_rounding: int | None) -> bool:
    """Exact equality, or equality after rounding both to ``float_rounding`` decimals when either was
    written as a decimal (math-verify's rule for floats: 0.0833333333333333 equals 1/12 at 6 places)."""
    if a == b:
        return True
    return inexact and float_rounding is not None and round(a, float_rounding) == round(b, float_rounding)


def compare(gold: Canon, pred: Canon, float_rounding: int | None = 6) -> bool | None:
    """Decide equality of two canonical answers; None when the kinds differ in a way math-verify must judge."""
    if gold.kind != pred.kind:
        if gold.kind == "choice" or pred.kind == "choice" and gold.kind == "num":
            return False
        return None
    if gold.kind == "num":
        if pred.alt is not None and gold.percent == pred.percent and gold.value == pred.alt:
            return True
        g, p = gold.value, pred.value
        inexact = gold.inexact or pred.inexact

        def eq(a, b) -> bool:
            return _num_eq(a, b, inexact, float_rounding)

        if gold.percent == pred.percent:
            return eq(g, p)
        # 50% vs 50 or 0.5: accepted both ways, as math-verify does.
        if gold.percent:
            return eq(p, g) or eq(p, g / 100)  # type: ignore[operator]
        return eq(p, g) or eq(p / 100, g)  # type: ignore[operator]
    if gold.kind == "seq":
        if len(gold.value) != len(pred.value):  # type: ignore[arg-type]
            return False
        if gold.brackets == "{}" or pred.brackets == "{}":
            if gold.brackets != pred.brackets:
                return None
            return sorted(c.value for c in gold.value) == sorted(c.value for c in pred.value)  # type: ignore
        if gold.brackets != pred.brackets:
            return None  # (1,2) vs [1,2]: interval or tuple -- let math-verify judge
        pairs = zip(gold.value, pred.value, strict=True)  # type: ignore
        if all(a.value == b.value for a, b in pairs):
            return True
        if any(c.inexact for c in (*gold.value, *pred.value)):  # type: ignore
            return None  # (1, 4.5) vs (1, \frac{9}{2}) at a rounding: math-verify
        return False
    return gold.value == pred.value


def decimal_comma_to_dot(answer: str, language: str, gold_lists: bool) -> str:
    """Rewrite locale numbers in an answer to dot-decimal form so that math-verify reads them right.

    Only for decimal-comma languages, and never when the gold is a list (then commas separate items).
    """
    if not uses_decimal_comma(language) or gold_lists:
        return answer

    def fix(m: re.Match[str]) -> str:
        value = parse_number(m.group(0), language)
        return m.group(0) if value is None else format_fraction(value)

    return re.sub(
        r"(?<![\w.,])\d{1,3}(?:\.\d{3})+(?:,\d+)?(?![\w.,])|(?<![\w.,])\d+,\d+(?![\w.,])", fix, answer
    )
