"""Multiple choice (MMLU, GPQA): letter extraction, hub-layout fixtures, gated-hub errors, prompts, per-subject
breakdown; and the run-level summary fields (average, parameter count, accuracy per billion parameters)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyreason.cli import _app
from polyreason.errors import UserError
from polyreason.evaluate import benchmarks as bm
from polyreason.evaluate.metrics import count_parameters, cross_benchmark
from polyreason.evaluate.multiple_choice import extract_choice
from polyreason.evaluate.prompting import build_eval_messages
from polyreason.evaluate.runner import finish, score_predictions
from polyreason.evaluate.scoring import Sample, markdown_table

FIXTURES = Path(__file__).parent / "fixtures" / "eval"
MMLU = FIXTURES / "mmlu_sample.jsonl"
GPQA = FIXTURES / "gpqa_diamond_sample.csv"
runner = CliRunner()

# (completion, expected letter or None): one row per form a model writes; add a row per bug found
EXTRACTION = [
    ("The answer is (C)", "C"),
    ("Answer: B", "B"),
    ("C)", "C"),
    ("**C**", "C"),
    ("Let me think.\n\n**Answer: C**", "C"),
    ("So the final answer is **(b)**", "B"),
    ("C) 42", "C"),
    ("(D) because the others fail", "D"),
    ("\\boxed{C}", "C"),
    ("$\\boxed{\\text{B}}$", "B"),
    ("The answer is (C). Wait, actually the answer is (B).", "B"),
    ("Therefore the answer is A.", "A"),
    ("The answer: (A) 5 m/s", "A"),
    ("La respuesta correcta es la opción B.", "B"),
    ("Réponse : C", "C"),
    ("Die Antwort lautet D.", "D"),
    ("La risposta corretta è A", "A"),
    ("A resposta é C", "C"),
    ("Ответ: A", "A"),
    ("答案是 B", "B"),
    ("答案：C", "C"),
    ("正解は C です", "C"),
    ("jibu ni B", "B"),
    # the answer region only: reasoning is never graded
    ("<think>the answer is A</think>The answer is (D)", "D"),
    ("<think>the answer is (A)</think>", None),
    ("<think>answer is A, clearly", None),
    # no choice
    ("I think it is a tough one", None),
    ("A Banana is yellow", None),
    ("Answer: E", None),
    ("Answer: $LETTER", None),
    ("The correct option is B", None),  # a bare "option B" mid-sentence is not an answer statement
    ("", None),
]


@pytest.mark.parametrize("completion, expected", EXTRACTION)
def test_extract_choice(completion: str, expected: str | None) -> None:
    assert extract_choice(completion) == expected


def test_extract_choice_respects_the_number_of_options() -> None:
    assert extract_choice("Answer: E", n_choices=5) == "E" and extract_choice("Answer: E", n_choices=4) is None


def test_mmlu_fixture_in_hub_layout() -> None:
    problems = bm.load_benchmark("mmlu", data_file=MMLU)
    assert [p.gold for p in problems] == ["B", "C", "B", "A", "D", "B"]
    assert problems[0].problem.endswith("A) S\nB) Na\nC) So\nD) N")
    assert {p.meta["subject"] for p in problems} == {"high_school_chemistry", "elementary_mathematics",
                                                    "high_school_world_history"}
    assert bm.benchmark_kind("cais/mmlu") == "mc"


def test_gpqa_csv_is_shuffled_deterministically_with_the_right_gold() -> None:
    first = bm.load_benchmark("gpqa", data_file=GPQA)
    again = bm.load_benchmark("gpqa-diamond", data_file=GPQA)
    assert [p.problem for p in first] == [p.problem for p in again]
    for problem in first:
        choices = problem.meta["choices"]
        assert choices[ord(problem.gold) - ord("A")] == problem.raw_gold and len(set(choices)) == 4
        assert f"{problem.gold}) {problem.raw_gold}" in problem.problem
    assert len({p.gold for p in first}) > 1  # not always "A" (the CSV's correct answer comes first)
    assert first[0].meta["domain"] == "Physics"


def test_mc_prompt_is_the_zero_shot_letter_instruction() -> None:
    problem = bm.load_benchmark("mmlu", data_file=MMLU, limit=1)[0]
    (message,) = build_eval_messages(problem.problem, "en", instruction=bm.task_instruction(problem))
    text = message["content"]
    assert "'Answer: $LETTER'" in text and "one of ABCD" in text and text.endswith("D) N")
    assert "\\boxed" not in text  # not the math instruction
    math = bm.load_benchmark("gsm8k", limit=1)[0]
    assert bm.task_instruction(math) is None


def test_hub_loader_reads_the_right_dataset(monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    calls = []
    rows = [json.loads(line) for line in MMLU.read_text().splitlines()]

    def fake_load(path, name=None, split=None, **kwargs):
        calls.append((path, name, split))
        return rows

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    problems = bm.load_benchmark("mmlu", limit=3)
    assert calls == [("cais/mmlu", "all", "test")] and len(problems) == 3


def test_gated_gpqa_error_says_how_to_get_access(monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    def gated(*args, **kwargs):
        raise ConnectionError("Dataset 'Idavidrein/gpqa' is a gated dataset on the Hub. You must be authenticated")

    monkeypatch.setattr(datasets, "load_dataset", gated)
    with pytest.raises(UserError) as info:
        bm.load_benchmark("gpqa")
    message = str(info.value)
    assert "huggingface-cli login" in message and "accept its terms" in message and "--data-file" in message
    assert "gated dataset" in message  # the hub's own reason is kept
    with pytest.raises(UserError, match="does not exist"):
        bm.load_benchmark("gpqa", data_file=FIXTURES / "missing.csv")


def test_mmlu_predictions_per_subject_breakdown(tmp_path: Path) -> None:
    problems = bm.load_benchmark("mmlu", data_file=MMLU)
    answers = ["The answer is (B)", "Answer: A", "**B**", "<think>answer is B</think>Answer: A",
               "Die Antwort lautet D.", "<think>(B)"]  # right, wrong, right, right, right, no answer
    path = tmp_path / "preds.jsonl"
    path.write_text("".join(json.dumps({"index": p.index, "completion": a}) + "\n"
                            for p, a in zip(problems, answers, strict=True)))
    summary = score_predictions(path, "mmlu", tmp_path / "out", data_file=MMLU, n_parameters=360_000_000)
    block = summary["benchmarks"]["mmlu"]
    assert block["n_correct"] == 4 and block["pass@1"] == pytest.approx(4 / 6)
    assert block["by_subject"]["elementary_mathematics"]["pass@1"] == 1.0
    assert block["by_subject"]["high_school_chemistry"]["pass@1"] == 0.5
    assert block["by_subject"]["high_school_world_history"]["pass@1"] == 0.5
    assert block["answer_rate"] == pytest.approx(5 / 6)
    assert summary["accuracy_per_billion_parameters"] == pytest.approx((4 / 6) / 0.36)
    rows = [json.loads(line) for line in (tmp_path / "out" / "samples.jsonl").read_text().splitlines()]
    assert [r["extracted"] for r in rows] == ["B", "A", "B", "A", "D", None]


def test_summary_average_parameters_and_accuracy_per_billion(tmp_path: Path) -> None:
    mmlu = bm.load_benchmark("mmlu", data_file=MMLU, limit=2)
    gsm = bm.load_benchmark("gsm8k", limit=2)
    samples = [Sample(mmlu[0], 0, "Answer: B"), Sample(mmlu[1], 0, "Answer: A"),
               Sample(gsm[0], 0, f"\\boxed{{{gsm[0].gold}}}"), Sample(gsm[1], 0, f"\\boxed{{{gsm[1].gold}}}")]
    summary = finish(samples, {"mmlu": mmlu, "gsm8k": gsm}, tmp_path, model="m", generation={},
                     n_parameters=134_515_008)
    assert summary["average"] == {"pass@1": 0.75, "benchmarks": ["mmlu", "gsm8k"]}
    assert summary["n_parameters"] == 134_515_008
    assert summary["accuracy_per_billion_parameters"] == pytest.approx(0.75 / 0.134515008)
    assert json.loads((tmp_path / "summary.json").read_text())["average"]["pass@1"] == 0.75
    table = (tmp_path / "summary.md").read_text()
    assert "| **Avg.** | 75.0 |" in table and "parameters: 134.5M" in table and "557.6 points/B" in table
    assert markdown_table(summary) == table
    unknown = cross_benchmark(summary["benchmarks"], None)
    assert unknown["accuracy_per_billion_parameters"] is None and unknown["average"]["pass@1"] == 0.75


def test_cli_counts_the_model_parameters_and_prints_the_average(tmp_path: Path, tiny_model_path: str) -> None:
    result = runner.invoke(_app, ["eval", "--model", "tiny-random", "--benchmarks", "gsm8k,mmlu", "--limit", "1",
                                  "--max-new-tokens", "2", "--output", str(tmp_path)], catch_exceptions=True)
    # mmlu is read from the hub, which is offline in tests: the error says what to do
    assert isinstance(result.exception, UserError) and "--data-file" in str(result.exception)
    result = runner.invoke(_app, ["eval", "--model", "tiny-random", "--benchmarks", "gsm8k,mgsm-es", "--limit", "1",
                                  "--max-new-tokens", "2", "--output", str(tmp_path)])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    from transformers import AutoModelForCausalLM

    expected = count_parameters(AutoModelForCausalLM.from_pretrained(tiny_model_path))
    assert summary["n_parameters"] == expected > 0
    blocks = summary["benchmarks"]
    assert summary["average"]["pass@1"] == pytest.approx((blocks["gsm8k"]["pass@1"] + blocks["mgsm-es"]["pass@1"]) / 2)
    assert "Avg." in result.output and "accuracy per billion" in result.output.replace("\n", " ")


def test_mmlu_run_with_a_local_file_and_the_tiny_model(tmp_path: Path) -> None:
    result = runner.invoke(_app, ["eval", "--model", "tiny-random", "--benchmarks", "mmlu", "--data-file", str(MMLU),
                                  "--limit", "3", "--max-new-tokens", "2", "--output", str(tmp_path)])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    block = summary["benchmarks"]["mmlu"]
    assert block["n_problems"] == 3 and set(block["by_subject"]) == {"high_school_chemistry",
                                                                     "elementary_mathematics"}
    assert summary["generation"]["data_file"] == "mmlu_sample.jsonl"
