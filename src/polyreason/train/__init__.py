"""Training: SFT and GRPO-family stages on TRL from one recipe (see docs/training.md).

    from polyreason.config import load_recipe
    from polyreason.train import run_recipe
    result = run_recipe(load_recipe("recipes/quickstart.yaml"), "runs/qs")
"""

from polyreason.train.runner import RunResult, StageResult, build_reward_funcs, run_recipe

__all__ = ["RunResult", "StageResult", "build_reward_funcs", "run_recipe"]
