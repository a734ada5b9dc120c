"""Reward functions: TRL signature, formulas, registry, composite, and property-based range/monotonicity."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyreason.errors import UserError
from polyreason.rewards import REWARDS, build_composite, build_reward, reward_names
from polyreason.rewards.accuracy import cosine_value
from polyreason.rewards.naturalness import naturalness_score, register_naturalness_rule
from polyreason.rewards.suite import combine, mean_total, reward_params, weighted_sum
from polyreason.text.analysis import language_score
from polyreason.text.prose import prose
from polyreason.text.repetition import repetition_penalty

ES_GOOD = (
    "<think>\nPrimero sumamos las manzanas de María y las de Juan. Luego restamos las que se comieron "
    "y obtenemos el total que queda en la cesta.\n</think>\n\nLa respuesta es \\boxed{12}."
)
EN_GOOD = (
    "<think>\nFirst we add Mary's apples and John's apples. Then we subtract the ones they ate and get the "
    "total left in the basket.\n</think>\n\nThe answer is \\boxed{12}."
)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RANGES = {
    "accuracy": (0.0, 1.0),
    "format": (0.0, 1.0),
    "tag_count": (0.0, 1.0),
    "cosine": (-0.5, 1.0),
    "soft_overlong": (-1.0, 0.0),
    "language": (0.0, 1.0),
    "repetition": (-1.0, 0.0),
    "naturalness": (0.0, 1.0),
    "arithmetic": (0.0, 1.0),
}


def chat(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


# --- registry ------------------------------------------------------------------------------------------


def test_registry_names_and_callable_names():
    from polyreason.rewards.registry import MODEL_REWARDS, RULE_REWARDS

    assert set(reward_names()) == set(REWARDS) == set(RULE_REWARDS) | set(MODEL_REWARDS)
    assert set(RULE_REWARDS) == set(RANGES)  # model rewards need parameters: tests/test_rewards_*.py
    for name in RULE_REWARDS:
        assert build_reward(name).__name__ == name


def test_unknown_reward_lists_names_and_suggests():
    with pytest.raises(UserError, match=r"did you mean 'accuracy'.*valid rewards: accuracy, arithmetic, cosine"):
        build_reward("acuracy")


def test_unknown_parameter_is_a_user_error():
    with pytest.raises(UserError, match="max_len"):
        build_reward("cosine", max_length=10)


# --- individual rewards ---------------------------------------------------------------------------------


def test_accuracy_strings_chat_and_unparseable_gold():
    fn = build_reward("accuracy")
    out = fn(["p"] * 3, [EN_GOOD, chat(EN_GOOD), "\\boxed{13}"], answer=["12", "12", "12"])
    assert out == [1.0, 1.0, 0.0]
    assert fn(["p"], [EN_GOOD], answer=[""]) == [None]  # skipped, never a free 1.0
    es = fn(["p"], ["\\boxed{5.600}"], answer=["5600"], language=["es"])
    assert es == [1.0]


def test_accuracy_and_cosine_pass_float_rounding_to_the_verifier():
    from polyreason.verify import DEFAULT_FLOAT_ROUNDING, verify

    texts, gold = ["\\boxed{0.333}", "\\boxed{0.3333333}"], ["\\frac{1}{3}"] * 2
    assert [verify(gold[0], t).correct for t in texts] == [False, True]  # the verifier's default: 6 places
    assert build_reward("accuracy")(None, texts, answer=gold) == [0.0, 1.0]
    assert build_reward("accuracy", float_rounding=DEFAULT_FLOAT_ROUNDING)(None, texts, answer=gold) == [0.0, 1.0]
    assert build_reward("accuracy", float_rounding=2)(None, texts, answer=gold) == [1.0, 1.0]
    assert build_reward("accuracy", float_rounding=None)(None, texts, answer=gold) == [0.0, 0.0]
    ids = [[0] * 0] * 2
    assert build_reward("cosine", max_len=10)(None, texts, answer=gold, completion_ids=ids) == [0.0, 1.0]
    assert build_reward("cosine", max_len=10, float_rounding=2)(None, texts, answer=gold, completion_ids=ids) == [1.0, 1.0]
    for bad in (-1, 2.5, "6", True):
        with pytest.raises(UserError, match="float_rounding"):
            build_reward("accuracy", float_rounding=bad)


def test_accuracy_needs_the_answer_column():
    with pytest.raises(UserError, match="answer"):
        build_reward("accuracy")(["p"], ["\\boxed{1}"])


def test_format_is_incremental():
    fn = build_reward("format")
    texts = ["\\boxed{1}", "<think>", "<think></think>", "<think>x</think>", "<think>x</think> \\boxed{1}"]
    assert fn(None, texts) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert fn(None, ["<think>a</think><think>b</think>\\boxed{1}"]) == [0.0]
    assert build_reward("format", think_prefilled=True)(None, ["x</think> \\boxed{1}"]) == [1.0]


def test_tag_count():
    fn = build_reward("tag_count")
    assert fn(None, ["<think>a</think>\\boxed{1}", "<think>a", "\\boxed{1}"]) == [1.0, 0.25, 0.0]


def test_cosine_matches_formula():
    fn = build_reward("cosine", max_len=100)
    ids = [[0] * 0, [0] * 50, [0] * 100, [0] * 500]
    out = fn(None, ["\\boxed{1}"] * 4, answer=["1"] * 4, completion_ids=ids)
    assert out == pytest.approx([1.0, 0.75, 0.5, 0.5])
    wrong = fn(None, ["\\boxed{2}"] * 3, answer=["1"] * 3, completion_ids=ids[:3])
    assert wrong == pytest.approx([0.0, -0.25, -0.5])
    assert fn(None, ["\\boxed{2}"], answer=[""]) == [None]


def test_soft_overlong():
    fn = build_reward("soft_overlong", max_len=100, cache=20)
    out = fn(None, ["x"] * 4, completion_ids=[[0] * 80, [0] * 90, [0] * 100, [0] * 120])
    assert out == pytest.approx([0.0, -0.5, -1.0, -1.0])
    with pytest.raises(UserError):
        build_reward("soft_overlong", max_len=10, cache=20)


def test_language_reward():
    fn = build_reward("language")
    es, en = fn(None, [ES_GOOD, EN_GOOD], language=["es", "es"])
    assert es > 0.9 and en < 0.1
    assert fn(None, [EN_GOOD], language=["en"])[0] > 0.9
    assert build_reward("language", language="es")(None, [chat(ES_GOOD)])[0] > 0.9
    # Short answer part ("\boxed{12}") drops out instead of counting as a wrong language.
    only_box = (
        "<think>\nSumamos todas las manzanas de la cesta y restamos las que se comieron.\n</think>\\boxed{12}"
    )
    assert language_score(only_box, "es") > 0.9
    assert fn(None, ["\\boxed{12}"], language=["es"]) == [0.0]


def test_language_strips_math_and_code():
    cleaned = prose("Sea $x^2 + \\frac{1}{2}$ y ```python\nprint(1)\n``` luego 3.5 \\cdot 2")
    assert "frac" not in cleaned and "print" not in cleaned and "3" not in cleaned
    assert "Sea" in cleaned and "luego" in cleaned


def test_language_weights_configurable():
    mixed = (
        "<think>\n"
        + EN_GOOD.split("<think>\n")[1].split("</think>")[0]
        + "</think>\nLa respuesta final es doce."
    )
    only_answer = build_reward("language", reasoning_weight=0.0, answer_weight=1.0)
    only_reasoning = build_reward("language", reasoning_weight=1.0, answer_weight=0.0)
    assert only_answer(None, [mixed], language=["es"])[0] > only_reasoning(None, [mixed], language=["es"])[0]


def test_repetition():
    fn = build_reward("repetition")
    clean, looped = fn(None, [EN_GOOD, "Let me check again. " * 30])
    assert clean == 0.0
    assert looped == -1.0
    assert repetition_penalty("") == 0.0
    assert repetition_penalty("hahahahahahahahahahahahahahahaha we laugh") > 0.5


def test_naturalness_spanish_rules():
    fn = build_reward("naturalness")
    good = "¿Cuántas manzanas quedan? Quedan 12."
    assert fn(None, [good], language=["es"]) == [1.0]
    assert naturalness_score("¿Por lo tanto, la respuesta es 12?", "es") == 0.75
    assert naturalness_score("¿¿Cuántas quedan??", "es") < 1.0
    assert naturalness_score("Cuántas quedan?", "es") == 0.75
    assert naturalness_score("Sea $x¿$ el valor.", "es") == 0.75
    assert naturalness_score("Cuántas quedan?", "en") == 1.0  # no rules for English


def test_naturalness_rules_are_pluggable():
    register_naturalness_rule("xx", "no_exclamations", lambda text: text.count("!"))
    assert naturalness_score("hi!!", "xx", penalty=0.5) == 0.0
    assert build_reward("naturalness", language="xx")(None, ["hi"]) == [1.0]


# --- composite ------------------------------------------------------------------------------------------


def test_composite_weighted_sum_and_logging():
    weights = {"accuracy": 1.0, "language": 0.2, "format": 0.1, "repetition": 0.3, "naturalness": 0.5}
    fn = build_composite(weights)
    logged: dict[str, float] = {}
    out = fn(
        None, [ES_GOOD], answer=["12"], language=["es"], log_metric=lambda k, v: logged.__setitem__(k, v)
    )
    lang = build_reward("language")(None, [ES_GOOD], language=["es"])[0]
    assert out[0] == pytest.approx(1.0 + 0.2 * lang + 0.1 + 0.0 + 0.5)
    for name in weights:
        assert f"composite/{name}" in logged
    assert fn.__name__ == "composite"


def test_composite_params_and_none_propagation():
    fn = build_composite({"accuracy": 1.0, "cosine": 2.0}, {"cosine": {"max_len": 10}})
    assert fn(None, ["\\boxed{1}"], answer=[""]) == [None]  # no component scored the sample
    partly = build_composite({"accuracy": 1.0, "format": 0.5})
    assert partly(None, ["<think>a</think> \\boxed{1}"], answer=[""]) == [0.5]  # accuracy None: left out
    with pytest.raises(UserError):
        build_composite({"accuracy": 1.0}, {"cosine": {"max_len": 10}})
    with pytest.raises(UserError, match="did you mean"):
        build_composite({"acuracy": 1.0})


# --- properties -----------------------------------------------------------------------------------------

TEXTS = st.one_of(
    st.text(max_size=300),
    st.builds(
        lambda a, b, c: f"<think>{a}</think>{b} \\boxed{{{c}}}",
        st.text(max_size=120),
        st.text(max_size=40),
        st.text(alphabet="0123456789.,-x{}\\", max_size=12),
    ),
)


@pytest.mark.parametrize("name", sorted(RANGES))
@SETTINGS
@given(texts=st.lists(TEXTS, min_size=1, max_size=4), gold=st.sampled_from(["12", "1/2", "x+1", "5.600"]))
def test_every_reward_stays_in_range(name, texts, gold):
    lo, hi = RANGES[name]
    kwargs = {"answer": [gold] * len(texts), "language": ["es"] * len(texts)}
    for value in build_reward(name)(None, texts, **kwargs):
        assert value is None or (lo - 1e-9 <= value <= hi + 1e-9 and math.isfinite(value))


WORDS = st.lists(
    st.sampled_from("we add the two numbers then check each step carefully 3 5 = x".split()), max_size=60
)


@SETTINGS
@given(
    prefix=WORDS,
    block=st.lists(st.sampled_from("again so wait let me check it".split()), min_size=1, max_size=8),
    copies=st.integers(min_value=1, max_value=12),
)
def test_more_repetition_never_raises_the_reward(prefix, block, copies):
    fn = build_reward("repetition")
    base = " ".join(prefix) + " "
    text_k = base + (" ".join(block) + " ") * copies
    text_more = base + (" ".join(block) + " ") * (copies + 1)
    r_k, r_more = fn(None, [text_k, text_more])
    assert r_more <= r_k + 1e-12


@SETTINGS
@given(
    short=st.integers(min_value=0, max_value=5000),
    extra=st.integers(min_value=0, max_value=5000),
    max_len=st.integers(min_value=1, max_value=4000),
    correct=st.booleans(),
)
def test_cosine_shorter_correct_never_lower(short, extra, max_len, correct):
    args = (max_len, 0.5, 1.0, 0.0, -0.5)
    if correct:
        assert cosine_value(True, short, *args) >= cosine_value(True, short + extra, *args) - 1e-12
    # A correct answer always beats a wrong one of any length.
    assert cosine_value(True, short + extra, *args) > cosine_value(False, short, *args)


@SETTINGS
@given(n_short=st.integers(min_value=0, max_value=300), extra=st.integers(min_value=1, max_value=300))
def test_cosine_reward_callable_monotone_in_length(n_short, extra):
    fn = build_reward("cosine", max_len=256)
    short, long_ = fn(
        None, ["\\boxed{7}"] * 2, answer=["7"] * 2, completion_ids=[[1] * n_short, [1] * (n_short + extra)]
    )
    assert short >= long_


HOSTILE = {
    "unclosed_envs": "\\begin{x}" * 20_000,
    "dollars": "$a" * 100_000,
    "brackets": "\\[" * 100_000,
    "backticks": "`a\n" * 50_000,
    "question_marks": "¿" * 100_000 + "?" * 100_000,
    "boxes": "\\boxed{" * 50_000,
    "one_megabyte": "a" * 1_000_000,
    "control": "\x00\x07" * 100_000,
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_rewards_stay_fast_on_hostile_text(name):
    import time

    for reward in ("format", "tag_count", "language", "repetition", "naturalness", "soft_overlong", "arithmetic"):
        start = time.monotonic()
        (value,) = build_reward(reward)(None, [HOSTILE[name]], language=["es"])
        assert time.monotonic() - start < 3.0, (reward, name)
        assert value is None or math.isfinite(value)


def test_composite_language_default_reaches_components():
    fn = build_composite({"accuracy": 1.0, "language": 1.0}, language="es")
    (total,) = fn(
        None,
        ["<think>Sumamos las dos cantidades y obtenemos el total.</think> \\boxed{5.600}"],
        answer=["5600"],
    )
    assert total > 1.9  # Spanish number read as 5600, Spanish text scored against "es"


def test_accuracy_logs_metrics_and_extra_columns():
    metrics, extra = {}, {}
    fn = build_reward("accuracy")
    fn(
        None,
        ["\\boxed{3}", "nothing"],
        answer=["3", "3"],
        log_metric=lambda k, v: metrics.__setitem__(k, v),
        log_extra=lambda k, v: extra.__setitem__(k, v),
    )
    assert metrics["accuracy/correct"] == 0.5
    assert extra["extracted_answer"] == ["3", None]
    assert len(extra["verify_reason"]) == 2


def test_language_codes_with_regions():
    fn = build_reward("language")
    assert fn(None, [ES_GOOD], language=["es-MX"])[0] > 0.9
    assert fn(None, [ES_GOOD], language=["ES"])[0] > 0.9


def test_called_exactly_as_trl_calls_rewards():
    """TRL 1.16 calls f(prompts=..., completions=..., completion_ids=..., **columns, trainer_state=...,
    log_extra=..., log_metric=...) and needs one value per completion."""
    extra, metrics = {}, {}
    columns = {
        "answer": ["12", "12"],
        "language": ["es", "es"],
        "problem": ["p", "p"],
        "source": ["s", "s"],
        "difficulty": [None, None],
        "id": ["a", "b"],
    }
    from polyreason.rewards.registry import RULE_REWARDS

    for fn in [*(build_reward(n) for n in RULE_REWARDS), build_composite({"accuracy": 1.0, "cosine": 2.0})]:
        out = fn(
            prompts=[[{"role": "user", "content": "q"}]] * 2,
            completions=[chat(ES_GOOD), chat("\\boxed{13}")],
            completion_ids=[[1, 2, 3], [4]],
            trainer_state=None,
            log_extra=lambda k, v: extra.setdefault(k, []).extend(v),
            log_metric=lambda k, v: metrics.__setitem__(k, v),
            **columns,
        )
        assert len(out) == 2, fn.__name__
        assert all(v is None or isinstance(v, float) for v in out), (fn.__name__, out)
    assert "accuracy/correct" in metrics


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("¿Entonces, cuántas manzanas quedan? Quedan 12.", 1.0),
        ("¿Es cierto que $x = 4$? Sí.", 1.0),
        ("¿Por lo tanto, la respuesta es 12?", 0.75),
        ("¿Sabemos que x = 3?", 0.75),
        ("¿La respuesta es \\boxed{12}?", 0.75),
        ("¿Primero sumamos 3 y 4? ¿¿Y luego?? Cuántas quedan?", 0.0),
    ],
)
def test_naturalness_examples(text, expected):
    assert naturalness_score(text, "es") == expected


def test_naturalness_decimal_point_is_not_a_sentence_end():
    assert naturalness_score("¿Cuánto es 3.5 más 2? Es 5.5.", "es") == 1.0


def test_length_rewards_default_to_the_completion_budget():
    assert reward_params("cosine", {}, 96) == {"max_len": 96}
    assert reward_params("soft_overlong", {}, 96) == {"max_len": 96, "cache": 24}
    assert reward_params("soft_overlong", {"max_len": 50, "cache": 5}, 96) == {"max_len": 50, "cache": 5}
    assert reward_params("accuracy", {"timeout": 1.0}, 96) == {"timeout": 1.0}


def test_none_parts_follow_trls_nansum_rule():
    """TRL 1.16's GRPOTrainer sums (rewards_per_func * reward_weights).nansum(dim=1) and marks a sample NaN
    when every reward is NaN (None); training, `score` and held-out scoring all use this one rule."""
    import torch

    weights = {"accuracy": 1.0, "format": 0.5, "cosine": 2.0}
    values = {"accuracy": [1.0, None, None, 0.0], "format": [1.0, 0.5, None, None], "cosine": [0.5, 0.25, None, None]}
    per_func = torch.tensor([[math.nan if v is None else v for v in col] for col in values.values()]).T
    trl = (per_func * torch.tensor(list(weights.values()))).nansum(dim=1)
    trl[torch.isnan(per_func).all(dim=1)] = math.nan
    expected = [None if math.isnan(t) else t for t in trl.tolist()]
    assert combine(weights, values, 4) == pytest.approx(expected) == [2.5, 0.75, None, 0.0]
    assert weighted_sum(weights, {"accuracy": None, "format": 1.0, "cosine": None}) == 0.5
    assert mean_total([1.0, None, 0.0]) == 0.5 and mean_total([None]) is None
