"""Model-based rewards on tiny random classifiers: the outcome reward model (sequence classification) and the
process reward model (token classification at step separators)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from polyreason.errors import UserError
from polyreason.rewards import build_reward
from polyreason.rewards.outcome import RunningStats, normalise
from polyreason.rewards.process import aggregate, split_steps
from reward_stubs import SOUND, UNSOUND, tiny_classifier

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PROMPT = [{"role": "system", "content": "Think, then box the answer."}, {"role": "user", "content": "What is 2 + 2?"}]


@pytest.fixture(scope="module")
def rm_dir(tmp_path_factory):
    return tiny_classifier(tmp_path_factory.mktemp("rm"), "sequence", num_labels=1)


@pytest.fixture(scope="module")
def prm_dir(tmp_path_factory):
    return tiny_classifier(tmp_path_factory.mktemp("prm"), "token", num_labels=2, extra_tokens=("<extra_0>",))


def chat(text):
    return [{"role": "assistant", "content": text}]


# --- reward_model -----------------------------------------------------------------------------------------


def trl_scores(model_dir, prompts, completions):
    """What TRL 1.16's GRPOTrainer computes for a reward model given as reward_funcs (conversational
    prompts): the reward tokenizer's chat template over prompt + completion, right padding, logits[:, 0]."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    model.config.pad_token_id = tok.pad_token_id
    texts = [tok.apply_chat_template(p + c, tokenize=False) for p, c in zip(prompts, completions, strict=True)]
    enc = tok(text=texts, return_tensors="pt", padding=True, padding_side="right", add_special_tokens=False)
    with torch.inference_mode():
        return model(**enc).logits[:, 0].tolist()


def test_reward_model_scores_what_trl_would(rm_dir):
    completions = [chat(SOUND), chat(UNSOUND), chat("4")]
    metrics: dict[str, float] = {}
    fn = build_reward("reward_model", model=rm_dir, device="cpu", batch_size=2)
    got = fn([PROMPT] * 3, completions, log_metric=metrics.__setitem__)
    expected = trl_scores(rm_dir, [PROMPT] * 3, completions)
    assert got == pytest.approx(expected, abs=1e-4)
    assert len(set(round(g, 3) for g in got)) == 3  # the three texts get different scores
    assert metrics["reward_model/raw"] == pytest.approx(sum(expected) / 3, abs=1e-4)
    one_by_one = build_reward("reward_model", model=rm_dir, device="cpu", batch_size=1)([PROMPT] * 3, completions)
    assert one_by_one == pytest.approx(got, abs=1e-4)  # padding does not change a score


def test_reward_model_normalisation(rm_dir):
    raw = build_reward("reward_model", model=rm_dir, device="cpu")([PROMPT] * 2, [chat(SOUND), chat(UNSOUND)])
    fixed = build_reward("reward_model", model=rm_dir, device="cpu", normalize="fixed", mean=1.0, std=2.0,
                         clip=100.0)([PROMPT] * 2, [chat(SOUND), chat(UNSOUND)])
    assert fixed == pytest.approx([(r - 1.0) / 2.0 for r in raw], abs=1e-4)
    running = build_reward("reward_model", model=rm_dir, device="policy", normalize="running")
    first = running([PROMPT] * 2, [chat(SOUND), chat(UNSOUND)])
    assert first == pytest.approx([1.0, -1.0], abs=1e-3) or first == pytest.approx([-1.0, 1.0], abs=1e-3)


def test_running_stats_and_clip():
    stats = RunningStats()
    assert stats.update([1.0, 3.0]) == (2.0, 1.0)
    assert stats.update([5.0])[0] == pytest.approx(3.0)
    assert normalise([10.0, -10.0], "none", mean=0, std=1, stats=None, clip=2.0) == [2.0, -2.0]
    assert normalise([2.0, -1.0], "fixed", mean=0.5, std=1.5, stats=None, clip=None) == [1.0, -1.0]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "needs the parameter"),
        ({"model": "no such/model/path"}, "unknown model spec"),
        ({"model": "tiny-random", "normalize": "zscore"}, "normalize"),
        ({"model": "tiny-random", "std": 0}, "must be > 0"),
    ],
)
def test_reward_model_bad_params(params, message):
    with pytest.raises(UserError, match=message):
        build_reward("reward_model", **params)


def test_a_model_without_a_trained_head_is_refused(tiny_model_path):
    fn = build_reward("reward_model", model=tiny_model_path, device="cpu")  # a causal LM, not a reward model
    with pytest.raises(UserError, match="no trained weights for score"):
        fn([PROMPT], [chat(SOUND)])


