"""The shared text layer: think/answer regions, prose, language ID, repetition, and the one analysis."""

from __future__ import annotations

import subprocess
import sys

import pytest

from polyreason.text import analysis, langid, region, repetition
from polyreason.text.prose import prose

# --- region -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "completion, reasoning, answer",
    [
        ("<think>\nadd them\n</think>\n\nSo \\boxed{4}", "add them", "So \\boxed{4}"),
        ("no tags \\boxed{4}", "no tags \\boxed{4}", ""),
        ("<think>a</think>b</think>c", "a</think>b", "c"),  # the last </think> ends the reasoning
        ("<think>cut off \\boxed{4}", "cut off \\boxed{4}", ""),
    ],
)
def test_split_reasoning(completion, reasoning, answer):
    assert region.split_reasoning(completion) == (reasoning, answer)


@pytest.mark.parametrize(
    "completion, expected",
    [
        ("<think>\\boxed{1}</think> \\boxed{2}", " \\boxed{2}"),
        ("<think>a</think> \\boxed{1} </think> \\boxed{2}", " \\boxed{2}"),  # same rule as split_reasoning
        ("<think>cut off \\boxed{1}", None),  # reasoning never closed: no answer yet
        ("plain \\boxed{3}", "plain \\boxed{3}"),
    ],
)
def test_answer_region_is_shared_by_verifier_and_eval(completion, expected):
    from polyreason.verify.extract import answer_region as verifier_region

    assert region.answer_region(completion) == expected
    assert verifier_region is region.answer_region
    assert region.graded_text(completion) == (expected or "")


@pytest.mark.parametrize(
    "completion, reasoning, answer",
    [
        ("<think>\nrazono aquí\n</think>\n\nLa respuesta es \\boxed{3}", "razono aquí", "La respuesta es \\boxed{3}"),
        ("<think>sin cerrar \\boxed{3}", "sin cerrar \\boxed{3}", ""),
        ("Step one.\nStep two.\nTherefore, the final answer is: $\\boxed{3}$.", "Step one.\nStep two.",
         "Therefore, the final answer is: $\\boxed{3}$."),
        ("", "", ""),
    ],
)
def test_reasoning_and_answer(completion: str, reasoning: str, answer: str) -> None:
    assert region.reasoning_and_answer(completion) == (reasoning, answer)


def test_graded_text_never_includes_reasoning() -> None:
    assert region.graded_text("<think>\\boxed{1}</think> \\boxed{2}") == " \\boxed{2}"
    assert region.graded_text("<think>\\boxed{1}") == ""
    assert region.graded_text("plain \\boxed{2}") == "plain \\boxed{2}"


# --- spans: one scanner, two rule sets --------------------------------------------------------------


@pytest.mark.parametrize(
    "text, protected, math",
    [
        ("so $x=1$ and \\[ y \\]", ["$x=1$", "\\[ y \\]"], ["x=1", "y"]),
        ("costs 5$ and $3$", ["$ and $"], ["3"]),  # "5$" is a currency sign for the verifier only
        ("a \\$5 and $x$", ["$5 and $"], ["x"]),  # an escaped dollar is not a verifier delimiter
        ("$a\nb$", ["$a\nb$"], []),  # inline math: one line for the verifier, one paragraph for prose
        ("$a\n\n$c$", ["$c$"], ["c"]),  # no span across a paragraph break for either
        ("`code` and ```x\n$y$```", ["`code`", "```x\n$y$```"], ["y"]),  # code is protected, not math
        ("\\begin{align*}x\\end{align*} $$ $$", ["\\begin{align*}x\\end{align*}", "$$ $$"], []),  # empty
        ("``x` `$", ["`x`"], []),  # `` opens nothing; an opener without a closer is plain text
    ],
)
def test_span_rule_sets(text: str, protected: list[str], math: list[str]) -> None:
    from polyreason.text.spans import math_spans, protected_spans

    assert [text[s:e] for s, e in protected_spans(text)] == protected
    assert [s.content for s in math_spans(text)] == math


def test_span_scan_is_linear_on_unmatched_openers() -> None:
    import time

    from polyreason.text.spans import math_spans, protected_spans

    text = "$a\n\n" * 20_000 + "\\(" * 20_000 + "`\n" * 20_000 + "\\begin{a}" * 20_000 + "[asy]" * 20_000
    start = time.perf_counter()
    assert protected_spans(text) == [] and math_spans(text) == []
    assert time.perf_counter() - start < 5.0  # quadratic would be minutes


# --- prose and language ID ---------------------------------------------------------------------------


def test_detect_language_ignores_math() -> None:
    spanish = "Primero calculamos el número total de huevos que ponen los patos cada día, y luego restamos $16-3-4=9$."
    assert langid.detect_language(spanish) == "es"
    english = "First we compute how many eggs the ducks lay every day, then we subtract the ones she eats."
    assert langid.detect_language(english) == "en"
    assert langid.detect_language("$x = \\frac{1}{2}$ \\boxed{42}") is None
    assert "frac" not in prose("$\\frac{1}{2}$ y \\frac{3}{4} hola")


