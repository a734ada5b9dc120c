"""Table of verifier cases: (gold, completion, language, expected correct)."""

from __future__ import annotations

import pytest

from polyreason.verify import extract_answer, verify, verify_batch

# Correctness is tested with a roomy bound so a loaded CI machine cannot turn a slow parse into a "wrong";
# the 2 s default bound itself is tested in test_verify_safety.py.
TIMEOUT = 10.0


def B(x: str) -> str:
    return "<think>\nworking it out\n</think>\n\nThe answer is $\\boxed{" + x + "}$."


CASES: list[tuple[str, str, str, bool | None]] = [
    # --- plain integers and floats
    ("42", B("42"), "en", True),
    ("42", B("43"), "en", False),
    ("27.0", B("27"), "en", True),
    ("27", B("27.0"), "en", True),
    ("27", B("27.00"), "en", True),
    ("0.5", B("\\frac{1}{2}"), "en", True),
    ("\\frac{1}{2}", B("0.5"), "en", True),
    ("\\frac12", B("\\dfrac{1}{2}"), "en", True),
    ("-3", B("-3"), "en", True),
    ("-3", B("3"), "en", False),
    ("3", B("-3"), "en", False),
    ("-\\frac{2}{3}", B("-\\frac{2}{3}"), "en", True),
    ("-\\frac{2}{3}", B("\\frac{-2}{3}"), "en", True),
    ("0.333", B("\\frac{1}{3}"), "en", False),
    ("1/3", B("\\frac{1}{3}"), "en", True),
    ("1000", B("1000"), "en", True),
    ("0", B("0"), "en", True),
    ("0", B("0.0"), "en", True),
    ("100", B("10"), "en", False),
    ("12", B("21"), "en", False),
    # --- thousands separators
    ("1000", B("1,000"), "en", True),
    ("1000000", B("1,000,000"), "en", True),
    ("10080", B("10,\\!080"), "en", True),
    ("10,\\!080", B("10080"), "en", True),
    ("1000", B("1\\,000"), "en", True),
    ("1000", B("1{,}000"), "en", True),
    ("1000", B("1 000"), "en", True),
    ("1234567", B("1,234,567"), "en", True),
    ("1234", B("1,234"), "en", True),
    ("1234", B("1,243"), "en", False),
    # --- English locale: a dot is a decimal point
    ("5.6", B("5.600"), "en", True),
    ("5600", B("5.600"), "en", False),
    ("3.5", B("3.5"), "en", True),
    # --- Spanish locale (MGSM style): dot groups thousands, comma is the decimal mark
    ("5600", B("5.600"), "es", True),
    ("5.6", B("5.600"), "es", False),
    ("3.5", B("3,5"), "es", True),
    ("35", B("3,5"), "es", False),
    ("1250.5", B("1.250,5"), "es", True),
    ("1000", B("1 000"), "es", True),
    ("1000", B("1.000"), "es", True),
    ("1000000", B("1.000.000"), "es", True),
    ("2.25", B("2,25"), "es", True),
    ("0.75", B("0,75"), "es", True),
    ("18", B("18"), "es", True),
    ("18", B("18,0"), "es", True),
    ("3.25", B("3.25"), "es", True),  # an unambiguous dot decimal is still read as written
    ("12", B("12 €"), "es", True),
    ("12", B("12 euros"), "es", True),
    ("1250", B("1.250 dólares"), "es", True),
    ("1250", B("\\$1.250"), "es", True),
    ("5600", "La respuesta final es 5.600", "es", True),
    ("5600", "Respuesta: 5.600", "es", True),
    ("3.5", "Respuesta: 3,5", "es", True),
    ("42", "Por lo tanto, la respuesta es **42**.", "es", True),
    ("7", "<think>Pienso.</think> Respuesta: 8", "es", False),
    ("1,5", B("1,5"), "es", True),
    ("1.5", B("1.5"), "es", True),
    ("1500", B("1.500"), "es", True),
    ("1500", B("1,500"), "es", True),  # ambiguous in Spanish (1.5 or MGSM-style 1500): both readings count
    ("5600", B("5,600"), "es", True),
    ("5.6", B("5,600"), "es", True),
    ("56", B("5,600"), "es", False),
    ("5600", B("5,6"), "es", False),
    ("1.5", B("1,500"), "es", True),
    ("1500", B("1,500"), "en", True),
    ("1250.5", B("1,250.5"), "es", True),
    ("3", B("3,0"), "es", True),
    ("3", B("3,1"), "es", False),
    ("2500", B("2 500"), "fr", True),
    ("2.5", B("2,5"), "fr", True),
    ("2.5", B("2,5"), "de", True),
    ("2500", B("2.500"), "de", True),
    # --- percent, degrees, currency, units
    ("50\\%", B("50\\%"), "en", True),
    ("50\\%", B("50"), "en", True),
    ("50", B("50\\%"), "en", True),
    ("50\\%", B("0.5"), "en", True),
    ("50\\%", B("60\\%"), "en", False),
    ("90^\\circ", B("90"), "en", True),
    ("90", B("90^\\circ"), "en", True),
    ("90", B("90°"), "en", True),
    ("45^\\circ", B("45^{\\circ}"), "en", True),
    ("90^\\circ", B("45^\\circ"), "en", False),
    ("\\$5.00", B("5"), "en", True),
    ("5", B("\\$5"), "en", True),
    ("18.90", B("\\$18.90"), "en", True),
    ("18.90", B("18.9"), "en", True),
    ("18.90", B("18.09"), "en", False),
    ("10", B("10 \\text{ cm}"), "en", True),
    ("10", B("10\\text{ cm}^2"), "en", True),
    ("10", B("10 \\mbox{ meters}"), "en", True),
    ("10", B("10 cm"), "en", True),
    ("10", B("11 cm"), "en", False),
    ("\\text{5 inches}", B("5"), "en", True),
    ("6", B("6 \\text{ dollars}"), "en", True),
    ("6", B("6 dólares"), "es", True),
    # --- text answers
    ("\\text{Friday}", B("\\text{Friday}"), "en", True),
    ("\\text{Friday}", B("Friday"), "en", True),
    ("Friday", B("\\text{friday}"), "en", True),
    ("\\text{Friday}", B("\\text{Monday}"), "en", False),
    ("\\text{even}", B("\\text{even}"), "en", True),
    ("\\text{odd}", B("\\text{even}"), "en", False),
    ("\\text{Devon}", B("\\textbf{Devon}"), "en", True),
    ("\\text{(C)}", B("C"), "en", True),
    ("\\text{Evelyn}", B("Evelyn"), "en", True),
    ("\\text{neither}", B("\\text{neither}"), "en", True),
    ("\\text{neither}", B("\\text{odd}"), "en", False),
    # --- multiple choice
    ("C", B("(C)"), "en", True),
    ("(C)", B("C"), "en", True),
    ("C", B("\\text{(C)}"), "en", True),
    ("C", B("(D)"), "en", False),
    ("C", B("D"), "en", False),
    ("B", B("\\text{B}"), "en", True),
    ("(A)", B("\\textbf{(A)}"), "en", True),
    ("E", B("(E)"), "en", True),
    ("\\text{(B)}", B("(B)"), "en", True),
    ("\\text{(B)}", B("(A)"), "en", False),
    # --- tuples, intervals, sets
    ("\\left( 3, \\frac{\\pi}{2} \\right)", B("\\left( 3, \\frac{\\pi}{2} \\right)"), "en", True),
    ("\\left( 3, \\frac{\\pi}{2} \\right)", B("(3,\\frac{\\pi}{2})"), "en", True),
    ("\\left( 3, \\frac{\\pi}{2} \\right)", B("(3,\\frac{\\pi}{3})"), "en", False),
    ("(1,2)", B("(1, 2)"), "en", True),
    ("(1,2)", B("(2, 1)"), "en", False),
    ("(1,2)", B("[1,2]"), "en", False),
    ("[1,2]", B("[1, 2]"), "en", True),
    ("[-2,7]", B("[-2, 7]"), "en", True),
    ("[-2,7]", B("(-2, 7)"), "en", False),
    ("x \\in [-2,7]", B("x \\in [-2,7]"), "en", True),
    ("(-\\infty, 3)", B("(-\\infty,3)"), "en", True),
    ("(-\\infty, 3)", B("(-\\infty,3]"), "en", False),
    ("(0, \\infty)", B("(0,\\infty)"), "en", True),
    ("\\{1,2\\}", B("\\{2,1\\}"), "en", True),
    ("\\{1,2\\}", B("\\{1,3\\}"), "en", False),
    ("\\{1,2,3\\}", B("\\{3,2,1\\}"), "en", True),
    ("(1,2,3)", B("(1,2,3)"), "en", True),
    ("(1,2,3)", B("(1,2)"), "en", False),
    ("(1,-2)", B("(1,-2)"), "en", True),
    ("(0.5, 1)", B("(\\frac{1}{2}, 1)"), "en", True),
    ("(3, 5)", B("(3,5)"), "es", True),  # commas inside a tuple separate items even in Spanish
    ("1,-2", B("1, -2"), "en", True),
    ("1,-2", B("-2, 1"), "en", True),
    ("2, 3", B("2,3"), "en", True),
    ("-1, 2", B("2, -1"), "en", True),
    ("3, 5, 7", B("3, 5, 7"), "en", True),
    ("3, 5, 7", B("3, 5"), "en", False),
    # --- matrices and vectors
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", B("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}"), "en", True),
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", B("\\begin{pmatrix} 2 \\\\ 1 \\end{pmatrix}"), "en", False),
    (
        "\\begin{pmatrix} 1 & 0 \\\\ 0 & 1 \\end{pmatrix}",
        B("\\begin{pmatrix}1&0\\\\0&1\\end{pmatrix}"),
        "en",
        True,
    ),
    (
        "\\begin{pmatrix} 1 & 0 \\\\ 0 & 1 \\end{pmatrix}",
        B("\\begin{pmatrix}1&1\\\\0&1\\end{pmatrix}"),
        "en",
        False,
    ),
    (
        "\\begin{pmatrix} -1/3 \\\\ 2/3 \\end{pmatrix}",
        B("\\begin{pmatrix} -\\frac13 \\\\ \\frac23 \\end{pmatrix}"),
        "en",
        True,
    ),
    # --- expressions (math-verify territory)
    ("\\frac{\\sqrt{3}}{2}", B("\\frac{\\sqrt3}{2}"), "en", True),
    ("\\frac{\\sqrt{3}}{2}", B("\\frac{\\sqrt{2}}{2}"), "en", False),
    ("2\\sqrt{2}", B("\\sqrt{8}"), "en", True),
    ("2\\sqrt{2}", B("2\\sqrt{3}"), "en", False),
    ("\\pi", B("\\pi"), "en", True),
    ("2\\pi", B("\\pi"), "en", False),
    ("\\frac{\\pi}{4}", B("\\frac{\\pi}{4}"), "en", True),
    ("\\frac{\\pi}{4}", B("45^\\circ"), "en", False),
    ("x^2+2x+1", B("(x+1)^2"), "en", True),
    ("x^2+2x+1", B("(x-1)^2"), "en", False),
    ("6+9i", B("6+9i"), "en", True),
    ("6+9i", B("9i+6"), "en", True),
    ("6+9i", B("6-9i"), "en", False),
    ("\\sqrt{2}", B("\\sqrt{2}"), "en", True),
    ("\\sqrt{2}", B("1.414"), "en", False),
    ("4210_{5}", B("4210_{5}"), "en", True),
    ("4210_{5}", B("4211_{5}"), "en", False),
    ("\\cot x", B("\\cot x"), "en", True),
    ("\\cot x", B("\\tan x"), "en", False),
    ("\\frac{14}{3}", B("\\frac{28}{6}"), "en", True),
    ("\\frac{14}{3}", B("4\\frac{2}{3}"), "en", True),
    ("3\\sqrt{13}", B("\\sqrt{117}"), "en", True),
    ("p - q", B("p-q"), "en", True),
    ("p - q", B("q-p"), "en", False),
    ("a+b", B("b+a"), "en", True),
    ("\\dfrac{9}{7}", B("\\frac{9}{7}"), "en", True),
    ("9", B("3^2"), "en", True),
    ("8", B("2^3"), "en", True),
    ("8", B("2^4"), "en", False),
    # --- variable assignments and equations
    ("5", B("x=5"), "en", True),
    ("5", B("x = 5"), "en", True),
    ("x=5", B("5"), "en", True),
    ("x=5", B("x=5"), "en", True),
    ("x=5", B("x=6"), "en", False),
    ("y=2x+3", B("y=2x+3"), "en", True),
    ("y=2x+3", B("y = 3 + 2x"), "en", True),
    ("y=2x+3", B("y=3x+2"), "en", False),
    ("3x-y+13=0", B("3x-y+13=0"), "en", True),
    ("3x-y+13=0", B("3x+4y+14=0"), "en", False),  # math-verify's collapse-to-0 false positive
    ("3x-y+13=0", B("-3x+y-13=0"), "en", True),
    ("3x-y+13=0", B("6x-2y+26=0"), "en", True),
    ("x+y=1", B("x-y=1"), "en", False),
    ("x^2+y^2=4", B("x^2+y^2=4"), "en", True),
    ("x^2+y^2=4", B("x^2+y^2=9"), "en", False),
    # --- hedged answers are wrong
    ("1728", B("1331 \\text{ and } 1728"), "en", False),
    ("1728", B("1331 \\text{ or } 1728"), "en", False),
    ("1728", B("1331, 1728"), "en", False),
    ("1728", B("1728 \\text{ or } 1331"), "en", False),
    ("3", B("\\pm 3"), "en", False),
    ("3", B("3 o 4"), "es", False),
    ("3", B("3 y 4"), "es", False),
    ("3", "<think>x</think> \\boxed{3} or \\boxed{4}", "en", False),
    ("3", "<think>x</think> \\boxed{3}. Check: \\boxed{3}", "en", True),
    ("\\pm 3", B("\\pm 3"), "en", True),
    # ... but a gold that lists several solutions may be answered with "or" / "and"
    ("1, -2", B("x = 1 \\text{ or } x = -2"), "en", True),
    ("-2, 1", B("1 \\text{ and } -2"), "en", True),
    ("1, -2", B("1 \\text{ or } 3"), "en", False),
    ("1, -2", B("1, -2, 3"), "en", False),
    # --- extraction: last box, think ignored, markdown, phrases
    ("4", "<think>maybe \\boxed{3}</think> so \\boxed{4}", "en", True),
    ("3", "<think>maybe \\boxed{3}</think> so \\boxed{4}", "en", False),
    ("3", "<think>maybe \\boxed{3} and never closed", "en", False),
    ("73", "The answer is **73**.", "en", True),
    ("73", "After all that, the final answer is 73.", "en", True),
    ("73", "Final answer: $73$", "en", True),
    ("73", "Therefore, the final answer is: $\\boxed{73}$. I hope it is correct", "en", True),
    ("73", "so \\boxed{73", "en", False),  # cut off: the box never closes
    ("73", "", "en", False),
    ("73", "I do not know.", "en", False),
    ("73", "The result is\n\n73", "en", True),
    ("73", "\\fbox{73}", "en", True),
    ("\\frac{1}{2}", "\\boxed{\\frac{1}{2}}", "en", True),
    ("\\frac{1}{2}", "\\boxed{\\frac{1}{2}", "en", False),
    ("42", "<think>\x00\x01 control \x07 chars</think>\\boxed{42}", "en", True),
    # --- near misses that must be wrong
    ("128", B("127"), "en", False),
    ("0.25", B("0.52"), "en", False),
    ("\\frac{3}{4}", B("\\frac{4}{3}"), "en", False),
    ("-5", B("5"), "en", False),
    ("10", B("100"), "en", False),
    ("2", B("\\sqrt{2}"), "en", False),
    ("1", B("-1"), "en", False),
    ("15", B("1.5"), "en", False),
    ("1.5", B("15"), "es", False),
    ("36", B("6^2+1"), "en", False),
    # --- golds that cannot be parsed: skip (None), never a free 1.0
    ("", B("42"), "en", None),
]

