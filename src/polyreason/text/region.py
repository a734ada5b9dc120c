"""Where the reasoning ends and the answer begins: the one think/answer convention every layer uses.

A completion reasons between ``<think>`` and ``</think>`` and answers after the last ``</think>``::

    <think>
    reasoning
    </think>

    short answer sentence \\boxed{ANSWER}

Two questions are asked of a completion, and each has one rule here:

* What may be graded? :func:`answer_region` (the verifier, the rewards and the evaluation all use it, so
  reasoning is never graded).
* Which text is reasoning and which is the answer, for language analysis? :func:`reasoning_and_answer`.
"""

from __future__ import annotations

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"


def answer_region(completion: str) -> str | None:
    """The part of a completion that may hold the final answer: the text after the last ``</think>``.

    A ``<think>`` that was opened and never closed (reasoning cut off) gives None: there is no answer yet.
    A completion without think tags is all answer region.

    >>> answer_region("<think>\\\\boxed{1}</think> \\\\boxed{2}")
    ' \\\\boxed{2}'
    """
    close = completion.rfind(THINK_CLOSE)
    if close >= 0:
        return completion[close + len(THINK_CLOSE) :]
    if THINK_OPEN in completion:
        return None
    return completion


def graded_text(completion: str) -> str:
    """:func:`answer_region` as a string: "" when the reasoning never closed."""
    return answer_region(completion) or ""


def has_think_tags(completion: str) -> bool:
    """True when the completion uses the think convention at all (either tag present)."""
    return THINK_OPEN in completion or THINK_CLOSE in completion


def split_reasoning(completion: str) -> tuple[str, str]:
    """Split a completion into ``(reasoning, answer_part)`` around the last ``</think>``.

    The reasoning is the text before it without the opening ``<think>``.  Without ``</think>`` the whole text
    counts as reasoning and the answer part is empty.  Untagged text is for the caller to interpret (see
    :func:`reasoning_and_answer`).
    """
    close = completion.rfind(THINK_CLOSE)
    if close < 0:
        return completion.replace(THINK_OPEN, "", 1).strip(), ""
    head, tail = completion[:close], completion[close + len(THINK_CLOSE) :]
    return head.replace(THINK_OPEN, "", 1).strip(), tail.strip()


def reasoning_and_answer(completion: str) -> tuple[str, str]:
    """``(reasoning, answer)`` of a completion, as the language reward and the evaluation judge them.

    With think tags: :func:`split_reasoning` (cut off inside ``<think>``: all reasoning, no answer).
    Without: the last non-empty line is the answer and the lines before it are the reasoning -- the layout
    the lighteval prompt asks for ("The last line of your response should be … \\boxed{ANSWER}").

    >>> reasoning_and_answer("Step one.\\nStep two.\\nSo \\\\boxed{3}.")
    ('Step one.\\nStep two.', 'So \\\\boxed{3}.')
    """
    if has_think_tags(completion):
        return split_reasoning(completion)
    lines = [line for line in completion.strip().splitlines() if line.strip()]
    if not lines:
        return "", ""
    return "\n".join(lines[:-1]).strip(), lines[-1].strip()
