"""Language compliance and naturalness flags used by the evaluation summary (the analysis: test_text.py)."""

from __future__ import annotations

from polyreason.evaluate import language as lang


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
