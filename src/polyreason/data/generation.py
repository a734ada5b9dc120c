"""Text generation for the data pipeline: a local transformers model or an OpenAI-compatible endpoint.

Both backends expose one method, ``chat(conversations, *, n, max_new_tokens, temperature, top_p, seed)``,
returning ``n`` completions per conversation.  :func:`make_generator` picks the backend from the model string:
``http://…`` / ``https://…`` is an endpoint (``/v1/chat/completions`` is appended as needed), anything else is a
:func:`polyreason.models.load_model` spec (``tiny-random``, ``smollm2-135m``, a hub id or a local directory).
"""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from polyreason.errors import UserError

log = logging.getLogger(__name__)
Conversation = list[dict[str, str]]


class Generator(Protocol):
    """Anything that turns chat conversations into completions."""

    name: str

    def chat(self, conversations: list[Conversation], *, n: int = 1, max_new_tokens: int = 256,
             temperature: float = 0.0, top_p: float = 1.0, seed: int = 0) -> list[list[str]]:
        """``n`` completions for each conversation (same order)."""
        ...


class TransformersGenerator:
    """Batched ``model.generate`` on a local model; sampling is seeded per batch (deterministic on CPU)."""

    def __init__(self, spec: str, *, batch_size: int = 8, dtype: str | None = None, device: str | None = None):
        from polyreason.models import load_model

        self.name = spec
        self.batch_size = max(1, batch_size)
        self.model, self.tokenizer = load_model(spec, dtype=dtype, device=device)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    def chat(self, conversations: list[Conversation], *, n: int = 1, max_new_tokens: int = 256,
             temperature: float = 0.0, top_p: float = 1.0, seed: int = 0) -> list[list[str]]:
        """Generate ``n`` completions per conversation, ``batch_size`` prompts at a time."""
        import torch

        from polyreason.prompts import format_prompt

        texts = [format_prompt(self.tokenizer, conv) for conv in conversations]
        out: list[list[str]] = []
        for start in range(0, len(texts), self.batch_size):
            chunk = texts[start:start + self.batch_size]
            enc = self.tokenizer(chunk, return_tensors="pt", padding=True, add_special_tokens=False)
            enc = {k: v.to(self.model.device) for k, v in enc.items()}
            torch.manual_seed(seed + start)
            kwargs: dict[str, Any] = {"max_new_tokens": max_new_tokens, "num_return_sequences": n,
                                      "pad_token_id": self.tokenizer.pad_token_id}
            if temperature > 0:
                kwargs.update(do_sample=True, temperature=temperature, top_p=top_p)
            else:
                kwargs.update(do_sample=False)
            with torch.no_grad():
                seqs = self.model.generate(**enc, **kwargs)
            new = seqs[:, enc["input_ids"].shape[1]:]
            decoded = self.tokenizer.batch_decode(new, skip_special_tokens=True)
            out.extend(decoded[i * n:(i + 1) * n] for i in range(len(chunk)))
        return out


class EndpointGenerator:
    """Client of an OpenAI-compatible ``/v1/chat/completions`` endpoint (vLLM, llama.cpp, OpenAI, …).

    Requests run ``concurrency`` at a time; transient failures (connection errors, HTTP 429/5xx) are retried
    ``retries`` times with exponential backoff.  The API key is read from the environment variable named by
    ``api_key_env`` (default ``OPENAI_API_KEY``; none is sent if it is unset).
    """

    def __init__(self, url: str, *, model: str = "default", concurrency: int = 4, timeout: float = 120.0,
                 retries: int = 3, api_key_env: str = "OPENAI_API_KEY"):
        url = url.rstrip("/")
        if not url.endswith("/chat/completions"):
            url = url + ("/chat/completions" if url.endswith("/v1") else "/v1/chat/completions")
        self.url, self.model, self.name = url, model, f"{model}@{url}"
        self.concurrency, self.timeout, self.retries = max(1, concurrency), timeout, retries
        self.api_key = os.environ.get(api_key_env)

    def _post(self, payload: dict) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = json.dumps(payload).encode("utf-8")
        delay = 1.0
        for attempt in range(self.retries + 1):
            req = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    return json.loads(resp.read().decode("utf-8"))
            except urllib.error.HTTPError as exc:
                body = exc.read().decode("utf-8", "replace")[:300]
                if exc.code not in (429, 500, 502, 503, 504) or attempt == self.retries:
                    raise UserError(f"endpoint {self.url} answered HTTP {exc.code}: {body}; fix: check the URL, "
                                    "the --endpoint-model name and the API key") from exc
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                if attempt == self.retries:
                    raise UserError(f"cannot reach {self.url}: {exc}; fix: start the server or fix the URL") from exc
            log.warning("endpoint request failed (attempt %d), retrying in %.1fs", attempt + 1, delay)
            time.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    def _one(self, conv: Conversation, n: int, max_new_tokens: int, temperature: float, top_p: float,
             seed: int) -> list[str]:
        payload = {"model": self.model, "messages": conv, "n": n, "max_tokens": max_new_tokens,
                   "temperature": temperature, "top_p": top_p, "seed": seed}
        reply = self._post(payload)
        try:
            texts = [c["message"]["content"] or "" for c in reply["choices"]]
        except (KeyError, TypeError) as exc:
            raise UserError(f"endpoint {self.url} sent no choices: {str(reply)[:200]}; fix: is it an "
                            "OpenAI-compatible chat endpoint?") from exc
        while len(texts) < n:  # servers that ignore n: ask again for the rest
            texts.extend(self._one(conv, n - len(texts), max_new_tokens, temperature, top_p, seed + len(texts)))
        return texts[:n]

    def chat(self, conversations: list[Conversation], *, n: int = 1, max_new_tokens: int = 256,
             temperature: float = 0.0, top_p: float = 1.0, seed: int = 0) -> list[list[str]]:
        """Send one request per conversation, ``concurrency`` at a time (results keep input order)."""
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            futures = [pool.submit(self._one, conv, n, max_new_tokens, temperature, top_p, seed + i)
                       for i, conv in enumerate(conversations)]
            return [f.result() for f in futures]


def make_generator(model: str, *, endpoint_model: str = "default", batch_size: int = 8,
                   concurrency: int = 4, dtype: str | None = None, device: str | None = None) -> Generator:
    """An :class:`EndpointGenerator` for URLs, else a :class:`TransformersGenerator` for a model spec."""
    if model.startswith(("http://", "https://")):
        return EndpointGenerator(model, model=endpoint_model, concurrency=concurrency)
    return TransformersGenerator(model, batch_size=batch_size, dtype=dtype, device=device)
