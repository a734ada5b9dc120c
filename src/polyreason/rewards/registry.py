"""The reward registry (name -> factory), build_reward and build_composite."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from polyreason.errors import UserError, did_you_mean
from polyreason.rewards.accuracy import accuracy, cosine, soft_overlong
from polyreason.rewards.arithmetic import arithmetic
from polyreason.rewards.custom import check_custom_name, custom, is_custom_name, misnamed_custom
from polyreason.rewards.format import format_reward, tag_count
from polyreason.rewards.inputs import log_mean
from polyreason.rewards.judge import judge
from polyreason.rewards.language import language
from polyreason.rewards.naturalness import naturalness
from polyreason.rewards.outcome import reward_model
from polyreason.rewards.process import process
from polyreason.rewards.repetition import repetition
from polyreason.rewards.suite import combine

RewardFn = Callable[..., list[float | None]]

# Rules: pure functions of the text, buildable without parameters.
RULE_REWARDS: dict[str, Callable[..., RewardFn]] = {
    "accuracy": accuracy,
    "format": format_reward,
    "tag_count": tag_count,
    "cosine": cosine,
    "soft_overlong": soft_overlong,
    "language": language,
    "repetition": repetition,
    "naturalness": naturalness,
    "arithmetic": arithmetic,
}
# Models and user code: each needs parameters (which model, which function).  Building one only checks them;
# a model loads on the reward's first call.  "custom:NAME" is the custom factory under another name.
MODEL_REWARDS: dict[str, Callable[..., RewardFn]] = {
    "reward_model": reward_model,
    "judge": judge,
    "process": process,
    "custom": custom,
}
REWARDS: dict[str, Callable[..., RewardFn]] = {**RULE_REWARDS, **MODEL_REWARDS}


def reward_names() -> list[str]:
    """Names accepted by :func:`build_reward`, sorted."""
    return sorted(REWARDS)


def _unknown(name: str) -> UserError:
    return UserError(f"unknown reward {name!r}{did_you_mean(name, REWARDS)}; valid rewards: {', '.join(reward_names())}")


def build_reward(name: str, **params: Any) -> RewardFn:
    """Build the TRL reward callable ``name`` with its parameters (e.g. ``build_reward("cosine", max_len=512)``).

    The result has ``__name__ == name`` (TRL logs it as ``rewards/<name>``).  Unknown names or parameters
    raise UserError listing what is valid.  Building is cheap for every reward (models load on the first
    call), so recipe validation builds each one to check it (:func:`check_reward`).
    """
    factory = factory_of(name)
    signature = inspect.signature(factory).parameters
    accepted = [p for p, spec in signature.items() if p != "self" and spec.kind is not spec.VAR_KEYWORD]
    takes_any = any(spec.kind is spec.VAR_KEYWORD for spec in signature.values())
    bad = [] if takes_any else sorted(set(params) - set(accepted))
    if bad:
        raise UserError(
            f"reward {name!r} has no parameter(s) {', '.join(bad)}; valid: {', '.join(accepted) or 'none'}"
        )
    missing = [p for p in accepted if signature[p].default is inspect.Parameter.empty and p not in params]
    if missing:
        raise UserError(f"reward {name!r} needs the parameter(s) {', '.join(missing)}; fix: e.g. "
                        f"params: {{{missing[0]}: ...}} in the recipe, or -p {name}.{missing[0]}=... for score")
    try:
        fn = factory(**params)
    except TypeError as exc:  # a value of the wrong type met a comparison or a call in the factory
        raise UserError(f"reward {name!r}: a parameter has the wrong type ({exc}); fix its value") from None
    fn.__name__ = name
    fn.__qualname__ = name
    fn.__doc__ = factory.__doc__
    return fn


def factory_of(name: str) -> Callable[..., RewardFn]:
    """The factory behind reward ``name`` (``custom:NAME`` -> the custom factory); UserError if unknown."""
    if is_custom_name(name):
        check_custom_name(name)
        return custom
    factory = REWARDS.get(name)
    if factory is None:
        raise misnamed_custom(name, reward_names()) or _unknown(name)
    return factory


def check_reward(name: str, params: Mapping[str, Any] | None = None) -> None:
    """Raise UserError if ``name`` with ``params`` cannot be built (unknown name or parameter, a model spec
    of the wrong shape, a custom function that does not import); loads no model."""
    build_reward(name, **dict(params or {}))


def build_composite(
    weights: Mapping[str, float],
    params: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    language: str | None = None,
) -> RewardFn:
    """Weighted sum of rewards: total = Σ_k w_k · r_k, each component logged (``log_metric``) as
    ``composite/<name>``.  Components returning None are left out of the sum, and a sample no component
    scored gets None (:func:`polyreason.rewards.suite.weighted_sum`, TRL's own rule).  The callable also exposes ``components(prompts, completions, **kw)``
    returning every part, used by ``polyreason score``.  ``language`` (e.g. the recipe's) becomes the
    ``language`` parameter of every component that has one and was not given it in ``params``; a
    ``language`` dataset column still wins row by row.

    Example: build_composite({"accuracy": 1.0, "format": 0.1}) on a correct, well-formatted completion -> 1.1.
    """
    params = dict(params or {})
    unknown_params = sorted(set(params) - set(weights))
    if unknown_params:
        raise UserError(f"parameters given for rewards without a weight: {', '.join(unknown_params)}")
    parts = {}
    for name in weights:
        kwargs = dict(params.get(name) or {})
        factory = REWARDS.get(name)
        if language and factory is not None and "language" in inspect.signature(factory).parameters:
            kwargs.setdefault("language", language)
        parts[name] = build_reward(name, **kwargs)

    def components(prompts, completions, **kwargs: Any) -> dict[str, list[float | None]]:
        return {name: fn(prompts, completions, **kwargs) for name, fn in parts.items()}

    def composite(prompts, completions, **kwargs: Any) -> list[float | None]:
        values = components(prompts, completions, **kwargs)
        for name, vals in values.items():
            log_mean(kwargs, f"composite/{name}", vals)
        return combine(weights, values, len(completions))

    composite.components = components  # type: ignore[attr-defined]
    return composite

