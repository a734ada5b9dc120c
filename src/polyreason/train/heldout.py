"""A small batched greedy evaluation on held-out problems (the quickstart's before/after numbers).

It measures, on the same problems for every model: accuracy (``polyreason.verify``), format compliance (the
``format`` reward is 1.0: one ``<think>…</think>`` block with reasoning, then a ``\\boxed{}`` answer), the mean
of the recipe's weighted reward, and the mean completion length in tokens.  ``polyreason eval`` is the full
evaluator (benchmarks, n samples, pass@k); this one exists so training can report progress cheaply.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

from polyreason.generation import SamplingParams, from_model
from polyreason.prompts import build_messages, format_prompt

log = logging.getLogger(__name__)


@dataclass
class HeldOutScore:
    """Scores of one model on held-out problems (rates in [0, 1])."""

    label: str
    n: int
    accuracy: float
    format: float
    mean_reward: float | None
    mean_length: float
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def score_heldout(
    model: Any,
    tokenizer: Any,
    problems: list[dict[str, Any]],
    *,
    label: str,
    reward_weights: dict[str, float],
    reward_params: dict[str, dict[str, Any]] | None = None,
    max_new_tokens: int = 64,
    batch_size: int = 50,
) -> tuple[HeldOutScore, list[dict[str, Any]]]:
    """Evaluate ``model`` greedily on ``problems`` (RL rows); returns the scores and per-problem records.

    ``mean_reward`` is the mean of :func:`polyreason.rewards.suite.weighted_sum` over the problems that have
    a total (the training rule); build ``reward_weights``/``reward_params`` with
    :func:`polyreason.rewards.suite.suite_from_specs` to score as training does.
    """
    from polyreason.rewards import build_composite, build_reward
    from polyreason.rewards.suite import mean_total
    from polyreason.verify import verify_batch

    started = time.monotonic()
    model.eval()
    conversations = [build_messages(p["problem"], p.get("language", "en")) for p in problems]
    prompts = [format_prompt(tokenizer, c) for c in conversations]
    greedy = SamplingParams(temperature=0.0, max_new_tokens=max_new_tokens)
    outputs = [o[0] for o in from_model(model, tokenizer, batch_size=batch_size).chat(conversations, greedy)]
    texts, lengths = [o.completion for o in outputs], [o.n_tokens or 0 for o in outputs]
    golds = [str(p["answer"]) for p in problems]
    languages = [p.get("language", "en") for p in problems]
    verdicts = verify_batch(golds, texts, languages)
    completions = [[{"role": "assistant", "content": t}] for t in texts]
    columns = {"answer": golds, "language": languages, "n_tokens": lengths}
    fmt = build_reward("format")(prompts, completions, **columns)
    totals = build_composite(reward_weights, reward_params)(prompts, completions, **columns)
    n = len(problems)
    score = HeldOutScore(
        label=label,
        n=n,
        accuracy=sum(bool(v.correct) for v in verdicts) / n,
        format=sum(f == 1.0 for f in fmt) / n,
        mean_reward=mean_total(totals),
        mean_length=sum(lengths) / n,
        seconds=time.monotonic() - started,
    )
    records = [
        {"problem": p["problem"], "answer": g, "completion": t, "correct": v.correct, "extracted": v.extracted}
        for p, g, t, v in zip(problems, golds, texts, verdicts, strict=True)
    ]
    log.info("%s: accuracy %.2f, format %.2f (%d problems, %.0f s)", label, score.accuracy, score.format, n,
             score.seconds)
    return score, records
