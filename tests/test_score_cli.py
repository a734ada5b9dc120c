"""`polyreason score INPUT -o OUT`: weights from --rewards or a recipe, order kept, clear errors, no partial output."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from polyreason.cli import _app
from polyreason.errors import UserError

runner = CliRunner()


def user_error(result) -> str:
    """The UserError message (the real entry point turns it into exit code 2)."""
    assert isinstance(result.exception, UserError), (result.exit_code, result.output, result.exception)
    return str(result.exception)


ROWS = [
    {
        "completion": "<think>Sumamos dos y dos y obtenemos cuatro manzanas.</think> Respuesta: \\boxed{4}",
        "answer": "4",
        "language": "es",
    },
    {"completion": [{"role": "assistant", "content": "<think>We add.</think> \\boxed{5}"}], "answer": "4"},
    {"completion": "\\boxed{5.600}", "answer": 5600, "language": "es"},
    {"completion": "no answer at all", "answer": "7"},
]


def write_rows(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def read_rows(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_score_with_weights(tmp_path):
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_rows(inp, ROWS)
    result = runner.invoke(
        _app, ["score", "--rewards", "accuracy=1.0,format=0.1,repetition=0.3", str(inp), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    rows = read_rows(out)
    assert [r["rewards"]["accuracy"] for r in rows] == [1.0, 0.0, 1.0, 0.0]
    assert [r["rewards"]["format"] for r in rows] == [1.0, 1.0, 0.0, 0.0]
    assert rows[0]["total"] == pytest.approx(1.1)
    assert rows[0]["completion"] == ROWS[0]["completion"]  # input order and fields kept
    assert not (tmp_path / "out.jsonl.tmp").exists()


def test_score_language_option_and_params(tmp_path):
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_rows(inp, [{"completion": "\\boxed{3,5}", "answer": "3.5"}])
    result = runner.invoke(
        _app,
        [
            "score",
            "-r",
            "accuracy,cosine=2",
            "-p",
            "cosine.max_len=4",
            "--language",
            "es",
            str(inp),
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    row = read_rows(out)[0]
    assert row["rewards"]["accuracy"] == 1.0
    assert row["total"] == pytest.approx(1.0 + 2 * row["rewards"]["cosine"])


def test_score_from_recipe(tmp_path, repo_root):
    recipe = repo_root / "recipes" / "smollm3-es-drgrpo.yaml"
    if not recipe.is_file():
        pytest.skip("recipe not present")
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_rows(inp, ROWS)
    result = runner.invoke(_app, ["score", "--recipe", str(recipe), str(inp), "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = read_rows(out)
    assert set(rows[0]["rewards"]) == {"accuracy", "language", "format", "repetition", "naturalness"}


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"completion": "x", "answer": "1"}', "{not json"], "in.jsonl:2"),
        (['{"completion": "x", "answer": "1"}', '{"completion": 3, "answer": "1"}'], "in.jsonl:2"),
        (['{"answer": "1"}'], "in.jsonl:1"),
        (['{"completion": "x", "answer": null}'], "in.jsonl:1"),
        (['{"completion": "x", "answer": "1", "language": 5}'], "in.jsonl:1"),
        (["[1, 2]"], "in.jsonl:1"),
    ],
)
def test_malformed_rows_exit_2_without_output(tmp_path, lines, message):
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text("\n".join(lines) + "\n")
    result = runner.invoke(_app, ["score", "-r", "accuracy", str(inp), "-o", str(out)])
    assert message in user_error(result)
    assert not out.exists() and not (tmp_path / "out.jsonl.tmp").exists()


def test_bad_options_exit_2(tmp_path):
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_rows(inp, ROWS[:1])
    for args in (
        ["-r", "acuracy"],
        ["-r", "accuracy=high"],
        ["-r", "accuracy", "-p", "cosine.max_len=3"],
        ["-r", "cosine", "-p", "cosine.nope=3"],
        [],
    ):
        result = runner.invoke(_app, ["score", *args, str(inp), "-o", str(out)])
        user_error(result)
    assert not out.exists()
    result = runner.invoke(
        _app, ["score", "-r", "accuracy", str(tmp_path / "missing.jsonl"), "-o", str(out)]
    )
    assert "does not exist" in user_error(result)


def test_real_exit_code_and_line_number(tmp_path):
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text('{"completion": "x", "answer": "1"}\n{"completion": "y"}\n')
    proc = subprocess.run(
        [sys.executable, "-m", "polyreason.cli", "score", "-r", "accuracy", str(inp), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "in.jsonl:2" in proc.stderr and "answer" in proc.stderr
    assert not out.exists()


def test_old_input_option_still_works_with_a_note(tmp_path):
    inp = tmp_path / "in.jsonl"
    write_rows(inp, ROWS)
    new = runner.invoke(_app, ["score", "-r", "accuracy,format", str(inp), "-o", str(tmp_path / "new.jsonl")])
    assert new.exit_code == 0 and "deprecated" not in new.stderr
    for flag in ("--input", "-i"):
        out = tmp_path / f"old{flag}.jsonl"
        old = runner.invoke(_app, ["score", "-r", "accuracy,format", flag, str(inp), "-o", str(out)])
        assert old.exit_code == 0, old.output
        assert "--input is deprecated" in old.stderr and "INPUT" in old.stderr
        assert out.read_text() == (tmp_path / "new.jsonl").read_text()
    both = runner.invoke(_app, ["score", "-r", "accuracy", str(inp), "-i", str(inp), "-o", str(tmp_path / "b")])
    assert "give only" in user_error(both)
    assert "no input file" in user_error(runner.invoke(_app, ["score", "-r", "accuracy", "-o", str(tmp_path / "c")]))


def test_n_tokens_column_is_what_length_rewards_measure(tmp_path):
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_rows(inp, [{"completion": "one two three \\boxed{4}", "answer": "4", "n_tokens": n} for n in (1, 95, 100)]
               + [{"completion": "one two three \\boxed{4}", "answer": "4"}])
    result = runner.invoke(_app, ["score", "-r", "soft_overlong", "-p", "soft_overlong.max_len=100",
                                  "-p", "soft_overlong.cache=10", str(inp), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert [r["rewards"]["soft_overlong"] for r in read_rows(out)] == [0.0, -0.5, -1.0, 0.0]  # no n_tokens: 4 words
    write_rows(inp, [{"completion": "x", "answer": "4", "n_tokens": -1}])
    assert "n_tokens" in user_error(runner.invoke(_app, ["score", "-r", "format", str(inp), "-o", str(out)]))


def test_recipe_rewards_are_built_as_the_grpo_stage_trains(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "model: tiny-random\nlanguage: es\nrewards: {accuracy: 1.0}\nstages:\n"
        "  - {type: sft}\n"
        "  - {type: grpo, max_completion_length: 40, rewards: {soft_overlong: 2.0, format: 0.5}}\n"
    )
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_rows(inp, [{"completion": "x", "answer": "1", "n_tokens": 35}])
    result = runner.invoke(_app, ["score", "--recipe", str(recipe), str(inp), "-o", str(out)])
    assert result.exit_code == 0, result.output
    (row,) = read_rows(out)
    assert row["rewards"] == {"soft_overlong": -0.5, "format": 0.0}  # max_len 40 and cache 10 from the stage
    assert row["total"] == -1.0
def test_score_streams_its_input_chunk_by_chunk():
    from polyreason.rewards.scoring import score_rows

    consumed = []

    def rows():
        for i in range(10_000):
            consumed.append(i)
            yield {"completion": f"\\boxed{{{i}}}", "answer": str(i)}

    scored = score_rows(rows(), {"accuracy": 1.0}, chunk=8, progress=False)
    first = next(scored)
    assert first["rewards"]["accuracy"] == 1.0 and len(consumed) == 8  # one chunk read, not the whole input
    assert sum(1 for _ in scored) == 9_999


def test_score_input_with_only_blank_lines_is_an_error_and_writes_nothing(tmp_path):
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text("\n\n")
    result = runner.invoke(_app, ["score", "-r", "accuracy", "-i", str(inp), "-o", str(out)])
    assert "no rows" in user_error(result)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]
