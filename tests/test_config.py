"""Recipe schema: good recipes resolve, each bad recipe fails with a message naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from polyreason.config import apply_override, dump_recipe, load_recipe, recipe_from_dict
from polyreason.errors import UserError

BASE = {
    "name": "t",
    "model": "tiny-random",
    "stages": [
        {"type": "sft", "max_steps": 2},
        {"type": "grpo", "preset": "dr_grpo", "num_generations": 4, "per_device_batch_size": 4},
    ],
    "rewards": {"format": 1.0},
}


def write(tmp_path: Path, data: dict, name: str = "r.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def test_valid_recipe_resolves_presets_and_shorthands(tmp_path):
    recipe = load_recipe(write(tmp_path, BASE))
    assert recipe.model.spec == "tiny-random"
    grpo = recipe.stages[1]
    assert (grpo.loss_type, grpo.scale_rewards, grpo.epsilon_high) == ("dr_grpo", "none", 0.2)
    assert recipe.rewards["format"].weight == 1.0
    dumped = yaml.safe_load(dump_recipe(recipe))
    assert dumped["stages"][1]["loss_type"] == "dr_grpo"
    assert load_recipe(write(tmp_path, dumped, "again.yaml")) == recipe  # show output validates again


def test_dapo_preset_turns_on_clip_higher_dynamic_sampling_and_overlong():
    data = {**BASE, "stages": [{"type": "grpo", "preset": "dapo", "num_generations": 4, "per_device_batch_size": 8}]}
    recipe = recipe_from_dict(data)
    stage = recipe.stages[0]
    assert (stage.loss_type, stage.epsilon_high, stage.dynamic_sampling) == ("dapo", 0.28, True)
    assert "soft_overlong" in recipe.stage_rewards(stage)


def test_overrides_apply_with_yaml_types(tmp_path):
    recipe = load_recipe(
        write(tmp_path, BASE),
        ["stages.1.max_steps=3", "stages.1.learning_rate=2e-6", "model=smollm2-135m", "tracking.report_to=[wandb]"],
    )
    assert recipe.stages[1].max_steps == 3
    assert recipe.stages[1].learning_rate == 2e-6
    assert recipe.model.spec == "smollm2-135m"
    assert recipe.tracking.report_to == ["wandb"]


@pytest.mark.parametrize(
    "override, key_in_message",
    [
        ("stages.1.num_generatons=4", "num_generations"),  # typo → did you mean
        ("stages.1.scale_rewards=group", "scale_rewards"),  # dr_grpo with std scaling
        ("stages.1.num_generations=3", "num_generations"),  # batch not divisible by G
        ("model=no-such-model", "model.spec"),  # unknown model spec
        ("data.train=missing.jsonl", "data.train"),  # missing file
        ("stages.0.learning_rate=abc", "stages.0.learning_rate"),  # wrong type
        ("seed=x", "seed"),  # wrong type
        ("stages.1.preset=ppo", "stages.1.preset"),  # unknown choice
        ("stages.1.epsilon_high=0.1", "epsilon_high"),  # clip-higher below clip-low
        ("stages.1.num_generations=1", "stages.1.num_generations"),  # GRPO needs a group
        ("stages.0.lr_scheduler=cosine_with_min_lr", "min_lr"),  # scheduler floor missing
        ("language=xx", "language"),  # unknown language
        ("stages=[]", "stages"),  # nothing to run
        ("colour=red", "colour"),  # unknown top-level key
        ("data.train=synthetic:0", "data.train"),  # bad synthetic spec
        ("stages.0.type=rlhf", "stages.0"),  # unknown stage type
        ("stages.0.warmup_ratio=1.5", "stages.0.warmup_ratio"),  # out of range
        ("eval.samples=0", "eval.samples"),  # out of range
    ],
)
def test_bad_recipes_name_the_key(tmp_path, override, key_in_message):
    with pytest.raises(UserError) as err:
        load_recipe(write(tmp_path, BASE), [override])
    assert key_in_message in str(err.value)


def test_grpo_without_rewards_is_rejected():
    data = {"model": "tiny-random", "stages": [{"type": "grpo", "num_generations": 2, "per_device_batch_size": 2}]}
    with pytest.raises(UserError, match="needs rewards"):
        recipe_from_dict(data)


def test_unknown_reward_is_rejected_with_valid_names():
    pytest.importorskip("polyreason.rewards")
    with pytest.raises(UserError, match="unknown reward"):
        recipe_from_dict({**BASE, "rewards": {"acuracy": 1.0}})


def test_not_a_mapping_and_bad_yaml(tmp_path):
    bad = tmp_path / "list.yaml"
    bad.write_text("- a\n- b\n")
    with pytest.raises(UserError, match="mapping"):
        load_recipe(bad)
    broken = tmp_path / "broken.yaml"
    broken.write_text("model: [unclosed\n")
    with pytest.raises(UserError, match="not valid YAML"):
        load_recipe(broken)
    with pytest.raises(UserError, match="does not exist"):
        load_recipe(tmp_path / "nope.yaml")


def test_override_errors():
    raw = {"stages": [{"type": "sft"}], "model": "tiny-random"}
    with pytest.raises(UserError, match="KEY=VALUE"):
        apply_override(raw, "stages.0.max_steps")
    with pytest.raises(UserError, match="not an index"):
        apply_override(raw, "stages.5.max_steps=1")
    with pytest.raises(UserError, match="is a value"):
        apply_override(raw, "model.dtype=float32")


def test_recipe_reference_doc_is_current(repo_root):
    from polyreason.config import reference_markdown

    doc = (repo_root / "docs" / "recipes.md").read_text(encoding="utf-8")
    assert doc.strip() == reference_markdown().strip(), "regenerate: polyreason recipe reference > docs/recipes.md"


def test_eval_section_expands_benchmark_aliases_and_checks_names():
    recipe = recipe_from_dict({**BASE, "eval": {"benchmarks": ["HuggingFaceH4/MATH-500", "mgsm"]}})
    assert recipe.eval.benchmarks[0] == "math500" and "mgsm-es" in recipe.eval.benchmarks
    assert len(recipe.eval.benchmarks) == 12
    with pytest.raises(UserError, match="eval.benchmarks"):
        recipe_from_dict({**BASE, "eval": {"benchmarks": ["math5000"]}})
    with pytest.raises(UserError, match="prompt_template"):
        recipe_from_dict({**BASE, "eval": {"prompt_template": "no placeholder"}})
