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
from polyreason.errors import UserError
from polyreason.files import output_lock, write_json, write_jsonl

log = logging.getLogger(__name__)

# The recipe file of each quickstart language, under the installed package's resources/recipes/
# (recipes/quickstart*.yaml in a checkout link to them).
QUICKSTART_FILES = {"en": "quickstart.yaml", "es": "quickstart-es.yaml"}


def quickstart_yaml(language: str = "en") -> str:
    """The quickstart recipe's YAML for ``language``, read from the package."""
    from importlib import resources

    if language not in QUICKSTART_FILES:
        raise UserError(f"no quickstart for language {language!r}; fix: one of {', '.join(QUICKSTART_FILES)}")
    return resources.files("polyreason").joinpath("resources", "recipes", QUICKSTART_FILES[language]).read_text(
        encoding="utf-8")


def quickstart_recipe(overrides: list[str] | None = None, output_dir: str | None = None,
                      language: str = "en") -> Recipe:
    """The quickstart recipe of ``language`` with ``--set`` style overrides (and ``output_dir``, if given)."""
    recipe = parse_recipe(quickstart_yaml(language),
                          f"quickstart recipe (polyreason/resources/recipes/{QUICKSTART_FILES.get(language)})",
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
    peak_rss_mb: float = 0.0

    def gain(self, after: str, before: str, key: str = "accuracy") -> float:
        by = {s["label"]: s for s in self.scores}
        return by[after][key] - by[before][key]


def heldout_problems(recipe: Recipe, n: int) -> list[dict[str, Any]]:
    """The ``n`` reported held-out problems: the *test* half of ``data.train``'s held-out split.

    Settings are chosen on the disjoint *val* half (docs/rl-study.md), never on these.
    """
    from polyreason.data import load_rows

    problems = list(load_rows(recipe.data.train, split="test", kind="rl", language=recipe.language, limit=n))
    if len(problems) < n:
        raise UserError(f"only {len(problems)} held-out test problems in {recipe.data.train}; fix: ask for fewer "
                        "(--eval-problems) or a source with a larger test split")
    return problems


def run_quickstart(
    recipe: Recipe,
    *,
    eval_problems: int = 200,
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
    from polyreason.report.cost import peak_rss_mb
    from polyreason.rewards import suite_from_specs
    from polyreason.train.heldout import score_heldout
    from polyreason.train.runner import run_recipe
    from polyreason.train.stages.base import return_freed_memory

    started = time.monotonic()
    out = Path(recipe.output_dir)
    problems = heldout_problems(recipe, eval_problems)
    specs, budget = recipe.trained_rewards()
    weights, params = suite_from_specs(specs, budget)
    max_new = budget or 64
    result = QuickstartResult(output_dir=str(out), model_dir="")

    def evaluate(spec: str, label: str) -> None:
        model, tok = load_model(spec, dtype=recipe.model.dtype, device="cpu" if _cpu_only() else None)
        score, records = score_heldout(model, tok, problems, label=label, reward_weights=weights,
                                       reward_params=params, max_new_tokens=max_new,
                                       system_prompt=recipe.data.system_prompt)
        result.scores.append(score.as_dict())
        write_jsonl(out / f"heldout-{label.replace(' ', '_')}.jsonl", records)
        if on_score is not None:
            on_score(score.as_dict())
        del model
        return_freed_memory()
        # each training stage resets the kernel's peak-RSS mark (its own cost figure), so keep the maximum
        result.peak_rss_mb = max(result.peak_rss_mb, peak_rss_mb())

    evaluate(recipe.model.spec, "base")
    stage_started = [time.monotonic()]

    def after_stage(index: int, stage: Any, model_dir: str) -> None:
        result.peak_rss_mb = max(result.peak_rss_mb, peak_rss_mb())
        result.stage_seconds.append(time.monotonic() - stage_started[0])
        evaluate(model_dir, f"after {stage.type}")
        stage_started[0] = time.monotonic()

    run = run_recipe(recipe, out, resume=resume, on_stage_end=after_stage)
    result.model_dir = run.model_dir
    result.total_seconds = time.monotonic() - started
    result.grpo_metrics = _grpo_summary(Path(run.metrics_path))
    result.peak_rss_mb = max(result.peak_rss_mb, peak_rss_mb())
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
