"""Near misses a policy could farm: every row is a WRONG answer and must be rejected (0 false positives).

Each row is (gold, completion, language, why).  The first rows are the lost-minus-sign / leading-dot bug
(a bare last-line number read without its sign or its leading dot); the rest are the neighbours of every
extraction rule: boxes, answer phrases, bare math, the last number of a concluding sentence, reasoning
inside <think>, hedges, lists, relations, intervals, locale numbers.
"""

from __future__ import annotations

import pytest

from polyreason.verify import verify, verify_batch

TIMEOUT = 10.0

NEAR_MISSES: list[tuple[str, str, str, str]] = [
    # --- the sign / leading-dot bug: bare answers keep their sign and their leading dot
    ("5", "-5", "en", "bare answer: the minus sign is part of the number"),
    ("5", "−5", "en", "unicode minus"),
    ("5", "- 5", "en", "minus then a space"),
    ("-5", "5", "en", "missing sign"),
    ("-3", "3", "en", "missing sign"),
    ("3", "-3", "en", "extra sign"),
    ("4", ".4", "en", "leading dot: .4 is 0.4"),
    ("4", "-.4", "en", "signed leading dot"),
    ("0.4", "4", "en", "dot dropped"),
    ("0.5", "-0.5", "en", "extra sign on a decimal"),
    ("-0.5", "0.5", "en", "missing sign on a decimal"),
    ("12", "1.2", "en", "decimal point inside"),
    ("1.2", "12", "en", "decimal point dropped"),
    ("15", "1.5", "en", "misplaced decimal point"),
    ("25", "2.5", "en", "misplaced decimal point"),
    ("5", "5.5", "en", "different decimal"),
    ("1", "-1", "en", "sign"),
    ("5", "The result is -5.", "en", "sign in a concluding sentence"),
    ("5", "So the total is -5 apples.", "en", "sign before a unit"),
    ("4", "The value is .4 now.", "en", "leading dot in a sentence"),
    ("5", "$-5$", "en", "sign inside inline math"),
    ("4", "$.4$", "en", "leading dot inside inline math"),
    ("5", "\\(-5\\)", "en", "sign inside \\(...\\)"),
    ("5", "\\boxed{-5}", "en", "sign inside the box"),
    ("0.5", "$\\boxed{-0.5}$", "en", "sign inside the box"),
    ("5", "**-5**", "en", "sign inside bold"),
    ("5", "The answer is -5.", "en", "sign after an answer phrase"),
    ("5", "Final answer: -5. I hope it is correct.", "en", "sign after an answer phrase"),
    ("12", "The final answer is 1.2. I hope it is correct.", "en", "decimal point after a phrase"),
    ("5", "x = -5", "en", "sign in an assignment"),
    ("5", "5 - 10 = -5", "en", "a chain ends in the negative value"),
    ("5", "Respuesta: -5", "es", "sign after a Spanish phrase"),
    ("1.5", "15", "es", "Spanish: 15 is not 1,5"),
    ("3", "3/4", "en", "a fraction is not its numerator"),
    ("2", "2^2", "en", "a power is not its base"),
    # --- reasoning inside <think> is never graded
    ("5", "<think>x</think>\n-5", "en", "the graded answer is -5"),
    ("5", "<think>The answer is 5.</think>", "en", "answer only inside <think>"),
    ("5", "<think>\\boxed{5}</think>\nI am not sure.", "en", "box only inside <think>"),
    ("5", "<think>so it is 5", "en", "reasoning never closed"),
    ("5", "<think>$5$</think>\nSo the answer is $-5$.", "en", "math only inside <think>"),
    ("7", "<think>Respuesta: 7</think> Respuesta: 8", "es", "phrase inside <think>, wrong one outside"),
    ("5", "<think>5</think><think>5", "en", "a second reasoning block never closed"),
    # --- no answer beats a guess from stray numbers
    ("12", "<think>a</think>\nI multiplied 3 by 4 and then got confused", "en", "numbers without a conclusion"),
    ("2", "AZYUK2A", "en", "a digit inside a word is not a number"),
    ("5", "\\boxed{5", "en", "the box never closes: cut off"),
    ("5", "The answer is", "en", "phrase without an answer"),
    ("5", "", "en", "empty"),
    ("3", "\\boxed{}", "en", "empty box"),
    # --- hedges and lists
    ("5", "\\boxed{5} or \\boxed{-5}", "en", "two candidate boxes"),
    ("5", "The answer is $5$ or $-5$.", "en", "two candidate math spans"),
    ("5", "\\boxed{\\pm 5}", "en", "plus-minus"),
    ("5", "\\boxed{5, -5}", "en", "a list for one answer"),
    ("1, 2", "\\boxed{1}", "en", "one of two required answers"),
    ("1, 2", "\\boxed{1} and \\boxed{3}", "en", "second part wrong"),
    ("1, 2", "\\boxed{1, -2}", "en", "sign in the second part"),
    # --- relations, intervals, sets, tuples
    ("x \\geq 5", "$x \\leq 5$", "en", "inequality flipped"),
    ("x > 5", "Therefore $x < 5$ is the solution.", "en", "inequality flipped"),
    ("x < 1", "$x > -1$", "en", "negated the wrong side"),
    ("x = 5", "$x = -5$", "en", "sign in an equation"),
    ("[0,1)", "$[0,1]$", "en", "interval closed at the wrong end"),
    ("(0,1)", "$[0,1)$", "en", "interval closed at the wrong end"),
    ("(-6, 10)", "$(6, 10)$", "en", "sign of an endpoint"),
    ("(1,2)", "$(2,1)$", "en", "tuple order"),
    ("\\{1,2\\}", "$\\{1,-2\\}$", "en", "sign inside a set"),
    # --- percents, thousands, text
    ("28\\%", "$-28\\%$", "en", "sign on a percent"),
    ("28\\%", "2.8 percent", "en", "decimal point in a percent"),
    ("32349", "$\\boxed{32, 349}$", "en", "comma then a space is a list, not thousands"),
    ("11111111100", "$\\boxed{11,\\! 111,\\! 111,\\! 10}$", "en", "a digit group short"),
    ("\\text{E}", "$\\text{F}$", "en", "different letter"),
    ("\\text{odd}", "$\\text{even}$", "en", "different word"),
    # --- the question restated: a calculation that equals the gold is not its result (a GRPO policy farmed it)
    ("42", "<think>\n</think>\n\nThe answer is \\boxed{72 - 30}", "en", "the problem's own sum, boxed"),
    ("42", "La respuesta es \\boxed{72 - 30}", "es", "the same in Spanish, no reasoning"),
    ("12", "\\boxed{3 \\cdot 4}", "en", "a product left undone"),
    ("10", "The answer is $(9+1)$.", "en", "a bracketed sum"),
    ("42", "\\boxed{6(7)}", "en", "an implicit product left undone"),
    ("42", "\\boxed{(6)(7)}", "en", "an implicit product of brackets"),
    ("42", "\\boxed{(6)7}", "en", "an implicit product, bracket first"),
    # --- matrices
    (
        "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}",
        "$\\begin{pmatrix} 1 & 2 \\\\ 3 & -4 \\end{pmatrix}$",
        "en",
        "sign in a matrix entry",
    ),
]


