"""Translate problems and reasoning traces with an LLM, validating every output.

A translation is kept only if (:func:`check_translation`):

* every number of the source appears the same number of times (digit runs compared, so ``3.5`` -> ``3,5``
  is allowed but a changed or dropped number is not);
* every LaTeX command (``\\frac``, ``\\sqrt``, ...) is kept, as often as in the source;
* the last ``\\boxed{}`` is unchanged and the ``<think>`` / ``</think>`` tags are kept;
* the output is detected as the target language (:func:`polyreason.text.langid.detect_language`, offline;
  an output with too little prose to tell passes this check) and differs from the source.

A failed output is retried (``retries`` times, sampling at ``retry_temperature``) and then dropped, with the
reasons written to the rejects file.  Output is append-only and resumable by row id (rows in the rejects
file count as done too: rerun with ``resume=False`` to try them again).  RL rows have their ``problem`` and,
if present, their ``solution`` translated; SFT rows their user and assistant turns.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from polyreason.data.curate import problem_text
from polyreason.data.schema import row_id
from polyreason.errors import UserError
from polyreason.files import ResumableJsonl, dumps, read_ids
from polyreason.generation import SamplingParams, texts
from polyreason.progress import Reporter, batches_left
from polyreason.prompts import LANGUAGE_NAMES
from polyreason.text.boxed import last_boxed
from polyreason.text.langid import detect_language
from polyreason.text.region import THINK_CLOSE, THINK_OPEN

log = logging.getLogger(__name__)

TRANSLATE_SYSTEM = (
    "You are an expert translator of mathematics. Translate the text the user sends from {src} into {tgt}.\n"
    "Rules:\n"
    "- Keep every number, formula and LaTeX command exactly as written ($...$, \\frac, \\sqrt, \\boxed{{...}}).\n"
    "- Keep the tags <think> and </think> where they are, and keep line breaks and the order of the steps.\n"
    "- Translate mathematical terms with their standard {tgt} names; keep names of people as they are.\n"
    "- Write natural {tgt}, not word-for-word.\n"
    "- Answer with the translation only: no notes, no quotes, no preamble."
)

_NUM = re.compile(r"\d+")
_CMD = re.compile(r"\\[A-Za-z]+")
_FENCE = re.compile(r"^```[a-zA-Z]*\n(.*)\n```$", re.S)


def check_translation(source: str, output: str, target: str) -> list[str]:
    """Reasons why ``output`` is not an acceptable ``target``-language translation of ``source`` ([] = ok)."""
    reasons: list[str] = []
    if not output.strip():
        return ["empty output"]
    src_nums, out_nums = Counter(_NUM.findall(source)), Counter(_NUM.findall(output))
    if src_nums != out_nums:
        missing = sorted((src_nums - out_nums).elements())
        extra = sorted((out_nums - src_nums).elements())
        reasons.append(f"numbers changed (missing {missing[:5]}, extra {extra[:5]})")
    src_cmds, out_cmds = Counter(_CMD.findall(source)), Counter(_CMD.findall(output))
    if src_cmds - out_cmds:
        reasons.append(f"LaTeX commands dropped: {sorted((src_cmds - out_cmds).elements())[:5]}")
    gold = last_boxed(source)
    if gold is not None and last_boxed(output) != gold:
        reasons.append(f"boxed answer changed ({gold!r} -> {last_boxed(output)!r})")
    for tag in (THINK_OPEN, THINK_CLOSE):
        if source.count(tag) != output.count(tag):
            reasons.append(f"{tag} tags not kept ({source.count(tag)} -> {output.count(tag)})")
    if output.strip() == source.strip():
        reasons.append("output identical to the source")
    lang = detect_language(output)
    if lang is not None and lang != target:
        reasons.append(f"detected language {lang!r}, wanted {target!r}")
    return reasons


def clean_output(text: str) -> str:
    """Strip code fences and edge whitespace that chat models wrap translations in."""
    text = text.strip()
    m = _FENCE.match(text)
    return m.group(1).strip() if m else text


def _fields(row: dict) -> list[tuple[str, str]]:
    """(path, text) pairs to translate: the problem (RL) or user + assistant turns (SFT)."""
    if isinstance(row.get("messages"), list):
        return [(f"messages.{i}", m["content"]) for i, m in enumerate(row["messages"])
                if m.get("role") in ("user", "assistant") and m.get("content")]
    fields = [("problem", problem_text(row))]
    if isinstance(row.get("solution"), str) and row["solution"].strip():
        fields.append(("solution", row["solution"]))
    return fields


def _apply(row: dict, translations: dict[str, str], target: str, model: str) -> dict:
    out = dict(row)
    if isinstance(row.get("messages"), list):
        from polyreason.prompts import system_prompt

        msgs = [dict(m) for m in row["messages"]]
        for path, text in translations.items():
            msgs[int(path.split(".")[1])]["content"] = text
        if msgs and msgs[0]["role"] == "system":
            msgs[0]["content"] = system_prompt(target)
        out["messages"] = msgs
    else:
        out.update(translations)
    out.update(language=target, translated_from=row.get("language", "en"), translation_model=model,
               id=f"{row['id']}-{target}")
    return out


def translate_rows(rows: Iterable[dict], generator, output: str | Path, *, target: str, source_lang: str = "en",
                   rejects: str | Path | None = None, batch_size: int = 8, max_new_tokens: int = 1024,
                   retries: int = 2, retry_temperature: float = 0.7, seed: int = 0, resume: bool = True,
                   total: int | None = None) -> dict:
    """Translate RL or SFT rows into ``target``; append kept rows to ``output``, dropped ones to ``rejects``."""
    if target not in LANGUAGE_NAMES:
        raise UserError(f"unknown target language {target!r}; fix: one of {', '.join(LANGUAGE_NAMES)}")
    system = TRANSLATE_SYSTEM.format(src=LANGUAGE_NAMES.get(source_lang, source_lang), tgt=LANGUAGE_NAMES[target])
    writer = ResumableJsonl(output, resume=resume)
    rejects_path = Path(rejects) if rejects else Path(output).with_name(Path(output).stem + ".rejects.jsonl")
    if not resume:
        rejects_path.unlink(missing_ok=True)
    for row in read_ids(rejects_path):  # dropped rows are not retried on a resume
        writer.done.add(f"{row}-{target}")
    stats = Counter()
    try:
        with rejects_path.open("a", encoding="utf-8") as rej:
            report = Reporter(batches_left(total, len(writer.done), batch_size), description=f"translate → {target}",
                              unit="batches")
            for batch in report.items(_todo(rows, writer, target, stats, batch_size)):
                _translate_batch(batch, generator, writer, rej, system=system, target=target,
                                 max_new_tokens=max_new_tokens, retries=retries,
                                 retry_temperature=retry_temperature, seed=seed, stats=stats, report=report)
    except BaseException:
        writer.close()
        raise
    writer.finish()
    return {"n_kept": stats["kept"], "n_dropped": stats["dropped"], "n_resumed": stats["resumed"],
            "n_retries": stats["retries"], "output": str(output), "rejects": str(rejects_path)}


def _todo(rows: Iterable[dict], writer: ResumableJsonl, target: str, stats: Counter,
          batch_size: int) -> Iterator[list[dict]]:
    batch: list[dict] = []
    for row in rows:
        row = dict(row)
        row["id"] = row.get("id") or row_id(problem_text(row))
        if f"{row['id']}-{target}" in writer.done:
            stats["resumed"] += 1
            continue
        batch.append(row)
        if len(batch) >= batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def _translate_batch(batch: list[dict], generator, writer: ResumableJsonl, rej, *, system: str, target: str,
                     max_new_tokens: int, retries: int, retry_temperature: float, seed: int,
                     stats: Counter, report: Reporter) -> None:
    # every text field of every row is one conversation; failed fields are retried together
    jobs = [(ri, path, text) for ri, row in enumerate(batch) for path, text in _fields(row)]
    done: dict[tuple[int, str], str] = {}
    why: dict[tuple[int, str], list[str]] = {}
    pending = jobs
    progress = report.share(len(jobs))  # the first attempt is the batch's work; retries cannot pass one unit
    for attempt in range(retries + 1):
        if not pending:
            break
        if attempt:
            stats["retries"] += len(pending)
        convs = [[{"role": "system", "content": system}, {"role": "user", "content": text}] for _, _, text in pending]
        params = SamplingParams(temperature=0.0 if attempt == 0 else retry_temperature, max_new_tokens=max_new_tokens)
        outs = texts(generator.chat(convs, params, n=1, seed=seed + attempt, progress=progress))
        still = []
        for (ri, path, text), out in zip(pending, outs, strict=True):
            candidate = clean_output(out[0])
            reasons = check_translation(text, candidate, target)
            if reasons:
                why[(ri, path)] = reasons
                still.append((ri, path, text))
            else:
                done[(ri, path)] = candidate
        pending = still
    failed_rows = {ri for ri, _, _ in pending}
    for ri, row in enumerate(batch):
        if ri in failed_rows:
            stats["dropped"] += 1
            reasons = {p: why[(r, p)] for r, p, _ in pending if r == ri}
            log.info("dropped %s: %s", row["id"], reasons)
            rej.write(dumps({"id": row["id"], "reasons": reasons}) + "\n")
            continue
        translations = {path: done[(ri, path)] for path, _ in _fields(row)}
        writer.write(_apply(row, translations, target, getattr(generator, "name", "model")))
        stats["kept"] += 1
