"""Every recipe under recipes/ validates, starts with its run command, and trains one step on CPU (tiny model)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
import yaml

from polyreason.config import load_recipe
from polyreason.files import read_jsonl
from polyreason.train import run_recipe
from polyreason.train.quickstart import QUICKSTART_FILES, quickstart_recipe
from polyreason.train.stages import STAGE_TYPES
from polyreason.train.stages.grpo import GRPOStage

pytestmark = pytest.mark.usefixtures("one_torch_thread")

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
TRAIN_RECIPES = sorted(p for p in RECIPES.glob("*.yaml"))


def test_all_expected_recipes_exist():
    names = {p.stem for p in TRAIN_RECIPES}
    assert {"quickstart", "open-rs1", "open-rs2", "open-rs3", "smollm3-es-sft", "smollm3-es-drgrpo",
            "gemma3-1b-grpo", "gemma3-programme"} <= names
    assert {p.stem for p in (RECIPES / "accelerate").glob("*.yaml")} >= {"fsdp", "zero2", "zero3"}


@pytest.mark.parametrize("path", TRAIN_RECIPES, ids=lambda p: p.stem)
def test_recipe_validates_and_documents_its_command(path):
    text = path.read_text(encoding="utf-8")
    head = text.splitlines()[:3]
    assert head[0].startswith("# Run:") and path.name in "\n".join(head[:2])
    assert any(line.startswith("# Override:") and "--set" in line for line in head)
    recipe = load_recipe(path)
    assert recipe.stages


@pytest.mark.parametrize("path", sorted((RECIPES / "accelerate").glob("*.yaml")), ids=lambda p: p.stem)
def test_accelerate_configs_parse(path):
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert cfg["distributed_type"] in ("FSDP", "DEEPSPEED") and cfg["mixed_precision"] == "bf16"
    assert path.read_text(encoding="utf-8").startswith("#")


@pytest.mark.parametrize("language", sorted(QUICKSTART_FILES))
def test_quickstart_recipe_has_one_source(language):
    """The package reads each quickstart recipe from its own resource; recipes/quickstart*.yaml are those files."""
    from importlib import resources

    name = QUICKSTART_FILES[language]
    resource = resources.files("polyreason").joinpath("resources", "recipes", name)
    assert (RECIPES / name).samefile(str(resource))
    assert quickstart_recipe(language=language) == load_recipe(RECIPES / name)
    assert quickstart_recipe(["seed=7"], output_dir="elsewhere", language=language).model_dump() == {
        **load_recipe(RECIPES / name).model_dump(), "seed": 7, "output_dir": "elsewhere"}


def test_missing_tracker_is_a_user_error(tmp_path):
    from polyreason.errors import UserError

    recipe = load_recipe(RECIPES / "open-rs1.yaml")
    import importlib.util

    if importlib.util.find_spec("wandb") is None:
        with pytest.raises(UserError, match="pip install wandb"):
            run_recipe(recipe, tmp_path / "run")
    else:
        assert recipe.tracking.report_to == ["wandb"]


@functools.cache
def sandbox_works() -> bool:
    """Whether code benchmarks can run here (bubblewrap or the unshare fallback)."""
    from polyreason.errors import UserError
    from polyreason.evaluate.code import ExecutionConfig

    try:
        ExecutionConfig().make_sandbox()
    except UserError:
        return False
    return True


def tiny_overrides(path: Path, endpoint: str = "http://127.0.0.1:9/v1") -> list[str]:
    """--set items that shrink a recipe to one CPU step per training stage on the tiny model (same stages,
    rewards, presets); generation stages get a few problems, and ``endpoint`` (a 127.0.0.1 stub) stands in for
    every teacher and judge server the recipe names."""
    from polyreason.evaluate.benchmarks import benchmark_kind, benchmark_names
    from polyreason.generation import is_endpoint

    recipe = load_recipe(path)
    lang = recipe.language if recipe.language in ("en", "es") else "en"
    items = ["model=tiny-random", f"data.train=synthetic:16:{lang}:easy", f"data.sft=synthetic:8:{lang}:easy",
             "data.split=train", "tracking.report_to=[none]", "eval.backend=transformers"]
    if "judge" in recipe.rewards:
        items.append(f"rewards.judge.params.endpoint={endpoint}")
    offline = {b for b in benchmark_names(offline_only=True) if benchmark_kind(b) != "code" or sandbox_works()}
    for i, stage in enumerate(recipe.stages):
        if STAGE_TYPES[stage.type].trains:
            items += [f"stages.{i}.max_steps=1", f"stages.{i}.save_steps=1000", f"stages.{i}.bf16=false",
                      f"stages.{i}.gradient_accumulation_steps=1"]
        if isinstance(stage, GRPOStage):
            items += [f"stages.{i}.num_generations=2", f"stages.{i}.per_device_batch_size=4",
                      f"stages.{i}.max_completion_length=8", f"stages.{i}.use_vllm=false"]
            if stage.rewards and "judge" in stage.rewards:
                items.append(f"stages.{i}.rewards.judge.params.endpoint={endpoint}")
        elif stage.type == "sft":
            items += [f"stages.{i}.per_device_batch_size=2", f"stages.{i}.max_length=96"]
        elif stage.type == "eval":  # offline benchmarks only (hub ones need the network), one problem each
            kept = [b for b in (stage.benchmarks or recipe.eval.benchmarks) if b in offline] or ["math500"]
            items += [f"stages.{i}.benchmarks=[{','.join(kept)}]", f"stages.{i}.limit=1", f"stages.{i}.samples=1",
                      f"stages.{i}.max_new_tokens=8", f"stages.{i}.backend=transformers"]
        elif stage.type == "synth":
            items += [f"stages.{i}.data=synthetic:16:{lang}:easy:add_sub", f"stages.{i}.limit=6",
                      f"stages.{i}.n=2", f"stages.{i}.max_new_tokens=64"]
            if isinstance(stage.model, str) and is_endpoint(stage.model):
                items.append(f"stages.{i}.model={endpoint}")
            if stage.judge is not None:
                items.append(f"stages.{i}.judge.model={endpoint}")
        elif stage.type == "difficulty":
            items += [f"stages.{i}.k=2", f"stages.{i}.max_new_tokens=8", f"stages.{i}.batch_size=4"]
        elif stage.type == "mix":
            items.append(f"stages.{i}.size=8")
    return items


# the programme runs end to end, with more checks, in test_train_programme.py
@pytest.mark.parametrize("path", [p for p in TRAIN_RECIPES if p.stem != "gemma3-programme"], ids=lambda p: p.stem)
def test_recipe_trains_one_step_on_cpu(path, tmp_path):
    from stage_stubs import programme_server

    with programme_server() as (_, url):
        recipe = load_recipe(path, tiny_overrides(path, url))
        result = run_recipe(recipe, tmp_path / "run")
    trained = [i for i, stage in enumerate(recipe.stages) if STAGE_TYPES[stage.type].trains]
    records = list(read_jsonl(Path(result.metrics_path), tolerant=True))
    assert [(r["stage"], r["step"]) for r in records] == [(i, 1) for i in trained]
    for record in records:
        stage = recipe.stages[record["stage"]]
        assert record["loss"] is not None
        if isinstance(stage, GRPOStage):
            for name in recipe.stage_rewards(stage):
                assert f"rewards/{name}/mean" in record  # every reward component is logged
            assert "frac_reward_zero_std" in record and "completions/clipped_ratio" in record
    assert (tmp_path / "run" / "model" / "config.json").is_file()
    assert (tmp_path / "run" / "recipe.yaml").is_file() and (tmp_path / "run" / "summary.json").is_file()
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["finished"] and len(summary["stages"]) == len(recipe.stages)
    for entry, stage in zip(summary["stages"], recipe.stages, strict=True):
        if stage.type == "eval":  # the results are in the run summary
            assert set(entry["eval"]["benchmarks"]) and all(
                b["n_problems"] == 1 for b in entry["eval"]["benchmarks"].values())
