"""`polyreason score --recipe` gives back the rewards GRPO training logged, sample by sample.

One real GRPO step (tiny random model, CPU) writes completions.jsonl with TRL's per-reward values and the
completion lengths; scoring those completions with the run's recipe must return the same values for every
reward (length-aware ones included, whose budget training derives from the stage), and totals that reproduce
TRL's advantages (Dr. GRPO: advantage = total − group mean, totals by TRL's nansum rule).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyreason.cli import _app
from polyreason.config import recipe_from_dict
from polyreason.train import run_recipe

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PROBLEMS = [  # one step draws both: 2 prompts x 2 generations
    {"problem": "What is 2 + 3?", "answer": "5"},
    {"problem": "Sum 10 and 11.", "answer": "$"},  # unparseable gold: accuracy and cosine are None
]
REWARDS = {"accuracy": 1.0, "cosine": 2.0, "format": 0.5, "soft_overlong": 1.0, "repetition": 0.3, "language": 0.2}


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6)  # TRL keeps rewards as float32


def test_score_recipe_reproduces_the_rewards_trl_logged(tmp_path: Path):
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({**p, "language": "en", "source": "test"}) + "\n" for p in PROBLEMS))
    recipe = recipe_from_dict({
        "model": "tiny-random", "data": {"train": str(data)}, "rewards": REWARDS,
        "tracking": {"report_to": ["none"], "log_completions": True},
        "stages": [{"type": "grpo", "preset": "dr_grpo", "max_steps": 1, "num_generations": 2,
                    "per_device_batch_size": 4, "max_completion_length": 8, "save_steps": 1000, "bf16": False}],
    })
    run = tmp_path / "run"
    run_recipe(recipe, run)
    logged = [json.loads(line) for line in (run / "completions.jsonl").read_text().splitlines()]
    assert len(logged) == 4 and all(isinstance(r["n_tokens"], int) for r in logged)
    answers = {p["problem"]: p["answer"] for p in PROBLEMS}
    rows = [{"completion": r["completion"], "answer": answers[r["prompt"]], "n_tokens": r["n_tokens"]} for r in logged]
    inp, out = tmp_path / "completions.jsonl", tmp_path / "scored.jsonl"
    inp.write_text("".join(json.dumps(r) + "\n" for r in rows))

    result = CliRunner().invoke(_app, ["score", str(inp), "--recipe", str(run / "recipe.yaml"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    scored = [json.loads(line) for line in out.read_text().splitlines()]

    for got, want in zip(scored, logged, strict=True):
        assert set(got["rewards"]) == set(REWARDS)
        for name in REWARDS:
            assert _same(got["rewards"][name], want["rewards"][name]), (name, got["rewards"], want["rewards"])
    assert any(r["n_tokens"] > 6 for r in logged)  # soft_overlong's training budget (8, cache 2) was in play
    assert any(got["rewards"]["accuracy"] is None and got["total"] is not None for got in scored)

    groups: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(logged):
        groups[r["prompt"]].append(i)
    assert sorted(map(len, groups.values())) == [2, 2]
    for members in groups.values():
        totals = [scored[i]["total"] for i in members]
        mean = sum(totals) / len(totals)
        for i, total in zip(members, totals, strict=True):
            assert math.isclose(logged[i]["advantage"], total - mean, abs_tol=1e-5), (logged[i], total, mean)
