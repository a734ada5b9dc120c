"""Test helpers for the model-based rewards: a 127.0.0.1 OpenAI-compatible judge stub and tiny random
classifier models (sequence and token classification) with the tiny-random tokenizer."""

from __future__ import annotations

import json
import re
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from http_stub import JsonHandler, chat_reply, serve

SOUND = "<think>\nWe add the two numbers: 2 + 2 = 4.\n\nSo the total is 4.\n</think>\nThe answer is \\boxed{4}."
UNSOUND = "<think>\nTwo and two make five, clearly.\n</think>\nThe answer is \\boxed{5}."


def _between(text: str, start: str, end: str) -> str:
    m = re.search(re.escape(start) + r"\n(.*?)\n" + re.escape(end), text, re.DOTALL)
    return m.group(1) if m else ""


class JudgeStub:
    """Grades by reading the rubric it receives: 9/10 when the response boxes the reference answer and shows
    an equation, else 2/10.  ``mode`` = "json" answers {"score": N}, "garbage" answers without a score;
    ``delay`` seconds per request.  Records requests, headers and the peak number in flight."""

    def __init__(self, mode: str = "text", delay: float = 0.0):
        self.mode, self.delay = mode, delay
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.in_flight = self.peak = 0
        self._lock = threading.Lock()

    def grade(self, user: str) -> int:
        response = _between(user, "[Response]", "[End of response]")
        reference = _between(user, "[Reference answer]", "[End of reference answer]").strip()
        return 9 if f"\\boxed{{{reference}}}" in response and "=" in response else 2

    def reply(self, payload: dict) -> str:
        user = next(m["content"] for m in payload["messages"] if m["role"] == "user")
        score = self.grade(user)
        if self.mode == "json":
            return json.dumps({"reason": "checked", "score": score})
        if self.mode == "garbage":
            return "I would rather not say."
        return f"The steps were checked against the reference.\nScore: {score}/10"

    def handler(self):
        stub = self

        class Handler(JsonHandler):
            seen: list[dict] = []

            def do_POST(self):  # noqa: N802 - http.server API
                entry = self.record()
                with stub._lock:
                    stub.requests.append(entry["body"])
                    stub.headers.append(entry["headers"])
                    stub.in_flight += 1
                    stub.peak = max(stub.peak, stub.in_flight)
                try:
                    time.sleep(stub.delay)
                    self.reply(chat_reply(stub.reply(entry["body"])))
                finally:
                    with stub._lock:
                        stub.in_flight -= 1

        return Handler


@contextmanager
def judge_server(mode: str = "text", delay: float = 0.0):
    """Serve a :class:`JudgeStub` on 127.0.0.1 (a free port); yields (stub, base_url ending in /v1)."""
    stub = JudgeStub(mode, delay)
    with serve(stub.handler()) as url:
        yield stub, url + "/v1"


def tiny_classifier(directory: Path, head: str, num_labels: int, extra_tokens: tuple[str, ...] = ()) -> str:
    """Save a tiny random Llama classifier (``head`` = "sequence" or "token") with the tiny-random tokenizer
    (plus ``extra_tokens`` as special tokens) into ``directory``; returns the directory."""
    import torch
    from transformers import LlamaConfig, LlamaForSequenceClassification, LlamaForTokenClassification

    from polyreason.models import TINY_CONFIG, load_tokenizer

    tok = load_tokenizer("tiny-random")
    if extra_tokens:
        tok.add_special_tokens({"additional_special_tokens": list(extra_tokens)})
    config = LlamaConfig(vocab_size=len(tok), bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id, num_labels=num_labels, **TINY_CONFIG)
    torch.manual_seed(0)
    cls = LlamaForSequenceClassification if head == "sequence" else LlamaForTokenClassification
    model = cls(config)
    with torch.no_grad():  # random heads of a tiny model give near-equal scores: spread them out
        model.score.weight.mul_(50.0)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    tok.save_pretrained(directory)
    return str(directory)
