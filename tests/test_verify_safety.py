"""The verifier is safe: bounded time on hostile input, any thread, and model text is never executed."""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from polyreason.verify import verify, verify_batch, warm_up

SLACK_S = 1.5  # process kill + scheduling on a busy 2-core machine


@pytest.fixture(scope="module", autouse=True)
def _warm_pool():
    warm_up(2)


ADVERSARIAL = {
    "power_tower": "\\boxed{2^{2^{2^{2^{2^{2^{2^{2}}}}}}}}",
    "power_tower_plain": "\\boxed{9^{9^{9^{9}}}}",
    "factorial_tower": "\\boxed{(10^{10})!!}",
    "nested_braces": "\\boxed{" + "{" * 10_000 + "1" + "}" * 10_000 + "}",
    "unbalanced_braces": "\\boxed{" + "{" * 10_000,
    "one_megabyte": "x" * 1_000_000 + " \\boxed{2}",
    "one_megabyte_boxes": "\\boxed{1}" * 120_000,
    "deep_frac": "\\boxed{" + "\\frac{1}{" * 300 + "2" + "}" * 300 + "}",
    "deep_frac_short": "\\boxed{" + "\\frac{1}{" * 60 + "2" + "}" * 60 + "}",
    "huge_number": "\\boxed{" + "9" * 20_000 + "}",
    "huge_number_text": "The answer is " + "7" * 20_000,
    "control_chars": "\\boxed{\x00\x01\x02 2 \x1b[31m}" + "\x07" * 1000,
    "many_thinks": "<think>" * 50_000 + "</think>" * 50_000 + "\\boxed{2}",
    "big_matrix": "\\boxed{\\begin{pmatrix}" + "&".join(["1"] * 400) + "\\end{pmatrix}}",
    "long_sum": "\\boxed{" + "+".join(["x"] * 3000) + "}",
    # the scanners of answers written without a box (math spans, phrases, sentences, bold, lists)
    "dollar_signs": "$" * 100_000,
    "dollar_pairs": "$a$ " * 25_000,
    "open_parens": "\\(" * 50_000,
    "open_brackets": "\\[" * 50_000,
    "display_dollars": "$$ x " * 20_000,
    "answer_words": "answer is " * 10_000,
    "final_answer_no_tail": "The final answer is " * 5_000,
    "one_word_in_math": "$" + "a" * 99_990 + "$",
    "prose_in_math": "$" + "ab " * 33_000 + "$",
    "spaces_then_x": " " * 99_990 + "x",
    "numbers": "1 " * 50_000,
    "chained_sum": "1+" * 50_000 + "1",
    "commas": "1," * 50_000,
    "bold_marks": "**" * 50_000,
    "bold_numbers": "**5** " * 15_000,
    "alternating_boxes": "\\boxed{1} \\boxed{2} " * 5_000,
    "boxes_joined_by_and": "\\boxed{1} and " * 8_000,
    "spans_joined_by_and": "$1$ and " * 12_000,
    "endless_sentence": "so the value is " + "7 " * 40_000 + "and",
    "cjk_phrases": "答案" * 30_000 + "是 2",
}


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_adversarial_input_is_bounded(name):
    bound = 1.0
    start = time.monotonic()
    verdict = verify("2", ADVERSARIAL[name], timeout=bound)
    elapsed = time.monotonic() - start
    assert elapsed <= bound + SLACK_S, (name, elapsed, verdict)
    assert verdict.correct in (True, False)


def test_default_bound_is_two_seconds_and_pool_recovers():
    start = time.monotonic()
    verdict = verify("2", ADVERSARIAL["power_tower"])
    assert time.monotonic() - start <= 2.0 + SLACK_S
    assert verdict.correct is False and "timeout" in verdict.reason
    # The killed worker was replaced: a normal slow-path item still works right after.
    assert verify("\\frac{\\sqrt{3}}{2}", "\\boxed{\\frac{\\sqrt{3}}{2}}").correct is True


def test_batch_with_hostile_items_keeps_order_and_bound():
    golds = ["2", "\\frac{\\sqrt{3}}{2}", "2", "x^2+1"]
    comps = [ADVERSARIAL["power_tower"], "\\boxed{\\frac{\\sqrt3}{2}}", "\\boxed{2}", "\\boxed{1+x^2}"]
    start = time.monotonic()
    verdicts = verify_batch(golds, comps, workers=2, timeout=1.0)
    assert time.monotonic() - start <= 2 * (1.0 + SLACK_S)
    assert [v.correct for v in verdicts] == [False, True, True, True]


def test_works_from_many_threads():
    cases = [
        ("\\frac{1}{2}", "\\boxed{0.5}", True),
        ("x^2+1", "\\boxed{1+x^2}", True),
        ("7", "\\boxed{8}", False),
    ] * 6

    def run(case):
        return verify(case[0], case[1]).correct

    with ThreadPoolExecutor(max_workers=6) as ex:
        results = list(ex.map(run, cases))
    assert results == [c[2] for c in cases]
    assert threading.current_thread() is threading.main_thread()


PAYLOADS = [
    "__import__('os').system('touch {marker}')",
    "\\boxed{__import__('os').system('touch {marker}')}",
    "\\boxed{eval(\"__import__('os').system('touch {marker}')\")}",
    "\\boxed{exec(\"open('{marker}','w').write('x')\")}",
    "\\boxed{Lambda(x, __import__('os').system('touch {marker}'))}",
    "\\boxed{\\text{__import__('os').system('touch {marker}')}}",
    "The final answer is __import__('subprocess').run(['touch', '{marker}'])",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_model_text_is_never_executed(payload, tmp_path):
    marker = tmp_path / "pwned"
    text = payload.replace("{marker}", str(marker))
    verify("2", text)
    verify("2", text, timeout=None)  # the in-process path too
    verify_batch(["x", "2"], [text, text], workers=2)
    assert not marker.exists()


def _daemon_child(queue):
    from polyreason.verify import verify as v

    queue.put((v("1000", "\\boxed{1,000}").correct, v("x^2", "\\boxed{x \\cdot x}").correct))


def test_inside_a_daemonic_process_falls_back_in_process():
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_daemon_child, args=(queue,), daemon=True)
    proc.start()
    result = queue.get(timeout=60)
    proc.join(timeout=10)
    assert result == (True, True)


def test_threads_waiting_for_a_worker_survive_kills():
    from polyreason.verify.pool import VerifierPool

    pool = VerifierPool(1)
    tasks = [("2", "2^{2^{2^{2^{2^{2^{2}}}}}}"), ("x^2", "x \\cdot x")] * 3

    def run(task):
        try:
            # The tower must be killed; the normal task gets room for a busy machine.
            return pool.run(task, 0.5 if "^" in task[1] else 20.0)[0]
        except Exception as exc:  # noqa: BLE001 - a timeout is an expected outcome here
            return type(exc).__name__

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=4) as ex:
        results = list(ex.map(run, tasks))
    pool.close()
    assert results == ["TaskTimeout", True] * 3
    assert time.monotonic() - start < 3 * 0.5 + 6 * SLACK_S
