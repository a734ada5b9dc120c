"""``reward_model``: an outcome reward model -- a sequence classifier scoring each (prompt, completion).

The input is what TRL's GRPOTrainer feeds a reward model passed as ``reward_funcs=<PreTrainedModel>``: the
prompt messages plus the completion as the assistant turn, rendered by the reward model's own chat template,
padded on the right, score = logit 0 of the last real token.  We run it as a reward callable instead of
handing TRL the model so that it can be normalised, logged under the name ``reward_model``, mixed in a
composite, and used by ``polyreason score`` without a trainer (TRL's path would also need the runner to pass
``reward_processing_classes``).  What TRL's path has and this one lacks: DeepSpeed/FSDP preparation of the
reward model; here every process holds a whole copy on its own device.
"""

from __future__ import annotations

import math
import threading
from typing import Any

from polyreason.errors import UserError
from polyreason.rewards.hf import LazyModel, check_model_spec, model_logits, render
from polyreason.rewards.inputs import log_mean
from polyreason.rewards.messages import conversation

NORMALIZE = ("none", "fixed", "running")


class RunningStats:
    """Running mean and standard deviation of every value seen (Welford), safe across threads."""

    def __init__(self) -> None:
        self.n, self.mean, self._m2 = 0, 0.0, 0.0
        self._lock = threading.Lock()

    def update(self, values: list[float]) -> tuple[float, float]:
        """Add ``values``; return (mean, std) over everything seen so far, these values included."""
        with self._lock:
            for x in values:
                self.n += 1
                delta = x - self.mean
                self.mean += delta / self.n
                self._m2 += delta * (x - self.mean)
            std = math.sqrt(self._m2 / self.n) if self.n else 0.0
            return self.mean, std


def normalise(raw: list[float], how: str, *, mean: float, std: float, stats: RunningStats | None,
              clip: float | None) -> list[float]:
    """``none``: r = s; ``fixed``: r = (s − mean)/std; ``running``: r = (s − μ)/max(σ, 1e-6) with μ, σ over
    every score seen so far; then clipped to [−clip, clip] when ``clip`` is set."""
    if how == "fixed":
        out = [(s - mean) / std for s in raw]
    elif how == "running":
        assert stats is not None
        mu, sigma = stats.update(raw)
        out = [(s - mu) / max(sigma, 1e-6) for s in raw]
    else:
        out = list(raw)
    if clip is not None:
        out = [min(clip, max(-clip, r)) for r in out]
    return out


def reward_model(
    *,
    model: str,
    device: str = "policy",
    dtype: str = "auto",
    batch_size: int = 8,
    max_length: int | None = None,
    normalize: str = "none",
    mean: float = 0.0,
    std: float = 1.0,
    clip: float | None = None,
    trust_remote_code: bool = False,
):
    """Outcome reward model score, r = norm(s), s = logit₀(RM(chat_template(prompt + completion))).

    ``model``: hub id or local directory of a sequence-classification model (one label: a reward model such as
    ``Skywork/Skywork-Reward-V2-Qwen3-0.6B``).  ``device``: ``policy`` (the trainer's device for this process)
    or ``cpu``/``cuda:1``/….  ``batch_size`` pairs per forward pass; ``max_length`` truncates from the left
    (None = never, as TRL).  ``normalize``: ``none`` (raw logit), ``fixed`` ((s − mean)/std with the given
    ``mean``/``std``, e.g. measured on a held-out set) or ``running`` ((s − μ)/σ over every score this process
    has seen, this batch included); ``clip`` bounds the result to [−clip, clip].  Logs ``reward_model/raw``
    (mean raw logit).  The model loads on the first call, once.
    Example: two completions with logits 2.0 and −1.0 -> [2.0, −1.0]; with normalize=fixed, mean=0.5,
    std=1.5 -> [1.0, −1.0].
    """
    check_model_spec("reward_model", model)
    if normalize not in NORMALIZE:
        raise UserError(f"reward_model: normalize={normalize!r}; fix: one of {', '.join(NORMALIZE)}")
    if std <= 0 or batch_size <= 0 or (max_length is not None and max_length <= 0) or (clip is not None and clip <= 0):
        raise UserError("reward_model: std, batch_size, max_length and clip must be > 0; fix the parameter")
    lazy = LazyModel(model, head="sequence_classification", device=device, dtype=dtype,
                     trust_remote_code=trust_remote_code, num_labels=None)
    stats = RunningStats() if normalize == "running" else None

    def reward(prompts, completions, **kwargs: Any) -> list[float | None]:
        rm, tok = lazy.get()
        if prompts is None:
            prompts = [None] * len(completions)
        texts = [render(tok, conversation(p, c)) for p, c in zip(prompts, completions, strict=True)]
        raw = score_texts(rm, tok, texts, batch_size=batch_size, max_length=max_length)
        log_mean(kwargs, "reward_model/raw", raw)
        out: list[float | None] = list(normalise(raw, normalize, mean=mean, std=std, stats=stats, clip=clip))
        return out

    return reward


def score_texts(model: Any, tokenizer: Any, texts: list[str], *, batch_size: int, max_length: int | None) -> list[float]:
    """Logit 0 of a sequence classifier for each text, ``batch_size`` texts per forward pass."""
    scores: list[float] = []
    tokenizer.truncation_side = "left"
    for start in range(0, len(texts), batch_size):
        enc = tokenizer(texts[start:start + batch_size], return_tensors="pt", padding=True, padding_side="right",
                        add_special_tokens=False, truncation=max_length is not None, max_length=max_length)
        scores.extend(model_logits(model, dict(enc))[:, 0].tolist())
    return scores
