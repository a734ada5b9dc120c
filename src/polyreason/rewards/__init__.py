"""Reward functions with TRL's signature ``f(prompts, completions, **kwargs) -> list[float | None]``.
Besides the rules listed below: reward_model, judge, process, custom / custom:NAME (their models load on first use).

    >>> from polyreason.rewards import build_reward
    >>> build_reward("format")(None, ["<think>2+2=4</think> \\\\boxed{4}"])
    [1.0]

Registry: accuracy, format, tag_count, cosine, soft_overlong, language, repetition, naturalness, arithmetic
(see docs/rewards.md for every formula).  Weighted sums with missing parts follow one rule
(:func:`~polyreason.rewards.suite.weighted_sum`, the same as TRL's).  No torch.
"""

from polyreason.rewards.naturalness import NATURALNESS_RULES, register_naturalness_rule
from polyreason.rewards.registry import REWARDS, build_composite, build_reward, reward_names
from polyreason.rewards.suite import combine, suite_from_specs, weighted_sum

__all__ = [
    "NATURALNESS_RULES",
    "REWARDS",
    "build_composite",
    "build_reward",
    "combine",
    "register_naturalness_rule",
    "reward_names",
    "suite_from_specs",
    "weighted_sum",
]
