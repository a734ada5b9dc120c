"""The OpenAI-compatible endpoint backend against real local HTTP servers: the API key never leaves its host,
URLs are checked up front, and `polyreason eval --model http://…` evaluates a served model."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from http_stub import JsonHandler
from polyreason.errors import UserError
from polyreason.evaluate.benchmarks import load_benchmark
from polyreason.generation import SamplingParams
from polyreason.generation.endpoint import EndpointBackend, endpoint_base

GOLDS = {p.problem: p.gold for p in load_benchmark("gsm8k", limit=3)}


class _Served(JsonHandler):
    """A served model that solves the first three GSM8K problems (boxed gold), for chat and completions."""

    seen: list[dict] = []

    def do_POST(self):  # noqa: N802 - http.server API
        body = self.record()["body"]
        text = body["messages"][-1]["content"] if "messages" in body else body["prompt"]
        gold = next((g for p, g in GOLDS.items() if p in text), "0")
        answer = f"Adding up.\nTherefore, the final answer is: $\\boxed{{{gold}}}$. I hope it is correct"
        choice = {"message": {"role": "assistant", "content": answer}} if "messages" in body else {"text": answer}
        self.reply({"choices": [{"index": i, "finish_reason": "stop", **choice} for i in range(body.get("n", 1))],
                    "usage": {"completion_tokens": 17}})


class _Elsewhere(JsonHandler):
    """Another host: answers anything, GET included (what a redirect target would do)."""

    seen: list[dict] = []

    def do_GET(self):  # noqa: N802
        self.record()
        self.reply({"choices": [{"message": {"content": "stolen"}}]})

    do_POST = do_GET  # noqa: N815


@pytest.fixture
def served(serve_stub):
    return serve_stub(_Served) + "/v1"


@pytest.fixture
def elsewhere(serve_stub):
    return serve_stub(_Elsewhere, "127.0.0.2")  # a different host than 127.0.0.1 (all of 127/8 is loopback)


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_a_redirect_never_carries_the_key_to_another_host(elsewhere, serve_stub, monkeypatch, code: int) -> None:
    target = f"{elsewhere}/v1/chat/completions"

    class Redirecting(JsonHandler):
        seen: list[dict] = []

        def do_POST(self):  # noqa: N802
            self.record()
            self.send_response(code)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()

    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    backend = EndpointBackend(serve_stub(Redirecting) + "/v1", retries=0, timeout=5)
    with pytest.raises(UserError, match=re.escape(target)):
        backend.chat([[{"role": "user", "content": "hola"}]], SamplingParams())
    assert Redirecting.seen[0]["auth"] == "Bearer sk-secret" and Redirecting.seen[0]["method"] == "POST"
    assert _Elsewhere.seen == []  # neither the key nor a POST-turned-GET reached the other host


@pytest.mark.parametrize("url", ["http://[::1", "ftp://example.com/v1", "http:///v1", "http://host:99999/v1",
                                 "127.0.0.1:8000/v1", "http://host/v1?key=1"])
def test_bad_urls_are_user_errors_before_any_request(url: str) -> None:
    with pytest.raises(UserError, match="URL"):
        EndpointBackend(url)


def test_urls_are_normalised_to_the_api_root() -> None:
    for url in ("http://127.0.0.1:8000", "http://127.0.0.1:8000/v1/", "http://127.0.0.1:8000/v1/chat/completions"):
        assert endpoint_base(url) == "http://127.0.0.1:8000/v1"
    assert EndpointBackend("http://[::1]:8000").url == "http://[::1]:8000/v1/chat/completions"


def test_plain_http_to_another_machine_is_warned(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="polyreason.generation.endpoint"):
        for url in ("http://127.0.0.1:8000/v1", "http://localhost:8000", "http://[::1]:8000", "https://api.x.org/v1"):
            EndpointBackend(url)
        assert not caplog.records
        EndpointBackend("http://10.1.2.3:8000/v1")
    assert len(caplog.records) == 1 and "unencrypted" in caplog.records[0].getMessage()
    assert "10.1.2.3" in caplog.records[0].getMessage()


def test_chat_and_completions_report_tokens_and_seeds(served) -> None:
    backend = EndpointBackend(served, model="served", concurrency=2)
    out = backend.chat([[{"role": "user", "content": p}] for p in GOLDS], SamplingParams(max_new_tokens=9), seed=5)
    assert [row[0].completion.count(g) for row, g in zip(out, GOLDS.values(), strict=True)] == [1, 1, 1]
    assert all(row[0].n_tokens == 17 and not row[0].truncated for row in out)
    bodies = sorted((e["body"] for e in _Served.seen), key=lambda b: b["seed"])
    assert [b["seed"] for b in bodies] == [5, 6, 7] and {b["model"] for b in bodies} == {"served"}
    assert {(b["max_tokens"], b["top_p"], b["temperature"]) for b in bodies} == {(9, 0.95, 0.6)}
    [done] = backend.generate(["raw prompt"], SamplingParams(), seed=0)
    assert _Served.seen[-1]["path"] == "/v1/completions" and "boxed" in done.completion


def test_eval_a_served_model(served, tmp_path: Path) -> None:
    from polyreason.cli import _app

    args = ["eval", "--model", served, "--endpoint-model", "served-name", "--benchmarks", "gsm8k", "--limit", "3",
            "--samples", "2", "--output", str(tmp_path / "run")]
    first = CliRunner().invoke(_app, args)
    assert first.exit_code == 0, first.output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    block = summary["benchmarks"]["gsm8k"]
    assert block["pass@1"] == 1.0 and block["n_samples"] == 6 and block["mean_tokens"] == 17
    assert summary["generation"]["backend"] == "endpoint" and summary["generation"]["endpoint_model"] == "served-name"
    assert len(_Served.seen) == 6 and {e["body"]["model"] for e in _Served.seen} == {"served-name"}
    assert len({e["body"]["seed"] for e in _Served.seen}) == 6  # every sample its own seed
    again = CliRunner().invoke(_app, args)
    assert again.exit_code == 0 and "generated 0 samples" in again.output and "6 reused" in again.output
    assert len(_Served.seen) == 6
