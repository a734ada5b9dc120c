"""One GRPO step on CPU (tiny-random policy) rewarded by every model-based kind at once: an outcome reward
model, an LLM judge behind a 127.0.0.1 endpoint, a process reward model and a custom function -- each one
logged per step as TRL logs the rule rewards (``rewards/<name>/mean``), with its own metrics beside."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyreason.config import recipe_from_dict
from polyreason.files import read_jsonl
from polyreason.train import run_recipe
from reward_stubs import judge_server, tiny_classifier

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CUSTOM = '''
def has_box(prompts, completions, **kwargs):
    return [float("\\\\boxed{" in completions[i][0]["content"]) for i in range(len(completions))]
'''


def test_grpo_step_with_every_model_reward(tmp_path):
    rm = tiny_classifier(tmp_path / "rm", "sequence", num_labels=1)
    prm = tiny_classifier(tmp_path / "prm", "token", num_labels=2, extra_tokens=("<extra_0>",))
    (tmp_path / "my_rewards.py").write_text(CUSTOM, encoding="utf-8")
    with judge_server() as (stub, url):
        recipe = recipe_from_dict({
            "model": "tiny-random",
            "output_dir": str(tmp_path / "run"),
            "data": {"train": "synthetic:8:en:easy"},
            "tracking": {"report_to": ["none"]},
            "rewards": {
                "accuracy": 1.0,
                "reward_model": {"weight": 0.1, "params": {"model": rm, "normalize": "running", "device": "cpu"}},
                "judge": {"weight": 0.5, "params": {"endpoint": url, "cache_path": str(tmp_path / "judge.jsonl")}},
                "process": {"weight": 0.3, "params": {"model": prm, "aggregation": "mean", "device": "cpu"}},
                "custom:box": {"function": f"{tmp_path / 'my_rewards.py'}:has_box", "weight": 0.1},
            },
            "stages": [{"type": "grpo", "max_steps": 1, "save_steps": 1000, "bf16": False, "num_generations": 2,
                        "per_device_batch_size": 4, "max_completion_length": 8}],
        })
        result = run_recipe(recipe)
    records = list(read_jsonl(Path(result.metrics_path), tolerant=True))
    assert [r["step"] for r in records] == [1]
    record = records[0]
    for name in ("accuracy", "reward_model", "judge", "process", "custom:box"):
        assert f"rewards/{name}/mean" in record, sorted(record)
    assert 0.0 <= record["rewards/judge/mean"] <= 1.0 and 0.0 <= record["rewards/process/mean"] <= 1.0
    assert record["judge/fallbacks"] == 0.0  # every judgement came back with a score
    assert {"reward_model/raw", "process/steps", "judge/cache_hits"} <= set(record)
    assert len(stub.requests) == 4  # one per completion (4 = 2 prompts x 2 generations), none cached yet
    assert (tmp_path / "judge.jsonl").read_text(encoding="utf-8").count("\n") == len(
        {tuple(m["content"] for m in r["messages"]) for r in stub.requests})
