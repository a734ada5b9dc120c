"""Where one GRPO step's time goes: generation, rewards, log-prob forwards, training forward+backward, optimizer.

Runs ``polyreason.train.run_recipe`` on a recipe (default: the quickstart's GRPO stage from a given SFT model)
with timers wrapped around the trainer methods each phase goes through, and prints the mean seconds per step
of every phase (first step excluded: warm-up) and the share of the step it takes:

* ``generate``   ``GRPOTrainer._generate_single_turn`` (rollouts; polyreason's compact decode or transformers)
* ``rewards``    ``GRPOTrainer._calculate_rewards`` (reward functions, verifier)
* ``logps``      ``_get_per_token_logps_and_entropies`` under no_grad (old / reference log-probs)
* ``forward``    ``_get_per_token_logps_and_entropies`` with grad (the training forward)
* ``backward``   ``accelerator.backward``
* ``optimizer``  ``optimizer.step`` (+ zero_grad)
* ``other``      the rest of the step (data, advantages, logging, callbacks)

and the useful completions per step and per minute (those in groups with a non-zero advantage, the only ones
that move the weights).

    python benchmarks/grpo_profile.py --model runs/quickstart/stages/0-sft/final --steps 4
    python benchmarks/grpo_profile.py --model smollm2-135m --set stages.0.gradient_accumulation_steps=4 ...
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

PHASES = ("generate", "rewards", "logps", "forward", "backward", "optimizer", "other")


def base_recipe(model: str, steps: int) -> dict:
    import yaml

    from polyreason.train.quickstart import quickstart_yaml

    recipe = yaml.safe_load(quickstart_yaml())
    grpo = next(s for s in recipe["stages"] if s["type"] == "grpo")
    stage = {**grpo, "max_steps": steps, "save_steps": 100_000}
    return {**recipe, "name": "grpo-profile", "model": {"spec": model, "dtype": "float32"},
            "stages": [stage], "tracking": {"logging_steps": 1, "log_completions": False}}


class Timers:
    def __init__(self) -> None:
        self.per_step: list[dict[str, float]] = []
        self.current: dict[str, float] = defaultdict(float)
        self.step_started = 0.0
        self.useful = 0  # useful completions in the current step

    @contextlib.contextmanager
    def phase(self, name: str):
        began = time.perf_counter()
        try:
            yield
        finally:
            self.current[name] += time.perf_counter() - began

    def wrap(self, obj: object, attr: str, name_for) -> None:  # noqa: ANN001
        original = getattr(obj, attr)

        def wrapped(*args, **kwargs):
            with self.phase(name_for()):
                return original(*args, **kwargs)

        setattr(obj, attr, wrapped)


def instrument(timers: Timers, skip_zero_advantage: bool = True) -> None:
    """Patch the trainer class polyreason builds so every instance reports its phases to ``timers``."""
    import torch
    from transformers import TrainerCallback

    import polyreason.train.dynamic as dynamic

    build = dynamic.make_trainer_class

    def make_trainer_class():
        cls = build()

        class Profiled(cls):
            def __init__(self, *a, **kw):
                super().__init__(*a, skip_zero_advantage=skip_zero_advantage, **kw)
                timers.wrap(self, "_generate_single_turn", lambda: "generate")
                timers.wrap(self, "_calculate_rewards", lambda: "rewards")
                timers.wrap(self, "_get_per_token_logps_and_entropies",
                            lambda: "forward" if torch.is_grad_enabled() else "logps")
                timers.wrap(self.accelerator, "backward", lambda: "backward")
                self.add_callback(StepClock())

            def _generate_and_score_completions(self, inputs):
                batch = super()._generate_and_score_completions(inputs)
                if self.model.training:  # completions in groups with a non-zero advantage: the useful ones
                    groups = batch["advantages"].reshape(-1, self.num_generations)
                    timers.useful += int(groups.ne(0).any(dim=1).sum()) * self.num_generations
                return batch

        return Profiled

    class StepClock(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):  # noqa: ANN001
            timers.current = defaultdict(float)
            timers.useful = 0
            timers.step_started = time.perf_counter()

        def on_pre_optimizer_step(self, args, state, control, **kwargs):  # noqa: ANN001
            timers.opt_started = time.perf_counter()

        def on_optimizer_step(self, args, state, control, **kwargs):  # noqa: ANN001
            timers.current["optimizer"] += time.perf_counter() - timers.opt_started

        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
            total = time.perf_counter() - timers.step_started
            row = dict(timers.current)
            row["other"] = total - sum(row.values())
            row["total"] = total
            row["useful_completions"] = timers.useful
            timers.per_step.append(row)

    dynamic.make_trainer_class = make_trainer_class


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    parser.add_argument("--set", action="append", default=[], help="recipe override KEY=VALUE (repeatable)")
    parser.add_argument("--json", help="write the per-phase means here")
    parser.add_argument("--no-skip-zero-advantage", action="store_true",
                        help="train on zero-advantage micro-batches too (the baseline for the skip)")
    args = parser.parse_args()

    import torch

    from polyreason.config import apply_override, recipe_from_dict
    from polyreason.train.runner import run_recipe

    if args.threads:
        torch.set_num_threads(args.threads)
    raw = base_recipe(args.model, args.steps)
    for item in args.set:
        apply_override(raw, item)
    timers = Timers()
    instrument(timers, skip_zero_advantage=not args.no_skip_zero_advantage)
    with tempfile.TemporaryDirectory() as tmp:
        recipe = recipe_from_dict(raw, source="grpo_profile")
        run_recipe(recipe, Path(tmp) / "run")
    steps = timers.per_step[1:] or timers.per_step
    means = {k: sum(s.get(k, 0.0) for s in steps) / len(steps) for k in (*PHASES, "total")}
    print(f"GRPO step profile: {len(steps)} steps (first excluded), torch threads {torch.get_num_threads()}")
    for key in PHASES:
        print(f"  {key:<10} {means[key]:7.2f} s  {100 * means[key] / means['total']:5.1f} %")
    print(f"  {'total':<10} {means['total']:7.2f} s")
    useful = sum(s["useful_completions"] for s in steps) / len(steps)
    means["useful_completions"] = useful
    means["useful_completions_per_min"] = 60 * useful / means["total"]
    print(f"  useful completions {useful:.1f} per step, {means['useful_completions_per_min']:.1f} per minute")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS   {peak:7.0f} MB")
    if args.json:
        Path(args.json).write_text(json.dumps({"means": means, "steps": timers.per_step, "peak_rss_mb": peak,
                                               "overrides": args.set}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
