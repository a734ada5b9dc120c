"""The stage interface: the registry, {from: NAME} references checked before any model loads, and each stage
type run on CPU (tiny model, a 127.0.0.1 teacher/judge stub): synth, eval, dedup, decontaminate, difficulty, mix,
with resume (a finished stage is skipped; a killed synth stage continues from the rows it had written)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from polyreason.config import Recipe, StageSettings, dump_recipe, recipe_from_dict, reference_markdown
from polyreason.errors import UserError
from polyreason.files import read_jsonl
from polyreason.train import run_recipe
from polyreason.train.runner import stage_context
from polyreason.train.stages import MODULES, STAGE_TYPES
from stage_stubs import programme_server

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SFT = {"type": "sft", "max_steps": 1, "per_device_batch_size": 2, "max_length": 96, "save_steps": 100}
GRPO = {"type": "grpo", "preset": "dr_grpo", "max_steps": 1, "per_device_batch_size": 4, "num_generations": 2,
        "max_completion_length": 8, "save_steps": 100}
EVAL = {"type": "eval", "benchmarks": ["math500"], "limit": 2, "max_new_tokens": 8, "backend": "transformers"}


def _recipe(*stages: dict, **top) -> dict:
    return {"model": "tiny-random", "seed": 5, "data": {"train": "synthetic:16:en:easy:add_sub",
                                                         "sft": "synthetic:8:en:easy:add_sub"},
            "rewards": {"accuracy": 1.0, "format": 0.5}, "stages": list(stages),
            "tracking": {"log_completions": False}, **top}


def _summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------------------- the registry


def test_every_registered_type_is_one_module_and_a_member_of_the_recipe_schema():
    assert list(STAGE_TYPES) == list(MODULES)  # a module per type, named as the type
    union = Recipe.model_fields["stages"].annotation
    for name, st in STAGE_TYPES.items():
        assert issubclass(st.settings, StageSettings) and st.name == name and st.about
        assert st.settings.__module__ == f"polyreason.train.stages.{name}"
        assert st.settings in _members(union)
        assert f"## stages.N (type: {name})" in reference_markdown()
    assert {n for n, st in STAGE_TYPES.items() if st.produces_model} == {"sft", "grpo"}


def _members(annotation) -> set:
    import typing

    found, todo = set(), [annotation]
    while todo:
        item = todo.pop()
        if isinstance(item, type):
            found.add(item)
        todo.extend(typing.get_args(item))
    return found


def test_moved_settings_classes_still_import_from_config():
    from polyreason.config import GRPOStage, SFTStage
    from polyreason.train.stages.grpo import GRPOStage as grpo
    from polyreason.train.stages.sft import SFTStage as sft

    assert (SFTStage, GRPOStage) == (sft, grpo)


# ------------------------------------------------------------------------------------------- references


@pytest.mark.parametrize(("stages", "message"), [
    ([SFT, {**GRPO, "data": {"from": "nope"}}],
     "stages.1.data: {from: nope} names no stage; stages before this one: 0-sft"),
    ([{**SFT, "data": {"from": "later"}}, {"type": "synth", "name": "later"}],
     "stages.0.data: {from: later} is stage 1, which does not run before stage 0"),
    ([{"type": "synth", "name": "s"}, {**GRPO, "model": {"from": "s"}}],
     "stages.1.model: {from: s} is a synth stage, which writes no model; fix: name a stage of type sft or grpo"),
    ([SFT, {**GRPO, "data": {"from": "0-sft"}}], "stages.1.data: {from: 0-sft} is a sft stage, which writes no data"),
    ([{"type": "mix", "size": 4}, {**SFT, "data": {"from": "0-mix"}}],
     "stages.1.data: {from: 0-mix} writes rl rows, and a sft stage reads sft rows"),
    ([{**SFT, "name": "a"}, {**GRPO, "name": "a"}], "stages.1.name: 'a' is also the name of stage 0"),
    ([{**SFT, "name": "1-grpo"}, GRPO], "stages.1.name: '1-grpo' is also the name of stage 0"),
    ([{**SFT, "name": "../x"}], "stages.0.name: stage name '../x'"),
    ([EVAL, {**EVAL, "benchmarks": ["math5000"]}], "stages.1.benchmarks"),
    ([{"type": "difficulty", "easy_min": 0.2, "hard_max": 0.5}], "hard_max (0.5) must be below easy_min"),
    ([{"type": "decontaminate", "registry": False}], "stages.0: nothing to decontaminate against"),
    ([{"type": "synth", "model": "not a model"}], "stages.0.model: unknown model spec 'not a model'"),
])
def test_bad_references_and_settings_name_the_stage_and_key(stages, message):
    with pytest.raises(UserError) as err:
        recipe_from_dict(_recipe(*stages))
    assert message in str(err.value)


def test_heldout_names_only_training_stage_types():
    with pytest.raises(UserError, match="tracking.heldout.stages: 'eval' is not a training stage type"):
        recipe_from_dict(_recipe(SFT, tracking={"heldout": {"stages": ["eval"]}}))


def test_data_an_earlier_stage_writes_need_not_exist_when_the_recipe_loads(tmp_path):
    recipe = recipe_from_dict(_recipe({"type": "synth", "name": "traces"}, {**SFT, "data": {"from": "traces"}},
                                      {**GRPO, "data": {"from": "traces"}, "model": {"from": "1-sft"}}, EVAL))
    ctx = stage_context(recipe, 2, tmp_path / "run")
    assert ctx.data.path == str(tmp_path / "run" / "stages" / "traces" / "data.jsonl")
    assert ctx.data.produced_by == "traces" and not Path(ctx.data.path).exists()
    assert ctx.model == str(tmp_path / "run" / "stages" / "1-sft" / "final")
    assert ctx.model_target == tmp_path / "run" / "model"  # the last stage that writes a model writes OUT/model
    assert stage_context(recipe, 3, tmp_path / "run").model == "tiny-random"  # outside a run: nothing before ran
    dumped = yaml.safe_load(dump_recipe(recipe))
    assert dumped["stages"][1]["data"] == {"from": "traces"}  # the resolved recipe reloads as written


def test_cli_refuses_a_bad_reference_with_exit_2_before_anything_loads(tmp_path, capsys, monkeypatch):
    from polyreason import cli

    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(_recipe(SFT, {**GRPO, "data": {"from": "synth1"}})), encoding="utf-8")
    monkeypatch.setattr(sys, "argv", ["polyreason", "train", str(path), "-o", str(tmp_path / "run")])
    with pytest.raises(SystemExit) as exc:
        cli.app()
    err = " ".join(capsys.readouterr().err.split())
    assert exc.value.code == 2 and "Traceback" not in err
    assert "stages.1.data: {from: synth1} names no stage" in err and "fix:" in err
    assert not (tmp_path / "run").exists()


# ------------------------------------------------------------------------------------------- synth


def test_synth_keeps_verified_traces_the_judge_likes_with_provenance(tmp_path):
    with programme_server(wrong_every=3) as (stub, url):
        synth = {"type": "synth", "name": "traces", "model": url, "endpoint_model": "teacher", "n": 1,
                 "limit": 12, "judge": {"model": url, "endpoint_model": "judge", "min_score": 7}}
        run_recipe(recipe_from_dict(_recipe(synth)), tmp_path / "run")
    sdir = tmp_path / "run" / "stages" / "traces"
    rows = list(read_jsonl(sdir / "data.jsonl"))
    candidates = list(read_jsonl(sdir / "candidates.jsonl"))
    prov = json.loads((sdir / "provenance.json").read_text())
    assert prov["synth"]["n_written"] == len(candidates) < 12  # wrong answers (every 3rd) do not verify
    assert prov["judged"]["n_judged"] == len(candidates) and prov["judged"]["n_kept"] == len(rows) < len(candidates)
    assert prov["model"] == f"teacher@{url}/chat/completions" and prov["judge"] == f"judge@{url}/chat/completions"
    assert prov["settings"]["judge"]["min_score"] == 7 and prov["rows"] == len(rows) > 0
    for row in rows:  # SFT rows: the problem, the verified trace, provenance per row
        assert row["messages"][-1]["role"] == "assistant" and f"\\boxed{{{row['answer']}}}" in row["messages"][-1][
            "content"]
        assert row["synth"]["model"] == prov["model"] and row["judge"]["score"] >= 7
    assert stub.calls["teacher"] == 12 and stub.calls["trace-judge"] == len(candidates)
    entry = _summary(tmp_path / "run")["stages"][0]
    assert entry["data"] == str(sdir / "data.jsonl") and entry["synth"]["judged"] == prov["judged"]
    cost = _summary(tmp_path / "run")["cost"]["stages"][0]
    assert cost["type"] == "synth" and cost["tokens_generated"] == prov["synth"]["tokens_generated"] + prov[
        "judged"]["tokens_generated"] > 0


def test_synth_with_the_policy_and_nothing_verified_stops_the_next_stage_with_a_user_error(tmp_path):
    recipe = recipe_from_dict(_recipe({"type": "synth", "limit": 2, "n": 2, "max_new_tokens": 8},
                                      {**SFT, "data": {"from": "0-synth"}}))
    with pytest.raises(UserError, match=r"stages.1 \(1-sft\): its data, .*written by stage 0-synth, holds no rows"):
        run_recipe(recipe, tmp_path / "run")  # tiny-random's traces never verify
    assert json.loads((tmp_path / "run" / "stages" / "0-synth" / "provenance.json").read_text())["model"] == (
        "tiny-random")


SYNTH_ONLY = """
name: synth-kill
model: tiny-random
data: {{train: "synthetic:8:en:easy:add_sub"}}
stages:
  - type: synth
    name: traces
    model: {url}
    n: 1
    batch_size: 1
    concurrency: 1
  - type: dedup
    data: {{from: traces}}
