"""Generation backends for evaluation: batched transformers (CPU or GPU) and vLLM (GPU, optional).

Both take already-rendered prompt strings and return :class:`Generated` rows in the same order.  The
transformers backend pads on the left, reuses the KV cache (``generate`` does by default), stops a batch as
soon as every row has produced an end-of-sequence token, and reads each row's length up to its first EOS.
Requests are sorted by prompt length by the caller (:mod:`polyreason.evaluate.runner`) so batches waste
little padding.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from polyreason.errors import UserError

log = logging.getLogger(__name__)

BACKENDS = ("transformers", "vllm")
VLLM_INSTALL = "pip install 'polyreason[vllm]'"


@dataclass(frozen=True)
class GenerationParams:
    """Sampling settings; every field is part of the result-cache fingerprint.

    ``temperature`` 0 means greedy decoding.  The defaults are the Open-RS / lighteval evaluation settings
    (temperature 0.6, top-p 0.95) with a CPU-sized ``max_new_tokens``.
    """

    temperature: float = 0.6
    top_p: float = 0.95
    max_new_tokens: int = 1024
    seed: int = 0

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise UserError(f"--temperature must be >= 0, got {self.temperature}; fix: use 0 for greedy")
        if not 0 < self.top_p <= 1:
            raise UserError(f"--top-p must be in (0, 1], got {self.top_p}; fix: e.g. --top-p 0.95")
        if self.max_new_tokens < 1:
            raise UserError(f"--max-new-tokens must be >= 1, got {self.max_new_tokens}")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for summaries and fingerprints)."""
        return asdict(self)


@dataclass(frozen=True)
class Generated:
    """One completion: its text, generated token count and whether it stopped at the length limit."""

    completion: str
    n_tokens: int
    truncated: bool


class Backend(Protocol):
    """What the runner needs from a backend."""

    name: str
    tokenizer: Any
    batch_size: int

    def generate(self, prompts: list[str], params: GenerationParams, seed: int) -> list[Generated]:
        """Complete each prompt once, deterministically for a given ``seed``."""
        ...


class TransformersBackend:
    """Batched generation with left padding; works on CPU and GPU.

    ``compact=True`` (default) decodes with :func:`polyreason.evaluate.decode.prefix_shared_generate`: the
    prompt prefix shared by the batch is prefilled once, and finished rows are dropped from the batch and the
    KV cache; models whose cache cannot do that use ``model.generate``.
    """

    name = "transformers"

    def __init__(
        self,
        model_spec: str,
        *,
        batch_size: int = 16,
        dtype: str | None = None,
        device: str | None = None,
        trust_remote_code: bool = False,
        compact: bool = True,
    ):
        from polyreason.models import load_model

        if batch_size < 1:
            raise UserError(f"--batch-size must be >= 1, got {batch_size}")
        self.model, self.tokenizer = load_model(
            model_spec, dtype=dtype, device=device, trust_remote_code=trust_remote_code
        )
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.batch_size = batch_size
        self.eos_ids = _eos_ids(self.model, self.tokenizer)
        self.compact = compact
        # part of the cache fingerprint: the two decoding paths draw random numbers differently
        self.variant = "transformers/compact-prefix" if compact else "transformers/generate"

    def generate(self, prompts: list[str], params: GenerationParams, seed: int) -> list[Generated]:
        """Generate one completion per prompt in a single padded batch."""
        import torch

        torch.manual_seed(seed)
        if self.compact:
            from polyreason.evaluate.decode import prefix_shared_generate

            rows = prefix_shared_generate(
                self.model, self.tokenizer(prompts, add_special_tokens=False)["input_ids"],
                pad_id=self.tokenizer.pad_token_id, max_new_tokens=params.max_new_tokens, eos_ids=self.eos_ids,
                temperature=params.temperature, top_p=params.top_p,
            )
            if rows is not None:
                return [self._finish(row, params.max_new_tokens) for row in rows]
            log.info("this model's KV cache cannot drop finished rows; using model.generate")
            self.compact = False
            torch.manual_seed(seed)
        encoded = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        encoded = {k: v.to(self.model.device) for k, v in encoded.items()}
        sampling: dict[str, Any] = {"do_sample": False}
        if params.temperature > 0:
            # top_k=0 disables transformers' default top-k of 50, matching vLLM/lighteval sampling
            sampling = {"do_sample": True, "temperature": params.temperature, "top_p": params.top_p, "top_k": 0}
        with torch.inference_mode():
            output = self.model.generate(
                **encoded,
                max_new_tokens=params.max_new_tokens,
                pad_token_id=self.tokenizer.pad_token_id,
                eos_token_id=self.eos_ids,
                use_cache=True,
                **sampling,
            )
        new_tokens = output[:, encoded["input_ids"].shape[1] :].tolist()
        return [self._finish(row, params.max_new_tokens) for row in new_tokens]

    def _finish(self, row: list[int], max_new_tokens: int) -> Generated:
        stop = next((i for i, tok in enumerate(row) if tok in self.eos_ids), None)
        tokens = row if stop is None else row[:stop]
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        n_tokens = len(tokens) + (0 if stop is None else 1)
        return Generated(text, n_tokens, truncated=stop is None and len(row) >= max_new_tokens)


