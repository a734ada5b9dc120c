"""Prompts → completions, one package for every caller: evaluation, the data commands, held-out scoring.

Backends (one file each, one line in :data:`BACKENDS`):

``transformers``  a local model on CPU or GPU, decoded by the compacting, prefix-sharing loop
                  (:mod:`polyreason.generation.decode`); the default for a model spec.
``vllm``          vLLM offline generation on GPUs (optional extra).
``endpoint``      an OpenAI-compatible server; chosen for ``http://…`` / ``https://…`` specs.

Every backend has ``generate(prompts, params, seed)`` for rendered prompt strings and
``chat(conversations, params, n=, seed=)`` for chat messages, both returning :class:`Generated` rows in
input order, and samples by one rule with one set of defaults (:class:`SamplingParams`: temperature, top-p,
no top-k)::

    from polyreason.generation import SamplingParams, make_backend
    backend = make_backend("tiny-random", batch_size=8)
    [[out]] = backend.chat([[{"role": "user", "content": "What is 2 + 3?"}]], SamplingParams(temperature=0))

Importing this package does not import torch.
"""

from __future__ import annotations

from typing import Any

from polyreason.errors import UserError
from polyreason.generation.base import Backend, Conversation, Generated, Progress, SamplingParams, texts
from polyreason.generation.endpoint import is_endpoint

BACKENDS = ("transformers", "vllm", "endpoint")
DEFAULT_BATCH = {"transformers": 16, "vllm": 512}


def backend_name(spec: str, backend: str | None = None) -> str:
    """The backend for ``spec``: ``backend`` when given (checked), else endpoint for URLs, transformers otherwise."""
    if backend is None:
        return "endpoint" if is_endpoint(spec) else "transformers"
    if backend not in BACKENDS:
        raise UserError(f"unknown backend {backend!r}; fix: use one of {', '.join(BACKENDS)}")
    if (backend == "endpoint") != is_endpoint(spec):
        raise UserError(f"backend {backend!r} does not fit model {spec!r}; fix: the endpoint backend takes an "
                        "http(s):// URL and the others a model spec (or drop --backend)")
    return backend


def make_backend(
    spec: str,
    *,
    backend: str | None = None,
    batch_size: int | None = None,
    dtype: str | None = None,
    device: str | None = None,
    trust_remote_code: bool = False,
    endpoint_model: str = "default",
    concurrency: int = 4,
    max_model_len: int | None = None,
) -> Backend:
    """Build the backend for ``spec`` (a model spec or an endpoint URL); see :func:`backend_name`.

    ``batch_size``: rows a caller hands over per call (default 16 for transformers, 512 for vLLM,
    8 × ``concurrency`` for an endpoint).  ``endpoint_model`` is the served model's name sent to an endpoint.
    """
    name = backend_name(spec, backend)
    size = batch_size or DEFAULT_BATCH.get(name)
    if name == "endpoint":
        from polyreason.generation.endpoint import EndpointBackend

        return EndpointBackend(spec, model=endpoint_model, concurrency=concurrency, batch_size=batch_size)
    if name == "vllm":
        from polyreason.generation.vllm_backend import VLLMBackend

        return VLLMBackend(spec, batch_size=size, dtype=dtype, trust_remote_code=trust_remote_code,
                           max_model_len=max_model_len)
    from polyreason.generation.transformers_backend import TransformersBackend

    return TransformersBackend.load(spec, batch_size=size, dtype=dtype, device=device,
                                    trust_remote_code=trust_remote_code)


def from_model(model: Any, tokenizer: Any, *, name: str = "model", batch_size: int = 16) -> Backend:
    """A transformers backend around a model already in memory (training's held-out scoring)."""
    from polyreason.generation.transformers_backend import TransformersBackend

    return TransformersBackend(model, tokenizer, name=name, batch_size=batch_size)


__all__ = [
    "BACKENDS",
    "Backend",
    "Conversation",
    "Generated",
    "Progress",
    "SamplingParams",
    "backend_name",
    "from_model",
    "is_endpoint",
    "make_backend",
    "texts",
]
