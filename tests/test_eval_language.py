"""Language compliance and naturalness flags used by the evaluation summary."""

from __future__ import annotations

import pytest

from polyreason.evaluate import language as lang


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
def test_split_completion(completion: str, reasoning: str, answer: str) -> None:
    assert lang.split_completion(completion) == (reasoning, answer)


def test_graded_text_never_includes_reasoning() -> None:
    assert lang.graded_text("<think>\\boxed{1}</think> \\boxed{2}") == " \\boxed{2}"
    assert lang.graded_text("<think>\\boxed{1}") == ""
    assert lang.graded_text("plain \\boxed{2}") == "plain \\boxed{2}"


def test_detect_language_ignores_math() -> None:
    spanish = "Primero calculamos el número total de huevos que ponen los patos cada día, y luego restamos $16-3-4=9$."
    assert lang.detect_language(spanish) == "es"
    english = "First we compute how many eggs the ducks lay every day, then we subtract the ones she eats."
    assert lang.detect_language(english) == "en"
    assert lang.detect_language("$x = \\frac{1}{2}$ \\boxed{42}") is None
    assert "frac" not in lang.prose("$\\frac{1}{2}$ y \\frac{3}{4} hola")


def test_flags() -> None:
    assert lang.mixed_script("Primero sumamos 这是中文的推理过程 y luego restamos los números", "es")
    assert not lang.mixed_script("Primero sumamos x e y y luego restamos los números", "es")
    assert not lang.mixed_script("我们先计算 x + y 的值，然后再减去", "zh")
    assert lang.repetition_loop("the answer is 5 " * 20)
    assert lang.repetition_loop("Let me check again.\n" * 5)
    assert not lang.repetition_loop("A normal short sentence with a few distinct words in it and nothing more.")


def test_language_report_and_summary() -> None:
    completion = ("<think>\nPrimero calculamos cuántos huevos quedan después del desayuno y de hornear.\n</think>\n\n"
                  "Por lo tanto, la respuesta final es: $\\boxed{18}$. Espero que sea correcta")
    report = lang.language_report(completion, "es", truncated=False, has_answer=True)
    assert report["reasoning_language"] == "es" and report["reasoning_compliant"] is True
    assert report["answer_compliant"] is True and report["flags"] == []
    assert report["language_score"] > 0.5 and report["naturalness"] == 1.0 and report["repetition_penalty"] == 0.0
    english = lang.language_report("<think>\nFirst we count the eggs that remain after breakfast and baking.\n"
                                   "</think>\n\n\\boxed{18}", "es", truncated=True, has_answer=False)
    assert "wrong_language" in english["flags"] and "truncated" in english["flags"]
    summary = lang.summarize_language([report, english])
    assert summary["reasoning_compliance"] == 0.5
    assert summary["answer_undetermined"] == 1
    assert summary["flags"]["truncated"] == 0.5 and summary["flags"]["empty"] == 0.0
    assert 0.0 <= summary["mean_language_score"] <= 1.0