"""


def test_a_killed_synth_stage_resumes_from_the_rows_it_wrote_and_a_finished_one_is_skipped(tmp_path):
    env = {**os.environ, "POLYREASON_PROGRESS": "0", "OMP_NUM_THREADS": "1", "PYTHONPATH": os.environ.get(
        "PYTHONPATH", "")}
    with programme_server(delay=0.4) as (stub, url):
        path = tmp_path / "r.yaml"
        path.write_text(SYNTH_ONLY.format(url=url), encoding="utf-8")
        out = tmp_path / "run"
        cmd = [sys.executable, "-m", "polyreason.cli", "train", str(path), "-o", str(out)]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        partial = out / "stages" / "traces" / "data.jsonl.partial"
        deadline = time.monotonic() + 120
        while not (partial.is_file() and len(partial.read_text().splitlines()) >= 3):
            assert proc.poll() is None, proc.stderr.read()[-3000:]
            assert time.monotonic() < deadline, "no synth rows within 120 s"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        before = stub.calls["teacher"]
        assert 3 <= before < 8 and not (out / "stages" / "traces" / "stage.json").exists()
        resumed = subprocess.run(cmd + ["--resume"], env=env, capture_output=True, text=True, timeout=300)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert stub.calls["teacher"] <= 8 + 1  # only the problems not written (and the one in flight) again
        rows = list(read_jsonl(out / "stages" / "traces" / "data.jsonl"))
        assert len(rows) == 8 and len({r["id"] for r in rows}) == 8
        assert len(list(read_jsonl(out / "stages" / "1-dedup" / "data.jsonl"))) == 8
        calls = stub.calls["teacher"]
        again = subprocess.run(cmd + ["--resume"], env=env, capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stderr[-3000:]
        assert stub.calls["teacher"] == calls  # both stages finished: skipped, nothing generated
    summary = _summary(out)
    assert summary["finished"] and [s["skipped"] for s in summary["stages"]] == [False, False]


# ------------------------------------------------------------------------------------------- eval


def test_eval_stage_puts_results_in_the_summary_and_is_skipped_once_finished(tmp_path):
    recipe = recipe_from_dict(_recipe(SFT, {**EVAL, "name": "after-sft"}, {**EVAL, "model": "tiny-random",
                                                                            "benchmarks": ["gsm8k"], "limit": 1}))
    out = tmp_path / "run"
    run_recipe(recipe, out)
    stages = _summary(out)["stages"]
    after, base = stages[1]["eval"], stages[2]["eval"]
    assert after["model"] == str(out / "model") and base["model"] == "tiny-random"  # the current model, or named
    assert after["benchmarks"]["math500"]["n_problems"] == 2 and base["benchmarks"]["gsm8k"]["n_problems"] == 1
    assert "language_metrics" in after["benchmarks"]["math500"]
    info = json.loads((out / "stages" / "after-sft" / "run_info.json").read_text())
    cost = _summary(out)["cost"]["stages"][1]
    assert cost["type"] == "eval" and cost["tokens_generated"] == info["generated_tokens"] > 0
    samples = out / "stages" / "after-sft" / "samples.jsonl"
    written = samples.stat().st_mtime_ns
    run_recipe(recipe, out, resume=True)
    assert samples.stat().st_mtime_ns == written  # not evaluated again
    assert _summary(out)["stages"] == stages


def test_eval_benchmarks_load_before_the_first_stage_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    recipe = recipe_from_dict(_recipe(SFT, {**EVAL, "benchmarks": ["mmlu"]}))
    with pytest.raises(UserError, match="could not read mmlu from the hub"):
        run_recipe(recipe, tmp_path / "run")
    assert not (tmp_path / "run" / "stages").exists()


# ------------------------------------------------------------------------------------------- data steps


def _write(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def test_dedup_and_decontaminate_stages_filter_and_report(tmp_path, repo_root):
    from polyreason.evaluate.benchmarks import load_benchmark

    leaked = load_benchmark("math500", limit=1)[0]
    rows = [{"problem": "What is 12 + 30?", "answer": "42"}, {"problem": "What is 12 + 30?", "answer": "42"},
            {"problem": leaked.problem, "answer": leaked.gold}, {"problem": "What is 7 - 2?", "answer": "5"}]
    src = _write(tmp_path / "rows.jsonl", rows)
    recipe = recipe_from_dict(_recipe({"type": "dedup", "data": src, "exact_only": True},
                                      {"type": "decontaminate", "name": "clean", "data": {"from": "0-dedup"}}))
    run_recipe(recipe, tmp_path / "run")
    kept = [r["problem"] for r in read_jsonl(tmp_path / "run" / "stages" / "clean" / "data.jsonl")]
    assert kept == ["What is 12 + 30?", "What is 7 - 2?"]
    dedup, clean = _summary(tmp_path / "run")["stages"]
    assert (dedup["report"]["n_exact"], dedup["report"]["n_kept"]) == (1, 3)
    assert clean["report"]["n_removed"] == 1 and clean["report"]["per_benchmark"] == {"math500": 1}


def test_difficulty_then_mix_then_grpo_on_the_mix(tmp_path):
    with programme_server(wrong_every=2) as (stub, url):
        recipe = recipe_from_dict(_recipe(
            {"type": "difficulty", "name": "tagged", "model": url, "k": 2, "limit": 12},
            {"type": "mix", "name": "curriculum", "data": {"from": "tagged"}, "size": 6,
             "ratio": "easy=0.5,hard=0.5"},
            {**GRPO, "data": {"from": "curriculum"}}))
        run_recipe(recipe, tmp_path / "run")
    tagged = list(read_jsonl(tmp_path / "run" / "stages" / "tagged" / "data.jsonl"))
    assert len(tagged) == 12 and {r["difficulty"] for r in tagged} == {"easy", "hard"}  # the stub is all or nothing
    assert stub.calls["teacher"] == 12  # one request per problem: the endpoint returns k choices
    mixed = list(read_jsonl(tmp_path / "run" / "stages" / "curriculum" / "data.jsonl"))
    stages = _summary(tmp_path / "run")["stages"]
    want = stages[1]["report"]["targets"]
    assert want == {"easy": 3, "hard": 3}
    counts = {k: sum(r["difficulty"] == k for r in mixed) for k in want}
    assert all(counts[k] == min(want[k], stages[1]["report"]["available"].get(k, 0)) for k in want)
    records = list(read_jsonl(tmp_path / "run" / "metrics.jsonl", tolerant=True))
    assert [(r["stage"], r["step"]) for r in records] == [(2, 1)]  # GRPO trained on the mix
    assert (tmp_path / "run" / "model" / "config.json").is_file()


def test_a_finished_training_stage_keeps_no_checkpoints_unless_asked(tmp_path):
    """Resume skips a stage whose final model and stage.json exist, so its checkpoints (optimizer state, ~3x the
    model) are deleted once it finishes; ``keep_checkpoints: true`` keeps them."""
    steps = {"max_steps": 2, "save_steps": 1}
    recipe = recipe_from_dict(_recipe({**SFT, **steps}, {**SFT, **steps, "keep_checkpoints": True}))
    run_recipe(recipe, tmp_path / "run")
    stages = tmp_path / "run" / "stages"
    assert not list((stages / "0-sft").glob("checkpoint-*"))
    assert sorted(p.name for p in (stages / "1-sft").glob("checkpoint-*")) == ["checkpoint-1", "checkpoint-2"]
    weights = [stages / "0-sft" / "final" / "model.safetensors", tmp_path / "run" / "model" / "model.safetensors"]
    written = [w.stat().st_mtime_ns for w in weights]
    run_recipe(recipe, tmp_path / "run", resume=True)
    assert [w.stat().st_mtime_ns for w in weights] == written  # both skipped: nothing needed the checkpoints
