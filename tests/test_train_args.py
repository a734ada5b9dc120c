"""The recipe → TRL config mapping: every field we promise to pass is passed, TRL's CPU-hostile defaults are not."""

from __future__ import annotations

import pytest

from polyreason.config import recipe_from_dict
from polyreason.train import args as targs


def _recipe(**stage):
    grpo = {"type": "grpo", "per_device_batch_size": 8, "num_generations": 4, **stage}
    return recipe_from_dict({"model": "tiny-random", "rewards": {"accuracy": 1.0},
                             "stages": [{"type": "sft"}, grpo]})


def test_sft_mapping_overrides_trl_cpu_defaults(tmp_path):
    recipe = recipe_from_dict({"model": "tiny-random", "stages": [{
        "type": "sft", "warmup_ratio": 0.05, "weight_decay": 0.05, "lr_scheduler": "cosine_with_min_lr",
        "min_lr": 5e-6, "learning_rate": 2e-5, "gradient_accumulation_steps": 4, "packing": True,
        "max_length": 512, "epochs": 2}]})
    kw = targs.sft_kwargs(recipe, recipe.stages[0], str(tmp_path))
    assert kw["bf16"] is False  # 'auto' on a CPU: never TRL's bf16=True default
    assert kw["activation_checkpointing"] is False  # TRL defaults to True; the recipe decides
    assert kw["warmup_steps"] == 0.05  # transformers 5 has no warmup_ratio: a float < 1 is a ratio
    assert kw["lr_scheduler_kwargs"] == {"min_lr": 5e-6}
    assert kw["completion_only_loss"] is True and kw["assistant_only_loss"] is False
    assert kw["packing"] is True and kw["packing_strategy"] == "bfd"  # padding-free: samples kept apart
    assert (kw["weight_decay"], kw["gradient_accumulation_steps"], kw["num_train_epochs"]) == (0.05, 4, 2)


def test_sft_config_builds_and_warmup_ratio_is_a_ratio(tmp_path):
    recipe = recipe_from_dict({"model": "tiny-random", "stages": [{"type": "sft", "warmup_ratio": 0.1}]})
    config = targs.build_sft_config(recipe, recipe.stages[0], str(tmp_path))
    assert config.bf16 is False and config.gradient_checkpointing is False
    assert config.get_warmup_steps(200) == 20  # 10 % of the steps
    assert config.max_length == 1024 and config.completion_only_loss is True


@pytest.mark.parametrize(
    ("preset", "loss_type", "scale_rewards", "epsilon_high"),
    [("grpo", "grpo", "group", 0.2), ("dr_grpo", "dr_grpo", "none", 0.2), ("bnpo", "bnpo", "group", 0.2),
     ("dapo", "dapo", "group", 0.28)],
)
def test_grpo_presets_map_onto_trl(tmp_path, preset, loss_type, scale_rewards, epsilon_high):
    recipe = _recipe(preset=preset)
    stage = recipe.stages[1]
    kw = targs.grpo_kwargs(recipe, stage, str(tmp_path), [1.0])
    assert (kw["loss_type"], kw["scale_rewards"], kw["epsilon_high"]) == (loss_type, scale_rewards, epsilon_high)
    assert stage.dynamic_sampling is (preset == "dapo")
    config = targs.build_grpo_config(recipe, stage, str(tmp_path), [1.0])
    assert (config.loss_type, config.scale_rewards, config.epsilon_high) == (loss_type, scale_rewards, epsilon_high)
    assert config.bf16 is False and config.gradient_checkpointing is False


def test_grpo_knobs_pass_through(tmp_path):
    recipe = _recipe(num_generations=4, beta=0.04, epsilon=0.15, epsilon_high=0.3, max_completion_length=77,
                     temperature=0.7, top_p=0.9, learning_rate=3e-6, lr_scheduler="cosine_with_min_lr",
                     min_lr_rate=0.1, warmup_ratio=0.1, adam_beta1=0.8, adam_beta2=0.95, max_steps=5,
                     save_steps=2, gradient_accumulation_steps=2, num_iterations=2)
    config = targs.build_grpo_config(recipe, recipe.stages[1], str(tmp_path), [1.0, 0.5])
    assert (config.num_generations, config.beta, config.epsilon, config.epsilon_high) == (4, 0.04, 0.15, 0.3)
    assert (config.max_completion_length, config.temperature, config.top_p) == (77, 0.7, 0.9)
    assert (config.learning_rate, config.lr_scheduler_kwargs) == (3e-6, {"min_lr_rate": 0.1})
    assert (config.adam_beta1, config.adam_beta2, config.max_steps, config.save_steps) == (0.8, 0.95, 5, 2)
    assert (config.gradient_accumulation_steps, config.num_iterations, config.seed) == (2, 2, 42)
    assert config.reward_weights == [1.0, 0.5] and config.get_warmup_steps(50) == 5


def test_vllm_settings_only_when_asked(tmp_path):
    recipe = _recipe(use_vllm=True, vllm_mode="server", vllm_max_model_len=4608,
                     vllm_server_base_url="http://10.0.0.2:8000")
    kw = targs.grpo_kwargs(recipe, recipe.stages[1], str(tmp_path), [1.0])
    assert kw["use_vllm"] and kw["vllm_mode"] == "server" and kw["vllm_max_model_length"] == 4608
    assert kw["vllm_server_base_url"] == "http://10.0.0.2:8000"
    assert "vllm_gpu_memory_utilization" not in kw  # colocate-only knob
    assert targs.grpo_kwargs(_recipe(), _recipe().stages[1], str(tmp_path), [1.0])["use_vllm"] is False


def test_report_to_and_explicit_bf16(tmp_path):
    recipe = recipe_from_dict({"model": "tiny-random", "tracking": {"report_to": ["tensorboard"]},
                               "stages": [{"type": "sft", "bf16": True}]})
    kw = targs.sft_kwargs(recipe, recipe.stages[0], str(tmp_path))
    assert kw["report_to"] == ["tensorboard"] and kw["bf16"] is True
    assert targs.sft_kwargs(_recipe(), _recipe().stages[0], str(tmp_path))["report_to"] == "none"


