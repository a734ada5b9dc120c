"""Load rows from any source into the standard schema, streamed.

Sources (``load_rows(source, ...)``):

* a local file: ``.jsonl`` / ``.json`` (JSON Lines, a list, or ``{"train": [...], ...}``) / ``.parquet`` /
  ``.tsv`` (two columns question<TAB>answer, no header, as MGSM ships them; ``mgsm_es.tsv`` implies ``es``);
* a local directory of data files, read through ``datasets.load_dataset(dir)`` (same path as the hub);
* ``synthetic:<n>[:lang[:difficulty[:kind,kind]]]`` -- the built-in tasks (:mod:`polyreason.data.synthetic`);
  ``split="train"`` gives the training split, ``"test"``/``"eval"``/``"validation"`` the held-out one;
* a hub dataset id ``owner/name`` or ``owner/name:config`` (``datasets.load_dataset(..., streaming=True)``).

Every row is column-mapped, normalised from its detected shape (:mod:`polyreason.data.formats`) and validated;
invalid rows raise :class:`~polyreason.errors.UserError` naming the row and column, unless ``on_invalid`` is
given (then it is called with ``(index, raw_row, error)`` and the row is skipped).
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from polyreason.data import formats
from polyreason.data.schema import DIFFICULTIES, validate_row
from polyreason.errors import UserError
from polyreason.files import count_lines, iter_jsonl, iter_lines, read_json

FILE_SUFFIXES = (".jsonl", ".json", ".parquet", ".tsv", ".csv")
_EVAL_SPLITS = ("test", "eval", "validation", "valid", "heldout")
# Synthetic tasks: val and test are the two disjoint halves of the held-out keys (polyreason.data.synthetic).
_SYNTHETIC_SPLITS: dict[str | None, str | None] = {
    "all": None, None: None, "train": "train", "eval": "eval", "heldout": "eval",
    "val": "val", "validation": "val", "valid": "val", "test": "test",
}
_SENTENCE = {"en": "The answer is", "es": "La respuesta es", "fr": "La réponse est", "de": "Die Antwort ist",
             "pt": "A resposta é", "it": "La risposta è"}

OnInvalid = Callable[[int, dict, UserError], None]


def iter_records(source: str, *, split: str = "train") -> Iterator[dict]:
    """Raw records of a file, directory or hub dataset (no mapping or validation)."""
    for _, raw in located_records(source, split=split):
        yield raw


def located_records(source: str, *, split: str = "train") -> Iterator[tuple[str, dict]]:
    """``(where, raw record)`` pairs: ``where`` is ``":N"`` (the 1-based file line, ``PATH:N``) for JSONL and
    TSV files, ``" row N"`` (1-based) for Parquet, JSON lists, directories and hub datasets."""
    path = Path(source)
    if path.is_dir():
        yield from _numbered(_iter_datasets(str(path), None, split, streaming=False))
    elif path.exists():
        yield from _iter_file(path, split)
    elif source.endswith(FILE_SUFFIXES) or source.startswith((".", "/", "~")):
        raise UserError(f"file not found: {source}; fix: check the path")
    else:
        name, _, config = source.removeprefix("hf:").partition(":")
        yield from _numbered(_iter_datasets(name, config or None, split, streaming=True))


def _numbered(records) -> Iterator[tuple[str, dict]]:
    for i, raw in enumerate(records, 1):
        yield f" row {i}", raw


def _iter_file(path: Path, split: str) -> Iterator[tuple[str, dict]]:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        yield from _numbered(row for batch in pq.ParquetFile(path).iter_batches(batch_size=1024)
                             for row in batch.to_pylist())
    elif suffix in (".tsv", ".csv"):
        yield from _iter_delimited(path, "\t" if suffix == ".tsv" else ",")
    elif suffix == ".json" and not _looks_like_jsonl(path):
        data = read_json(path)
        if isinstance(data, dict):
            if split not in data:
                raise UserError(f"{path}: no split '{split}' (has {sorted(data)}); fix: pass --split")
            data = data[split]
        if not isinstance(data, list):
            raise UserError(f"{path}: expected a list of rows; fix: store rows as a JSON list or JSON Lines")
        yield from _numbered(data)
    elif suffix in (".jsonl", ".json"):
        for lineno, obj in iter_jsonl(path):
            yield f":{lineno}", obj
    else:
        raise UserError(f"{path}: unsupported file type '{suffix}'; fix: use .jsonl, .json, .parquet or .tsv")


def _looks_like_jsonl(path: Path) -> bool:
    with path.open(encoding="utf-8", errors="replace") as fh:
        first = fh.readline().strip()
        if not first.startswith("{"):
            return False
        try:
            obj = json.loads(first)
        except json.JSONDecodeError:
            return False
        # a one-line {"train": [...], "test": [...]} document is a split dictionary, not a row
        return not (isinstance(obj, dict) and obj and all(isinstance(v, list) for v in obj.values()))


def _iter_delimited(path: Path, delimiter: str) -> Iterator[tuple[str, dict]]:
    csv.field_size_limit(sys.maxsize)
    reader = csv.reader((text for _, text in iter_lines(path)), delimiter=delimiter, quoting=csv.QUOTE_NONE)
    for lineno, cols in enumerate(reader, 1):  # QUOTE_NONE: one record per physical line
        if not cols:
            continue
        if len(cols) < 2:
            raise UserError(f"{path}:{lineno}: {len(cols)} column(s); fix: question<TAB>answer per line")
        yield f":{lineno}", {"question": cols[0], "answer": cols[1]}


def _iter_datasets(name: str, config: str | None, split: str, *, streaming: bool) -> Iterator[dict]:
    import datasets

    try:
        ds = datasets.load_dataset(name, config, split=split, streaming=streaming)
    except (OSError, ValueError) as exc:  # ConnectionError and FileNotFoundError are OSErrors
        raise UserError(f"could not load dataset {name!r} (config {config!r}, split {split!r}): {exc}; fix: "
                        "check the id/path, the config name and the split, and the network (or a local copy: "
                        "pass a file or directory path)") from exc
    yield from ds


def count_rows(source: str) -> int | None:
    """Number of rows of a JSONL/Parquet file or a ``synthetic:<n>`` spec (None when unknown or costly)."""
    if source.startswith("synthetic:"):
        try:
            return int(source.split(":")[1])
        except (IndexError, ValueError):
            return None
    path = Path(source)
    if not path.is_file():
        return None
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    if path.suffix.lower() in (".jsonl", ".tsv"):
        return count_lines(path)
    return None


def language_from_name(source: str) -> str | None:
    """Guess a language from a file name such as ``mgsm_es.tsv`` or ``train.es.jsonl``."""
    m = re.search(r"(?:^|[_.\-/])([a-z]{2})\.(?:tsv|jsonl|json|parquet|csv)$", source)
    return m.group(1) if m else None


def normalize_record(raw: dict, *, kind: str, language: str, source: str, where: str,
                     column_map: dict[str, str] | None = None) -> dict:
    """Map, normalise and validate one raw record into an RL or SFT row (raises UserError)."""
    from polyreason.data.schema import answer_to_str, row_id

    row = formats.apply_column_map(raw, column_map, where)
    problem, answer, reasoning, fmt = formats.extract_problem_answer(row, where)
    if kind == "auto":
        kind = "sft" if fmt == "messages" else "rl"
    lang = row.get("language") or language
    src = row.get("source") or source
    rid = row.get("id")
    rid = str(rid) if rid not in (None, "") else (row_id(problem) if isinstance(problem, str) else None)
    if kind == "rl":
        out = {k: v for k, v in row.items() if k not in ("question", "solution", "generations", "messages",
                                                          "final_answer", "correctness_math_verify")}
        difficulty = row.get("difficulty")
        if difficulty is not None and difficulty not in DIFFICULTIES:  # a dataset's own scale (levels, 1-10)
            out["source_difficulty"] = difficulty
            difficulty = None
        out.update(problem=problem, answer=answer_to_str(answer, where) if answer is not None else None,
                   language=lang, difficulty=difficulty, source=src, id=rid)
        if reasoning and fmt != "messages":
            out["solution"] = reasoning
        return validate_row(out, where, "rl")
    if fmt == "messages":
        out = dict(row)
        out.update(language=lang, source=src, id=rid)
        return validate_row(out, where, "sft")
    if not reasoning:
        raise UserError(f"{where}, column 'solution': no reasoning trace to learn from (shape {fmt!r}); fix: "
                        "map a trace column with --map solution=COLUMN, or load as RL rows")
    if answer is None:
        raise UserError(f"{where}, column 'answer': no gold answer found; fix: map one with --map answer=COLUMN")
    from polyreason.data.synthetic import chat_prefix

    content = formats.to_assistant(reasoning, answer_to_str(answer, where), _SENTENCE.get(lang, _SENTENCE["en"]))
    messages = chat_prefix(problem, lang) if isinstance(problem, str) else []
    out = {"messages": messages + [{"role": "assistant", "content": content}], "language": lang, "source": src,
           "id": rid, "answer": answer_to_str(answer, where)}
    return validate_row(out, where, "sft")


def _synthetic(spec: str, split: str, kind: str, language: str | None) -> Iterator[dict]:
    from polyreason.data import synthetic

    parts = spec.split(":")[1:]
    try:
        n = int(parts[0])
    except (IndexError, ValueError) as exc:
        raise UserError(f"bad synthetic spec {spec!r}; fix: synthetic:<n>[:lang[:difficulty[:kinds]]], "
                        "e.g. synthetic:256:en:easy:add_sub") from exc
    lang = parts[1] if len(parts) > 1 and parts[1] else (language or "en")
    diff = parts[2] if len(parts) > 2 and parts[2] not in ("", "any", "all") else None
    kinds = parts[3].split(",") if len(parts) > 3 and parts[3] else None
    sp = _SYNTHETIC_SPLITS.get(split, "eval" if split in _EVAL_SPLITS else "train")
    gen = synthetic.generate_sft_rows if kind == "sft" else synthetic.generate_problems  # auto -> RL
    yield from gen(n, language=lang, difficulty=diff, kinds=kinds, split=sp)


def load_rows(source: str, *, split: str = "train", column_map: dict[str, str] | None = None, kind: str = "rl",
              language: str | None = None, on_invalid: OnInvalid | None = None,
              limit: int | None = None) -> Iterator[dict]:
    """Stream standard rows (``kind="rl"`` or ``"sft"``) from ``source`` (see the module docstring).

    ``kind="auto"`` yields SFT rows for chat-``messages`` records and RL rows for everything else.
    ``column_map`` is ``{schema_column: source_column}``.  ``language`` fills rows that carry none (default:
    guessed from the file name, else ``"en"``).  ``limit`` stops after that many valid rows.
    """
    if kind not in ("rl", "sft", "auto"):
        raise UserError(f"unknown row kind {kind!r}; fix: 'rl', 'sft' or 'auto'")
    if source.startswith("synthetic:"):
        rows: Iterator[dict] = _synthetic(source, split, kind, language)
        for i, row in enumerate(rows):
            if limit is not None and i >= limit:
                return
            yield row
        return
    lang = language or language_from_name(source) or "en"
    name = Path(source).stem if Path(source).exists() else source
    name = re.sub(r"^(test|train)$", Path(source).parent.name or name, name)
    produced = seen = 0
    for i, (location, raw) in enumerate(located_records(source, split=split)):
        seen += 1
        where = f"{source}{location}"
        try:
            if not isinstance(raw, dict):
                raise UserError(f"{where}: expected an object, got {type(raw).__name__}; fix: one object per row")
            row = normalize_record(raw, kind=kind, language=lang, source=name, where=where, column_map=column_map)
        except UserError as exc:
            if on_invalid is None:
                raise
            on_invalid(i, raw if isinstance(raw, dict) else {"value": raw}, exc)
            continue
        yield row
        produced += 1
        if limit is not None and produced >= limit:
            return
    if not seen:
        raise UserError(f"{source} holds no rows (empty file or split {split!r}); fix: check the path and split")
