"""Translation validation on real texts with planted defects, and the endpoint client against a local server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from http_stub import JsonHandler, chat_reply
from polyreason.data.translate import check_translation, clean_output, translate_rows
from polyreason.errors import UserError
from polyreason.generation import SamplingParams
from polyreason.generation.endpoint import EndpointBackend
from polyreason.text.langid import detect_language

# MGSM rows 0-2 in English and in the official Spanish translation (google-research/url-nlp, CC-BY-4.0)
EN = [
    "Janet’s ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins for her friends "
    "every day with four. She sells the remainder at the farmers' market daily for $2 per fresh duck egg. How much in "
    "dollars does she make every day at the farmers' market?",
    "A robe takes 2 bolts of blue fiber and half that much white fiber.  How many bolts in total does it take?",
    "Josh decides to try flipping a house.  He buys a house for $80,000 and then puts in $50,000 in repairs.  This "
    "increased the value of the house by 150%.  How much profit did he make?",
]
ES = [
    "Los patos de Janet ponen 16 huevos por día. Ella come tres en el desayuno todas las mañanas y usa cuatro para "
    "hornear magdalenas para sus amigos todos los días. Vende lo que sobra en el mercado de productores diariamente "
    "a $2 el huevo fresco de pato. ¿Cuánto gana en dólares todos los días en el mercado de productores?",
    "Una bata lleva 2 rollos de tela azul y la mitad de esa cantidad de tela blanca. ¿Cuántos rollos se necesitan en "
    "total?",
    "Josh decide intentar remodelar y vender una casa. Compra una casa de $80 000 y luego agrega $50 000 para las "
    "reparaciones. Esto aumenta un 150 % el valor de la casa. ¿Cuánto obtuvo de ganancia?",
]
# MATH-500 problem (PRM800K, MIT) and a hand translation
MATH_EN = ("If $f(x) = \\frac{3x-2}{x-2}$, what is the value of $f(-2) +f(-1)+f(0)$? Express your answer as a "
           "common fraction.")
MATH_ES = ("Si $f(x) = \\frac{3x-2}{x-2}$, ¿cuál es el valor de $f(-2) +f(-1)+f(0)$? Expresa tu respuesta como una "
           "fracción común.")
TRACE_EN = ("<think>\nJanet sells 16 - 3 - 4 = 9 duck eggs a day.\nShe makes 9 * 2 = $18 every day at the farmer’s "
            "market.\n</think>\n\nThe answer is \\boxed{18}")
TRACE_ES = ("<think>\nJanet vende 16 - 3 - 4 = 9 huevos de pato al día.\nGana 9 * 2 = $18 cada día en el mercado de "
            "productores.\n</think>\n\nLa respuesta es \\boxed{18}")
SOL_EN = "Janet sells 16 - 3 - 4 = 9 duck eggs a day. She makes 9 * 2 = $18 every day."
SOL_ES = "Janet vende 16 - 3 - 4 = 9 huevos de pato al día. Gana 9 * 2 = $18 cada día."


@pytest.mark.parametrize(("src", "out"), list(zip(EN, ES, strict=True)) + [(MATH_EN, MATH_ES), (TRACE_EN, TRACE_ES)])
def test_real_translations_pass(src, out):
    assert check_translation(src, out, "es") == []


@pytest.mark.parametrize(
    ("src", "out", "reason"),
    [
        (EN[0], ES[0].replace("16 huevos", "17 huevos"), "numbers changed"),
        (EN[2], ES[2].replace("150 %", "cien por cien"), "numbers changed"),
        (MATH_EN, MATH_ES.replace("\\frac{3x-2}{x-2}", "(3x-2)/(x-2)"), "LaTeX commands dropped"),
        (EN[0], EN[0], "identical"),
        (EN[1], "A robe needs 2 bolts of blue fabric and half as much white fabric. How many bolts in total?",
         "detected language 'en'"),
        (TRACE_EN, TRACE_ES.replace("\\boxed{18}", "\\boxed{19}").replace("$18", "$19"), "boxed answer changed"),
        (TRACE_EN, TRACE_ES.replace("<think>\n", "").replace("</think>", ""), "<think> tags not kept"),
        (EN[1], "   ", "empty output"),
    ],
)
def test_planted_defects_are_caught(src, out, reason):
    reasons = check_translation(src, out, "es")
    assert any(reason in r for r in reasons), reasons


def test_detect_language_ignores_math():
    assert detect_language(MATH_ES) == "es" and detect_language(EN[0]) == "en"
    assert detect_language("$x^2 + 3 = 7$") is None  # no prose to judge
    assert clean_output("```\nHola mundo\n```") == "Hola mundo"


class _FakeLLM(JsonHandler):
    """An OpenAI-compatible /v1/chat/completions that 'translates' from a table (with planted failures)."""

    table = {EN[0]: ES[0], EN[1]: ES[1], TRACE_EN: TRACE_ES, SOL_EN: SOL_ES}
    seen: list[dict] = []

    def do_POST(self):  # noqa: N802 - http.server API
        body = self.record()["body"]
        text = body["messages"][-1]["content"]
        if text == EN[1] and body["temperature"] == 0.0:
            reply = ES[1].replace("2 rollos", "3 rollos")  # wrong number first, right on the retry
        else:
            reply = self.table.get(text, text)  # unknown text comes back untranslated (English)
        self.reply(chat_reply(f"```\n{reply}\n```"))


@pytest.fixture
def fake_server(serve_stub):
    return serve_stub(_FakeLLM) + "/v1"


def _rows():
    rl = [{"problem": p, "answer": a, "language": "en", "source": "mgsm_en", "id": f"m{i}"}
          for i, (p, a) in enumerate(zip(EN, ["18", "3", "70000"], strict=True))]
    sft = {"messages": [{"role": "system", "content": "You are helpful."}, {"role": "user", "content": EN[0]},
                        {"role": "assistant", "content": TRACE_EN}], "language": "en", "source": "gsm8k", "id": "t0"}
    rl[0]["solution"] = SOL_EN
    return rl + [sft]


def test_translate_rows_through_endpoint(fake_server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    gen = EndpointBackend(fake_server, model="fake", concurrency=3)
    out = tmp_path / "es.jsonl"
    report = translate_rows(_rows(), gen, out, target="es", retries=1, batch_size=2)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert report["n_kept"] == 3 and report["n_dropped"] == 1 and report["n_retries"] >= 2
    by_id = {r["id"]: r for r in rows}
    assert by_id["m0-es"]["problem"] == ES[0] and by_id["m1-es"]["problem"] == ES[1]
    assert by_id["m0-es"]["language"] == "es" and by_id["m0-es"]["translated_from"] == "en"
    assert by_id["m0-es"]["solution"] == SOL_ES
    sft = by_id["t0-es"]["messages"]
    assert sft[2]["content"] == TRACE_ES and "español" in sft[0]["content"]  # system prompt switched to Spanish
    rejects = [json.loads(line) for line in Path(report["rejects"]).read_text().splitlines()]
    assert rejects[0]["id"] == "m2" and "detected language 'en'" in " ".join(rejects[0]["reasons"]["problem"])
    assert _FakeLLM.seen[0]["auth"] == "Bearer sk-test" and _FakeLLM.seen[0]["body"]["model"] == "fake"
    # rerunning resumes: kept and dropped rows are not sent again, unless resume=False
    n_before = len(_FakeLLM.seen)
    again = translate_rows(_rows(), gen, out, target="es", retries=0, batch_size=2)
    assert again["n_resumed"] == 4 and len(_FakeLLM.seen) == n_before and len(out.read_text().splitlines()) == 3
    fresh = translate_rows(_rows(), gen, out, target="es", retries=1, batch_size=2, resume=False)
    assert fresh["n_kept"] == 3 and fresh["n_resumed"] == 0 and len(out.read_text().splitlines()) == 3


def test_translate_resumes_after_a_crash(fake_server, tmp_path):
    gen = EndpointBackend(fake_server, model="fake")

    class Crashing:
        name = "crashing"
        calls = 0

        def chat(self, convs, params, **kw):
            Crashing.calls += 1
            if Crashing.calls > 1:
                raise RuntimeError("killed")
            return gen.chat(convs, params, **kw)

    out = tmp_path / "es.jsonl"
    with pytest.raises(RuntimeError):
        translate_rows(_rows(), Crashing(), out, target="es", retries=0, batch_size=1)
    assert not out.exists() and (tmp_path / "es.jsonl.partial").exists()
    report = translate_rows(_rows(), gen, out, target="es", retries=1, batch_size=1)
    assert report["n_resumed"] == 1 and report["n_kept"] == 2


def test_endpoint_errors_are_user_errors(fake_server):
    gen = EndpointBackend("http://127.0.0.1:9/v1", retries=0, timeout=2)
    with pytest.raises(UserError, match="cannot reach"):
        gen.chat([[{"role": "user", "content": "hola"}]], SamplingParams())
    with pytest.raises(UserError, match="target language"):
        translate_rows([], gen, "/tmp/never.jsonl", target="xx")
