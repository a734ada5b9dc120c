"""Seed 002's programme (recipes/gemma3-programme.yaml) end to end on CPU: every stage of the recipe (every stage
type: eval, sft, grpo, synth, dedup, decontaminate, difficulty, mix), tiny sizes, the tiny random model as the
policy and a 127.0.0.1 stub as the stronger teacher and judges; then --resume skips every stage and asks the stub
nothing."""

from __future__ import annotations

import json

import pytest

from polyreason.config import load_recipe
from polyreason.files import read_jsonl
from polyreason.train import run_recipe
from polyreason.train.stages import STAGE_TYPES
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
    assert names == ["eval-base", "1-sft", "2-grpo", "synth", "unique", "clean", "tagged", "curriculum", "helpful",
                     "eval-math", "eval-general"]
    assert {s.type for s in recipe.stages} == set(STAGE_TYPES)
    summary = json.loads((out / "summary.json").read_text())
    stages = {s["name"]: s for s in summary["stages"]}
    assert summary["finished"] and all(s.skipped for s in again.stages)

    # the model flows: base → SFT → GRPO (→ the policy whose pass rate tags the problems) → final GRPO = OUT/model
    assert stages["eval-base"]["eval"]["model"] == "tiny-random"
    assert stages["1-sft"]["model_dir"] == str(out / "stages" / "1-sft" / "final")
    assert stages["helpful"]["model_dir"] == str(out / "model") == result.model_dir
    assert stages["eval-math"]["eval"]["model"] == str(out / "model")

    # synth: the teacher's traces verified, then judged (the stub scores some correct traces 5 < 7)
    prov = stages["synth"]["synth"]
    assert prov["model"] == prov["judge"] == f"Qwen/Qwen2.5-7B-Instruct@{url}/chat/completions"
    assert 0 < prov["judged"]["n_kept"] < prov["judged"]["n_judged"] == prov["synth"]["n_written"]
    assert calls["teacher"] == 6 and calls["trace-judge"] == prov["judged"]["n_judged"]
    # dedup and decontaminate read synth's rows, difficulty tags them with the policy's pass rate, mix balances
    assert stages["unique"]["report"]["n_input"] == prov["rows"]
    assert stages["clean"]["report"]["n_input"] == stages["unique"]["report"]["n_kept"]
    tagged = list(read_jsonl(stages["tagged"]["data"]))
    assert len(tagged) == stages["clean"]["report"]["n_kept"] > 0
    assert all(r["difficulty_model"] == str(out / "stages" / "2-grpo" / "final") for r in tagged)
    assert {r["difficulty"] for r in tagged} == {"hard"}  # a tiny random policy solves nothing
    mixed = list(read_jsonl(stages["curriculum"]["data"]))
    assert stages["curriculum"]["report"]["targets"] == {"easy": 3, "medium": 3, "hard": 2}
    assert len(mixed) == 2 and stages["curriculum"]["report"]["shortfall"]["easy"]["available"] == 0
    # the final GRPO trained on the mix, rewarded by the judge
    assert calls["reward-judge"] >= 4  # 2 prompts × G=2 completions, one judgement each
    records = list(read_jsonl(out / "metrics.jsonl", tolerant=True))
    assert [(r["stage"], r["step"]) for r in records] == [(1, 1), (2, 1), (8, 1)]
    assert "rewards/judge/mean" in records[-1] and "rewards/accuracy/mean" in records[-1]

    # the eval stages' results and every stage's cost are in the summary
    assert set(stages["eval-base"]["eval"]["benchmarks"]) == {"aime24", "math500"}
    general = {"humaneval"} if sandbox_works() else {"math500"}  # hub-only ones left out offline
    assert set(stages["eval-general"]["eval"]["benchmarks"]) == general
    cost = {c["index"]: c for c in summary["cost"]["stages"]}
    assert [cost[i]["type"] for i in range(11)] == [s.type for s in recipe.stages]
    assert all(cost[i]["wall_s"] > 0 for i in range(11))
    assert cost[0]["tokens_generated"] > 0 and cost[3]["tokens_generated"] > 0 and cost[6]["tokens_generated"] > 0
