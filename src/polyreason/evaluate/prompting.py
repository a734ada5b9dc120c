"""Zero-shot evaluation prompts: the Open-RS / lighteval instruction, translated for MGSM's languages.

The English text is the instruction the Open-RS paper evaluated with (lighteval's math prompt).  MGSM
problems get the same instruction in the problem's language, so a model is asked in one language only.
``style="polyreason"`` instead uses polyreason's own system prompt (``<think>`` then ``\\boxed{}``), the
format models trained with polyreason expect.  A recipe or ``--prompt-template`` can replace the user text:
the template must contain ``{problem}``.
"""

from __future__ import annotations

from typing import Any

from polyreason.errors import UserError

PLACEHOLDER = "{problem}"

INSTRUCTIONS: dict[str, str] = {
    "en": (
        "Solve the following math problem efficiently and clearly. The last line of your response should be of "
        "the following format: 'Therefore, the final answer is: $\\boxed{ANSWER}$. I hope it is correct' "
        "(without quotes) where ANSWER is just the final number or expression that solves the problem. "
        "Think step by step before answering.\n\n{problem}"
    ),
    "es": (
        "Resuelve el siguiente problema de matemáticas de forma eficiente y clara. La última línea de tu "
        "respuesta debe tener el siguiente formato: 'Por lo tanto, la respuesta final es: $\\boxed{RESPUESTA}$. "
        "Espero que sea correcta' (sin comillas), donde RESPUESTA es solo el número o la expresión final que "
        "resuelve el problema. Piensa paso a paso antes de responder.\n\n{problem}"
    ),
    "de": (
        "Löse die folgende Matheaufgabe effizient und klar. Die letzte Zeile deiner Antwort sollte folgendes "
        "Format haben: 'Daher lautet die endgültige Antwort: $\\boxed{ANTWORT}$. Ich hoffe, sie ist richtig' "
        "(ohne Anführungszeichen), wobei ANTWORT nur die endgültige Zahl oder der Ausdruck ist, der die Aufgabe "
        "löst. Denke Schritt für Schritt nach, bevor du antwortest.\n\n{problem}"
    ),
    "fr": (
        "Résous le problème de mathématiques suivant de manière efficace et claire. La dernière ligne de ta "
        "réponse doit avoir le format suivant : 'Donc, la réponse finale est : $\\boxed{RÉPONSE}$. J'espère "
        "qu'elle est correcte' (sans les guillemets), où RÉPONSE est seulement le nombre ou l'expression finale "
        "qui résout le problème. Réfléchis étape par étape avant de répondre.\n\n{problem}"
    ),
    "ru": (
        "Реши следующую математическую задачу эффективно и понятно. Последняя строка твоего ответа должна "
        "иметь следующий формат: 'Следовательно, окончательный ответ: $\\boxed{ОТВЕТ}$. Надеюсь, он верный' "
        "(без кавычек), где ОТВЕТ — это только итоговое число или выражение, решающее задачу. Прежде чем "
        "ответить, рассуждай шаг за шагом.\n\n{problem}"
    ),
    "zh": (
        "请高效、清晰地解决下面的数学问题。你回答的最后一行应采用以下格式：“因此，最终答案是：$\\boxed{答案}$。"
        "希望它是正确的”（不含引号），其中“答案”只是解决该问题的最终数字或表达式。回答之前请逐步思考。\n\n{problem}"
    ),
    "ja": (
        "次の数学の問題を効率よく明確に解いてください。回答の最後の行は次の形式にしてください："
        "「したがって、最終的な答えは $\\boxed{答え}$ です。正しいことを願っています」（かぎ括弧は不要）。"
        "ここで「答え」は問題を解く最終的な数値または式だけです。答える前に段階的に考えてください。\n\n{problem}"
    ),
    "bn": (
        "নিচের গণিত সমস্যাটি দক্ষতার সাথে এবং স্পষ্টভাবে সমাধান করো। তোমার উত্তরের শেষ লাইনটি এই বিন্যাসে হওয়া "
        "উচিত: 'অতএব, চূড়ান্ত উত্তর হলো: $\\boxed{উত্তর}$। আশা করি এটি সঠিক' (উদ্ধৃতিচিহ্ন ছাড়া), যেখানে উত্তর "
        "হলো শুধু সেই চূড়ান্ত সংখ্যা বা রাশি যা সমস্যাটির সমাধান করে। উত্তর দেওয়ার আগে ধাপে ধাপে চিন্তা করো।"
        "\n\n{problem}"
    ),
    "sw": (
        "Tatua tatizo lifuatalo la hisabati kwa ufanisi na kwa uwazi. Mstari wa mwisho wa jibu lako unapaswa "
        "kuwa katika muundo ufuatao: 'Kwa hiyo, jibu la mwisho ni: $\\boxed{JIBU}$. Natumaini ni sahihi' (bila "
        "alama za kunukuu), ambapo JIBU ni namba au usemi wa mwisho tu unaotatua tatizo. Fikiri hatua kwa "
        "hatua kabla ya kujibu.\n\n{problem}"
    ),
    "te": (
        "కింది గణిత సమస్యను సమర్థవంతంగా మరియు స్పష్టంగా పరిష్కరించండి. మీ సమాధానంలోని చివరి పంక్తి ఈ ఆకృతిలో "
        "ఉండాలి: 'కాబట్టి, తుది సమాధానం: $\\boxed{సమాధానం}$. ఇది సరైనదని ఆశిస్తున్నాను' (కోట్‌లు లేకుండా), "
        "ఇక్కడ సమాధానం అంటే సమస్యను పరిష్కరించే తుది సంఖ్య లేదా వ్యక్తీకరణ మాత్రమే. సమాధానం ఇచ్చే ముందు "
        "దశలవారీగా ఆలోచించండి.\n\n{problem}"
    ),
    "th": (
        "จงแก้โจทย์คณิตศาสตร์ต่อไปนี้อย่างมีประสิทธิภาพและชัดเจน บรรทัดสุดท้ายของคำตอบควรอยู่ในรูปแบบต่อไปนี้: "
        "'ดังนั้น คำตอบสุดท้ายคือ: $\\boxed{คำตอบ}$ หวังว่าจะถูกต้อง' (ไม่ต้องใส่เครื่องหมายคำพูด) "
        "โดยที่คำตอบคือตัวเลขหรือนิพจน์สุดท้ายที่แก้โจทย์เท่านั้น คิดทีละขั้นตอนก่อนตอบ\n\n{problem}"
    ),
}

