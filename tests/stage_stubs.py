"""A 127.0.0.1 OpenAI-compatible server that plays the teacher and the judges of a programme's stages.

* teacher (synth, difficulty): solves the synthetic "What is A + B?" / "¿Cuánto es A - B?" problems in
  polyreason's format — ``<think>…</think>`` then ``\\boxed{answer}`` — and says "I do not know." otherwise;
  with ``wrong_every=k`` every k-th problem (by its numbers) gets a wrong answer, which the verifier rejects;
* trace judge (``polyreason.data.synth.judge_rows``, system prompt "strict grader"): ``Score: 9`` for a
  solution that boxes the reference answer, ``Score: 3`` otherwise, and ``Score: 5`` for ``A - B`` problems with
  A odd, so a ``min_score`` between them drops some correct traces;
* reward judge (``rewards/judge.py``'s rubric): :class:`reward_stubs.JudgeStub`'s grading.

It honours ``n`` (that many choices) and counts requests per kind, so tests can tell what was asked again.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from reward_stubs import JudgeStub

PROBLEM = re.compile(r"(?:What is|Cuánto es) (\d+) ([+-]) (\d+)\?")


class ProgrammeStub:
    def __init__(self, delay: float = 0.0, wrong_every: int = 0):
        self.delay, self.wrong_every = delay, wrong_every
        self.calls: Counter = Counter()
        self._reward_judge = JudgeStub()
        self._lock = threading.Lock()

    def _teacher(self, user: str) -> str:
        m = PROBLEM.search(user)
        if not m:
            return "I do not know."
        a, op, b = int(m.group(1)), m.group(2), int(m.group(3))
        answer = a + b if op == "+" else a - b
        if self.wrong_every and (a + b) % self.wrong_every == 0:
            answer += 1
        return f"<think>\nI need {a} {op} {b}. {a} {op} {b} = {answer}.\n</think>\nThe answer is \\boxed{{{answer}}}."

    @staticmethod
    def _trace_score(user: str) -> int:
        reference = re.search(r"Reference answer: (.*)", user)
        solution = user.split("Candidate solution:", 1)[-1]
        if not reference or f"\\boxed{{{reference.group(1).strip()}}}" not in solution:
            return 3
        m = PROBLEM.search(user)
        return 5 if m and m.group(2) == "-" and int(m.group(1)) % 2 else 9

    def reply(self, payload: dict) -> tuple[str, str]:
        messages = payload["messages"]
        system = next((m["content"] for m in messages if m["role"] == "system"), "")
        user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        if "strict grader" in system:
            return "trace-judge", f"The steps were checked.\nScore: {self._trace_score(user)}"
        if "[Response]" in user:
            return "reward-judge", self._reward_judge.reply(payload)
        return "teacher", self._teacher(user)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):  # noqa: N802 - http.server API
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                time.sleep(stub.delay)
                kind, text = stub.reply(body)
                with stub._lock:
                    stub.calls[kind] += 1
                n = int(body.get("n") or 1)
                data = json.dumps({"choices": [{"message": {"role": "assistant", "content": text},
                                                "finish_reason": "stop"} for _ in range(n)],
                                   "usage": {"completion_tokens": len(text.split()) * n}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


@contextmanager
def programme_server(delay: float = 0.0, wrong_every: int = 0):
    """Serve a :class:`ProgrammeStub` on 127.0.0.1 (a free port); yields (stub, base URL ending in /v1)."""
    stub = ProgrammeStub(delay, wrong_every)
    server = ThreadingHTTPServer(("127.0.0.1", 0), stub.handler())
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub, f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