# --- answers written without a box (issue 11): bare answers, phrases to the end of the sentence,
# the last math span, relations, intervals, matrices, percents, thousands, decimals, text, several parts.
CASES += [
    # bare answers keep their sign and their leading dot
    ("-7", "-7", "en", True),
    ("0.25", ".25", "en", True),
    ("-0.25", "-.25", "en", True),
    ("3180000", "3,180,000", "en", True),
    ("2000", "2000.0", "en", True),
    ("2000.5", "2,000.5", "en", True),
    ("-\\frac{7}{9}", "-\\frac{7}{9}", "en", True),
    ("7/9", "\\frac{7}{9}", "en", True),
    # a comma that cannot group thousands is a decimal comma, in English too
    ("3.14", "3,14", "en", True),
    ("0.125", "0,125", "en", True),
    ("3.14", "3,15", "en", False),
    # answer phrases stop at the end of their sentence
    ("8", "The final answer is 8. I hope it is correct.", "en", True),
    ("8", "The final answer is 8. Next we check 9.", "en", True),
    ("41", "Final Answer: The smallest $m$ is 41.", "en", True),
    ("41", "Final Answer: The number of marbles in the jar is 41. I hope it is correct.", "en", True),
    ("6", "Final Answer: Tom walked for 6 hours before lunch.", "en", True),
    ("2.5", "La respuesta final es 2,5. Espero que sea correcta.", "es", True),
    ("42", "Die Antwort ist 42.", "de", True),
    ("42", "Jibu: 42", "sw", True),
    ("42", "La risposta è 42.", "it", True),
    # the last math span of the answer region
    ("x \\geq 3", "Hence $x \\geq 3$ holds for every solution.", "en", True),
    ("\\frac{2}{5}", "$\\dfrac{2}{5}$", "en", True),
    ("12", "Answer \\[ 12 \\]", "en", True),
    ("12", "So we get\n$$\n12\n$$", "en", True),
    ("12", "So we get\n\\[\n12\n\\]", "en", True),
    ("12", "Answer \\( 5+7 \\)", "en", False),  # a calculation for a number gold (math-verify: True; a policy farms it)
    ("12", "We find $x = 3$. Then the count is 12.", "en", True),
    ("\\frac{2}{7}", "$\\frac27 $", "en", True),
    ("\\sqrt{5}", "$\\sqrt5$", "en", True),
    ("2", "$\\frac4{2}$", "en", True),
    ("\\frac{2}{7}", "$\\cfrac{2}{7}$", "en", True),
    ("\\frac{2}{7}", "$\\left( \\frac{2}{7} \\right)$", "en", True),
    ("\\frac{2}{7}", "$\\frac{2}{7} \\textbf{liters}$", "en", True),
    ("\\frac{2}{7}", "$m = \\frac{2}{7}$", "en", True),
    # relations and inequalities
    ("x > 4", "Thus $x \\gt 4$.", "en", True),
    ("x \\leq 4", "$4 \\geq x$", "en", True),
    ("x \\geq 4", "$4 \\leq x$", "en", True),
    ("x \\neq 4", "$x != 4$", "en", True),
    ("x < 2", "$-x > -2$", "en", True),
    ("x = 9", "$x = 4+4+1 = 9$", "en", True),
    ("9", "$y=9$", "en", True),
    ("x > 4", "$x < 4$", "en", False),
    # intervals, sets
    ("(2, 5]", "The set is $(2,5]$.", "en", True),
    ("(2, 5]", "$[2,5]$", "en", False),
    ("\\{2, 3\\}", "$\\{3,2\\}$", "en", True),
    ("x \\in [1, 4]", "$x \\in [1,4]$", "en", True),
    # matrices in any bracket style
    (
        "\\begin{bmatrix} 2 & 0 \\\\ 0 & 2 \\end{bmatrix}",
        "The result is $\\begin{pmatrix} 2 & 0 \\\\ 0 & 2 \\end{pmatrix}$.",
        "en",
        True,
    ),
    (
        "\\begin{pmatrix} 5 & 6 \\\\ 7 & 8 \\end{pmatrix}",
        "It is $\\left[\\begin{array}{cc} 5 & 6 \\\\ 7 & 8 \\end{array}\\right]$",
        "en",
        True,
    ),
    # percents, also in words
    ("45\\%", "45 percent", "en", True),
    ("45\\%", "45 pct", "en", True),
    ("45\\%", "$45$ %", "en", True),
    ("45\\%", "\\boxed{45 percent}", "en", True),
    ("45\\%", "46 percent", "en", False),
    # LaTeX thousands separators
    ("22222", "$\\boxed{22,\\! 222}$", "en", True),
    ("1234567", "$\\boxed{1,\\!234,\\!567}$", "en", True),
    ("22222", "$\\boxed{22, 222}$", "en", False),  # a comma and a space list two numbers
    ("14916", "$14{,}916$", "en", True),
    # a decimal for an exact gold, at math-verify's default rounding (6 places)
    ("\\frac{1}{7}", "$0.142857142857$", "en", True),
    ("\\frac{1}{7}", "$0.1428$", "en", False),
    ("\\frac{\\sqrt{3}}{2}", "$0.8660254$", "en", True),
    # text answers
    ("\\text{B}", "$B$", "en", True),
    ("\\text{even}", "$even$", "en", True),
    ("\\text{Even}", "$Even$", "en", True),
    ("b", "$\\text{C}$", "en", False),
    # several parts: a list gold answered with several boxes, "and", commas
    ("3, 4", "\\boxed{3} and \\boxed{4}", "en", True),
    ("3, 4", "\\boxed{4},\\boxed{3}", "en", True),
    ("(1, 2), (3, 4)", "\\boxed{(3, 4)} \\quad \\text{and} \\quad \\boxed{(1, 2)}", "en", True),
    ("3 \\text{ and } 4", "$\\boxed{3,4}$", "en", True),
    ("$3$ and $4$", "$\\boxed{4, 3}$", "en", True),
    ("3, 4", "\\boxed{3} and \\boxed{5}", "en", False),
    ("3", "\\boxed{3} and \\boxed{4}", "en", False),
    # a CJK measure word after the number
    ("245", "所以答案是 245颗。", "zh", True),
    ("245", "答案：246颗", "zh", False),
    # golds that are worked solutions or wrapped in $...$
    ("Adding the two parts gives $\\boxed{15}$.", "\\boxed{15}", "en", True),
    ("$15$", "The answer is 15.", "en", True),
    ("$15$ apples", "\\boxed{15}", "en", True),
    # a concluding sentence's number counts; a number without a conclusion cue is a stray number
    ("12", "<think>a</think>\nSo Maria has 12 apples.", "en", True),
    ("12", "<think>a</think>\nPor lo tanto, María tiene 12 manzanas.", "es", True),
    ("12", "<think>a</think>\n所以她有 12 个苹果。", "zh", True),
    ("12", "<think>a</think>\nMaria has 12 apples.", "en", False),  # no answer: ask for a box
    # a restated final answer after intermediate boxes wins
    ("455", "First $\\boxed{200}$, then $\\boxed{255}$. Final Answer: The final answer is $455$.", "en", True),
    ("455", "So \\boxed{455}. The answer is correct.", "en", True),
]

