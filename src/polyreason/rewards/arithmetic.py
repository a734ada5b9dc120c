"""Arithmetic reward: the share of the equations a completion writes that are true (a checkable process signal)."""

from __future__ import annotations

from typing import Any

from polyreason.rewards.inputs import completion_texts, log_mean
from polyreason.text.equations import find_equations


def arithmetic():
    """Arithmetic reward in [0, 1]: true equations / equations written, 0.0 when the completion writes none.

    An equation is plain arithmetic ``expression = number`` (``38 + 20 = 58``, ``3 × 4 = 12``), judged exactly by
    :mod:`polyreason.text.equations`; other text is ignored.  Where the final answer is right or wrong for the
    whole group, this still tells a slip in the last step from one in the first, so more groups carry an
    advantage.  Give it a smaller weight than ``accuracy``: a completion can raise its share with true but
    useless equations.  Example: "38 + 20 = 58, and 58 + 7 = 64" -> 0.5; "\\\\boxed{65}" -> 0.0.
    """

    def reward(prompts, completions, **kwargs: Any) -> list[float | None]:
        found = [find_equations(t) for t in completion_texts(completions)]
        out: list[float | None] = [sum(e.true for e in eqs) / len(eqs) if eqs else 0.0 for eqs in found]
        log_mean(kwargs, "arithmetic/equations", [float(len(eqs)) for eqs in found])
        return out

    return reward
