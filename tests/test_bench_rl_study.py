"""benchmarks/rl_study.py: the report's table averages arms per setting and counts arms stopped early (a
multi-stage run writes summary.json after each stage, so only ``finished: true`` marks a completed arm)."""

from __future__ import annotations

import json
from pathlib import Path


def _arm(runs: Path, name: str, curve: list[tuple[int, float]], finished: bool, completions: tuple[int, int] | None = None,
         **logged: float) -> None:
    """An arm's run folder; ``completions`` = (batch, accumulation) of its GRPO stage, written as recipe.yaml."""
    out = runs / name
    out.mkdir(parents=True)
    if completions is not None:
        batch, accumulation = completions
        (out / "recipe.yaml").write_text(
            f"stages:\n- type: sft\n  per_device_batch_size: 2\n  gradient_accumulation_steps: 4\n"
            f"- type: grpo\n  per_device_batch_size: {batch}\n  gradient_accumulation_steps: {accumulation}\n",
            encoding="utf-8")
    records = [{"stage": 1, "stage_type": "grpo", "step": s, "step_time": 40.0 + s, "frac_reward_zero_std": 0.5,
                "entropy": 0.03, **logged} for s, _ in curve if s]
    records += [{"stage": 1, "stage_type": "grpo", "step": s, "heldout/accuracy": a, "heldout/train_seconds": 10.0 * s}
                for s, a in curve]
    (out / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    (out / "summary.json").write_text(json.dumps({"finished": finished}), encoding="utf-8")


def _report_row(study, tmp_path: Path, setting: str, names: tuple[str, ...]) -> str:
    """Report the arms ``names`` (one setting, one family) from tmp_path/runs; the setting's table row."""
    arms = tmp_path / "arms.json"
    arms.write_text(json.dumps([{"name": n, "recipe": "r.yaml", "setting": setting, "families": ["fam"]}
                                for n in names]), encoding="utf-8")
    table = tmp_path / "table.md"
    assert study.report(arms, tmp_path / "runs", tmp_path / "img", table, {}) == 0
    return next(line for line in table.read_text(encoding="utf-8").splitlines() if line.startswith(f"| `{setting}`"))


def test_report_averages_seeds_and_counts_arms_stopped_after_an_earlier_stage(tmp_path, benchmark_script):
    study = benchmark_script("rl_study")
    runs = tmp_path / "runs"
    _arm(runs, "x_s42", [(0, 0.50), (6, 0.60)], finished=True)
    _arm(runs, "x_s7", [(0, 0.40), (6, 0.30)], finished=False)  # killed during GRPO: summary.json from SFT only
    row = _report_row(study, tmp_path, "x", ("x_s42", "x_s7"))
    assert "| 2 (1) |" in row and "0: 45.0, 6: 45.0" in row
    assert (tmp_path / "img" / "fam.png").stat().st_size > 1000
    assert study._finished(runs / "x_s42") and not study._finished(runs / "x_s7")
    assert row.endswith("| – | – | – |")  # no dynamic sampling logged, no recipe: no rounds, no useful rate


def test_report_shows_generation_rounds_and_first_round_useful_share_of_dynamic_sampling_arms(tmp_path,
                                                                                             benchmark_script):
    study = benchmark_script("rl_study")
    runs = tmp_path / "runs"
    _arm(runs, "d_s42", [(0, 0.5), (4, 0.6)], finished=True,
         **{"dynamic_sampling/rounds": 3.0, "dynamic_sampling/useful_frac_first": 0.25})
    _arm(runs, "d_s7", [(0, 0.5), (4, 0.6)], finished=True,
         **{"dynamic_sampling/rounds": 2.0, "dynamic_sampling/useful_frac_first": 0.5})
    assert _report_row(study, tmp_path, "d", ("d_s42", "d_s7")).endswith("| 2.50 | 0.38 | – |")


def test_report_shows_useful_completions_per_minute_from_the_grpo_stage_batch(tmp_path, benchmark_script):
    """Useful = completions in groups with reward variance: TRL's zero-variance share without dynamic sampling,
    dynamic sampling's kept-batch share with it; per minute of the steps after the first (warm-up)."""
    study = benchmark_script("rl_study")
    runs = tmp_path / "runs"
    _arm(runs, "u_s42", [(0, 0.5), (2, 0.6), (4, 0.6)], finished=True, completions=(8, 1))  # zero-std 0.5
    assert _report_row(study, tmp_path, "u", ("u_s42",)).endswith(f"| {60 * 8 * 0.5 / 44:.1f} |")
    _arm(runs, "v_s42", [(0, 0.5), (2, 0.6), (4, 0.6)], finished=True, completions=(8, 4),
         **{"dynamic_sampling/useful_frac": 0.75})
    assert _report_row(study, tmp_path, "v", ("v_s42",)).endswith(f"| {60 * 32 * 0.75 / 44:.1f} |")


def test_every_study_arm_names_a_recipe_that_loads_with_its_overrides():
    """The arms file is what `rl_study.py run` executes: a renamed recipe key or a mistyped --set would only
    surface minutes into a study run otherwise.  Recipes that start from a study checkpoint (runs/rl-study/…,
    made by an earlier arm) load with the tiny model in its place."""
    import yaml

    from polyreason.config import load_recipe

    repo = Path(__file__).resolve().parents[1]
    arms = json.loads((repo / "benchmarks" / "rl_study_arms.json").read_text(encoding="utf-8"))
    assert len({arm["name"] for arm in arms}) == len(arms)
    for arm in arms:
        path = repo / arm["recipe"]
        checkpoint = str(yaml.safe_load(path.read_text(encoding="utf-8"))["model"]["spec"]).startswith("runs/")
        recipe = load_recipe(path, arm.get("set", []) + (["model.spec=tiny-random"] if checkpoint else []))
        seed = next((s.split("=", 1)[1] for s in arm.get("set", []) if s.startswith("seed=")), None)
        if seed is not None:
            assert recipe.seed == int(seed), arm["name"]
