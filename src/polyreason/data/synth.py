"""Synthesise reasoning traces with a stronger model, keep the verified ones, optionally judge them.

``synthesize`` samples ``n`` completions per RL row, keeps those whose answer verifies against the gold (and,
with ``require_format``, that follow the ``<think>…</think> … \\boxed{}`` convention), and writes SFT rows with
provenance ``synth = {model, system_prompt, temperature, n_samples, n_correct}``.  Both report the tokens
generated in this call (``tokens_generated``, as the backend counts them) for cost accounting.

``judge_rows`` scores SFT rows with an LLM judge (rubric prompt, 1-10) and keeps those at or above
``min_score``; ``judge = {model, scores, score}`` is added to every kept row.  :func:`parse_score` reads the
score from whatever the judge wrote (``Score: 8``, ``8/10``, ``**7**``…) and returns None for junk.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path

from polyreason.data.curate import problem_text
from polyreason.data.difficulty import Verifier, _batch_seed, default_verifier, require_answer
from polyreason.data.schema import row_id
from polyreason.errors import UserError
from polyreason.files import ResumableJsonl, dumps, read_ids
from polyreason.generation import SamplingParams, texts
from polyreason.progress import Reporter, batches_left
from polyreason.text.region import THINK_CLOSE

log = logging.getLogger(__name__)

JUDGE_SYSTEM = (
    "You are a strict grader of step-by-step math solutions. Read the problem, the reference answer and the "
    "candidate solution. Score the solution from 1 to 10 using this rubric:\n"
    "- correctness of every step (most weight): a wrong step caps the score at 4;\n"
    "- the final answer matches the reference;\n"
    "- clarity and concision: no loops, no filler, no repeated text;\n"
    "- the reasoning is written entirely in {language}.\n"
    "Reply with one short sentence of justification, then a last line exactly of the form 'Score: N'."
)
JUDGE_USER = "Problem:\n{problem}\n\nReference answer: {answer}\n\nCandidate solution:\n{solution}"

_SCORE_PATTERNS = (
    re.compile(r"score\s*(?:is|of|=|:)?\s*\**\s*(\d+(?:\.\d+)?)\s*\**\s*(?:/\s*10)?", re.I),
    re.compile(r"(\d+(?:\.\d+)?)\s*/\s*10\b"),
    re.compile(r"^\s*\**\s*(\d+(?:\.\d+)?)\s*\**\s*$", re.M),
)


def parse_score(text: str, low: float = 1.0, high: float = 10.0) -> float | None:
    """The judge's score in [low, high] from free text (last match of the most explicit pattern), else None.

    >>> parse_score("Clear and correct.\\nScore: 9")
    9.0
    >>> parse_score("I cannot grade this.") is None
    True
    """
    for pattern in _SCORE_PATTERNS:
        found = [float(m) for m in pattern.findall(text or "")]
        found = [v for v in found if low <= v <= high]
        if found:
            return found[-1]
    return None


def follows_format(completion: str) -> bool:
    """True if the completion has exactly one ``</think>`` with a ``\\boxed{}`` after it."""
    head, sep, tail = completion.partition(THINK_CLOSE)
    return bool(sep) and THINK_CLOSE not in tail and "\\boxed" in tail and bool(head.strip())


def _batches(rows: Iterable[dict], writer: ResumableJsonl, size: int, stats: Counter) -> Iterator[list[dict]]:
    it = iter(rows)
    while True:
        batch = []
        for row in it:
            row = dict(row)
            row["id"] = row.get("id") or row_id(problem_text(row))
            if row["id"] in writer.done:
                stats["resumed"] += 1
                continue
            batch.append(row)
            if len(batch) >= size:
                break
        if not batch:
            return
        yield batch


def synthesize(rows: Iterable[dict], generator, output: str | Path, *, n: int = 4, keep: str = "first",
               require_format: bool = True, batch_size: int = 8, max_new_tokens: int = 1024,
               temperature: float = 0.7, top_p: float = 0.95, seed: int = 0, system: str | None = None,
               verifier: Verifier | None = None, resume: bool = True, total: int | None = None) -> dict:
    """Write verified SFT rows for ``rows`` (RL rows) to ``output``; ``keep`` = ``first`` | ``shortest`` | ``all``."""
    from polyreason.prompts import build_messages

    if keep not in ("first", "shortest", "all"):
        raise UserError(f"unknown --keep {keep!r}; fix: first, shortest or all")
    check = verifier or default_verifier()
    writer = ResumableJsonl(output, resume=resume)
    stats: Counter = Counter()
    try:
        report = Reporter(batches_left(total, len(writer.done), batch_size), description="synth", unit="batches")
        for batch in report.items(_batches(rows, writer, batch_size, stats)):
            for row in batch:
                require_answer(row)
            prefixes = [build_messages(problem_text(r), r.get("language", "en"), system) for r in batch]
            params = SamplingParams(temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens)
            generated = generator.chat(prefixes, params, n=n, seed=_batch_seed(seed, batch[0]["id"]),
                                       progress=report.share(len(batch) * n))
            stats["tokens"] += generated_tokens(generated)
            outs = texts(generated)
            for row, prefix, completions in zip(batch, prefixes, outs, strict=True):
                lang = row.get("language", "en")
                correct = [c.strip() for c in completions if check(str(row["answer"]), c, lang)]
                good = [c for c in correct if not require_format or follows_format(c)]
                stats["samples"] += len(completions)
                stats["verified"] += len(correct)
                stats["usable"] += len(good)
                if not good:
                    stats["no_trace"] += 1
                    continue
                chosen = good if keep == "all" else [min(good, key=len) if keep == "shortest" else good[0]]
                for j, text in enumerate(chosen):
                    rid = row["id"] if j == 0 else f"{row['id']}-{j}"
                    writer.write({
                        "messages": prefix + [{"role": "assistant", "content": text}], "language": lang,
                        "source": row.get("source", "synth"), "id": rid, "answer": str(row["answer"]),
                        "difficulty": row.get("difficulty"),
                        "synth": {"model": generator.name, "system_prompt": prefix[0]["content"],
                                  "temperature": temperature, "n_samples": len(completions),
                                  "n_correct": len(good)}})
                    stats["written"] += 1
    except BaseException:
        writer.close()
        raise
    writer.finish()
    return {"n_written": stats["written"], "n_without_trace": stats["no_trace"], "n_samples": stats["samples"],
            "n_verified": stats["verified"], "n_usable": stats["usable"], "n_resumed": stats["resumed"],
            "tokens_generated": stats["tokens"], "output": str(output)}


def judge_rows(rows: Iterable[dict], generator, output: str | Path, *, min_score: float = 7.0, n: int = 1,
               batch_size: int = 8, max_new_tokens: int = 256, temperature: float = 0.0, seed: int = 0,
               keep_unscored: bool = False, resume: bool = True, total: int | None = None) -> dict:
    """Score SFT rows with a judge model; write rows with mean score >= ``min_score`` (and provenance).

    Rows whose judge output has no parsable score are dropped unless ``keep_unscored``.  Dropped rows go to
    ``<output stem>.rejects.jsonl`` (id, scores, replies) and count as done when the run is resumed.
    """
    from polyreason.prompts import LANGUAGE_NAMES

    writer = ResumableJsonl(output, resume=resume)
    rejects = Path(output).with_name(Path(output).stem + ".rejects.jsonl")
    if not resume:
        rejects.unlink(missing_ok=True)
    writer.done.update(read_ids(rejects))  # rows judged below the bar are not judged again on a resume
    stats: Counter = Counter()
    rej = rejects.open("a", encoding="utf-8")
    try:
        report = Reporter(batches_left(total, len(writer.done), batch_size), description="judge", unit="batches")
        for batch in report.items(_batches(rows, writer, batch_size, stats)):
            convs = []
            for r in batch:
                lang = LANGUAGE_NAMES.get(r.get("language", "en"), r.get("language", "en"))
                solution = r["messages"][-1]["content"] if r.get("messages") else str(r.get("solution", ""))
                convs.append([{"role": "system", "content": JUDGE_SYSTEM.format(language=lang)},
                              {"role": "user", "content": JUDGE_USER.format(
                                  problem=problem_text(r), answer=r.get("answer", "?"), solution=solution)}])
            params = SamplingParams(temperature=temperature, max_new_tokens=max_new_tokens)
            generated = generator.chat(convs, params, n=n, seed=_batch_seed(seed, batch[0]["id"]),
                                       progress=report.share(len(batch) * n))
            stats["tokens"] += generated_tokens(generated)
            outs = texts(generated)
            for row, replies in zip(batch, outs, strict=True):
                scores = [parse_score(t) for t in replies]
                valid = [s for s in scores if s is not None]
                score = sum(valid) / len(valid) if valid else None
                stats["judged"] += 1
                if (score is None and not keep_unscored) or (score is not None and score < min_score):
                    stats["unscored" if score is None else "below"] += 1
                    rej.write(dumps({"id": row["id"], "scores": scores, "replies": [t[:500] for t in replies]}) + "\n")
                    rej.flush()
                    continue
                writer.write({**row, "judge": {"model": generator.name, "scores": scores, "score": score,
                                               "min_score": min_score}})
                stats["kept"] += 1
    except BaseException:
        writer.close()
        raise
    finally:
        rej.close()
    writer.finish()
    return {"n_judged": stats["judged"], "n_kept": stats["kept"], "n_below": stats["below"],
            "n_unscored": stats["unscored"], "n_resumed": stats["resumed"], "tokens_generated": stats["tokens"],
            "output": str(output),
            "rejects": str(rejects)}


def generated_tokens(outputs: list[list]) -> int:
    """Tokens a backend reported generating for a ``chat`` result (0 where a server reports none)."""
    return sum(g.n_tokens or 0 for row in outputs for g in row)


def take(rows: Iterable[dict], limit: int | None) -> Iterable[dict]:
    """The first ``limit`` rows (all if None)."""
    return rows if limit is None else islice(rows, limit)