def _eos_ids(model: Any, tokenizer: Any) -> list[int]:
    ids: list[int] = []
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for value in (configured, tokenizer.eos_token_id):
        for item in value if isinstance(value, list | tuple) else [value]:
            if item is not None and int(item) not in ids:
                ids.append(int(item))
    if not ids:
        raise UserError("the tokenizer has no end-of-sequence token; fix: use a chat/instruct model's tokenizer")
    return ids


class VLLMBackend:
    """vLLM offline generation (GPUs); import-guarded: vLLM is an optional extra."""

    name = "vllm"

    def __init__(
        self,
        model_spec: str,
        *,
        batch_size: int = 512,
        dtype: str | None = None,
        trust_remote_code: bool = False,
        max_model_len: int | None = None,
        gpu_memory_utilization: float = 0.85,
    ):
        vllm = import_vllm()
        from polyreason.models import load_tokenizer, resolve_model_path

        path = resolve_model_path(model_spec)
        self.tokenizer = load_tokenizer(model_spec, trust_remote_code=trust_remote_code)
        self.batch_size = batch_size
        kwargs: dict[str, Any] = {
            "model": path,
            "dtype": dtype or "auto",
            "trust_remote_code": trust_remote_code,
            "gpu_memory_utilization": gpu_memory_utilization,
        }
        if max_model_len:
            kwargs["max_model_len"] = max_model_len
        self._vllm = vllm
        self.llm = vllm.LLM(**kwargs)

    def generate(self, prompts: list[str], params: GenerationParams, seed: int) -> list[Generated]:
        """Generate with vLLM's continuous batching; each prompt gets its own derived seed."""
        sampling = [
            self._vllm.SamplingParams(
                temperature=params.temperature,
                top_p=params.top_p if params.temperature > 0 else 1.0,
                max_tokens=params.max_new_tokens,
                seed=seed + i,
            )
            for i in range(len(prompts))
        ]
        # token ids, not text: the chat template already holds BOS/special tokens, and vLLM would add BOS again
        token_prompts = [
            {"prompt_token_ids": self.tokenizer(p, add_special_tokens=False)["input_ids"]} for p in prompts
        ]
        outputs = self.llm.generate(token_prompts, sampling, use_tqdm=False)
        results = []
        for out in outputs:
            best = out.outputs[0]
            results.append(Generated(best.text, len(best.token_ids), truncated=best.finish_reason == "length"))
        return results


def import_vllm() -> Any:
    """Import vLLM or raise a UserError naming the install command."""
    try:
        import vllm
    except ImportError as exc:
        raise UserError(
            f"the vllm backend needs vLLM, which is not installed; fix: `{VLLM_INSTALL}` on a CUDA machine, "
            "or use --backend transformers"
        ) from exc
    return vllm


def make_backend(name: str, model_spec: str, **kwargs: Any) -> Backend:
    """Build the backend called ``name`` for ``model_spec``."""
    if name == "transformers":
        kwargs.pop("max_model_len", None)
        return TransformersBackend(model_spec, **kwargs)
    if name == "vllm":
        kwargs.pop("device", None)
        return VLLMBackend(model_spec, **kwargs)
    raise UserError(f"unknown backend {name!r}; fix: use one of {', '.join(BACKENDS)}")
