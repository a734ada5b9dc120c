"""The endpoint backend: a client of an OpenAI-compatible server (vLLM, llama.cpp, SGLang, OpenAI, …).

Conversations go to ``/v1/chat/completions`` (the server applies the model's chat template); already
rendered prompts go to ``/v1/completions``.  Requests run ``concurrency`` at a time; connection errors and
HTTP 429/5xx are retried with exponential backoff.  The API key comes from the environment variable named by
``api_key_env`` (default ``OPENAI_API_KEY``; nothing is sent when it is unset).

The key stays with the host it was meant for: the URL is checked before any request, plain ``http://`` to a
host other than this machine is logged as a warning, and **redirects are never followed** — urllib would
re-send the ``Authorization`` header to whatever host a 3xx names and turn the POST into a GET.  A redirect
is a :class:`~polyreason.errors.UserError` that names its ``Location``, so the user can pass the final URL.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from polyreason.errors import UserError
from polyreason.generation.base import Conversation, Generated, Progress, SamplingParams

log = logging.getLogger(__name__)

RETRIED_STATUS = (429, 500, 502, 503, 504)


def is_endpoint(spec: str) -> bool:
    """True when a model spec names a server (``http://…`` or ``https://…``)."""
    return spec.startswith(("http://", "https://"))


def endpoint_base(url: str) -> str:
    """The API root (``…/v1``) of an endpoint URL, validated; warns about plain http to another machine.

    Accepts ``http://host:8000``, ``http://host:8000/v1`` or the full ``…/v1/chat/completions``.
    """
    try:
        parts = urllib.parse.urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise UserError(f"bad endpoint URL {url!r} ({exc}); fix: e.g. http://127.0.0.1:8000/v1") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserError(f"bad endpoint URL {url!r}: it needs http:// or https:// and a host; fix: e.g. "
                        "http://127.0.0.1:8000/v1")
    if parts.query or parts.fragment:
        raise UserError(f"endpoint URL {url!r} has a query or fragment; fix: pass only scheme, host, port and path")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        log.warning("endpoint %s is plain http to another machine: prompts, completions and any API key travel "
                    "unencrypted; fix: use https://", parts.hostname)
    path = parts.path.rstrip("/")
    for tail in ("/chat/completions", "/completions"):
        path = path.removesuffix(tail)
    if not path.endswith("/v1"):
        path += "/v1"
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """Every 3xx is an error: following it would carry the Authorization header (and the body) elsewhere."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001, ANN201 - urllib's API
        raise UserError(
            f"endpoint {req.full_url} answered HTTP {code} redirecting to {newurl}; polyreason does not follow "
            "redirects (the API key would go with the request); fix: pass the final URL with --model"
        )


class EndpointBackend:
    """Client of one OpenAI-compatible server for one served model name (``model``)."""

    tokenizer = None  # the server renders conversations

    def __init__(self, url: str, *, model: str = "default", concurrency: int = 4, timeout: float = 120.0,
                 retries: int = 3, api_key_env: str = "OPENAI_API_KEY", batch_size: int | None = None):
        if concurrency < 1:
            raise UserError(f"--concurrency must be >= 1, got {concurrency}")
        self.base = endpoint_base(url)
        self.url = self.base + "/chat/completions"
        self.model, self.name, self.variant = model, f"{model}@{self.url}", f"endpoint/{model}"
        self.concurrency, self.timeout, self.retries = concurrency, timeout, retries
        self.batch_size = batch_size or 8 * concurrency
        self.api_key = os.environ.get(api_key_env)
        self._opener = urllib.request.build_opener(_RefuseRedirects())
        self._lock = threading.Lock()

    def _post(self, url: str, payload: dict) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = json.dumps(payload).encode("utf-8")
        delay = 1.0
        for attempt in range(self.retries + 1):
            req = urllib.request.Request(url, data=data, headers=headers, method="POST")
            try:
                with self._opener.open(req, timeout=self.timeout) as resp:
                    return json.loads(resp.read().decode("utf-8"))
            except urllib.error.HTTPError as exc:
                body = exc.read().decode("utf-8", "replace")[:300]
                if exc.code not in RETRIED_STATUS or attempt == self.retries:
                    raise UserError(f"endpoint {url} answered HTTP {exc.code}: {body}; fix: check the URL, "
                                    "the --endpoint-model name and the API key") from exc
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                if attempt == self.retries:
                    raise UserError(f"cannot reach {url}: {exc}; fix: start the server or fix the URL") from exc
            except json.JSONDecodeError as exc:
                raise UserError(f"endpoint {url} did not answer JSON ({exc}); fix: is it an OpenAI-compatible "
                                "server?") from exc
            log.warning("endpoint request failed (attempt %d), retrying in %.1fs", attempt + 1, delay)
            time.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    def _ask(self, kind: str, body: Any, n: int, params: SamplingParams, seed: int) -> list[Generated]:
        key, url = ("messages", self.url) if kind == "chat" else ("prompt", self.base + "/completions")
        payload = {"model": self.model, key: body, "n": n, "max_tokens": params.max_new_tokens,
                   "temperature": params.temperature, "top_p": params.top_p, "seed": seed}
        reply = self._post(url, payload)
        try:
            choices = reply["choices"]
            texts = [(c["message"]["content"] if kind == "chat" else c["text"]) or "" for c in choices]
            reasons = [c.get("finish_reason") for c in choices]
        except (KeyError, TypeError, AttributeError) as exc:
            raise UserError(f"endpoint {url} sent no choices: {str(reply)[:200]}; fix: is it an "
                            "OpenAI-compatible server?") from exc
        used = (reply.get("usage") or {}).get("completion_tokens") if isinstance(reply, dict) else None
        tokens = used if len(texts) == 1 and isinstance(used, int) else None  # usage is per request, not choice
        out = [Generated(t, tokens, truncated=r == "length") for t, r in zip(texts, reasons, strict=True)]
        if len(out) < n:  # servers that ignore n: ask again for the rest
            out.extend(self._ask(kind, body, n - len(out), params, seed + len(out)))
        return out[:n]

    def _many(self, kind: str, bodies: list[Any], params: SamplingParams, n: int, seed: int,
              progress: Progress | None) -> list[list[Generated]]:
        def one(i: int, body: Any) -> list[Generated]:
            out = self._ask(kind, body, n, params, seed + i)
            if progress is not None:
                with self._lock:
                    progress(float(len(out)), sum(g.n_tokens or 0 for g in out))
            return out

        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            futures = [pool.submit(one, i, body) for i, body in enumerate(bodies)]
            return [f.result() for f in futures]

    def chat(self, conversations: list[Conversation], params: SamplingParams, *, n: int = 1, seed: int = 0,
             progress: Progress | None = None) -> list[list[Generated]]:
        """One request per conversation (seed ``seed + i``), ``concurrency`` at a time; input order kept."""
        return self._many("chat", conversations, params, n, seed, progress)

    def generate(self, prompts: list[str], params: SamplingParams, seed: int,
                 progress: Progress | None = None) -> list[Generated]:
        """Rendered prompts through ``/v1/completions`` (the caller applied the chat template)."""
        return [out[0] for out in self._many("completions", prompts, params, 1, seed, progress)]
