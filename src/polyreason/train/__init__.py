"""Training: a recipe's stages in order — SFT, GRPO, synthetic data, evaluation, data steps (docs/training.md).

    from polyreason.config import load_recipe
    from polyreason.train import run_recipe
    result = run_recipe(load_recipe("recipes/quickstart.yaml"), "runs/qs")

The names below load on first use, so importing the package (the recipe schema does, for the stage registry)
costs nothing.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {"RunResult": "polyreason.train.runner", "StageResult": "polyreason.train.runner",
            "run_recipe": "polyreason.train.runner", "build_reward_funcs": "polyreason.train.stages.grpo"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'polyreason.train' has no attribute {name!r}")