# MGSM-style Spanish integers written with thousands dots (gold, model text).
for n in [1000, 1250, 2400, 5600, 12000, 15500, 20000, 100000, 250000, 1234567]:
    dotted = f"{n:,}".replace(",", ".")
    CASES.append((str(n), B(dotted), "es", True))
    CASES.append((str(n), f"La respuesta es {dotted}.", "es", True))
    CASES.append((str(n + 1), B(dotted), "es", False))
# Decimal commas in Spanish.
for whole, frac in [(3, 5), (2, 75), (0, 5), (12, 25), (7, 125)]:
    CASES.append((f"{whole}.{frac}", B(f"{whole},{frac}"), "es", True))
    CASES.append((f"{whole}.{frac}", B(f"{whole},{frac}1"), "es", False))


def test_table_is_large():
    assert len(CASES) >= 200


@pytest.mark.parametrize(("gold", "completion", "language", "expected"), CASES)
def test_case(gold, completion, language, expected):
    verdict = verify(gold, completion, language, timeout=TIMEOUT)
    assert verdict.correct is expected, verdict


def test_batch_matches_single_calls():
    sample = CASES[:: max(1, len(CASES) // 60)]
    golds, comps, langs, expected = zip(*sample, strict=True)
    verdicts = verify_batch(list(golds), list(comps), list(langs), workers=2, timeout=TIMEOUT)
    assert [v.correct for v in verdicts] == list(expected)


def test_verdict_fields():
    v = verify("5600", B("5.600"), "es")
    assert v.extracted == "5.600"
    assert v.normalized == "5600"
    assert v.reason
    v = verify("42", "nothing here")
    assert (v.correct, v.extracted) == (False, None)


def test_extract_answer_shapes():
    assert extract_answer("a \\boxed{1} b \\boxed{\\frac{2}{3}}") == "\\frac{2}{3}"
    assert extract_answer("<think>\\boxed{1}</think>") is None
    assert extract_answer("<think>\\boxed{1}") is None
    assert extract_answer("**Respuesta:** 12") == "12"
    assert extract_answer("\\boxed{\\text{Friday}}") == "\\text{Friday}"
    assert extract_answer("") is None


@pytest.mark.parametrize(
    "text",
    [
        "所以答案是 42。",
        "答案：42",
        "答えは 42",
        "คำตอบ: 42",
        "Jibu ni 42",
        "Ответ: 42",
        "উত্তর: 42",
        "Antwort: 42",
        "La réponse est 42.",
        "A resposta é 42",
    ],
)
def test_answer_phrases_in_mgsm_languages(text):
    assert verify("42", text).correct is True


def test_constant_evaluator_subset():
    from polyreason.verify.numeric import evaluate_constant

    assert evaluate_constant("2\\sqrt{2}") == pytest.approx(2 * 2**0.5)
    assert evaluate_constant("\\frac{\\pi}{4}") == pytest.approx(3.141592653589793 / 4)
    assert evaluate_constant("\\sqrt[3]{27}") == pytest.approx(3.0)
    for not_constant in [
        "1 1 1",
        "x+1",
        "4\\frac{2}{3}",
        "2^{2^{2^{2^{2}}}}",
        "1/0",
        "\\sqrt{-1}",
        "(",
        "{" * 100,
    ]:
        assert evaluate_constant(not_constant) is None, not_constant
