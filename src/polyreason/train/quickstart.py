"""The CPU quickstart: embedded SmolLM2-135M-Instruct, built-in synthetic arithmetic, SFT then GRPO.

:func:`run_quickstart` evaluates the base model on held-out problems, runs the quickstart recipe's stages,
evaluates after each stage on the *same* problems, and returns every measured number.  SFT's gain and GRPO's
gain are reported separately (GRPO's is "after GRPO − after SFT"), so SFT's gain never stands in for RL's.

``QUICKSTART_RECIPE`` is the recipe; ``recipes/quickstart.yaml`` holds the same values (a test checks it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polyreason.config import Recipe, apply_override, recipe_from_dict
from polyreason.files import output_lock, write_json, write_jsonl

log = logging.getLogger(__name__)

# Sized for ≤ 15 minutes on a 2-core CPU (see docs/quickstart.md for the measured timings).
QUICKSTART_RECIPE: dict[str, Any] = {
    "name": "quickstart",
    "seed": 42,
    "output_dir": "runs/quickstart",
    "language": "en",
    "model": {"spec": "smollm2-135m", "dtype": "float32"},
    "data": {
        "train": "synthetic:2000:en:easy:add_sub",
        "sft": "synthetic:128:en:easy:add_sub",
    },
    "rewards": {"accuracy": 1.0, "format": 0.5},
    "stages": [
        {
            "type": "sft",
            "learning_rate": 1e-4,
            "lr_scheduler": "cosine",
            "warmup_ratio": 0.1,
            "per_device_batch_size": 8,
            "epochs": 1,
            "max_length": 256,
            "save_steps": 1000,
        },
        {
            "type": "grpo",
            "preset": "dr_grpo",
            "learning_rate": 1e-5,
            "lr_scheduler": "constant",
            "adam_beta2": 0.99,
            "num_generations": 8,
            "per_device_batch_size": 32,
            "max_steps": 8,
            "max_prompt_length": 128,
            "max_completion_length": 80,
            "temperature": 1.0,
            "save_steps": 4,
        },
    ],
    "tracking": {"logging_steps": 1, "log_completions": True},
}


def quickstart_recipe(overrides: list[str] | None = None, output_dir: str | None = None) -> Recipe:
    """The quickstart recipe with ``--set`` style overrides applied."""
    import copy

    raw = copy.deepcopy(QUICKSTART_RECIPE)
    for item in overrides or []:
        apply_override(raw, item)
    if output_dir is not None:
        raw["output_dir"] = output_dir
    return recipe_from_dict(raw, source="quickstart")


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
    from polyreason.train.heldout import score_heldout
    from polyreason.train.runner import run_recipe

    started = time.monotonic()
    out = Path(recipe.output_dir)
    problems = heldout_problems(eval_problems, recipe.seed, recipe.language)
    weights = {name: spec.weight for name, spec in recipe.rewards.items()}
    params = {name: dict(spec.params) for name, spec in recipe.rewards.items()}
    max_new = max((getattr(s, "max_completion_length", 0) for s in recipe.stages), default=0) or 64
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
