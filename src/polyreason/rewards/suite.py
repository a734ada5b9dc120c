"""A recipe's reward suite as training builds it, and the one rule for a weighted sum with missing parts.

Training (:func:`polyreason.train.runner.build_reward_funcs`), ``polyreason score --recipe`` and the
quickstart's held-out scoring all call :func:`suite_from_specs`, so a reward is built with the same
parameters everywhere -- including the length budget training derives from the stage
(:func:`reward_params`).

**The sum rule** (:func:`weighted_sum`): total = Σ_k w_k·r_k over the components that scored the sample;
a component that returns None (e.g. accuracy on an unparseable gold) is left out of the sum, and a sample
that no component scored has no total (None).  This is what TRL's GRPOTrainer does with the values a
reward function returns (``nansum`` of weight × reward, NaN when every reward is NaN), so the totals
``polyreason score`` writes are the rewards training used.  Means over samples skip samples without a
total (:func:`mean_total`), as TRL's logged ``reward`` does.

    >>> weighted_sum({"accuracy": 1.0, "format": 0.5}, {"accuracy": None, "format": 1.0})
    0.5
    >>> weighted_sum({"accuracy": 1.0, "cosine": 2.0}, {"accuracy": None, "cosine": None}) is None
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# Length-aware rewards default their length budget to the stage's max_completion_length.
LENGTH_REWARDS = ("cosine", "soft_overlong")


def reward_params(name: str, params: Mapping[str, Any], max_completion_length: int | None) -> dict[str, Any]:
    """``params`` with stage-derived defaults: ``max_len`` (and a soft_overlong ``cache`` of a quarter of it).

    >>> reward_params("soft_overlong", {}, 96)
    {'max_len': 96, 'cache': 24}
    """
    params = dict(params)
    if name in LENGTH_REWARDS and max_completion_length and "max_len" not in params:
        params["max_len"] = max_completion_length
        if name == "soft_overlong" and "cache" not in params:
            params["cache"] = max(1, min(200, max_completion_length // 4))
    return params


def suite_from_specs(
    specs: Mapping[str, Any], max_completion_length: int | None = None
) -> tuple[dict[str, float], dict[str, dict[str, Any]]]:
    """``(weights, params)`` from reward specs (objects with ``weight`` and ``params``, as a recipe holds them),
    with :func:`reward_params` applied for a stage generating up to ``max_completion_length`` tokens."""
    weights = {name: float(spec.weight) for name, spec in specs.items()}
    params = {name: reward_params(name, spec.params or {}, max_completion_length) for name, spec in specs.items()}
    return weights, params


def weighted_sum(weights: Mapping[str, float], values: Mapping[str, float | None]) -> float | None:
    """Σ w·r over the components with a value; None when no component has one (see the module docstring)."""
    present = [(w, values[name]) for name, w in weights.items() if values[name] is not None]
    if not present:
        return None
    return sum(w * v for w, v in present)  # type: ignore[operator]


def combine(
    weights: Mapping[str, float], values: Mapping[str, Sequence[float | None]], n: int
) -> list[float | None]:
    """Per-sample :func:`weighted_sum` of ``n`` samples' component values."""
    return [weighted_sum(weights, {name: values[name][i] for name in weights}) for i in range(n)]


def mean_total(totals: Sequence[float | None]) -> float | None:
    """Mean of the totals that exist (None when there are none)."""
    present = [t for t in totals if t is not None]
    return sum(present) / len(present) if present else None
