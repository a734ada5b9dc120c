"""The LLM-judge reward: score parsing, rubric, cache, time bound, logged fallback, concurrency, and the
OpenAI-compatible endpoint path through `polyreason score` (a 127.0.0.1 stub that grades by content)."""

from __future__ import annotations

import json
import threading
import time

import pytest
from typer.testing import CliRunner

from polyreason.cli import _app
from polyreason.errors import UserError
from polyreason.rewards import build_reward
from polyreason.rewards.judge import DEFAULT_RUBRIC, Judge, JudgeCache, parse_score, render_rubric
from reward_stubs import SOUND, UNSOUND, judge_server

# --- parsing: one row per reply shape seen from judges ---------------------------------------------------

PARSE_CASES = [
    ("Sound steps.\nScore: 7/10", 10, 0.7),
    ("Score: 7 / 10", 10, 0.7),
    ("**Score:** 8", 10, 0.8),
    ("**Score: 8/10**", 10, 0.8),
    ("score: **9**/10", 10, 0.9),
    ("**8**", 10, 0.8),
    ('{"score": 4}', 5, 0.8),
    ('```json\n{"reason": "ok", "score": 6}\n```', 10, 0.6),
    ('{"rating": "3"}', 10, 0.3),
    ("Rating: 9 out of 10", 10, 0.9),
    ("Grade: 7", 10, 0.7),
    ("The score is 3.", 10, 0.3),
    ("I give it 6/10.", 10, 0.6),
    ("Score: 4/5", 10, 0.8),  # the reply's own scale wins
    ("7.5", 10, 0.75),
    ("First I thought Score: 2/10, but on reflection Score: 8/10", 10, 0.8),  # the last one counts
    ("Step 1/3 is right. Score: 6/10", 10, 0.6),  # a labelled score beats an earlier fraction
    ("Score: 11/10", 10, None),  # out of scale: unreadable, not clipped
    ("Score: -1", 10, None),
    ("I cannot grade this response.", 10, None),
    ("", 10, None),
]


@pytest.mark.parametrize(("reply", "scale", "expected"), PARSE_CASES)
def test_parse_score(reply, scale, expected):
    got = parse_score(reply, scale)
    assert got == (None if expected is None else pytest.approx(expected))


def test_rubric_placeholders_are_filled_once():
    text = render_rubric("R: {prompt} | C: {completion} | A: {reference}", prompt="p", completion="say {reference}",
                         reference="")
    assert text == "R: p | C: say {reference} | A: (none given)"  # a placeholder a model wrote stays text
    with pytest.raises(UserError, match="must contain {completion}"):
        build_reward("judge", endpoint="http://127.0.0.1:1/v1", rubric="grade {prompt}")
    with pytest.raises(UserError, match="unknown rubric placeholder.*{completon}"):
        build_reward("judge", endpoint="http://127.0.0.1:1/v1", rubric="grade {completon} {completion}")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "give `endpoint`"),
        ({"endpoint": "127.0.0.1:8001"}, "not an http"),
        ({"endpoint": "http://x/v1", "fallback": 1.5}, "outside"),
        ({"endpoint": "http://x/v1", "timeout": 0}, "must be > 0"),
        ({"model": "not a spec"}, "unknown model spec"),
        ({"endpoint": "http://x/v1", "rubrik": "x"}, "no parameter"),
    ],
)
def test_bad_judge_params_are_user_errors(params, message):
    with pytest.raises(UserError, match=message):
        build_reward("judge", **params)


# --- the judge's machinery with an in-process chat (no server) -------------------------------------------


def make_judge(chat, **overrides):
    settings = dict(rubric=DEFAULT_RUBRIC, system=None, max_score=10.0, fallback=0.5, timeout=5.0, workers=4,
                    chunk=1, max_new_tokens=32, temperature=0.0, reference_column="answer",
                    cache=JudgeCache(None), name="fake")
    settings.update(overrides)
    return Judge(lambda: (chat, "fake"), **settings)


def scoring_chat(calls):
    def chat(conversations, *, n, max_new_tokens, temperature, top_p, seed):
        calls.append(len(conversations))
        return [["Score: 9/10" if "boxed{4}" in c[-1]["content"] else "Score: 1/10"] for c in conversations]

    return chat


def test_cache_in_memory_and_on_disk(tmp_path):
    calls: list[int] = []
    path = tmp_path / "judge-cache.jsonl"
    judge = make_judge(scoring_chat(calls), cache=JudgeCache(str(path)))
    metrics: dict[str, float] = {}
    kwargs = {"answer": ["4", "4"], "log_metric": metrics.__setitem__}
    assert judge(["q", "q"], [SOUND, UNSOUND], **kwargs) == [0.9, 0.1]
    assert len(calls) == 2 and metrics["judge/cache_hits"] == 0.0
    assert judge(["q", "q"], [SOUND, UNSOUND], **kwargs) == [0.9, 0.1]
    assert len(calls) == 2 and metrics["judge/cache_hits"] == 2.0  # nothing asked again
    fresh = make_judge(scoring_chat(calls), cache=JudgeCache(str(path)))  # a new run reads the file
    with path.open("a", encoding="utf-8") as fh:
        fh.write('{"key": "torn')  # a killed writer's half line is skipped
    assert fresh(["q"], [SOUND], answer=["4"]) == [0.9] and len(calls) == 2
    assert judge(["other question"], [SOUND], answer=["4"]) == [0.9] and len(calls) == 3  # new content: asked