def test_building_loads_no_model_and_imports_no_torch():
    code = ("import sys; from polyreason.rewards import build_reward; "
            "build_reward('reward_model', model='tiny-random'); build_reward('process', model='tiny-random'); "
            "build_reward('judge', model='tiny-random'); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- process ----------------------------------------------------------------------------------------------

STEPS_CASES = [
    ("<think>2+2 is 4.\n\nSo 4.</think> \\boxed{4}", False, ["2+2 is 4.", "So 4."]),
    ("<think>2+2 is 4.\n\nSo 4.</think> \\boxed{4}", True, ["2+2 is 4.", "So 4.", "\\boxed{4}"]),
    ("<think>\n\n a \n\n\n\n b \n</think>", False, ["a", "b"]),
    ("no tags, one step\n\nand two", False, ["no tags, one step", "and two"]),
    ("<think>cut off before closing\n\nmore", False, ["cut off before closing", "more"]),
    ("<think></think>\\boxed{1}", False, []),
]


@pytest.mark.parametrize(("text", "include_answer", "expected"), STEPS_CASES)
def test_split_steps(text, include_answer, expected):
    assert split_steps(text, include_answer=include_answer) == expected


def test_aggregations():
    assert aggregate([0.9, 0.2, 0.8], "min") == 0.2
    assert aggregate([0.9, 0.2, 0.8], "mean") == pytest.approx(0.6333, abs=1e-4)
    assert aggregate([0.9, 0.2, 0.8], "last") == 0.8


def step_probs_by_hand(prm_dir, problem, steps):
    """P(label 1) at each <extra_0> of Qwen2.5-Math-PRM's layout, computed directly."""
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from polyreason.rewards.process import QWEN_PRM_SYSTEM

    tok = AutoTokenizer.from_pretrained(prm_dir)
    model = AutoModelForTokenClassification.from_pretrained(prm_dir).eval()
    messages = [{"role": "system", "content": QWEN_PRM_SYSTEM}, {"role": "user", "content": problem},
                {"role": "assistant", "content": "".join(s + "<extra_0>" for s in steps)}]
    ids = tok(tok.apply_chat_template(messages, tokenize=False), return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        probs = model(**ids).logits.softmax(-1)[0, :, 1]
    sep = tok.convert_tokens_to_ids("<extra_0>")
    return probs[ids["input_ids"][0] == sep].tolist()


def test_process_reward_scores_each_step(prm_dir):
    completions = [chat(SOUND), chat(UNSOUND), chat("<think></think>\\boxed{4}")]
    expected = step_probs_by_hand(prm_dir, "What is 2 + 2?", split_steps(SOUND))
    assert len(expected) == 2  # one probability per step
    metrics: dict[str, float] = {}
    results = {}
    for how in ("min", "mean", "last"):
        fn = build_reward("process", model=prm_dir, aggregation=how, device="cpu", batch_size=2)
        results[how] = fn([PROMPT] * 3, completions, log_metric=metrics.__setitem__)
    assert results["min"][0] == pytest.approx(min(expected), abs=1e-4)
    assert results["mean"][0] == pytest.approx(sum(expected) / 2, abs=1e-4)
    assert results["last"][0] == pytest.approx(expected[-1], abs=1e-4)
    assert all(0.0 <= r[1] <= 1.0 for r in results.values())
    assert [r[2] for r in results.values()] == [0.0, 0.0, 0.0]  # no steps: `empty`
    assert metrics["process/steps"] == pytest.approx(1.5) and metrics["process/empty"] == pytest.approx(1 / 3)


def test_process_separator_written_by_the_policy_adds_no_step(prm_dir):
    seen: dict[str, float] = {}
    fn = build_reward("process", model=prm_dir, device="cpu")
    fn([PROMPT], [chat("<think>one<extra_0><extra_0> step\n\ntwo</think>")], log_metric=seen.__setitem__)
    assert seen["process/steps"] == 2


def test_process_left_truncation_keeps_the_last_steps(prm_dir):
    long = "<think>" + "\n\n".join(f"Step {i}: add one more to the running total." for i in range(60)) + "</think>"
    seen: dict[str, float] = {}
    for max_length in (None, 64):
        fn = build_reward("process", model=prm_dir, aggregation="last", device="cpu", max_length=max_length)
        out = fn([PROMPT], [chat(long)], log_metric=seen.__setitem__)
        seen[f"steps@{max_length}"] = seen["process/steps"]
        assert out[0] is not None and 0.0 <= out[0] <= 1.0
    assert seen["steps@None"] == 60 and 1 <= seen["steps@64"] < 10  # the early steps were cut, the last kept


def test_process_step_token_must_be_one_token(prm_dir):
    fn = build_reward("process", model=prm_dir, step_token="<not-a-token>", device="cpu")
    with pytest.raises(UserError, match="not one"):
        fn([PROMPT], [chat(SOUND)])
    with pytest.raises(UserError, match="aggregation"):
        build_reward("process", model=prm_dir, aggregation="max")
