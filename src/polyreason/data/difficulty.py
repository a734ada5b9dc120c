"""Difficulty from a model's pass rate, and mixing a training set by difficulty.

``estimate_difficulty`` samples a model ``k`` times per problem, verifies each completion against the gold
answer and tags the row: ``easy`` if pass rate >= ``easy_min`` (default 0.75), ``hard`` if <= ``hard_max``
(default 0.25), ``medium`` between; rows whose gold the verifier cannot parse get ``difficulty: null``.
Output is append-only and resumable (rows already in ``<output>.partial`` are skipped on restart).

``mix`` picks a target number of rows with given difficulty fractions (reservoir sampling per bucket, so
memory is bounded by the target size), after length filters; the result is shuffled, deterministic by seed.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path

from polyreason.data.curate import problem_text
from polyreason.data.schema import row_id
from polyreason.errors import UserError
from polyreason.files import AtomicJsonl, ResumableJsonl
from polyreason.generation import SamplingParams, texts
from polyreason.progress import Reporter, batches_left

log = logging.getLogger(__name__)
Verifier = Callable[[str, str, str], "bool | None"]


def default_verifier() -> Verifier:
    """``(gold, completion, language) -> correct | None`` from :func:`polyreason.verify.verify`."""
    from polyreason.verify import verify

    def check(gold: str, completion: str, language: str) -> bool | None:
        return verify(gold, completion, language).correct

    return check


def require_answer(row: dict) -> None:
    """Raise a UserError naming the row if it has no gold ``answer`` (needed to verify samples)."""
    if row.get("answer") in (None, ""):
        raise UserError(f"row {row.get('id')!r}, column 'answer': missing; this step verifies samples against the "
                        "gold answer; fix: prepare the data with an answer column (--map answer=COLUMN)")


def tag(pass_rate: float | None, easy_min: float = 0.75, hard_max: float = 0.25) -> str | None:
    """``easy`` / ``medium`` / ``hard`` from a pass rate (None stays None)."""
    if pass_rate is None:
        return None
    if pass_rate >= easy_min:
        return "easy"
    if pass_rate <= hard_max:
        return "hard"
    return "medium"


def _batches(rows: Iterable[dict], size: int) -> Iterator[list[dict]]:
    it = iter(rows)
    while batch := list(islice(it, size)):
        yield batch


def _batch_seed(seed: int, rid: str) -> int:
    return seed + int(hashlib.sha256(rid.encode()).hexdigest()[:8], 16)


def estimate_difficulty(rows: Iterable[dict], generator, output: str | Path, *, k: int = 4, batch_size: int = 8,
                        max_new_tokens: int = 512, temperature: float = 0.7, top_p: float = 0.95, seed: int = 0,
                        easy_min: float = 0.75, hard_max: float = 0.25, resume: bool = True,
                        verifier: Verifier | None = None, total: int | None = None,
                        keep_samples: bool = False) -> dict:
    """Sample ``generator`` ``k`` times per RL row, verify, tag and append rows to ``output`` (resumable).

    Each written row gains ``pass_rate``, ``n_correct``, ``n_samples``, ``difficulty`` and
    ``difficulty_model`` (and, with ``keep_samples``, ``samples``: the completions and their verdicts).
    Returns counts per difficulty and the tokens generated (``tokens_generated``).
    """
    from polyreason.prompts import build_messages

    if k < 1:
        raise UserError(f"--k must be >= 1, got {k}; fix: e.g. --k 8")
    check = verifier or default_verifier()
    writer = ResumableJsonl(output, resume=resume)
    counts: Counter = Counter()
    skipped = tokens = 0

    def todo() -> Iterator[dict]:
        nonlocal skipped
        for row in rows:
            row = dict(row)
            if not row.get("id"):
                row["id"] = row_id(problem_text(row))
            if row["id"] in writer.done:
                skipped += 1
                continue
            require_answer(row)
            yield row

    try:
        report = Reporter(batches_left(total, len(writer.done), batch_size), description="difficulty", unit="batches")
        for batch in report.items(_batches(todo(), batch_size)):
            convs = [build_messages(problem_text(r), r.get("language", "en")) for r in batch]
            params = SamplingParams(temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens)
            generated = generator.chat(convs, params, n=k, seed=_batch_seed(seed, batch[0]["id"]),
                                       progress=report.share(len(batch) * k))
            tokens += sum(g.n_tokens or 0 for gens in generated for g in gens)
            outs = texts(generated)
            for row, completions in zip(batch, outs, strict=True):
                verdicts = [check(str(row["answer"]), c, row.get("language", "en")) for c in completions]
                rate = None if any(v is None for v in verdicts) else sum(bool(v) for v in verdicts) / len(verdicts)
                row.update(pass_rate=rate, n_correct=sum(bool(v) for v in verdicts), n_samples=len(verdicts),
                           difficulty=tag(rate, easy_min, hard_max), difficulty_model=generator.name)
                if keep_samples:
                    row["samples"] = [{"completion": c, "correct": v} for c, v in zip(completions, verdicts, strict=True)]
                counts[str(row["difficulty"])] += 1
                writer.write(row)
    except BaseException:
        writer.close()
        raise
    writer.finish()
    return {"counts": dict(counts), "n_written": sum(counts.values()), "n_resumed": skipped,
            "tokens_generated": tokens, "output": str(output)}


# -------------------------------------------------------------------------------------------------- mix
def parse_ratio(spec: str) -> dict[str, float]:
    """``"easy=0.3,medium=0.4,hard=0.3"`` -> fractions summing to 1 (normalised)."""
    out: dict[str, float] = {}
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        name, sep, value = part.partition("=")
        try:
            frac = float(value)
        except ValueError:
            frac = -1.0
        if not sep or frac < 0:
            raise UserError(f"bad ratio part {part!r}; fix: e.g. --ratio easy=0.3,medium=0.4,hard=0.3")
        out[name.strip()] = frac
    total = sum(out.values())
    if total <= 0:
        raise UserError(f"ratio {spec!r} sums to 0; fix: give positive fractions")
    return {k: v / total for k, v in out.items()}


def _answer_len(row: dict) -> int:
    msgs = row.get("messages")
    if isinstance(msgs, list) and msgs:
        return len(str(msgs[-1].get("content", "")))
    return len(str(row.get("solution") or ""))


def _n_tokens(tokenizer, row: dict) -> int:
    if tokenizer is None:
        raise UserError("a token-length filter needs a tokenizer; fix: pass --tokenizer MODEL_SPEC")
    msgs = row.get("messages")
    answer = str(msgs[-1].get("content", "")) if isinstance(msgs, list) and msgs else str(row.get("solution") or "")
    return len(tokenizer(problem_text(row) + "\n" + answer, add_special_tokens=False)["input_ids"])


def mix(rows: Iterable[dict], output: str | Path, *, size: int, ratio: dict[str, float], seed: int = 0,
        min_chars: int = 0, max_chars: int | None = None, max_solution_chars: int | None = None,
        max_tokens: int | None = None, tokenizer=None) -> dict:
    """Write ``size`` rows to ``output`` with difficulty fractions ``ratio`` (rows with no difficulty count as
    ``unknown``), after dropping problems shorter than ``min_chars`` / longer than ``max_chars`` and
    solutions/assistant turns longer than ``max_solution_chars``; with a ``tokenizer``, rows whose problem plus
    solution/assistant turn exceed ``max_tokens`` tokens are dropped too.  A bucket with too few rows contributes all
    it has (the report says so); nothing is silently refilled from other buckets.
    """
    if size < 1:
        raise UserError(f"--size must be >= 1, got {size}")
    targets = {name: int(size * frac) for name, frac in ratio.items()}
    by_remainder = sorted(ratio, key=lambda name: (-(size * ratio[name] - targets[name]), name))
    for name in by_remainder[: size - sum(targets.values())]:  # largest remainders: targets sum to size
        targets[name] += 1
    rng = random.Random(f"polyreason-mix:{seed}")
    reservoirs: dict[str, list[dict]] = {name: [] for name in targets}
    seen: Counter = Counter()
    filtered = 0
    for row in rows:
        n_chars = len(problem_text(row))
        if n_chars < min_chars or (max_chars is not None and n_chars > max_chars) or (
                max_solution_chars is not None and _answer_len(row) > max_solution_chars) or (
                max_tokens is not None and _n_tokens(tokenizer, row) > max_tokens):
            filtered += 1
            continue
        bucket = row.get("difficulty") or "unknown"
        if bucket not in targets:
            continue
        seen[bucket] += 1
        res, cap = reservoirs[bucket], targets[bucket]
        if len(res) < cap:
            res.append(row)
        else:
            j = rng.randrange(seen[bucket])
            if j < cap:
                res[j] = row
    chosen = [r for name in targets for r in reservoirs[name]]
    rng.shuffle(chosen)
    with AtomicJsonl(output) as out:
        for row in chosen:
            out.write(row)
    short = {n: {"wanted": targets[n], "available": seen[n]} for n in targets if seen[n] < targets[n]}
    if short:
        log.warning("not enough rows for %s", short)
    return {"n_written": len(chosen), "targets": targets, "available": dict(seen), "shortfall": short,
            "n_filtered_by_length": filtered, "output": str(output)}
