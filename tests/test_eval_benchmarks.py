"""Benchmark registry: vendored data, gold handling per benchmark, aliases, prompts."""

from __future__ import annotations

import gzip
import hashlib
from importlib import resources

import pytest

from polyreason.errors import UserError
from polyreason.evaluate import benchmarks as bm
from polyreason.evaluate.prompting import INSTRUCTIONS, build_eval_messages, check_template, instruction
from polyreason.text.boxed import last_boxed

EXPECTED_ROWS = {"aime24": 30, "math500": 500, "amc23": 40, "minerva": 272, "olympiadbench": 675, "gsm8k": 1319}
EXPECTED_ROWS.update({f"mgsm-{lang}": 250 for lang in bm.MGSM_LANGUAGES})


@pytest.mark.parametrize("name", list(EXPECTED_ROWS))
def test_every_benchmark_loads_offline_with_golds(name: str) -> None:
    problems = bm.load_benchmark(name)
    assert len(problems) == EXPECTED_ROWS[name]
    assert [p.index for p in problems] == list(range(len(problems)))
    assert all(p.problem.strip() and p.gold.strip() for p in problems)
    assert {p.language for p in problems} == {name.split("-")[1] if name.startswith("mgsm") else "en"}


def test_registry_names_match_issue() -> None:
    beyond_math = {"mmlu", "gpqa", "humaneval", "mbpp", "livecodebench", "codeforces"}  # tests/test_eval_mc.py, _code.py
    assert set(bm.benchmark_names()) == set(EXPECTED_ROWS) | beyond_math


@pytest.mark.parametrize(
    "name, folder, filename",
    [("math500", "math500", "test.jsonl"), ("minerva", "minerva_math", "test.jsonl"),
     ("mgsm-es", "mgsm", "mgsm_es.tsv"), ("olympiadbench", "olympiadbench", "test.jsonl")],
)
def test_vendored_files_are_byte_identical(shared_benchmarks, name: str, folder: str, filename: str) -> None:
    spec = bm.REGISTRY[name]
    packed = (resources.files("polyreason") / "resources" / "benchmarks" / spec.filename).read_bytes()
    original = (shared_benchmarks / folder / filename).read_bytes()
    assert hashlib.sha256(gzip.decompress(packed)).digest() == hashlib.sha256(original).digest()


def test_vendored_data_is_small_and_licensed() -> None:
    folder = resources.files("polyreason") / "resources" / "benchmarks"
    names = [entry.name for entry in folder.iterdir()]
    assert "NOTICE.md" in names and "LICENSE-MGSM-CC-BY-4.0.txt" in names
    total = sum((folder / n).stat().st_size if hasattr(folder / n, "stat") else len((folder / n).read_bytes())
                for n in names)
    assert total < 2_000_000
    assert not any("math_full" in n for n in names)


def test_gold_handling_per_benchmark() -> None:
    amc = bm.load_benchmark("amc23")
    assert amc[0].raw_gold == "27.0" and amc[0].gold == "27"
    assert any(p.gold == "-1" for p in amc)
    aime = bm.load_benchmark("aime24")
    assert aime[7].raw_gold == "025" and aime[7].gold == "25"
    minerva = bm.load_benchmark("minerva")
    assert minerva[0].gold == "1.6" and "\\boxed{1.6}" in minerva[0].solution
    gsm = bm.load_benchmark("gsm8k")
    assert gsm[0].gold == "18" and "####" not in gsm[0].gold
    assert all("," not in p.gold for p in gsm)
    mgsm = bm.load_benchmark("mgsm-es")
    assert mgsm[249].raw_gold == "5,600" and mgsm[249].gold == "5600"
    oly = bm.load_benchmark("olympiadbench")
    multi = {p.gold for p in oly if p.meta["multiple_answers"]}
    assert "69, 84" in multi and all("$" not in p.gold for p in oly)
    assert any(p.meta["unit"] == "minute" for p in oly)
    assert any(p.meta["answer_type"] == "Interval" and "\\infty" in p.gold for p in oly)


