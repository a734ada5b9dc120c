"""The CPU quickstart: embedded SmolLM2-135M-Instruct, built-in synthetic arithmetic, SFT then GRPO.

:func:`run_quickstart` evaluates the base model on held-out problems, runs the quickstart recipe's stages,
evaluates after each stage on the *same* problems, and returns every measured number.  SFT's gain and GRPO's
gain are reported separately (GRPO's is "after GRPO − after SFT"), so SFT's gain never stands in for RL's.

The recipe is one YAML file shipped in the package (:func:`quickstart_yaml`); ``recipes/quickstart.yaml`` in a
checkout links to it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polyreason.config import Recipe, parse_recipe
from polyreason.files import output_lock, write_json, write_jsonl

log = logging.getLogger(__name__)

QUICKSTART_RESOURCE = ("resources", "recipes", "quickstart.yaml")  # under the installed polyreason package


def quickstart_yaml() -> str:
    """The quickstart recipe's YAML, read from the package (the file recipes/quickstart.yaml links to)."""
    from importlib import resources

    return resources.files("polyreason").joinpath(*QUICKSTART_RESOURCE).read_text(encoding="utf-8")


def quickstart_recipe(overrides: list[str] | None = None, output_dir: str | None = None) -> Recipe:
    """The quickstart recipe with ``--set`` style overrides applied (and ``output_dir``, if given)."""
    recipe = parse_recipe(quickstart_yaml(), "quickstart recipe (polyreason/resources/recipes/quickstart.yaml)",
                          overrides)
    if output_dir is not None:
        recipe.output_dir = output_dir  # validated on assignment
    return recipe


@dataclass
class QuickstartResult:
    """Everything the quickstart measured."""

    output_dir: str
    model_dir: str
    scores: list[dict[str, Any]] = field(default_factory=list)
    stage_seconds: list[float] = field(default_factory=list)
    total_seconds: float = 0.0
    grpo_metrics: dict[str, Any] = field(default_factory=dict)

    def gain(self, after: str, before: str, key: str = "accuracy") -> float:
        by = {s["label"]: s for s in self.scores}
        return by[after][key] - by[before][key]


def heldout_problems(n: int, seed: int, language: str = "en") -> list[dict[str, Any]]:
    """``n`` held-out synthetic problems (the synthetic split 'eval': never in any training stream)."""
    from polyreason.data.synthetic import generate_problems

    return list(generate_problems(n, seed=seed, language=language, difficulty="easy", kinds=["add_sub"],
                                  split="eval"))


def run_quickstart(
    recipe: Recipe,
    *,
    eval_problems: int = 100,
    resume: bool = False,
    on_score: Callable[[dict[str, Any]], None] | None = None,
) -> QuickstartResult:
    """Evaluate → train (each stage) → evaluate after each stage, on the same held-out problems.

    The output directory is locked for the whole run (a second quickstart on it stops with exit code 2)."""
    with output_lock(recipe.output_dir, directory=True):
        return _run_quickstart(recipe, eval_problems, resume, on_score)


def _run_quickstart(recipe: Recipe, eval_problems: int, resume: bool,
                    on_score: Callable[[dict[str, Any]], None] | None) -> QuickstartResult:
    from polyreason.models import load_model
    from polyreason.rewards import suite_from_specs
    from polyreason.train.heldout import score_heldout
    from polyreason.train.runner import run_recipe

    started = time.monotonic()
    out = Path(recipe.output_dir)
    problems = heldout_problems(eval_problems, recipe.seed, recipe.language)
    specs, budget = recipe.trained_rewards()
    weights, params = suite_from_specs(specs, budget)
    max_new = budget or 64
    result = QuickstartResult(output_dir=str(out), model_dir="")

    def evaluate(spec: str, label: str) -> None:
        model, tok = load_model(spec, dtype=recipe.model.dtype, device="cpu" if _cpu_only() else None)
        score, records = score_heldout(model, tok, problems, label=label, reward_weights=weights,
                                       reward_params=params, max_new_tokens=max_new)
        result.scores.append(score.as_dict())
        write_jsonl(out / f"heldout-{label.replace(' ', '_')}.jsonl", records)
        if on_score is not None:
            on_score(score.as_dict())
        del model

    evaluate(recipe.model.spec, "base")
    stage_started = [time.monotonic()]

    def after_stage(index: int, stage: Any, model_dir: str) -> None:
        result.stage_seconds.append(time.monotonic() - stage_started[0])
        evaluate(model_dir, f"after {stage.type}")
        stage_started[0] = time.monotonic()

    run = run_recipe(recipe, out, resume=resume, on_stage_end=after_stage)
    result.model_dir = run.model_dir
    result.total_seconds = time.monotonic() - started
    result.grpo_metrics = _grpo_summary(Path(run.metrics_path))
    write_json(out / "quickstart.json", result.__dict__)
    return result


def _cpu_only() -> bool:
    import torch

    return not torch.cuda.is_available()


def _grpo_summary(metrics_path: Path) -> dict[str, Any]:
    """Mean training reward of the first and last GRPO steps and the zero-variance fraction (from metrics)."""
    from polyreason.files import read_jsonl

    rows = [r for r in read_jsonl(metrics_path, tolerant=True) if r.get("stage_type") == "grpo"]
    if not rows:
        return {}
    zero = [r["frac_reward_zero_std"] for r in rows if r.get("frac_reward_zero_std") is not None]
    return {
        "steps": len(rows),
        "first_reward": rows[0].get("reward"),
        "last_reward": rows[-1].get("reward"),
        "mean_frac_reward_zero_std": sum(zero) / len(zero) if zero else None,
        "mean_step_time": sum(r.get("step_time", 0.0) for r in rows) / len(rows),
    }
