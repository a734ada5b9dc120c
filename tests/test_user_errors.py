"""Every bad input, through the real entry point: exit code 2, one message naming the file, line or key and the
fix, no traceback, nothing written, and no work done first."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from polyreason import cli

RECIPE = """\
name: t
model: tiny-random
data:
  train: synthetic:16:en:easy:add_sub
  sft: synthetic:8:en:easy:add_sub
rewards:
  accuracy: 1.0
stages:
  - type: sft
    max_steps: 1
    per_device_batch_size: 2
    max_length: 64
"""


def run(args: list[str], capsys, monkeypatch) -> tuple[int, str]:
    """Run ``polyreason ARGS`` in-process through ``cli.app`` (the console script); (exit code, stderr)."""
    monkeypatch.setattr(sys, "argv", ["polyreason", *map(str, args)])
    with pytest.raises(SystemExit) as exc:
        cli.app()
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return exc.value.code, " ".join(err.split())


def expect_2(args, capsys, monkeypatch, *needles: str) -> str:
    code, err = run(args, capsys, monkeypatch)
    assert code == 2, err
    for needle in needles:
        assert needle in err, err
    return err


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


# ------------------------------------------------------------------------------------------ recipes


def test_recipe_with_invalid_utf8_names_the_line(tmp_path, capsys, monkeypatch):
    recipe = write(tmp_path / "r.yaml", RECIPE.encode().replace(b"name: t", b"name: caf\xe9"))
    expect_2(["recipe", "validate", recipe], capsys, monkeypatch, "r.yaml:1:", "UTF-8", "fix:")


def test_duplicate_yaml_keys_are_rejected_naming_both_lines(tmp_path, capsys, monkeypatch):
    text = RECIPE.replace("    max_length: 64\n", "    learning_rate: 1e-4\n    max_length: 64\n    learning_rate: 5\n")
    recipe = write(tmp_path / "r.yaml", text)
    expect_2(["recipe", "validate", recipe], capsys, monkeypatch, "r.yaml:14: duplicate key 'learning_rate'",
             "first at line 12", "fix:")


def test_missing_local_data_without_extension_fails_validation(tmp_path, capsys, monkeypatch):
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    recipe = write(tmp_path / "r.yaml", RECIPE.replace("synthetic:8:en:easy:add_sub", "data/mytrain"))
    expect_2(["recipe", "validate", recipe], capsys, monkeypatch, "data.sft", "data/mytrain", "fix:")


def test_training_checks_every_data_source_before_the_first_stage(tmp_path, capsys, monkeypatch):
    # an SFT stage first, then a GRPO stage whose source cannot be loaded: nothing may train
    text = RECIPE.replace("train: synthetic:16:en:easy:add_sub", "train: nobody/no-such-dataset") + (
        "  - type: grpo\n    max_steps: 1\n    per_device_batch_size: 2\n    num_generations: 2\n")
    recipe = write(tmp_path / "r.yaml", text)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    expect_2(["train", recipe, "-o", tmp_path / "run"], capsys, monkeypatch, "nobody/no-such-dataset", "fix:")
    assert not (tmp_path / "run" / "stages").exists() and not (tmp_path / "run" / "metrics.jsonl").exists()


# ------------------------------------------------------------------------------------------ models


@pytest.fixture
def broken_models(tmp_path, tiny_model_path):
    import shutil

    out = {}
    for name, config in [("broken", "{not json"), ("unknown-type", json.dumps({"model_type": "no-such-arch"}))]:
        d = tmp_path / name
        shutil.copytree(tiny_model_path, d)
        (d / "config.json").write_text(config)
        out[name] = d
    return out


@pytest.mark.parametrize("which", ["broken", "unknown-type", "hub"])
def test_unloadable_models_give_one_line(which, broken_models, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = "nobody/no-such-model-xyz" if which == "hub" else broken_models[which]
    err = expect_2(["eval", "--model", spec, "--benchmarks", "gsm8k", "--limit", "1", "--max-new-tokens", "2",
                    "--output", tmp_path / "ev"], capsys, monkeypatch, str(spec), "fix:")
    assert len(err) < 600, err


def test_unloadable_model_in_training_is_one_line(broken_models, tmp_path, capsys, monkeypatch):
    recipe = write(tmp_path / "r.yaml", RECIPE.replace("model: tiny-random", f"model: {broken_models['broken']}"))
    err = expect_2(["train", recipe, "-o", tmp_path / "run"], capsys, monkeypatch, "config.json", "fix:")
    assert len(err) < 600, err


# ------------------------------------------------------------------------------------------ outputs


@pytest.mark.parametrize("kind", ["file", "read-only"])
def test_unwritable_outputs_of_every_command(kind, tmp_path, capsys, monkeypatch, readonly_dir):
    inp = write(tmp_path / "in.jsonl", json.dumps({"completion": "\\boxed{1}", "answer": "1"}) + "\n")
    rl = write(tmp_path / "rl.jsonl", json.dumps({"problem": "1+0?", "answer": "1"}) + "\n")
    recipe = write(tmp_path / "r.yaml", RECIPE)
    if kind == "file":
        base = write(tmp_path / "a-file", "x")
        targets = {"dir": base, "file": base / "out.jsonl"}
    else:
        ro = readonly_dir()
        targets = {"dir": ro / "out", "file": ro / "out.jsonl"}
    commands = [
        ["score", "-i", inp, "-o", targets["file"], "-r", "accuracy"],
        ["data", "prepare", rl, "-o", targets["file"]],
        ["data", "synthetic", "-n", "2", "-o", targets["file"]],
        ["eval", "--model", "tiny-random", "--benchmarks", "gsm8k", "--limit", "1", "--max-new-tokens", "2",
         "--output", targets["dir"]],
        ["train", recipe, "-o", targets["dir"]],
    ]
    for args in commands:
        expect_2(args, capsys, monkeypatch, str(targets["file"] if "-o" in args and args[0] in ("score", "data")
                                                 else targets["dir"]), "fix:")


def test_output_that_is_a_directory(tmp_path, capsys, monkeypatch):
    inp = write(tmp_path / "in.jsonl", json.dumps({"completion": "\\boxed{1}", "answer": "1"}) + "\n")
    expect_2(["score", "-i", inp, "-o", tmp_path, "-r", "accuracy"], capsys, monkeypatch, "is a directory")


# ------------------------------------------------------------------------------------------ inputs


def test_invalid_utf8_in_jsonl_names_the_line(tmp_path, capsys, monkeypatch):
    good = json.dumps({"problem": "1+1?", "answer": "2"}).encode()
    inp = write(tmp_path / "in.jsonl", good + b"\n" + good.replace(b"1+1", b"\xff+1") + b"\n")
    expect_2(["data", "prepare", inp, "-o", tmp_path / "o.jsonl"], capsys, monkeypatch, "in.jsonl:2:", "UTF-8")
    scored = write(tmp_path / "s.jsonl", b'{"completion": "\\\\boxed{1}", "answer": "1"}\n{"completion": "\xff"}\n')
    expect_2(["score", "-i", scored, "-o", tmp_path / "so.jsonl", "-r", "accuracy"], capsys, monkeypatch,
             "s.jsonl:2:", "UTF-8")
    assert not (tmp_path / "o.jsonl").exists() and not (tmp_path / "so.jsonl").exists()


def test_data_errors_name_the_one_based_file_line(tmp_path, capsys, monkeypatch):
    rows = [{"problem": "1+1?", "answer": "2"}, {"problem": "2+2?", "answer": "4"}, {"problem": "", "answer": "1"}]
    inp = write(tmp_path / "in.jsonl", "\n" + "".join(json.dumps(r) + "\n" for r in rows))  # a blank first line
    expect_2(["data", "prepare", inp, "-o", tmp_path / "o.jsonl"], capsys, monkeypatch, "in.jsonl:4,",
             "column 'problem'")


@pytest.mark.parametrize("command", ["prepare", "stats", "score"])
def test_empty_input_is_an_error(command, tmp_path, capsys, monkeypatch):
    inp = write(tmp_path / "empty.jsonl", "")
    args = {"prepare": ["data", "prepare", inp, "-o", tmp_path / "o.jsonl"], "stats": ["data", "stats", inp],
            "score": ["score", "-i", inp, "-o", tmp_path / "o.jsonl", "-r", "accuracy"]}[command]
    expect_2(args, capsys, monkeypatch, "empty.jsonl", "fix:")
    assert not (tmp_path / "o.jsonl").exists()


def test_a_list_answer_is_rejected_not_stringified(tmp_path, capsys, monkeypatch):
    inp = write(tmp_path / "in.jsonl", json.dumps({"problem": "Roots of x^2-3x+2?", "answer": [1, 2]}) + "\n")
    expect_2(["data", "prepare", inp, "-o", tmp_path / "o.jsonl"], capsys, monkeypatch, "in.jsonl:1,",
             "column 'answer'", "list of 2 values", "fix:")
    one = write(tmp_path / "one.jsonl", json.dumps({"problem": "1+1?", "answer": [2]}) + "\n")
    code, err = run(["data", "prepare", one, "-o", tmp_path / "o1.jsonl"], capsys, monkeypatch)
    assert code == 0, err
    assert json.loads((tmp_path / "o1.jsonl").read_text())["answer"] == "2"


@pytest.mark.parametrize("args", [
    ["eval", "--model", "tiny-random", "--benchmarks", "gsm8k", "--limit", "1", "--batch-size", "0"],
    ["data", "difficulty", "synthetic:2", "--model", "tiny-random", "--batch-size", "0"],
])
def test_batch_size_zero_is_rejected(args, tmp_path, capsys, monkeypatch):
    out = ["--output", tmp_path / "o"] if args[0] == "eval" else ["-o", tmp_path / "o.jsonl"]
    expect_2(args + out, capsys, monkeypatch, "--batch-size", "1")
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_hub_ids_still_validate_and_hf_prefix_marks_one(tmp_path, monkeypatch):
    from polyreason.config import load_recipe

    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    for source in ("owner/name", "owner/name:config", "hf:data/mytrain"):
        recipe = write(tmp_path / "r.yaml", RECIPE.replace("synthetic:16:en:easy:add_sub", source))
        assert load_recipe(recipe).data.train == source
