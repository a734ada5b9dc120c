"""Answer verification that is right, fast and safe: extraction, locale-aware numbers, math-verify in
time-bounded worker processes.  Pure Python + math-verify; no torch.

    >>> from polyreason.verify import verify
    >>> verify("1728", "<think>...</think> \\\\boxed{1728}").correct
    True
"""

from polyreason.verify.core import DEFAULT_FLOAT_ROUNDING, Verdict, verify, verify_batch, warm_up
from polyreason.verify.extract import Found, extract_answer, find_answer

__all__ = [
    "DEFAULT_FLOAT_ROUNDING",
    "Found",
    "Verdict",
    "extract_answer",
    "find_answer",
    "verify",
    "verify_batch",
    "warm_up",
]
