"""`polyreason data prepare`: common dataset shapes -> standard rows; row-level errors and --skip-invalid."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyreason.cli import _app
from polyreason.data.prepare import prepare
from polyreason.data.schema import validate_rl_row, validate_sft_row
from polyreason.errors import UserError

BENCH = Path("/work/shared/data/benchmarks")
needs_bench = pytest.mark.skipif(not BENCH.exists(), reason="shared benchmark data not available")
runner = CliRunner()

# Rows shaped like the hub datasets (the text is real MATH-500 content; field layouts follow the dataset cards).
NUMINA_ROW = {
    "source": "synthetic_math",
    "problem": "What is the smallest positive perfect cube that can be written as the sum of three "
    "consecutive integers?",
    "solution": "The sum of three consecutive integers takes the form $(k-1)+(k)+(k+1)=3k$ and hence is a "
    "multiple of 3. Conversely, if a number $n$ is a multiple of 3, then $n/3-1$, $n/3$, and $n/3+1$ are "
    "three consecutive integers that sum to give $n$. Therefore, a number is a sum of three consecutive "
    "integers if and only if it is a multiple of 3. The smallest positive perfect cube that is a multiple "
    "of 3 is $3^3=\\boxed{27}$.",
    "messages": [{"role": "user", "content": "..."}, {"role": "assistant", "content": "..."}],
}
OPENR1_ROW = {
    "problem": "If $x^2 = 16$ and $x > 0$, what is $x$?",
    "solution": "Since $x>0$, $x=\\sqrt{16}=4$.",
    "answer": "4",
    "generations": [
        "<think>\nx squared is 16, so x is 4 or -4. Wait, maybe it is 5.\n</think>\n\n\\boxed{5}",
        "<think>\nx^2 = 16 gives x = 4 or x = -4; x > 0 so x = 4.\n</think>\n\nThe answer is \\boxed{4}",
    ],
    "correctness_math_verify": [False, True],
    "problem_type": "Algebra",
}


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@needs_bench
@pytest.mark.parametrize(
    ("rel", "kind", "n"),
    [("gsm8k/test.jsonl", "rl", 20), ("gsm8k/test.jsonl", "sft", 20), ("math500/test.jsonl", "sft", 20),
     ("mgsm/mgsm_es.tsv", "rl", 20), ("minerva_math/test.jsonl", "rl", 20)],
)
def test_prepare_real_benchmark_files(tmp_path, rel, kind, n):
    out = tmp_path / "out.jsonl"
    report = prepare(str(BENCH / rel), out, kind=kind, limit=n)
    rows = _lines(out)
    assert report["n_written"] == n == len(rows) and report["n_rejected"] == 0
    check = validate_rl_row if kind == "rl" else validate_sft_row
    for i, row in enumerate(rows):
        check(row, f"row {i}")
    if rel.startswith("mgsm"):
        assert rows[0]["language"] == "es" and rows[0]["answer"] == "18"
    if kind == "sft":
        content = rows[0]["messages"][-1]["content"]
        assert content.startswith("<think>\n") and "</think>\n\n" in content


def test_prepare_numina_and_openr1_shapes(tmp_path):
    src = tmp_path / "mixed.jsonl"
    src.write_text(json.dumps(NUMINA_ROW) + "\n" + json.dumps(OPENR1_ROW) + "\n")
    prepare(str(src), tmp_path / "rl.jsonl", kind="rl")
    rl = _lines(tmp_path / "rl.jsonl")
    assert [r["answer"] for r in rl] == ["27", "4"] and rl[0]["source"] == "synthetic_math"
    prepare(str(src), tmp_path / "sft.jsonl", kind="sft")
    sft = _lines(tmp_path / "sft.jsonl")
    # Numina: the worked solution becomes the think block; OpenR1: the first *verified* generation is kept
    assert sft[0]["messages"][-1]["content"].endswith("The answer is \\boxed{27}")
    assert sft[1]["messages"][-1]["content"].endswith("\\boxed{4}") and "Wait" not in sft[1]["messages"][-1]["content"]
    assert sft[1]["messages"][0]["role"] == "system"


def test_prepare_column_map_and_skip_invalid(tmp_path):
    src = tmp_path / "custom.jsonl"
    rows = [{"q": "What is 3 + 4?", "gold": 7}, {"q": "", "gold": 1}, {"q": "What is 2 × 5?", "gold": 10},
            {"q": "What is 9 - 1?"}]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = runner.invoke(_app, ["data", "prepare", str(src), "-o", str(tmp_path / "o.jsonl"), "--map", "problem=q",
                               "--map", "answer=gold"])
    assert isinstance(res.exception, UserError)  # the console entry point turns this into exit code 2
    assert "custom.jsonl:2, column 'problem'" in str(res.exception)  # the 1-based file line
    assert not (tmp_path / "o.jsonl").exists()  # nothing half-written
    res = runner.invoke(_app, ["data", "prepare", str(src), "-o", str(tmp_path / "o.jsonl"), "--map", "problem=q",
                               "--map", "answer=gold", "--skip-invalid", "--language", "en", "--source-name", "mine"])
    assert res.exit_code == 0, res.output
    # the last row has no 'gold' column at all: the mapping error names it and the row is rejected too
    kept = _lines(tmp_path / "o.jsonl")
    rejects = _lines(tmp_path / "o.rejects.jsonl")
    assert [r["answer"] for r in kept] == ["7", "10"] and all(r["source"] == "mine" for r in kept)
    assert [r["index"] for r in rejects] == [1, 3] and "'problem'" in rejects[0]["error"]
    assert "'gold'" in rejects[1]["error"]


def test_prepare_bad_map_syntax():
    res = runner.invoke(_app, ["data", "prepare", "x.jsonl", "-o", "y.jsonl", "--map", "problem"])
    assert isinstance(res.exception, UserError) and "--map" in str(res.exception)


def test_prepare_hub_path_via_datasets(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    ddir = tmp_path / "hubcopy" / "data"
    ddir.mkdir(parents=True)
    table = pa.Table.from_pylist([{"question": f"Tom has {i} apples and buys 2 more. How many now?",
                                   "answer": f"{i} + 2 = <<{i}+2={i + 2}>>{i + 2}\n#### {i + 2}"} for i in range(6)])
    pq.write_table(table, ddir / "train-00000-of-00001.parquet")
    report = prepare(str(tmp_path / "hubcopy"), tmp_path / "o.jsonl", kind="sft")
    rows = _lines(tmp_path / "o.jsonl")
    assert report["n_written"] == 6 and rows[2]["answer"] == "4" and "<<" not in rows[2]["messages"][-1]["content"]


@needs_bench
def test_prepare_mgsm_thousands_and_parquet_output(tmp_path):
    from polyreason.data import load_rows

    out = tmp_path / "mgsm.parquet"
    report = prepare(str(BENCH / "mgsm/mgsm_es.tsv"), out)
    assert report["n_written"] == 250 and not (tmp_path / "mgsm.parquet.tmp").exists()
    rows = list(load_rows(str(out)))
    assert len(rows) == 250 and rows[0]["language"] == "es"
    answers = {r["answer"] for r in rows}
    assert "5600" in answers and not any("," in a for a in answers)


def test_resumable_outputs_must_be_jsonl(tmp_path):
    from polyreason.files import ResumableJsonl

    with pytest.raises(UserError, match=r"\.jsonl"):
        ResumableJsonl(tmp_path / "x.parquet")


def test_count_rows_and_progress_totals(tmp_path):
    from polyreason.data.sources import count_rows
    from polyreason.progress import batches_left

    prepare("synthetic:12", tmp_path / "s.jsonl")
    prepare("synthetic:7", tmp_path / "s.parquet")
    assert count_rows(str(tmp_path / "s.jsonl")) == 12 and count_rows(str(tmp_path / "s.parquet")) == 7
    assert count_rows("synthetic:30:es") == 30 and count_rows("owner/name") is None
    assert batches_left(12, 4, 3) == 3 and batches_left(None, 0, 8) is None and batches_left(5, 9, 2) == 0


def test_unloadable_dataset_is_a_user_error(tmp_path):
    from polyreason.data import load_rows

    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="could not load dataset"):
        list(load_rows(str(tmp_path / "empty")))
