"""The transformers backend: batched generation on CPU or GPU with the compacting, prefix-sharing decode loop.

A batch is decoded by :func:`polyreason.generation.decode.prefix_shared_generate`: the prompt prefix the
rows share is prefilled once, and rows that produced an end-of-sequence token leave the batch and the KV
cache.  Models whose cache cannot drop rows (sliding-window or hybrid attention) go through
``model.generate`` with the same sampling rule (no top-k).  Rows are left-padded by hand, so the
tokenizer is never modified (training can share it).  Each row's completion ends at its first EOS.
"""

from __future__ import annotations

import logging
from typing import Any

from polyreason.errors import UserError
from polyreason.generation.base import Conversation, Generated, Progress, SamplingParams, repeat_generate

log = logging.getLogger(__name__)


class TransformersBackend:
    """Generation with an already loaded model and tokenizer (:meth:`load` loads them from a model spec).

    ``compact=False`` always uses ``model.generate`` (benchmarks compare the two paths).
    """

    variant_compact = "transformers/compact-prefix"
    variant_generate = "transformers/generate"

    def __init__(self, model: Any, tokenizer: Any, *, name: str = "model", batch_size: int = 16,
                 compact: bool = True):
        if batch_size < 1:
            raise UserError(f"--batch-size must be >= 1, got {batch_size}")
        self.model, self.tokenizer, self.name, self.batch_size = model, tokenizer, name, batch_size
        self.eos_ids = eos_ids(model, tokenizer)
        pad = tokenizer.pad_token_id
        self.pad_id = int(pad) if pad is not None else self.eos_ids[0]
        self.compact = compact

    @classmethod
    def load(cls, spec: str, *, batch_size: int = 16, dtype: str | None = None, device: str | None = None,
             trust_remote_code: bool = False, compact: bool = True) -> TransformersBackend:
        """Load ``spec`` (:func:`polyreason.models.load_model`) and wrap it."""
        from polyreason.models import load_model

        if batch_size < 1:
            raise UserError(f"--batch-size must be >= 1, got {batch_size}")
        log.info("loading %s", spec)
        model, tokenizer = load_model(spec, dtype=dtype, device=device, trust_remote_code=trust_remote_code)
        return cls(model, tokenizer, name=spec, batch_size=batch_size, compact=compact)

    @property
    def variant(self) -> str:
        """Part of the cache fingerprint: the two decoding paths draw random numbers differently."""
        return self.variant_compact if self.compact else self.variant_generate

    def generate(self, prompts: list[str], params: SamplingParams, seed: int,
                 progress: Progress | None = None) -> list[Generated]:
        """One completion per rendered prompt, all in one batch; deterministic for a given ``seed``."""
        import torch

        rows = self.tokenizer(prompts, add_special_tokens=False)["input_ids"]
        torch.manual_seed(seed)
        if self.compact:
            from polyreason.generation.decode import prefix_shared_generate

            out = prefix_shared_generate(
                self.model, rows, pad_id=self.pad_id, max_new_tokens=params.max_new_tokens, eos_ids=self.eos_ids,
                temperature=params.temperature, top_p=params.top_p, progress=progress,
            )
            if out is not None:
                return [self._finish(row, params.max_new_tokens) for row in out]
            log.info("this model's KV cache cannot drop finished rows; using model.generate")
            self.compact = False
            torch.manual_seed(seed)
        return [self._finish(row, params.max_new_tokens) for row in self._hf_generate(rows, params, progress)]

    def chat(self, conversations: list[Conversation], params: SamplingParams, *, n: int = 1, seed: int = 0,
             progress: Progress | None = None) -> list[list[Generated]]:
        """``n`` completions per conversation (chat template applied), ``batch_size`` conversations per batch."""
        from polyreason.prompts import format_prompt

        return repeat_generate(self, [format_prompt(self.tokenizer, c) for c in conversations], params, n, seed,
                               progress)

    def _hf_generate(self, rows: list[list[int]], params: SamplingParams,
                     progress: Progress | None) -> list[list[int]]:
        import torch

        width = max(len(r) for r in rows)
        device = self.model.device
        ids = torch.tensor([[self.pad_id] * (width - len(r)) + r for r in rows], device=device)
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=device)
        sampling: dict[str, Any] = {"do_sample": False}
        if params.temperature > 0:
            # top_k=0 disables transformers' default top-k of 50 (the sampling rule in generation.params)
            sampling = {"do_sample": True, "temperature": params.temperature, "top_p": params.top_p, "top_k": 0}
        extra = {}
        if progress is not None:
            extra["stopping_criteria"] = [_step_reporter(width, params.max_new_tokens, self.eos_ids, progress)]
        with torch.inference_mode():
            output = self.model.generate(
                input_ids=ids, attention_mask=mask, max_new_tokens=params.max_new_tokens, pad_token_id=self.pad_id,
                eos_token_id=self.eos_ids, use_cache=True, **sampling, **extra,
            )
        return output[:, width:].tolist()

    def _finish(self, row: list[int], max_new_tokens: int) -> Generated:
        stop = next((i for i, tok in enumerate(row) if tok in self.eos_ids), None)
        tokens = row if stop is None else row[:stop]
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        n_tokens = len(tokens) + (0 if stop is None else 1)
        return Generated(text, n_tokens, truncated=stop is None and len(row) >= max_new_tokens)


def _step_reporter(prompt_width: int, max_new_tokens: int, eos: list[int], progress: Progress) -> Any:
    """A stopping criterion that never stops: it reports each ``generate`` step as :func:`decode._decode` does."""
    import torch
    from transformers import StoppingCriteria

    class StepReporter(StoppingCriteria):
        def __init__(self) -> None:
            self.done: Any = None

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            step = input_ids.shape[1] - prompt_width - 1
            ended = torch.isin(input_ids[:, -1], torch.tensor(eos, device=input_ids.device))
            live = ~self.done if self.done is not None else torch.ones_like(ended)
            finished = int((ended & live).sum())
            tokens = int(live.sum())
            self.done = ended if self.done is None else (self.done | ended)
            progress((tokens + finished * (max_new_tokens - step - 1)) / max_new_tokens, tokens)
            return torch.zeros_like(ended)

    return StepReporter()


def eos_ids(model: Any, tokenizer: Any) -> list[int]:
    """End-of-sequence ids: the model's generation config first, then the tokenizer's."""
    ids: list[int] = []
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for value in (configured, tokenizer.eos_token_id):
        for item in value if isinstance(value, list | tuple) else [value]:
            if item is not None and int(item) not in ids:
                ids.append(int(item))
    if not ids:
        raise UserError("the tokenizer has no end-of-sequence token; fix: use a chat/instruct model's tokenizer")
    return ids
