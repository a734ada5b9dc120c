"""Seed 002's programme (recipes/gemma3-programme.yaml) end to end on CPU: every stage of the recipe, tiny sizes,
the tiny random model as the policy and a 127.0.0.1 stub as the stronger teacher and judges; then --resume
skips every stage and asks the stub nothing."""

from __future__ import annotations

import json

import pytest

from polyreason.config import load_recipe
from polyreason.files import read_jsonl
from polyreason.train import run_recipe
from stage_stubs import programme_server
from test_recipes_run import RECIPES, sandbox_works, tiny_overrides

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PROGRAMME = RECIPES / "gemma3-programme.yaml"


def test_gemma3_programme_end_to_end_then_resume_skips_everything(tmp_path):
    out = tmp_path / "run"
    with programme_server() as (stub, url):
        recipe = load_recipe(PROGRAMME, tiny_overrides(PROGRAMME, url))
        result = run_recipe(recipe, out)
        calls = dict(stub.calls)
        again = run_recipe(recipe, out, resume=True)
        assert dict(stub.calls) == calls  # nothing generated or judged again
    names = [s.stage_name(i) for i, s in enumerate(recipe.stages)]
    assert names == ["eval-base", "1-sft", "2-grpo", "synth", "clean", "helpful", "eval-math", "eval-general"]
    summary = json.loads((out / "summary.json").read_text())
    stages = {s["name"]: s for s in summary["stages"]}
    assert summary["finished"] and all(s.skipped for s in again.stages)

    # the model flows: base → SFT → GRPO → (synth, clean use it as nothing) → final GRPO = OUT/model
    assert stages["eval-base"]["eval"]["model"] == "tiny-random"
    assert stages["1-sft"]["model_dir"] == str(out / "stages" / "1-sft" / "final")
    assert stages["helpful"]["model_dir"] == str(out / "model") == result.model_dir
    assert stages["eval-math"]["eval"]["model"] == str(out / "model")

    # synth: the teacher's traces verified, then judged (the stub scores some correct traces 5 < 7)
    prov = stages["synth"]["synth"]
    assert prov["model"] == prov["judge"] == f"Qwen/Qwen2.5-7B-Instruct@{url}/chat/completions"
    assert 0 < prov["judged"]["n_kept"] < prov["judged"]["n_judged"] == prov["synth"]["n_written"]
    assert calls["teacher"] == 6 and calls["trace-judge"] == prov["judged"]["n_judged"]
    # decontaminate read synth's rows; the final GRPO trained on what it kept, rewarded by the judge
    assert stages["clean"]["report"]["n_input"] == prov["rows"] and stages["clean"]["data"].endswith("data.jsonl")
    kept = list(read_jsonl(stages["clean"]["data"]))
    assert len(kept) == stages["clean"]["report"]["n_kept"] > 0
    assert calls["reward-judge"] >= 4  # 2 prompts × G=2 completions, one judgement each
    records = list(read_jsonl(out / "metrics.jsonl", tolerant=True))
    assert [(r["stage"], r["step"]) for r in records] == [(1, 1), (2, 1), (5, 1)]
    assert "rewards/judge/mean" in records[-1] and "rewards/accuracy/mean" in records[-1]

    # the eval stages' results and every stage's cost are in the summary
    assert set(stages["eval-base"]["eval"]["benchmarks"]) == {"aime24", "math500"}
    general = {"humaneval"} if sandbox_works() else {"math500"}  # hub-only ones left out offline
    assert set(stages["eval-general"]["eval"]["benchmarks"]) == general
    cost = {c["index"]: c for c in summary["cost"]["stages"]}
    assert [cost[i]["type"] for i in range(8)] == [s.type for s in recipe.stages]
    assert all(cost[i]["wall_s"] > 0 for i in range(8))
    assert cost[3]["tokens_generated"] > 0 and cost[0]["tokens_generated"] > 0
