"""``process``: a process reward model (PRM) scoring every reasoning step, in the style of Qwen2.5-Math-PRM.

Qwen2.5-Math-PRM's convention (its model card): steps are separated by blank lines; a special token
``<extra_0>`` follows each step; the conversation is (system, user = the problem, assistant = the steps with
their separators) rendered by the PRM's chat template; the reward of step k is the probability of the
positive class of the token-classification head at the k-th separator.  Here the steps are those of the
completion's ``<think>`` block, and one number per completion is their ``min``, ``mean`` or ``last``.

Qwen's own checkpoints ship their head as remote code: use them with ``trust_remote_code: true`` and
``head: auto``.  A plain ``AutoModelForTokenClassification`` checkpoint (``head: token_classification``,
the default) works as is: two labels -> softmax probability of label 1; one label -> sigmoid.
"""

from __future__ import annotations

from typing import Any

from polyreason.errors import UserError
from polyreason.rewards.hf import LazyModel, check_model_spec, model_logits, render
from polyreason.rewards.inputs import completion_text, log_mean
from polyreason.rewards.messages import prompt_text
from polyreason.text.region import split_reasoning

AGGREGATIONS = ("min", "mean", "last")
QWEN_PRM_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."


def split_steps(completion: str, *, separator: str = "\n\n", include_answer: bool = False) -> list[str]:
    """The reasoning steps of a completion: its ``<think>`` block cut at ``separator`` (blank lines), empty
    pieces dropped; the text after ``</think>`` is one more step when ``include_answer``.  A completion
    without ``</think>`` is all reasoning.

    >>> split_steps("<think>2+2 is 4.\\n\\nSo 4.</think> \\\\boxed{4}")
    ['2+2 is 4.', 'So 4.']
    """
    reasoning, answer = split_reasoning(completion)
    steps = [s.strip() for s in reasoning.split(separator)]
    if include_answer:
        steps.append(answer.strip())
    return [s for s in steps if s]


def aggregate(values: list[float], how: str) -> float:
    """min | mean | last of the step rewards (a non-empty list)."""
    if how == "min":
        return min(values)
    if how == "mean":
        return sum(values) / len(values)
    return values[-1]


def process(
    *,
    model: str,
    aggregation: str = "min",
    step_token: str = "<extra_0>",
    step_separator: str = "\n\n",
    include_answer: bool = False,
    system: str | None = QWEN_PRM_SYSTEM,
    empty: float | None = 0.0,
    head: str = "token_classification",
    device: str = "policy",
    dtype: str = "auto",
    batch_size: int = 8,
    max_length: int | None = 4096,
    trust_remote_code: bool = False,
):
    """Process reward, r = agg_k p_k with p_k = P(step k is correct) at the k-th ``step_token``; agg =
    ``aggregation`` (``min``: the weakest step decides; ``mean``; ``last``).

    Steps: :func:`split_steps` (``<think>`` block cut at ``step_separator``; ``include_answer`` adds the
    text after ``</think>``).  PRM input: ``system`` (Qwen's default; None = no system turn), the user turn
    of the prompt, and the steps each followed by ``step_token`` as the assistant turn.  A completion with no
    steps scores ``empty`` (0.0; None leaves it out of the sum).  Truncation keeps the last ``max_length``
    tokens, so late steps are always scored; a step whose separator was cut off is not.  Logs
    ``process/steps`` (mean steps scored) and ``process/empty`` (completions without steps).
    Example: step probabilities [0.9, 0.2, 0.8] -> min 0.2, mean 0.633, last 0.8.
    """
    check_model_spec("process", model)
    if aggregation not in AGGREGATIONS:
        raise UserError(f"process: aggregation={aggregation!r}; fix: one of {', '.join(AGGREGATIONS)}")
    if not step_token or not step_separator:
        raise UserError("process: step_token and step_separator must be non-empty; fix: e.g. step_token: <extra_0>")
    if batch_size <= 0 or (max_length is not None and max_length <= 0):
        raise UserError("process: batch_size and max_length must be > 0; fix the parameter")
    lazy = LazyModel(model, head=head, device=device, dtype=dtype, trust_remote_code=trust_remote_code)

    def reward(prompts, completions, **kwargs: Any) -> list[float | None]:
        prm, tok = lazy.get()
        token_id = step_token_id(tok, step_token)
        if prompts is None:
            prompts = [None] * len(completions)
        # a separator the policy wrote itself would add a step: it is removed from the text first
        steps = [split_steps(completion_text(c).replace(step_token, ""), separator=step_separator,
                             include_answer=include_answer) for c in completions]
        texts = {i: render(tok, prm_messages(prompt_text(p), s, step_token, system))
                 for i, (p, s) in enumerate(zip(prompts, steps, strict=True)) if s}
        probs = step_probabilities(prm, tok, list(texts.values()), token_id, batch_size=batch_size,
                                   max_length=max_length)
        per_completion = dict(zip(texts, probs, strict=True))
        out: list[float | None] = []
        for i in range(len(completions)):
            values = per_completion.get(i)
            out.append(aggregate(values, aggregation) if values else empty)
        log_mean(kwargs, "process/steps", [float(len(v)) for v in per_completion.values()] or [0.0])
        log_mean(kwargs, "process/empty", [float(not per_completion.get(i)) for i in range(len(completions))])
        return out

    return reward


def prm_messages(problem: str, steps: list[str], step_token: str, system: str | None) -> list[dict[str, str]]:
    """(system, user, assistant) with every step followed by ``step_token`` -- Qwen2.5-Math-PRM's layout."""
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": problem})
    messages.append({"role": "assistant", "content": "".join(s + step_token for s in steps)})
    return messages


def step_token_id(tokenizer: Any, step_token: str) -> int:
    """The id of ``step_token``; a UserError when the PRM's tokenizer does not write it as one token."""
    ids = tokenizer.encode(step_token, add_special_tokens=False)
    if len(ids) != 1:
        raise UserError(f"process: step_token {step_token!r} is {len(ids)} tokens for this PRM's tokenizer, not "
                        "one; fix: set step_token to the separator token the PRM was trained with")
    return ids[0]


def step_probabilities(model: Any, tokenizer: Any, texts: list[str], token_id: int, *, batch_size: int,
                       max_length: int | None) -> list[list[float]]:
    """For each text, P(positive) at every position holding ``token_id`` (left-truncated to max_length)."""
    import torch

    out: list[list[float]] = []
    tokenizer.truncation_side = "left"
    for start in range(0, len(texts), batch_size):
        enc = tokenizer(texts[start:start + batch_size], return_tensors="pt", padding=True, padding_side="right",
                        add_special_tokens=False, truncation=max_length is not None, max_length=max_length)
        logits = model_logits(model, dict(enc))
        if logits.dim() != 3 or logits.shape[-1] not in (1, 2):
            raise UserError(f"process: the PRM's head gives logits of shape {tuple(logits.shape)}; fix: use a "
                            "token-classification model with 1 or 2 labels per token")
        positive = torch.sigmoid(logits[..., 0]) if logits.shape[-1] == 1 else logits.softmax(-1)[..., 1]
        marks = (enc["input_ids"] == token_id) & enc["attention_mask"].bool()
        out.extend(positive[i][marks[i].to(positive.device)].tolist() for i in range(len(marks)))
    return out
