"""The GRPO family reaches TRL as documented: presets, loss types, knobs, the checked `trl:` block, bounds."""

from __future__ import annotations

import dataclasses

import pytest

from polyreason.config import (
    PRESETS,
    TRL_OWNED_COMMON,
    TRL_OWNED_GRPO,
    TRL_OWNED_SFT,
    preset_table_markdown,
    recipe_from_dict,
)
from polyreason.errors import UserError
from polyreason.train import args as targs


def _grpo(**stage):
    grpo = {"type": "grpo", "per_device_batch_size": 8, "num_generations": 4, **stage}
    return recipe_from_dict({"model": "tiny-random", "rewards": {"accuracy": 1.0}, "stages": [grpo]})


@pytest.mark.parametrize(
    ("preset", "expected"),
    [
        ("gspo", {"loss_type": "grpo", "importance_sampling_level": "sequence", "epsilon": 3e-4, "epsilon_high": 4e-4}),
        ("cispo", {"loss_type": "cispo", "importance_sampling_level": "token", "epsilon_high": 5.0}),
        ("sapo", {"loss_type": "sapo", "importance_sampling_level": "token", "epsilon_high": 0.2}),
        ("dapo", {"loss_type": "dapo", "epsilon_high": 0.28, "scale_rewards": "group"}),
        ("dr_grpo", {"loss_type": "dr_grpo", "scale_rewards": "none", "importance_sampling_level": "token"}),
    ],
)
def test_new_presets_reach_grpo_config(tmp_path, preset, expected):
    recipe = _grpo(preset=preset)
    config = targs.build_grpo_config(recipe, recipe.stages[0], str(tmp_path), [1.0])
    for key, value in expected.items():
        assert getattr(config, key) == pytest.approx(value) if isinstance(value, float) else getattr(config, key) == value


@pytest.mark.parametrize("loss_type", ["luspo", "vespo", "cispo", "sapo", "bnpo"])
def test_every_trl_loss_type_is_reachable(tmp_path, loss_type):
    recipe = _grpo(loss_type=loss_type)
    config = targs.build_grpo_config(recipe, recipe.stages[0], str(tmp_path), [1.0])
    assert config.loss_type == loss_type
    assert config.importance_sampling_level == ("sequence" if loss_type == "luspo" else "token")


def test_knobs_pass_through_and_trl_defaults_are_explicit(tmp_path):
    recipe = _grpo(mask_truncated_completions=True, top_entropy_quantile=0.2, off_policy_mask_threshold=0.5,
                   entropy_coef=0.01, multi_objective_aggregation="normalize_then_sum",
                   vllm_importance_sampling_mode="token_truncate",
                   trl={"sapo_temperature_neg": 1.1, "vllm_importance_sampling_clip_max": 2.0, "top_k": 20})
    kw = targs.grpo_kwargs(recipe, recipe.stages[0], str(tmp_path), [1.0])
    assert kw["vllm_importance_sampling_correction"] is True  # TRL's default, now stated, not inherited
    config = targs.build_grpo_config(recipe, recipe.stages[0], str(tmp_path), [1.0])
    assert (config.mask_truncated_completions, config.top_entropy_quantile, config.off_policy_mask_threshold) == (
        True, 0.2, 0.5)
    assert (config.entropy_coef, config.multi_objective_aggregation) == (0.01, "normalize_then_sum")
    assert config.vllm_importance_sampling_mode == "token_truncate"
    assert (config.sapo_temperature_neg, config.vllm_importance_sampling_clip_max, config.top_k) == (1.1, 2.0, 20)


def test_hub_push_fields_map_and_need_a_repo(tmp_path):
    recipe = _grpo(push_to_hub=True, hub_model_id="me/open-rs3", hub_strategy="checkpoint")
    kw = targs.grpo_kwargs(recipe, recipe.stages[0], str(tmp_path), [1.0])
    assert (kw["push_to_hub"], kw["hub_model_id"], kw["hub_strategy"]) == (True, "me/open-rs3", "checkpoint")
    with pytest.raises(UserError, match="hub_model_id"):
        _grpo(push_to_hub=True)


@pytest.mark.parametrize(
    ("stage", "message"),
    [
        ({"loss_type": "luspo", "importance_sampling_level": "token"}, "luspo"),
        ({"loss_type": "vespo", "importance_sampling_level": "sequence"}, "vespo"),
        ({"preset": "gspo", "loss_type": "dapo"}, "weights each sequence by its length"),
        ({"loss_type": "vespo", "use_vllm": True}, "token_truncate or token_mask"),
        ({"preset": "gspo", "epsilon": 0.2}, "epsilon_high"),  # GSPO's 4e-4 ceiling below a token-level ε
        ({"top_entropy_quantile": 1.5}, "top_entropy_quantile"),
    ],
)
def test_impossible_combinations_are_refused(stage, message):
    with pytest.raises(UserError, match=message):
        _grpo(**stage)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"trl": {"num_generatons": 2}}, "did you mean 'num_generations'.*use num_generations"),
        ({"trl": {"temperatur": 0.7}}, "did you mean 'temperature'"),
        ({"trl": {"loss_type": "dapo"}}, "use loss_type or preset"),
        ({"trl": {"reward_weights": [1.0]}}, r"rewards\.NAME\.weight"),
        ({"trl": {"vllm_max_model_length": 4096}}, "vllm_max_model_len"),
        ({"trl": {"max_prompt_length": 100}}, "polyreason stage key"),
        ({"trl": {"top_k": "many"}}, "expected int"),
        ({"trl": {"sapo_temperature_pos": True}}, "not a boolean"),
    ],
)
def test_trl_block_is_checked_before_anything_loads(override, message):
    with pytest.raises(UserError, match=message) as err:
        _grpo(**override)
    assert "stages.0" in str(err.value)


