"""A small batched greedy evaluation on held-out problems (the quickstart's before/after numbers).

It measures, on the same problems for every model: accuracy (``polyreason.verify``), format compliance (the
``format`` reward is 1.0: one ``<think>…</think>`` block with reasoning, then a ``\\boxed{}`` answer), the mean
of the recipe's weighted reward, the mean completion length in tokens, and -- through the analysis the
language and repetition rewards use (:func:`polyreason.text.analysis.analyze`) -- language compliance (the share
of completions whose language score, 0.6·P(target | reasoning) + 0.4·P(target | answer) by fastText, is at
least 0.5), naturalness violations per 100 completions and the mean repetition penalty.  ``polyreason eval`` is the full
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

COMPLIANT = 0.5  # a completion is in the target language when its language score reaches this


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
    language_compliance: float = 0.0
    language_score: float = 0.0
    naturalness_per_100: float = 0.0
    repetition_penalty: float = 0.0

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
    batch_size: int = 100,
    system_prompt: str | None = None,
) -> tuple[HeldOutScore, list[dict[str, Any]]]:
    """Evaluate ``model`` greedily on ``problems`` (RL rows); returns the scores and per-problem records.

    ``mean_reward`` is the mean of :func:`polyreason.rewards.suite.weighted_sum` over the problems that have
    a total (the training rule); build ``reward_weights``/``reward_params`` with
    :func:`polyreason.rewards.suite.suite_from_specs` to score as training does.
    """
    from polyreason.rewards import build_composite, build_reward
    from polyreason.rewards.naturalness import naturalness_violations
    from polyreason.rewards.suite import mean_total
    from polyreason.text.analysis import analyze
    from polyreason.verify import verify_batch

    started = time.monotonic()
    model.eval()
    conversations = [build_messages(p["problem"], p.get("language", "en"), system_prompt) for p in problems]
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
    text_stats = [analyze(t, lang) for t, lang in zip(texts, languages, strict=True)]
    flags = [naturalness_violations(t, lang) for t, lang in zip(texts, languages, strict=True)]
    n = len(problems)
    score = HeldOutScore(
        label=label,
        n=n,
        accuracy=sum(bool(v.correct) for v in verdicts) / n,
        format=sum(f == 1.0 for f in fmt) / n,
        mean_reward=mean_total(totals),
        mean_length=sum(lengths) / n,
        seconds=time.monotonic() - started,
        language_compliance=sum(a.language_score >= COMPLIANT for a in text_stats) / n,
        language_score=sum(a.language_score for a in text_stats) / n,
        naturalness_per_100=100 * sum(flags) / n,
        repetition_penalty=sum(a.repetition_penalty for a in text_stats) / n,
    )
    records = [
        {"problem": p["problem"], "answer": g, "completion": t, "correct": v.correct, "extracted": v.extracted,
         "language_score": round(a.language_score, 4), "naturalness_violations": f}
        for p, g, t, v, a, f in zip(problems, golds, texts, verdicts, text_stats, flags, strict=True)
    ]
    log.debug("%s: accuracy %.2f, format %.2f (%d problems, %.0f s)", label, score.accuracy, score.format, n,
             score.seconds)
    return score, records


def make_heldout_callback(problems: list[dict[str, Any]], *, every: int, at_start: bool, max_new_tokens: int,
                          reward_weights: dict[str, float], reward_params: dict[str, dict[str, Any]],
                          on_record: Any, system_prompt: str | None = None) -> Any:
    """A TrainerCallback scoring ``problems`` greedily every ``every`` steps; ``on_record(step, dict)`` logs it.

    The record carries ``heldout/train_seconds``: the stage's training wall time so far, with the time spent in
    these evaluations taken out, so learning curves against time compare training cost only.
    """
    from transformers import TrainerCallback

    class HeldoutEval(TrainerCallback):
        def __init__(self) -> None:
            self.started = 0.0
            self.eval_seconds = 0.0
            self.last_step = -1

        def _evaluate(self, state: Any, model: Any, tokenizer: Any) -> None:
            if not state.is_world_process_zero or state.global_step == self.last_step:
                return
            began = time.monotonic()
            was_training = model.training
            score, _ = score_heldout(model, tokenizer, problems, label=f"step {state.global_step}",
                                     reward_weights=reward_weights, reward_params=reward_params,
                                     max_new_tokens=max_new_tokens, system_prompt=system_prompt)
            if was_training:
                model.train()
            tokenizer.padding_side = "left"
            self.last_step = state.global_step
            train_seconds = began - self.started - self.eval_seconds
            self.eval_seconds += time.monotonic() - began
            on_record(state.global_step, {
                "heldout/accuracy": score.accuracy, "heldout/format": score.format,
                "heldout/mean_reward": score.mean_reward, "heldout/mean_length": score.mean_length,
                "heldout/language_compliance": score.language_compliance,
                "heldout/naturalness_per_100": score.naturalness_per_100,
                "heldout/repetition_penalty": score.repetition_penalty,
                "heldout/n": score.n, "heldout/seconds": round(score.seconds, 2),
                "heldout/train_seconds": round(train_seconds, 2),
            })

        def on_train_begin(self, args, state, control, model=None, processing_class=None, **kwargs):  # noqa: ANN001
            self.started = time.monotonic()
            if at_start and state.global_step == 0:
                self._evaluate(state, model, processing_class)

        def on_step_end(self, args, state, control, model=None, processing_class=None, **kwargs):  # noqa: ANN001
            if state.global_step % every == 0 or state.global_step >= state.max_steps:
                self._evaluate(state, model, processing_class)

    return HeldoutEval()