@pytest.mark.parametrize(
    "raw, expected",
    [("5,600", "5600"), ("114,200", "114200"), ("3,5", "3,5"), ("1,000,000", "1000000"), ("12", "12")],
)
def test_strip_thousands(raw: str, expected: str) -> None:
    assert bm.strip_thousands(raw) == expected


@pytest.mark.parametrize(
    "text, expected",
    [("x \\boxed{\\frac{1}{2}} y", "\\frac{1}{2}"), ("\\boxed{1} then \\boxed{2}", "2"),
     ("\\boxed{a{b{c}}d}", "a{b{c}}d"), ("no box", None), ("\\fbox{7}", "7")],
)
def test_last_boxed(text: str, expected: str | None) -> None:
    assert last_boxed(text) == expected


def test_olympiad_gold_joins_lists() -> None:
    assert bm.olympiad_gold(["$69$,$84$"]) == "69, 84"
    assert bm.olympiad_gold(["$(-\\infty, 0) \\cup\\{1\\}$."]) == "(-\\infty, 0) \\cup\\{1\\}"
    assert bm.olympiad_gold(["$\\frac{1}{2}$", "$3$"]) == "\\frac{1}{2}, 3"


def test_names_aliases_and_errors() -> None:
    assert bm.resolve_name("HuggingFaceH4/MATH-500") == "math500"
    assert bm.resolve_name("openai/gsm8k") == "gsm8k"
    assert bm.expand_names("mgsm") == [f"mgsm-{lang}" for lang in bm.MGSM_LANGUAGES]
    assert bm.expand_names("math500, aime24,math500") == ["math500", "aime24"]
    with pytest.raises(UserError, match="did you mean 'math500'"):
        bm.resolve_name("math50")
    with pytest.raises(UserError):
        bm.load_benchmark("math500", limit=0)
    assert len(bm.load_benchmark("math500", limit=5)) == 5


def test_hub_source_reads_through_datasets(monkeypatch) -> None:
    import datasets

    rows = [{"problem": "1+1?", "solution": "\\boxed{2}", "answer": "2", "subject": "Algebra", "level": 1,
             "unique_id": "a"}]
    calls = []

    def fake_load(path, name=None, split=None):
        calls.append((path, name, split))
        return rows

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    problems = bm.load_benchmark("HuggingFaceH4/MATH-500", source="hub")
    assert calls == [("HuggingFaceH4/MATH-500", None, "test")]
    assert problems[0].gold == "2" and problems[0].meta["level"] == "1"


@pytest.mark.parametrize("lang", bm.MGSM_LANGUAGES)
def test_instructions_exist_for_every_mgsm_language(lang: str) -> None:
    text = instruction(lang)
    assert "\\boxed{" in text and text.count("{problem}") == 1
    messages = build_eval_messages("Q?", lang)
    assert messages == [{"role": "user", "content": text.replace("{problem}", "Q?")}]


def test_lighteval_instruction_is_verbatim() -> None:
    assert INSTRUCTIONS["en"].startswith(
        "Solve the following math problem efficiently and clearly. The last line of your response should be of "
        "the following format: 'Therefore, the final answer is: $\\boxed{ANSWER}$. I hope it is correct'"
    )
    assert INSTRUCTIONS["en"].endswith("Think step by step before answering.\n\n{problem}")


def test_prompt_template_override_and_polyreason_style() -> None:
    assert build_eval_messages("Q", template="Problem: {problem}")[-1]["content"] == "Problem: Q"
    with pytest.raises(UserError, match="\\{problem\\}"):
        check_template("no placeholder")
    messages = build_eval_messages("Q", "es", style="polyreason")
    assert messages[0]["role"] == "system" and "<think>" in messages[0]["content"]
    with pytest.raises(UserError):
        build_eval_messages("Q", style="fewshot")