def test_min_letters_is_the_one_threshold() -> None:
    word = "palabra"  # 7 letters
    short = " ".join([word] * (langid.MIN_LETTERS // 7)) + " 123 $x+y$"
    assert sum(c.isalpha() for c in prose(short)) < langid.MIN_LETTERS
    assert langid.identify(short, "es") == langid.Identified(None, None)
    long = short + " " + word
    found = langid.identify(long, "es")
    assert found.language is not None and 0.0 <= found.target_probability <= 1.0


def test_identify_reads_the_target_among_the_top_labels() -> None:
    text = "Sumamos todas las manzanas de la cesta y restamos las que se comieron los niños."
    es, en = langid.identify(text, "es"), langid.identify(text, "en-US")
    assert es.language == en.language == "es"
    assert es.target_probability > 0.9 > en.target_probability
    assert langid.identify(text, "ES_mx").target_probability == es.target_probability


def test_mixed_script() -> None:
    assert langid.mixed_script("Primero sumamos 这是中文的推理过程 y luego restamos los números", "es")
    assert not langid.mixed_script("Primero sumamos x e y y luego restamos los números", "es")
    assert not langid.mixed_script("我们先计算 x + y 的值，然后再减去", "zh")


# --- repetition ---------------------------------------------------------------------------------------


def test_repetition_loop_is_the_penalty_rule() -> None:
    assert repetition.repetition_loop("the answer is 5 " * 20)
    assert repetition.repetition_loop("Let me check again.\n" * 5)
    assert not repetition.repetition_loop("A normal short sentence with a few distinct words in it and nothing more.")
    for text in ("the answer is 5 " * 20, "We add 3 and 4 to get 7. " * 2, "hahahahahaha ok"):
        loops = repetition.repetition_penalty(text) >= repetition.LOOP_PENALTY
        assert repetition.repetition_loop(text) == loops


# --- one analysis for rewards and evaluation -----------------------------------------------------------

SAMPLES = [
    ("<think>\nPrimero sumamos las manzanas de María y las de Juan, luego restamos las que se comieron.\n"
     "</think>\n\nLa respuesta final es doce: \\boxed{12}.", "es"),
    ("<think>\nFirst we add the apples and then subtract the eaten ones.\n</think>\n\n\\boxed{12}", "es"),
    ("Let me check again. " * 30, "en"),
    ("Step one: we add.\nTherefore, the final answer is: $\\boxed{3}$.", "en"),
    ("\\boxed{12}", "es"),
]


@pytest.mark.parametrize("completion, language", SAMPLES)
def test_evaluation_reports_what_the_rewards_compute(completion, language):
    from polyreason.evaluate.language import language_report
    from polyreason.rewards import build_reward

    report = language_report(completion, language, truncated=False, has_answer=True)
    columns = {"language": [language]}
    assert report["language_score"] == build_reward("language")(None, [completion], **columns)[0]
    assert -report["repetition_penalty"] == build_reward("repetition")(None, [completion])[0]
    assert report["naturalness"] == build_reward("naturalness")(None, [completion], **columns)[0]
    assert ("repetition_loop" in report["flags"]) == repetition.repetition_loop(completion)
    found = analysis.analyze(completion, language)
    assert report["reasoning_language"] == found.reasoning.language
    assert report["answer_language"] == found.answer.language


def test_each_eval_sample_is_analysed_once(monkeypatch):
    from polyreason.evaluate import language as eval_language
    from polyreason.evaluate.benchmarks import Problem
    from polyreason.evaluate.scoring import Sample, score_samples

    calls: list[str] = []
    detects: list[str] = []
    real_analyze, real_detector = eval_language.analyze, langid.detector()

    class CountingDetector:
        def detect(self, text, k):
            detects.append(text)
            return real_detector.detect(text, k=k)

    monkeypatch.setattr(eval_language, "analyze", lambda c, t: calls.append(c) or real_analyze(c, t))
    monkeypatch.setattr(langid, "_detector", CountingDetector())
    problem = Problem(benchmark="mgsm-es", index=0, problem="p", gold="12", language="es", raw_gold="12")
    samples = [Sample(problem, i, text) for i, (text, _) in enumerate(SAMPLES[:2])]
    records = score_samples(samples, timeout=5.0, workers=1)
    assert calls == [s.completion for s in samples]
    assert len(detects) == 3  # reasoning + answer of the first; the second's answer is only \boxed{12}
    assert [r["reasoning_compliant"] for r in records] == [True, False]


def test_text_layer_imports_no_torch_and_no_other_polyreason_module():
    code = (
        "import sys; import polyreason.text.analysis, polyreason.text.region, polyreason.text.prose; "
        "mods = sorted(m for m in sys.modules if m.startswith('polyreason') or m in ('torch', 'transformers')); "
        "print(','.join(mods))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    mods = proc.stdout.strip().split(",")
    outside = [m for m in mods if m not in ("polyreason", "polyreason.errors") and not m.startswith("polyreason.text")]
    assert outside == [], outside
