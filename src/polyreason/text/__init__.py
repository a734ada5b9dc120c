"""Low-level text analysis every layer shares (no torch, no math-verify): ``\\boxed{}`` extraction.

    >>> from polyreason.text import last_boxed, all_boxed
    >>> last_boxed("so \\\\boxed{1} then \\\\boxed{\\\\frac{2}{3}}")
    '\\\\frac{2}{3}'
"""

from polyreason.text.boxed import BoxSpan, all_boxed, boxed_spans, last_boxed

__all__ = ["BoxSpan", "all_boxed", "boxed_spans", "last_boxed"]