PROMPT_STYLES = ("lighteval", "polyreason")


def instruction(language: str = "en") -> str:
    """The zero-shot instruction template (with ``{problem}``) for ``language``; English if none exists."""
    return INSTRUCTIONS.get(language, INSTRUCTIONS["en"])


_instruction = instruction


def check_template(template: str) -> str:
    """Validate a user prompt template: it must contain ``{problem}`` exactly once."""
    if template.count(PLACEHOLDER) != 1:
        raise UserError(
            f"prompt template must contain {PLACEHOLDER} exactly once, got {template[:80]!r}; "
            "fix: e.g. --prompt-template 'Solve: {problem}'"
        )
    return template


def build_eval_messages(
    problem: str,
    language: str = "en",
    *,
    style: str = "lighteval",
    template: str | None = None,
    system: str | None = None,
    instruction: str | None = None,
) -> list[dict[str, str]]:
    """Chat messages for one evaluation problem.

    ``lighteval`` (default): one user turn with the instruction in the problem's language (``instruction``,
    a template with ``{problem}``, replaces the math one: multiple-choice and code benchmarks have their
    own), no system prompt unless ``system`` is given.  ``polyreason``: polyreason's system prompt for the
    language and the bare problem (or ``template``; or ``instruction`` applied, for non-math benchmarks,
    whose answers are not a ``\\boxed{}``).
    """
    if style not in PROMPT_STYLES:
        raise UserError(f"unknown prompt style {style!r}; fix: use one of {', '.join(PROMPT_STYLES)}")
    if style == "polyreason":
        from polyreason.prompts import build_messages

        chosen = template or instruction
        user = check_template(chosen).replace(PLACEHOLDER, problem) if chosen else problem
        return build_messages(user, language, system=system)
    user = check_template(template or instruction or _instruction(language)).replace(PLACEHOLDER, problem)
    messages = [{"role": "user", "content": user}]
    if system:
        messages.insert(0, {"role": "system", "content": system})
    return messages


def render_prompt(tokenizer: Any, messages: list[dict[str, str]]) -> str:
    """Render messages with the tokenizer's chat template (``polyreason.prompts.format_prompt``)."""
    from polyreason.prompts import format_prompt

    return format_prompt(tokenizer, messages, add_generation_prompt=True)