def test_failures_score_the_logged_fallback(caplog):
    def chat(conversations, **_):
        if "boom" in conversations[0][-1]["content"]:
            raise ConnectionError("endpoint down")
        return [["no number here"]]

    judge = make_judge(chat, fallback=0.25)
    metrics: dict[str, float] = {}
    with caplog.at_level("WARNING", logger="polyreason.rewards.judge"):
        out = judge(None, ["boom", "fine"], log_metric=metrics.__setitem__)
    assert out == [0.25, 0.25]
    assert metrics["judge/fallbacks"] == 2.0
    assert "2 of 2 judgements failed" in caplog.text and "fallback=0.25" in caplog.text
    assert "ConnectionError: endpoint down" in caplog.text
    assert make_judge(chat, fallback=None)(None, ["fine"]) == [None]  # None: left out of the sum
    assert make_judge(chat).cache._scores == {}  # failures are never cached


def test_each_call_is_bounded_in_time():
    release = threading.Event()

    def chat(conversations, **_):
        if "slow" in conversations[0][-1]["content"]:
            release.wait(10)
        return [["Score: 10/10"]]

    judge = make_judge(chat, timeout=0.3, workers=2)
    metrics: dict[str, float] = {}
    start = time.monotonic()
    out = judge(None, ["slow", "quick", "quick again"], log_metric=metrics.__setitem__)
    elapsed = time.monotonic() - start
    release.set()
    assert out == [0.5, 1.0, 1.0] and metrics["judge/fallbacks"] == 1.0
    assert elapsed < 3.0  # bounded by the timeout, not by the 10 s call


def test_calls_run_concurrently_and_keep_order():
    with judge_server(delay=0.2) as (stub, url):
        fn = build_reward("judge", endpoint=url, concurrency=4)
        completions = [SOUND if i % 2 == 0 else UNSOUND + " " * i for i in range(8)]
        out = fn(["What is 2 + 2?"] * 8, completions, answer=["4"] * 8)
    assert out == [0.9 if i % 2 == 0 else 0.2 for i in range(8)]
    assert stub.peak >= 2 and len(stub.requests) == 8


def test_endpoint_json_replies_api_key_and_garbage(monkeypatch):
    monkeypatch.setenv("JUDGE_TEST_KEY", "sk-test")
    with judge_server(mode="json") as (stub, url):
        fn = build_reward("judge", endpoint=url, model="judge-model", api_key_env="JUDGE_TEST_KEY")
        assert fn(["What is 2 + 2?"] * 2, [SOUND, UNSOUND], answer=["4", "4"]) == [0.9, 0.2]
    assert stub.requests[0]["model"] == "judge-model" and stub.requests[0]["temperature"] == 0.0
    assert stub.headers[0]["Authorization"] == "Bearer sk-test"
    with judge_server(mode="garbage") as (_, url):
        metrics: dict[str, float] = {}
        out = build_reward("judge", endpoint=url)(["q"], [SOUND], answer=["4"], log_metric=metrics.__setitem__)
    assert out == [0.5] and metrics["judge/fallbacks"] == 1.0


def test_unreachable_endpoint_scores_fallback_quickly():
    fn = build_reward("judge", endpoint="http://127.0.0.1:9/v1", retries=0, timeout=5)
    metrics: dict[str, float] = {}
    assert fn(["q"], [SOUND], log_metric=metrics.__setitem__) == [0.5] and metrics["judge/fallbacks"] == 1.0


def test_local_model_judge_runs_through_the_generator():
    """A local judge (tiny random model: its replies carry no score) generates and falls back, logged."""
    fn = build_reward("judge", model="tiny-random", max_new_tokens=4, batch_size=2, device="cpu")
    metrics: dict[str, float] = {}
    assert fn(["q", "q"], [SOUND, UNSOUND], log_metric=metrics.__setitem__) == [0.5, 0.5]
    assert metrics["judge/fallbacks"] == 2.0


# --- `polyreason score` -----------------------------------------------------------------------------------


def test_score_cli_orders_sound_above_unsound(tmp_path):
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    rows = [{"prompt": "What is 2 + 2?", "completion": UNSOUND, "answer": "4"},
            {"prompt": "What is 2 + 2?", "completion": SOUND, "answer": "4"}]
    inp.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with judge_server() as (stub, url):
        result = CliRunner().invoke(
            _app, ["score", "-r", "judge=1.0", "-p", f"judge.endpoint={url}", "-i", str(inp), "-o", str(out)]
        )
    assert result.exit_code == 0, result.output
    scored = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    unsound, sound = (r["rewards"]["judge"] for r in scored)
    assert sound > unsound and (sound, unsound) == (0.9, 0.2)
    assert "What is 2 + 2?" in stub.requests[0]["messages"][-1]["content"]  # the request reached the judge


def test_helpfulness_recipe_judge_scores_through_score_recipe(tmp_path, repo_root):
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    rows = [{"prompt": "What is 2 + 2?", "completion": c, "answer": "4"} for c in (SOUND, UNSOUND)]
    inp.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    recipe = repo_root / "recipes" / "gemma3-helpfulness-grpo.yaml"
    with judge_server() as (stub, url):
        result = CliRunner().invoke(_app, ["score", "--recipe", str(recipe), "-p", f"judge.endpoint={url}",
                                           "-i", str(inp), "-o", str(out)])
    assert result.exit_code == 0, result.output
    sound, unsound = (json.loads(line) for line in out.read_text(encoding="utf-8").splitlines())
    assert (sound["rewards"]["judge"], unsound["rewards"]["judge"]) == (0.9, 0.2)
    assert sound["total"] > unsound["total"]
    assert stub.requests[0]["model"] == "Qwen/Qwen2.5-7B-Instruct"  # the recipe's judge settings were used
