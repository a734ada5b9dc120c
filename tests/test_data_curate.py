"""Dedup and decontamination on real benchmark text (../shared) and synthetic rows; the CLI writes reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyreason.data import generate_problems, load_rows
from polyreason.data.curate import BenchmarkIndex, decontaminate, dedup, file_benchmarks, registry_benchmarks

BENCH = Path("/work/shared/data/benchmarks")
needs_bench = pytest.mark.skipif(not BENCH.exists(), reason="shared benchmark data not available")


def _gsm(n: int) -> list[dict]:
    return list(load_rows(str(BENCH / "gsm8k/test.jsonl"), limit=n))


@needs_bench
def test_dedup_exact_and_near_on_real_problems():
    rows = _gsm(40)
    exact = dict(rows[3], problem="  " + rows[3]["problem"].upper() + "  ")  # same after normalisation
    longest = max(rows, key=lambda r: len(r["problem"]))
    near = dict(longest, problem=longest["problem"] + " Show your work.")  # a few words added
    different_numbers = dict(rows[7], problem=rows[7]["problem"].replace("16", "61"))
    kept, report = dedup(rows + [exact, near])
    kept = list(kept)
    assert len(kept) == 40 and report["n_exact"] == 1 and report["n_near"] == 1 and report["n_removed"] == 2
    assert {e["reason"] for e in report["examples"]} == {"exact", "near"}
    kept_exact_only, rep2 = dedup(rows + [exact, near], near=False)
    assert len(list(kept_exact_only)) == 41 and rep2["n_near"] == 0
    # arithmetic problems that differ only in an operator or a number are not duplicates
    syn = list(generate_problems(300, kinds=["add_sub"], difficulty="easy"))
    assert len(list(dedup(syn + [different_numbers])[0])) == 301


@needs_bench
def test_decontaminate_exact_and_13gram():
    bench = _gsm(100)
    index = BenchmarkIndex(("gsm8k", r["problem"]) for r in bench)
    clean = list(generate_problems(50, seed=3, kinds=["word"]))
    leaked_exact = dict(clean[0], problem=bench[10]["problem"].lower())
    words = bench[20]["problem"].split()
    leaked_ngram = dict(clean[1], problem="Consider this: " + " ".join(words[:15]) + " and more text.")
    short_overlap = dict(clean[2], problem="Natalia sold clips " + " ".join(words[:5]))
    kept, report = decontaminate(clean + [leaked_exact, leaked_ngram, short_overlap], index)
    kept = list(kept)
    assert len(kept) == 51 and report["n_removed"] == 2
    assert report["per_benchmark"] == {"gsm8k": 2}
    assert {e["reason"] for e in report["examples"]} == {"exact", "13-gram"}


def test_decontaminate_against_the_registry_finds_mgsm_spanish():
    index = BenchmarkIndex(registry_benchmarks())
    assert {"gsm8k", "math500", "aime24"} <= set(index.sizes)
    assert any(name.startswith("mgsm") for name in index.sizes)
    from polyreason.evaluate.benchmarks import load_benchmark

    leak = load_benchmark("mgsm-es", limit=3)[2].problem
    rows = list(generate_problems(20, language="es")) + [{"problem": leak, "answer": "1", "language": "es"}]
    kept, report = decontaminate(rows, index)
    assert len(list(kept)) == 20 and report["n_removed"] == 1


@needs_bench
def test_file_benchmarks_reads_tsv_and_jsonl():
    items = list(file_benchmarks([str(BENCH / "mgsm/mgsm_es.tsv"), str(BENCH / "aime24/test.jsonl")]))
    names = {n for n, _ in items}
    assert names == {"mgsm_es", "aime24"} and len(items) == 280


@needs_bench
def test_cli_dedup_and_decontaminate(tmp_path):
    from polyreason.cli import _app

    rows = _gsm(5) + list(generate_problems(10, seed=1))
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows + rows[:2]))
    runner = CliRunner()
    res = runner.invoke(_app, ["data", "dedup", str(src), "-o", str(tmp_path / "dd.jsonl")])
    assert res.exit_code == 0, res.output
    rep = json.loads((tmp_path / "dd.jsonl.report.json").read_text())
    assert rep["n_input"] == 17 and rep["n_removed"] == 2
    res = runner.invoke(_app, ["data", "decontaminate", str(tmp_path / "dd.jsonl"), "-o", str(tmp_path / "c.jsonl"),
                               "--no-registry", "--against", str(BENCH / "gsm8k/test.jsonl")])
    assert res.exit_code == 0, res.output
    rep = json.loads((tmp_path / "c.jsonl.report.json").read_text())
    assert rep["n_removed"] == 5 and rep["per_benchmark"] == {"gsm8k": 5} and rep["examples"]
    assert len((tmp_path / "c.jsonl").read_text().splitlines()) == 10


def test_stats_command():
    from polyreason.cli import _app

    res = CliRunner().invoke(_app, ["data", "stats", "synthetic:40:es:hard", "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert info["n_rows"] == 40 and info["language"] == {"es": 40} and info["difficulty"] == {"hard": 40}
    assert info["kind"] == {"rl": 40} and 0 < info["problem_chars"]["p50"] <= info["problem_chars"]["max"]
    assert CliRunner().invoke(_app, ["data", "stats", "synthetic:5"]).exit_code == 0