def test_sft_trl_block_checks_sft_config(tmp_path):
    recipe = recipe_from_dict({"model": "tiny-random", "stages": [{"type": "sft", "trl": {"loss_type": "dft"}}]})
    assert targs.build_sft_config(recipe, recipe.stages[0], str(tmp_path)).loss_type == "dft"  # SFTConfig's own
    for block, message in (({"packing_strategy": "wrapped"}, "packing"), ({"padding_free": True}, "packing"),
                           ({"assistant_only_loss": True}, "every assistant turn")):
        with pytest.raises(UserError, match=message):
            recipe_from_dict({"model": "tiny-random", "stages": [{"type": "sft", "trl": block}]})


def test_owned_fields_are_real_trl_fields_and_cover_every_mapped_key(tmp_path):
    """TRL_OWNED is the list the trl: check refuses; it must name exactly what args.py sets, by TRL's names."""
    from trl import GRPOConfig, SFTConfig

    sft_fields = {f.name for f in dataclasses.fields(SFTConfig)}
    grpo_fields = {f.name for f in dataclasses.fields(GRPOConfig)}
    assert set(TRL_OWNED_COMMON) | set(TRL_OWNED_SFT) <= sft_fields
    assert set(TRL_OWNED_COMMON) | set(TRL_OWNED_GRPO) <= grpo_fields
    full = {"lr_scheduler": "cosine_with_min_lr", "min_lr_rate": 0.1, "gradient_checkpointing": True,
            "push_to_hub": True, "hub_model_id": "me/x"}
    recipe = recipe_from_dict({"model": "tiny-random", "rewards": {"accuracy": 1.0}, "stages": [
        {"type": "sft", "packing": True, **full},
        {"type": "grpo", "per_device_batch_size": 4, "num_generations": 2, "use_vllm": True,
         "vllm_mode": "colocate", "vllm_max_model_len": 512, **full},
        {"type": "grpo", "per_device_batch_size": 4, "num_generations": 2, "use_vllm": True,
         "vllm_mode": "server", "vllm_server_base_url": "http://h:8000", **full}]})
    assert set(targs.sft_kwargs(recipe, recipe.stages[0], str(tmp_path))) <= set(TRL_OWNED_COMMON) | set(TRL_OWNED_SFT)
    for stage in recipe.stages[1:]:
        assert set(targs.grpo_kwargs(recipe, stage, str(tmp_path), [1.0])) <= (
            set(TRL_OWNED_COMMON) | set(TRL_OWNED_GRPO))


def test_docs_map_every_preset_onto_grpo_config(repo_root):
    doc = (repo_root / "docs" / "training.md").read_text(encoding="utf-8")
    assert preset_table_markdown() in doc, "regenerate the preset table in docs/training.md from preset_table_markdown()"
    for name in PRESETS:
        assert f"| `{name}` |" in preset_table_markdown()


@pytest.mark.parametrize(
    "override",
    [{"max_steps": 10**23}, {"max_steps": 1e18}, {"save_steps": 10**9}, {"per_device_batch_size": 10**6},
     {"learning_rate": 5.0}, {"max_completion_length": 10**8}, {"epochs": float("inf")}, {"num_generations": 4096},
     {"temperature": float("nan")}],
)
def test_numeric_fields_have_bounds(override):
    with pytest.raises(UserError) as err:
        _grpo(**override)
    assert f"stages.0.{next(iter(override))}" in str(err.value)


def test_unknown_trl_field_exits_2_from_the_cli(tmp_path):
    import subprocess
    import sys

    import yaml

    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({"model": "tiny-random", "rewards": {"accuracy": 1.0}, "stages": [
        {"type": "grpo", "per_device_batch_size": 4, "num_generations": 2, "trl": {"top_kk": 5}}]}))
    run = subprocess.run([sys.executable, "-m", "polyreason.cli", "recipe", "validate", str(path)],
                         capture_output=True, text=True)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "trl.top_kk" in run.stderr and "did you mean 'top_k'" in run.stderr


def test_over_long_prompts_are_dropped_not_truncated(caplog):
    from polyreason.models import load_tokenizer
    from polyreason.train.datasets import grpo_records

    tok = load_tokenizer("tiny-random")
    rows = [{"problem": "What is 2 + 3?", "answer": "5"}, {"problem": "Add these: " + "1 + " * 300 + "1", "answer": "301"}]
    with caplog.at_level("WARNING"):
        records = grpo_records(rows, tok, max_prompt_length=128)
    assert [r["answer"] for r in records] == ["5"]  # the long problem is gone, not cut to a different problem
    assert "dropped 1 prompt(s) longer than max_prompt_length=128" in caplog.text
    with pytest.raises(UserError, match="max_prompt_length"):
        grpo_records(rows[1:], tok, max_prompt_length=128)