@pytest.mark.parametrize(("gold", "completion", "language", "why"), NEAR_MISSES)
def test_near_miss_is_rejected(gold, completion, language, why):
    verdict = verify(gold, completion, language, timeout=TIMEOUT)
    assert verdict.correct is False, (why, verdict)


def test_near_misses_in_one_batch():
    golds, comps, langs, _ = zip(*NEAR_MISSES, strict=True)
    verdicts = verify_batch(list(golds), list(comps), list(langs), workers=2, timeout=TIMEOUT)
    accepted = [(g, c) for g, c, v in zip(golds, comps, verdicts, strict=True) if v.correct is not False]
    assert not accepted


# The same answers written right: the rejection above is about the near miss, not about the shape.
RIGHT: list[tuple[str, str, str]] = [
    ("-5", "-5", "en"),
    ("0.4", ".4", "en"),
    ("-0.4", "-.4", "en"),
    ("-5", "<think>x</think>\n-5", "en"),
    ("-5", "The result is -5.", "en"),
    ("-0.5", "$\\boxed{-0.5}$", "en"),
    ("1.2", "The final answer is 1.2. I hope it is correct.", "en"),
    ("-5", "Respuesta: -5", "es"),
    ("x \\leq 5", "$5 \\geq x$", "en"),
    ("1, 2", "\\boxed{1} and \\boxed{2}", "en"),
    ("42", "La respuesta es \\boxed{42}", "es"),
    ("1/3", "$\\left( \\frac{1}{3} \\right)$", "en"),  # brackets around a number are not a calculation
    ("2", "\\boxed{\\sqrt{4}}", "en"),
    ("2 + \\sqrt{3}", "\\boxed{\\sqrt{3} + 2}", "en"),  # a gold that is itself an expression
    ("600000000000000000000000", "\\boxed{6 \\times 10^{23}}", "en"),  # scientific notation is a number
    ("0.00012", "$1.2 \\times 10^{-4}$", "en"),
]


@pytest.mark.parametrize(("gold", "completion", "language"), RIGHT)
def test_the_right_answer_in_the_same_shape_is_accepted(gold, completion, language):
    assert verify(gold, completion, language, timeout=TIMEOUT).correct is True
