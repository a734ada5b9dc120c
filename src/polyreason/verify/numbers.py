"""Locale-aware parsing of plain numbers ("5.600" is 5600 in Spanish, 5.6 in English).

Only digit strings with optional sign, grouping and decimal separators are accepted; nothing is evaluated.
Numbers longer than :data:`MAX_DIGITS` digits are refused (Python's int() itself refuses > 4300 digits).
"""

from __future__ import annotations

import re
from fractions import Fraction

MAX_DIGITS = 400

# Languages that write the decimal separator as a comma and group thousands with dots or spaces.
COMMA_DECIMAL_LANGUAGES = frozenset(
    "es ca gl eu pt fr it de nl da sv nb no fi pl cs sk sl hr sr bs ro hu ru uk be bg tr el lt lv et id vi "
    "az kk uz mk sq is".split()
)

_SPACE_CHARS = "\u00a0\u2009\u202f\u2007 "
_SIGNS = {"-": -1, "\u2212": -1, "+": 1}

_EN_THOUSANDS = re.compile(r"[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?")  # a first group "0" is no thousands
_ODD_COMMA = re.compile(r"\d+,(?:\d{1,2}|\d{4,})|0,\d+")  # not a thousands group: a decimal comma
_SPACE_THOUSANDS = re.compile(r"[1-9]\d{0,2}(?: \d{3})+(?:[.,]\d+)?")
_DOT_DECIMAL = re.compile(r"\d*\.\d+|\d+\.?")
_COMMA_DECIMAL = re.compile(r"\d*,\d+|\d+")
_DOT_THOUSANDS = re.compile(r"[1-9]\d{0,2}(?:\.\d{3})+(?:,\d+)?")


def uses_decimal_comma(language: str | None) -> bool:
    """True when ``language`` (an ISO 639-1 code, optionally with a region) writes 3,5 for three and a half."""
    if not language:
        return False
    return language.lower().replace("_", "-").split("-")[0] in COMMA_DECIMAL_LANGUAGES


def _to_fraction(int_part: str, frac_part: str) -> Fraction | None:
    digits = len(int_part) + len(frac_part)
    if digits == 0 or digits > MAX_DIGITS:
        return None
    numerator = int((int_part or "0") + frac_part)
    return Fraction(numerator, 10 ** len(frac_part))


def parse_number(text: str, language: str | None = "en") -> Fraction | None:
    """Parse a plain written number into an exact Fraction, following the conventions of ``language``.

    English (dot decimal): "5.600" -> 28/5, "1,000" -> 1000, "1 000" -> 1000, and a comma that cannot
    group thousands is a decimal comma: "2,74" -> 137/50, "0,111" -> 111/1000.
    Spanish and other decimal-comma languages: "5.600" -> 5600, "3,5" -> 7/2, "1.250,5" -> 2501/2,
    "1 000" -> 1000; an unambiguous dot decimal such as "3.25" or "1,250.5" is still read as written.
    Returns None for anything that is not a plain number (no expressions are evaluated).

    >>> parse_number("1.250,5", "es")
    Fraction(2501, 2)
    """
    s = text.strip()
    for ch in _SPACE_CHARS:
        s = s.replace(ch, " ")
    s = s.replace("{,}", ",").replace("{.}", ".")
    s = re.sub(r" +", " ", s)
    sign = 1
    if s[:1] in _SIGNS:
        sign = _SIGNS[s[0]]
        s = s[1:].lstrip()
    if not s or len(s) > MAX_DIGITS * 2 or not s[0].isdigit() and s[0] not in ".,":
        return None
    value = _parse_unsigned(s, uses_decimal_comma(language))
    return None if value is None else sign * value


def _parse_unsigned(s: str, decimal_comma: bool) -> Fraction | None:
    if _SPACE_THOUSANDS.fullmatch(s):
        head, _, frac = s.replace(" ", "").replace(",", ".").partition(".")
        return _to_fraction(head, frac)
    if " " in s:
        return None
    if decimal_comma:
        if _DOT_THOUSANDS.fullmatch(s):
            head, _, frac = s.replace(".", "").partition(",")
            return _to_fraction(head, frac)
        if _COMMA_DECIMAL.fullmatch(s):
            head, _, frac = s.partition(",")
            return _to_fraction(head, frac)
    if _EN_THOUSANDS.fullmatch(s) and not (decimal_comma and "." not in s):
        head, _, frac = s.replace(",", "").partition(".")
        return _to_fraction(head, frac)
    if _DOT_DECIMAL.fullmatch(s):
        head, _, frac = s.partition(".")
        return _to_fraction(head, frac)
    if _ODD_COMMA.fullmatch(s):
        # "1000,99", "2,74", "0,111": one comma that cannot group thousands is a decimal comma in any
        # language (math-verify reads it so too); "1,000" stays a thousand in English.
        head, _, frac = s.partition(",")
        return _to_fraction(head, frac)
    return None


def format_fraction(value: Fraction) -> str:
    """Canonical text of an exact number: an integer, a terminating decimal, or p/q."""
    if value.denominator == 1:
        return str(value.numerator)
    den = value.denominator
    twos = fives = 0
    while den % 2 == 0:
        den //= 2
        twos += 1
    while den % 5 == 0:
        den //= 5
        fives += 1
    if den == 1:
        places = max(twos, fives)
        scaled = abs(value.numerator) * (10**places) // value.denominator
        digits = str(scaled).rjust(places + 1, "0")
        sign = "-" if value < 0 else ""
        return f"{sign}{digits[:-places]}.{digits[-places:]}"
    return f"{value.numerator}/{value.denominator}"
