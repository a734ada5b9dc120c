"""difficulty / mix / synth / judge: logic with scripted generators, plus real runs with the tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from http_stub import JsonHandler, chat_reply
from polyreason.data import generate_problems, generate_sft_rows
from polyreason.data.difficulty import estimate_difficulty, mix, parse_ratio, tag
from polyreason.data.prepare import prepare
from polyreason.data.synth import follows_format, judge_rows, parse_score, synthesize
from polyreason.errors import UserError
from polyreason.generation import Generated, SamplingParams, texts


def _lines(path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


class Scripted:
    """A generator whose completions come from a function of (conversation, sample index)."""

    name = "scripted"

    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def chat(self, conversations, params, *, n=1, **kwargs):
        self.calls += 1
        return [[Generated(self.fn(conv, j), None, False) for j in range(n)] for conv in conversations]


def _answer_of(conv) -> int:
    """Solve 'What is a ± b?' from the user message (to script correct completions)."""
    expr = conv[-1]["content"].removeprefix("What is ").rstrip("?")
    a, op, b = expr.split()
    return int(a) + int(b) if op == "+" else int(a) - int(b)


def _solver(correct_per_4: int):
    def fn(conv, j):
        ans = _answer_of(conv)
        return f"<think>\nadding\n</think>\n\nThe answer is \\boxed{{{ans if j < correct_per_4 else ans + 1}}}"
    return fn


@pytest.mark.parametrize(("rate", "expected"), [(1.0, "easy"), (0.75, "easy"), (0.5, "medium"), (0.25, "hard"),
                                                 (0.0, "hard"), (None, None)])
def test_tag(rate, expected):
    assert tag(rate) == expected


def test_difficulty_tags_by_pass_rate_and_resumes(tmp_path):
    rows = list(generate_problems(12, kinds=["add_sub"], difficulty="easy"))
    out = tmp_path / "d.jsonl"
    gen = Scripted(_solver(2))
    report = estimate_difficulty(rows, gen, out, k=4, batch_size=4, keep_samples=True)
    tagged = _lines(out)
    assert [s["correct"] for s in tagged[0]["samples"]] == [True, True, False, False]
    assert report["counts"] == {"medium": 12} and {r["pass_rate"] for r in tagged} == {0.5}
    assert all(r["n_samples"] == 4 and r["difficulty_model"] == "scripted" for r in tagged)

    class Crash(Scripted):
        def chat(self, conversations, params, **kw):
            if self.calls == 1:
                raise KeyboardInterrupt
            return super().chat(conversations, params, **kw)

    out2 = tmp_path / "d2.jsonl"
    with pytest.raises(KeyboardInterrupt):
        estimate_difficulty(rows, Crash(_solver(4)), out2, k=4, batch_size=4)
    assert len(_lines(str(out2) + ".partial")) == 4
    gen2 = Scripted(_solver(4))
    report = estimate_difficulty(rows, gen2, out2, k=4, batch_size=4)
    assert report["n_resumed"] == 4 and gen2.calls == 2 and len(_lines(out2)) == 12
    assert [r["id"] for r in _lines(out2)] == [r["id"] for r in rows]


def test_difficulty_unparseable_gold_is_untagged(tmp_path):
    rows = [{"problem": "Name the day.", "answer": "\\text{}", "language": "en", "source": "t", "id": "x"}]
    estimate_difficulty(rows, Scripted(lambda c, j: "\\boxed{Friday}"), tmp_path / "o.jsonl", k=2,
                        verifier=lambda gold, completion, lang: None)
    assert _lines(tmp_path / "o.jsonl")[0]["difficulty"] is None


def test_steps_that_verify_need_gold_answers(tmp_path):
    rows = [{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}],
             "language": "en", "source": "chat", "id": "c1"}]
    with pytest.raises(UserError, match="'c1', column 'answer'"):
        estimate_difficulty(rows, Scripted(lambda c, j: ""), tmp_path / "d.jsonl", k=1)
    with pytest.raises(UserError, match="column 'answer'"):
        synthesize(rows, Scripted(lambda c, j: ""), tmp_path / "s.jsonl", n=1)


def test_mix_ratio_length_filter_and_determinism(tmp_path):
    rows = []
    for i, r in enumerate(generate_problems(300, seed=4)):
        rows.append(dict(r, difficulty=["easy", "medium", "hard"][i % 3]))
    rep = mix(rows, tmp_path / "a.jsonl", size=60, ratio=parse_ratio("easy=1,hard=2"), seed=1, max_chars=120)
    a = _lines(tmp_path / "a.jsonl")
    counts = {d: sum(r["difficulty"] == d for r in a) for d in ("easy", "medium", "hard")}
    assert counts == {"easy": 20, "medium": 0, "hard": 40} and rep["shortfall"] == {}
    assert all(len(r["problem"]) <= 120 for r in a) and rep["n_filtered_by_length"] > 0
    mix(rows, tmp_path / "b.jsonl", size=60, ratio=parse_ratio("easy=1,hard=2"), seed=1, max_chars=120)
    assert _lines(tmp_path / "b.jsonl") == a
    mix(rows, tmp_path / "c.jsonl", size=60, ratio=parse_ratio("easy=1,hard=2"), seed=2, max_chars=120)
    assert _lines(tmp_path / "c.jsonl") != a
    rep = mix(rows, tmp_path / "d.jsonl", size=400, ratio=parse_ratio("hard=1"))
    assert rep["shortfall"] == {"hard": {"wanted": 400, "available": 100}} and rep["n_written"] == 100
    rep = mix(rows, tmp_path / "e.jsonl", size=10, ratio=parse_ratio("easy=1,medium=1,hard=1"))
    assert rep["n_written"] == 10 and sorted(rep["targets"].values()) == [3, 3, 4]
    with pytest.raises(UserError, match="ratio"):
        parse_ratio("easy:0.5")


@pytest.mark.parametrize(
    ("text", "score"),
    [("The steps are right.\nScore: 8", 8.0), ("**Score:** 7/10", 7.0), ("I'd give it 9/10.", 9.0),
     ("Score: 12", None), ("6", 6.0), ("Step 1 is fine, step 2 is fine.", None), ("", None),
     ("score = 4.5 because step 3 is wrong", 4.5), ("Rating 3/10 ... final Score: 5", 5.0)],
)
def test_parse_score(text, score):
    assert parse_score(text) == score


def test_synth_keeps_verified_formatted_traces_with_provenance(tmp_path):
    rows = list(generate_problems(6, kinds=["add_sub"], difficulty="easy"))

    def fn(conv, j):
        ans = _answer_of(conv)
        return [f"\\boxed{{{ans}}}",  # right but no think block
                f"<think>\nwrong\n</think>\n\n\\boxed{{{ans + 1}}}",
                f"<think>\nlong correct reasoning here\n</think>\n\nSo \\boxed{{{ans}}}",
                f"<think>\nshort\n</think>\n\n\\boxed{{{ans}}}"][j]

    out = tmp_path / "s.jsonl"
    rep = synthesize(rows, Scripted(fn), out, n=4, keep="shortest")
    got = _lines(out)
    assert rep["n_written"] == 6 and rep["n_verified"] == 18 and rep["n_usable"] == 12
    assert all(r["messages"][-1]["content"].startswith("<think>\nshort") for r in got)
    assert got[0]["synth"]["n_correct"] == 2 and got[0]["synth"]["model"] == "scripted"
    assert got[0]["messages"][0]["role"] == "system" and got[0]["messages"][1]["content"] == rows[0]["problem"]
    rep = synthesize(rows, Scripted(fn), tmp_path / "all.jsonl", n=4, keep="all", require_format=False)
    assert rep["n_written"] == 18
    assert follows_format("<think>\na\n</think>\n\n\\boxed{1}") and not follows_format("\\boxed{1}")


def test_judge_filters_and_records_scores(tmp_path):
    rows = list(generate_sft_rows(4, seed=2, language="es"))
    replies = iter(["Correcto y claro.\nScore: 9", "Score: 3", "no sé", "Bien. 8/10"])
    out = tmp_path / "j.jsonl"
    rep = judge_rows(rows, Scripted(lambda conv, j: next(replies)), out, min_score=7, batch_size=2)
    kept = _lines(out)
    assert {k: v for k, v in rep.items() if k.startswith("n_")} == {
        "n_judged": 4, "n_kept": 2, "n_below": 1, "n_unscored": 1, "n_resumed": 0}
    assert [r["judge"]["score"] for r in kept] == [9.0, 8.0] and kept[0]["judge"]["model"] == "scripted"
    assert [json.loads(x)["scores"] for x in Path(rep["rejects"]).read_text().splitlines()] == [[3.0], [None]]
    again = judge_rows(rows, Scripted(lambda conv, j: "Score: 10"), out, min_score=7)
    assert again["n_resumed"] == 4 and again["n_judged"] == 0


# ------------------------------------------------------------------------------- the real tiny model
@pytest.fixture(scope="module")
def tiny():
    from polyreason.generation import make_backend

    return make_backend("tiny-random", batch_size=4, device="cpu")


def test_tiny_model_difficulty_synth_translate(tiny, tmp_path):
    rows = list(generate_problems(4, kinds=["add_sub"], difficulty="easy"))
    sampling = SamplingParams(temperature=0.7, max_new_tokens=4)
    outs = texts(tiny.chat([[{"role": "user", "content": r["problem"]}] for r in rows[:2]], sampling, n=2, seed=3))
    assert len(outs) == 2 and all(len(o) == 2 and all(isinstance(t, str) for t in o) for o in outs)
    again = texts(tiny.chat([[{"role": "user", "content": r["problem"]}] for r in rows[:2]], sampling, n=2, seed=3))
    assert again == outs  # seeded sampling is deterministic
    rep = estimate_difficulty(rows, tiny, tmp_path / "d.jsonl", k=2, max_new_tokens=4)
    assert rep["counts"] == {"hard": 4}  # a random model never gets it right
    rep = synthesize(rows, tiny, tmp_path / "s.jsonl", n=2, max_new_tokens=4)
    assert rep["n_written"] == 0 and rep["n_without_trace"] == 4
    from polyreason.data.translate import translate_rows

    rep = translate_rows(rows[:2], tiny, tmp_path / "t.jsonl", target="es", max_new_tokens=4, retries=0)
    assert rep["n_dropped"] == 2 and rep["n_kept"] == 0


def test_cli_chain_with_tiny_model(tmp_path):
    from polyreason.cli import _app

    runner = CliRunner()
    syn = tmp_path / "syn.jsonl"
    assert runner.invoke(_app, ["data", "synthetic", "-n", "6", "-o", str(syn), "--kinds", "add_sub",
                                "--difficulty", "easy"]).exit_code == 0
    res = runner.invoke(_app, ["data", "difficulty", str(syn), "-o", str(tmp_path / "d.jsonl"), "--model",
                               "tiny-random", "--k", "2", "--max-new-tokens", "4", "--limit", "4"])
    assert res.exit_code == 0, res.output
    assert len(_lines(tmp_path / "d.jsonl")) == 4
    res = runner.invoke(_app, ["data", "mix", str(tmp_path / "d.jsonl"), "-o", str(tmp_path / "m.jsonl"),
                               "--size", "2", "--ratio", "hard=1"])
    assert res.exit_code == 0, res.output
    assert [r["difficulty"] for r in _lines(tmp_path / "m.jsonl")] == ["hard", "hard"]
    res = runner.invoke(_app, ["data", "mix", str(tmp_path / "d.jsonl"), "-o", str(tmp_path / "m2.jsonl"),
                               "--size", "2", "--ratio", "hard=1", "--max-tokens", "3", "--tokenizer", "tiny-random"])
    assert res.exit_code == 0, res.output  # "What is 12 + 34?" is more than 3 tokens: all filtered
    assert (tmp_path / "m2.jsonl").read_text() == ""
    res = runner.invoke(_app, ["data", "judge", str(syn), "-o", str(tmp_path / "j.jsonl"), "--model",
                               "tiny-random", "--max-new-tokens", "4", "--limit", "2", "--keep-unscored"])
    assert res.exit_code == 0, res.output


class _Solver(JsonHandler):
    """OpenAI-compatible endpoint: solves 'What is a ± b?' in the think/boxed format; grades with 'Score: 8'."""

    def do_POST(self):  # noqa: N802 - http.server API
        body = self.record()["body"]
        conv = body["messages"]
        if "grader" in conv[0]["content"]:
            texts = ["Correct and clear.\nScore: 8"] * body["n"]
        else:
            ans = _answer_of(conv)
            texts = [f"<think>\n{conv[-1]['content']} I compute it.\n</think>\n\nThe answer is \\boxed{{{ans}}}"]
            texts = texts * body["n"]
        self.reply(chat_reply(*texts))


def test_cli_synth_with_judge_through_an_endpoint(tmp_path, serve_stub):
    from polyreason.cli import _app

    url = serve_stub(_Solver)
    syn = tmp_path / "syn.jsonl"
    prepare("synthetic:5:en:easy:add_sub", syn)
    res = CliRunner().invoke(_app, ["data", "synth", str(syn), "-o", str(tmp_path / "t.jsonl"), "--model", url,
                                    "--judge-model", url, "--n", "2", "--keep", "all", "--min-score", "7"])
    assert res.exit_code == 0, res.output
    rows = _lines(tmp_path / "t.jsonl")
    assert len(rows) == 10 and all(r["judge"]["score"] == 8.0 and r["synth"]["n_correct"] == 2 for r in rows)
    assert rows[0]["synth"]["model"].startswith("default@http://127.0.0.1")


@pytest.mark.slow
def test_difficulty_with_the_embedded_smollm2(tmp_path):
    """The real 135M model on the quickstart task (about a minute on 2 CPU cores)."""
    from polyreason.generation import make_backend

    rows = list(generate_problems(4, kinds=["add_sub"], difficulty="easy"))
    rep = estimate_difficulty(rows, make_backend("smollm2-135m", batch_size=4), tmp_path / "d.jsonl", k=2,
                              max_new_tokens=48, keep_samples=True)
    tagged = _lines(tmp_path / "d.jsonl")
    assert sum(rep["counts"].values()) == 4 and all(0.0 <= r["pass_rate"] <= 1.0 for r in tagged)
    assert all(len(r["samples"]) == 2 and r["samples"][0]["completion"].strip() for r in tagged)
