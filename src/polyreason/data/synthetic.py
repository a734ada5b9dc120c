"""Built-in synthetic tasks with exact integer answers, in English and Spanish (the embedded default data).

Kinds (pass a subset as ``kinds=[...]``; :data:`KINDS` lists them):

``add_sub``   "What is 23 + 45?" / "¿Cuánto es 23 + 45?" -- operand digits: easy 2, medium 3, hard 4.
              Easy subtractions never go negative.  This is the quickstart task.
``mul``       "What is 23 × 7?" -- easy 2×1 digits, medium 2×2, hard 3×2.
``multi_op``  "What is 12 + 3 × 4 - 5?" -- easy 2 operations, medium 3, hard 4 (× before ±).
``word``      short multi-step word problems (shopping change, collections, trips, savings):
              easy 2 steps, medium 3, hard 4, natural wording in each language.

Difficulty ``None`` draws easy/medium/hard uniformly per problem.  Everything is deterministic by ``seed``;
the same seed gives the *same* problems (same numbers, same names) in every language, so English and Spanish
outputs form parallel data.

Held-out splits: each problem has a language-independent key (kind, template and numbers); its sha256 decides
the split (:func:`split_of`, ``eval_fraction`` of the key space, default 10 %).  ``split="train"`` and
``split="eval"`` therefore never share a problem, whatever the seeds, sizes, or languages.  ``split=None``
(the default) yields problems from both.  Problems within one stream are never repeated.

The eval keys are halved again by a second, independent hash (:func:`heldout_half`): ``split="val"`` (tune
settings here) and ``split="test"`` (report here) are disjoint and together make ``"eval"``, so a setting
chosen on validation problems is never scored on the problems it was chosen with.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from polyreason.data.schema import DIFFICULTIES, format_assistant
from polyreason.errors import UserError
from polyreason.prompts import build_messages

LANGUAGES = ("en", "es")
KINDS = ("add_sub", "mul", "multi_op", "word")
DEFAULT_EVAL_FRACTION = 0.1

_ANSWER_SENTENCE = {"en": "The answer is", "es": "La respuesta es"}


@dataclass(frozen=True)
class Task:
    """One generated problem: its text, exact answer, reasoning steps and the split key."""

    problem: str
    answer: int
    steps: tuple[str, ...]
    kind: str
    difficulty: str
    key: str


SPLITS = ("train", "eval", "val", "test")


def split_of(key: str, eval_fraction: float = DEFAULT_EVAL_FRACTION) -> str:
    """``"eval"`` for the ``eval_fraction`` of keys whose sha256 falls lowest, else ``"train"``."""
    h = int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:12], 16) / float(16**12)
    return "eval" if h < eval_fraction else "train"


def heldout_half(key: str) -> str:
    """``"val"`` or ``"test"`` for an eval key: one bit of a salted hash, independent of :func:`split_of`."""
    return "val" if hashlib.sha256(b"polyreason-val:" + key.encode("utf-8")).digest()[0] < 128 else "test"


def in_split(key: str, split: str | None, eval_fraction: float = DEFAULT_EVAL_FRACTION) -> bool:
    """Whether ``key`` belongs to ``split`` (None: every key; val and test are the two halves of eval)."""
    if split is None:
        return True
    coarse = split_of(key, eval_fraction)
    if split in ("train", "eval"):
        return coarse == split
    return coarse == "eval" and heldout_half(key) == split


# ---------------------------------------------------------------------------------------------- arithmetic
def _num(rng: random.Random, digits: int) -> int:
    return rng.randint(10 ** (digits - 1), 10**digits - 1)


def _what_is(expr: str, lang: str) -> str:
    return f"¿Cuánto es {expr}?" if lang == "es" else f"What is {expr}?"


def _add_sub(rng: random.Random, difficulty: str, lang: str) -> Task:
    digits = {"easy": 2, "medium": 3, "hard": 4}[difficulty]
    a, b, op = _num(rng, digits), _num(rng, digits), rng.choice("+-")
    if op == "-" and difficulty == "easy" and b > a:
        a, b = b, a
    answer = a + b if op == "+" else a - b
    tens, units = b - b % 10, b % 10
    if units and tens:
        mid = a + tens if op == "+" else a - tens
        step = (f"{a} {op} {tens} = {mid}, y {mid} {op} {units} = {answer}." if lang == "es"
                else f"{a} {op} {tens} = {mid}, and {mid} {op} {units} = {answer}.")
    else:
        step = f"{a} {op} {b} = {answer}."
    intro = f"Calculo {a} {op} {b}." if lang == "es" else f"I need {a} {op} {b}."
    return Task(_what_is(f"{a} {op} {b}", lang), answer, (intro, step), "add_sub", difficulty, f"add_sub:{a}{op}{b}")


def _place_parts(n: int) -> list[int]:
    parts, place = [], 1
    while n:
        if n % 10:
            parts.append((n % 10) * place)
        n //= 10
        place *= 10
    return parts[::-1]


def _mul(rng: random.Random, difficulty: str, lang: str) -> Task:
    da, db = {"easy": (2, 1), "medium": (2, 2), "hard": (3, 2)}[difficulty]
    a, b = _num(rng, da), _num(rng, db)
    if db == 1 and b == 1:
        b = rng.randint(2, 9)
    answer = a * b
    parts = _place_parts(a)
    products = [p * b for p in parts]
    if len(parts) > 1:
        split = " + ".join(str(p) for p in parts)
        each = ", ".join(f"{p} × {b} = {p * b}" for p in parts)
        total = " + ".join(str(p) for p in products)
        if lang == "es":
            steps = (f"Descompongo {a} = {split}.", f"{each}.", f"Sumo: {total} = {answer}.")
        else:
            steps = (f"Split {a} = {split}.", f"{each}.", f"Add: {total} = {answer}.")
    else:
        steps = (f"{a} × {b} = {answer}.",)
    return Task(_what_is(f"{a} × {b}", lang), answer, steps, "mul", difficulty, f"mul:{a}x{b}")


def _multi_op(rng: random.Random, difficulty: str, lang: str) -> Task:
    n_ops, top = {"easy": (2, 20), "medium": (3, 50), "hard": (4, 100)}[difficulty]
    # terms joined by + or -; each term is a number or a product of two small numbers
    terms: list[tuple[int, ...]] = [(rng.randint(2, top),)]
    signs: list[str] = []
    ops_left = n_ops
    while ops_left > 0:
        if ops_left >= 2 and rng.random() < 0.4:
            terms.append((rng.randint(2, 12), rng.randint(2, 12)))
            ops_left -= 2
        else:
            terms.append((rng.randint(2, top),))
            ops_left -= 1
        signs.append(rng.choice("+-"))
    text = " × ".join(map(str, terms[0]))
    for sign, term in zip(signs, terms[1:], strict=True):
        text += f" {sign} " + " × ".join(map(str, term))
    steps: list[str] = []
    values = []
    first = "Primero las multiplicaciones" if lang == "es" else "Multiplications first"
    prods = [t for t in terms if len(t) == 2]
    if prods:
        steps.append(f"{first}: " + ", ".join(f"{x} × {y} = {x * y}" for x, y in prods) + ".")
    for t in terms:
        values.append(t[0] * t[1] if len(t) == 2 else t[0])
    acc = values[0]
    chain = []
    for sign, v in zip(signs, values[1:], strict=True):
        new = acc + v if sign == "+" else acc - v
        chain.append(f"{acc} {sign} {v} = {new}")
        acc = new
    lead = "De izquierda a derecha" if lang == "es" else "Left to right"
    steps.append(f"{lead}: " + ", ".join(chain) + ".")
    return Task(_what_is(text, lang), acc, tuple(steps), "multi_op", difficulty, f"multi_op:{text}")


# ------------------------------------------------------------------------------------------ word problems
_NAMES = {  # (name, English pronoun) pairs; same length in every language so seeds give parallel problems
    "en": [("Ana", "she"), ("Ben", "he"), ("Clara", "she"), ("David", "he"), ("Emma", "she"), ("Leo", "he")],
    "es": [("Ana", "ella"), ("Bruno", "él"), ("Clara", "ella"), ("Diego", "él"), ("Elena", "ella"), ("Mateo", "él")],
}
# (English plural, Spanish plural, Spanish gender) -- gender picks "cada uno"/"cada una"
_ITEMS = [("notebooks", "cuadernos", "m"), ("apples", "manzanas", "f"), ("pencils", "lápices", "m"),
          ("stickers", "pegatinas", "f"), ("marbles", "canicas", "f"), ("books", "libros", "m")]


def _usd(value: int, lang: str) -> str:
    """``"1 dollar"`` / ``"5 dollars"`` (``dólar`` / ``dólares``)."""
    if lang == "es":
        return f"{value} dólar" if value == 1 else f"{value} dólares"
    return f"{value} dollar" if value == 1 else f"{value} dollars"


def _pick(rng: random.Random) -> tuple[int, int]:
    return rng.randrange(len(_NAMES["en"])), rng.randrange(len(_ITEMS))


def _word_shopping(rng: random.Random, difficulty: str, lang: str) -> Task:
    ni, ii = _pick(rng)
    n, p = rng.randint(2, 9), rng.randint(2, 15)
    m, q = rng.randint(2, 6), rng.randint(2, 9)
    cost = n * p + (m * q if difficulty != "easy" else 0)
    coupon = rng.randint(2, 6) if difficulty == "hard" else 0
    bill = next(b for b in (20, 50, 100, 200, 500) if b > cost)
    answer = bill - cost + coupon
    name, pron = _NAMES[lang][ni]
    en_item, es_item, gender = _ITEMS[ii]
    en_item2, es_item2, gender2 = _ITEMS[(ii + 1) % len(_ITEMS)]
    if lang == "es":
        each, each2 = ("cada uno" if gender == "m" else "cada una"), ("cada uno" if gender2 == "m" else "cada una")
        text = f"{name} compra {n} {es_item} a {_usd(p, 'es')} {each}"
        text += f" y {m} {es_item2} a {_usd(q, 'es')} {each2}" if difficulty != "easy" else ""
        text += f". Paga con un billete de {_usd(bill, 'es')}"
        text += f" y además usa un cupón que le descuenta {_usd(coupon, 'es')}" if coupon else ""
        text += ". ¿Cuánto dinero le devuelven?"
        art, art2 = ("Los" if gender == "m" else "Las"), ("Los" if gender2 == "m" else "Las")
        steps = [f"{art} {es_item} cuestan {n} × {p} = {_usd(n * p, 'es')}."]
        if difficulty != "easy":
            steps += [f"{art2} {es_item2} cuestan {m} × {q} = {_usd(m * q, 'es')}.",
                      f"En total gasta {n * p} + {m * q} = {_usd(cost, 'es')}."]
        if coupon:
            steps.append(f"Con el cupón paga {cost} - {coupon} = {_usd(cost - coupon, 'es')}.")
        steps.append(f"Le devuelven {bill} - {cost - coupon} = {_usd(answer, 'es')}.")
    else:
        text = f"{name} buys {n} {en_item} at {_usd(p, 'en')} each"
        text += f" and {m} {en_item2} at {_usd(q, 'en')} each" if difficulty != "easy" else ""
        text += f". {pron.capitalize()} pays with a {bill}-dollar bill"
        text += f" and also uses a coupon worth {_usd(coupon, 'en')}" if coupon else ""
        text += f". How much change does {pron} get?"
        steps = [f"The {en_item} cost {n} × {p} = {_usd(n * p, 'en')}."]
        if difficulty != "easy":
            steps += [f"The {en_item2} cost {m} × {q} = {_usd(m * q, 'en')}.",
                      f"Together that is {n * p} + {m * q} = {_usd(cost, 'en')}."]
        if coupon:
            steps.append(f"With the coupon {pron} pays {cost} - {coupon} = {_usd(cost - coupon, 'en')}.")
        steps.append(f"The change is {bill} - {cost - coupon} = {_usd(answer, 'en')}.")
    key = f"word_shopping:{difficulty}:{ni}:{ii}:{n}:{p}:{m}:{q}:{coupon}"
    return Task(text, answer, tuple(steps), "word", difficulty, key)


def _word_collection(rng: random.Random, difficulty: str, lang: str) -> Task:
    ni, ii = _pick(rng)
    a, b, c = rng.randint(2, 30), rng.randint(2, 9), rng.randint(3, 12)
    d = min(15, rng.randint(1, a + b * c - 1)) if difficulty != "easy" else 0
    k = rng.randint(2, 6) if difficulty == "hard" else 1
    a += (-(a + b * c - d)) % k  # make the final share exact
    total = a + b * c - d
    answer = total // k
    name, pron = _NAMES[lang][ni]
    en_item, es_item, gender = _ITEMS[ii]
    if lang == "es":
        todos, cuantos = ("todos", "Cuántos") if gender == "m" else ("todas", "Cuántas")
        text = f"{name} tiene {a} {es_item}. Recibe {b} cajas con {c} {es_item} en cada caja"
        text += f" y después regala {d}" if d else ""
        text += (f". Luego reparte {todos} sus {es_item} a partes iguales entre {k} amigos. "
                 f"¿{cuantos} {es_item} recibe cada amigo?" if k > 1 else f". ¿{cuantos} {es_item} tiene ahora?")
        steps = [f"Las cajas traen {b} × {c} = {b * c} {es_item}.", f"Tiene {a} + {b * c} = {a + b * c}."]
        if d:
            steps.append(f"Después de regalar {d}: {a + b * c} - {d} = {total}.")
        if k > 1:
            steps.append(f"Al repartir entre {k}: {total} ÷ {k} = {answer}.")
    else:
        text = f"{name} has {a} {en_item}. {pron.capitalize()} gets {b} boxes with {c} {en_item} in each box"
        text += f", then gives away {d}" if d else ""
        text += (f". Then {pron} shares all of them equally among {k} friends. How many {en_item} does each "
                 f"friend get?" if k > 1 else f". How many {en_item} does {pron} have now?")
        steps = [f"The boxes hold {b} × {c} = {b * c} {en_item}.", f"{a} + {b * c} = {a + b * c}."]
        if d:
            steps.append(f"After giving away {d}: {a + b * c} - {d} = {total}.")
        if k > 1:
            steps.append(f"Shared among {k}: {total} ÷ {k} = {answer}.")
    key = f"word_collection:{difficulty}:{ni}:{ii}:{a}:{b}:{c}:{d}:{k}"
    return Task(text, answer, tuple(steps), "word", difficulty, key)


def _word_trip(rng: random.Random, difficulty: str, lang: str) -> Task:
    legs = {"easy": 2, "medium": 2, "hard": 3}[difficulty]
    speeds = [rng.randint(3, 12) * 10 for _ in range(legs)]
    hours = [rng.randint(2, 6) for _ in range(legs)]
    dists = [s * h for s, h in zip(speeds, hours, strict=True)]
    travelled = sum(dists)
    route = travelled + rng.randint(1, 30) * 10 if difficulty != "easy" else 0
    answer = route - travelled if route else travelled
    if lang == "es":
        parts = [f"{s} km por hora durante {h} horas" for s, h in zip(speeds, hours, strict=True)]
        text = "Un tren viaja a " + ", después a ".join(parts) + "."
        text += (f" La ruta completa mide {route} km. ¿Cuántos kilómetros le faltan para terminarla?" if route
                 else " ¿Cuántos kilómetros recorre en total?")
        steps = [f"Tramo {i + 1}: {s} × {h} = {d} km." for i, (s, h, d) in enumerate(zip(speeds, hours, dists, strict=True))]
        steps.append(f"En total recorre {' + '.join(map(str, dists))} = {travelled} km.")
        if route:
            steps.append(f"Le faltan {route} - {travelled} = {answer} km.")
    else:
        parts = [f"{s} km per hour for {h} hours" for s, h in zip(speeds, hours, strict=True)]
        text = "A train travels at " + ", then at ".join(parts) + "."
        text += (f" The whole route is {route} km long. How many kilometers are left?" if route
                 else " How many kilometers does it travel in total?")
        steps = [f"Leg {i + 1}: {s} × {h} = {d} km." for i, (s, h, d) in enumerate(zip(speeds, hours, dists, strict=True))]
        steps.append(f"In total {' + '.join(map(str, dists))} = {travelled} km.")
        if route:
            steps.append(f"Left: {route} - {travelled} = {answer} km.")
    key = f"word_trip:{difficulty}:{speeds}:{hours}:{route}"
    return Task(text, answer, tuple(steps), "word", difficulty, key)


def _word_savings(rng: random.Random, difficulty: str, lang: str) -> Task:
    ni, _ = _pick(rng)
    w, n = rng.randint(3, 25), rng.randint(2, 12)
    start = rng.randint(5, 60) if difficulty != "easy" else 0
    x = rng.randint(2, w * n - 1)
    rest = start + w * n - x
    if difficulty == "hard" and rest % 2:
        x -= 1 if x > 2 else -1
        rest = start + w * n - x
    answer = rest // 2 if difficulty == "hard" else rest
    name, pron = _NAMES[lang][ni]
    if lang == "es":
        text = (f"{name} tiene {_usd(start, 'es')} ahorrados. Cada semana ahorra {_usd(w, 'es')} más durante {n} semanas"
                if start else f"{name} ahorra {_usd(w, 'es')} cada semana durante {n} semanas")
        text += f" y luego gasta {_usd(x, 'es')} en un regalo."
        text += " Después gasta la mitad de lo que le queda en libros." if difficulty == "hard" else ""
        text += " ¿Cuánto dinero le queda?"
        steps = [f"Ahorra {w} × {n} = {_usd(w * n, 'es')}."]
        if start:
            steps.append(f"Con lo que tenía: {start} + {w * n} = {_usd(start + w * n, 'es')}.")
        steps.append(f"Tras el regalo: {start + w * n} - {x} = {_usd(rest, 'es')}.")
        if difficulty == "hard":
            steps.append(f"La mitad de {rest} es {answer}, así que le quedan {_usd(answer, 'es')}.")
    else:
        text = (f"{name} has {_usd(start, 'en')} saved. Every week {pron} saves {w} more dollars for {n} weeks"
                if start else f"{name} saves {_usd(w, 'en')} every week for {n} weeks")
        text += f" and then spends {_usd(x, 'en')} on a gift."
        text += f" Then {pron} spends half of what is left on books." if difficulty == "hard" else ""
        text += f" How much money does {pron} have left?"
        steps = [f"{pron.capitalize()} saves {w} × {n} = {_usd(w * n, 'en')}."]
        if start:
            steps.append(f"With the savings: {start} + {w * n} = {_usd(start + w * n, 'en')}.")
        steps.append(f"After the gift: {start + w * n} - {x} = {_usd(rest, 'en')}.")
        if difficulty == "hard":
            steps.append(f"Half of {rest} is {answer}, so {_usd(answer, 'en')} are left.")
    key = f"word_savings:{difficulty}:{ni}:{w}:{n}:{start}:{x}"
    return Task(text, answer, tuple(steps), "word", difficulty, key)


_WORD_TEMPLATES = (_word_shopping, _word_collection, _word_trip, _word_savings)


def _word(rng: random.Random, difficulty: str, lang: str) -> Task:
    return _WORD_TEMPLATES[rng.randrange(len(_WORD_TEMPLATES))](rng, difficulty, lang)


_GENERATORS: dict[str, Callable[[random.Random, str, str], Task]] = {
    "add_sub": _add_sub, "mul": _mul, "multi_op": _multi_op, "word": _word,
}


# ---------------------------------------------------------------------------------------------- public API
def _check_args(n: int, language: str, difficulty: str | None, kinds: Iterable[str] | None,
                split: str | None) -> tuple[str, ...]:
    if not isinstance(n, int) or n < 0:
        raise UserError(f"synthetic: n must be a non-negative integer, got {n!r}; fix: e.g. 256")
    if language not in LANGUAGES:
        raise UserError(f"synthetic tasks exist in {', '.join(LANGUAGES)}, not {language!r}; fix: pick one of "
                        "those, or translate with `polyreason data translate`")
    if difficulty is not None and difficulty not in DIFFICULTIES:
        raise UserError(f"unknown difficulty {difficulty!r}; fix: one of {', '.join(DIFFICULTIES)} (or none)")
    if split is not None and split not in SPLITS:
        raise UserError(f"unknown synthetic split {split!r}; fix: one of {', '.join(SPLITS)}, or None")
    chosen = tuple(kinds) if kinds else KINDS
    bad = [k for k in chosen if k not in _GENERATORS]
    if bad:
        raise UserError(f"unknown synthetic kind(s) {bad}; fix: choose from {', '.join(KINDS)}")
    return chosen


def generate_tasks(n: int, *, seed: int = 0, language: str = "en", difficulty: str | None = None,
                   kinds: Iterable[str] | None = None, split: str | None = None,
                   eval_fraction: float = DEFAULT_EVAL_FRACTION) -> Iterator[Task]:
    """Yield ``n`` distinct :class:`Task` objects (lazily); see the module docstring for kinds and splits."""
    chosen = _check_args(n, language, difficulty, kinds, split)
    rng = random.Random(f"polyreason-synthetic:{seed}:{difficulty}:{','.join(chosen)}")
    seen: set[str] = set()
    attempts, produced = 0, 0
    budget = 200 * n + 10_000
    while produced < n:
        attempts += 1
        if attempts > budget:
            raise UserError(f"synthetic: could only make {produced} distinct {split or ''} problems of kinds "
                            f"{list(chosen)} at difficulty {difficulty}; fix: ask for fewer or widen the kinds")
        kind = chosen[rng.randrange(len(chosen))]
        diff = difficulty or DIFFICULTIES[rng.randrange(3)]
        task = _GENERATORS[kind](rng, diff, language)
        if task.key in seen or not in_split(task.key, split, eval_fraction):
            continue
        seen.add(task.key)
        produced += 1
        yield task


def generate_problems(n: int, *, seed: int = 0, language: str = "en", difficulty: str | None = None,
                      kinds: Iterable[str] | None = None, split: str | None = None,
                      eval_fraction: float = DEFAULT_EVAL_FRACTION) -> Iterator[dict]:
    """Yield ``n`` RL rows ``{problem, answer, language, difficulty, source, id}`` (streamed, deterministic).

    >>> next(generate_problems(1, kinds=["add_sub"], difficulty="easy"))["problem"].startswith("What is")
    True
    """
    for task in generate_tasks(n, seed=seed, language=language, difficulty=difficulty, kinds=kinds,
                               split=split, eval_fraction=eval_fraction):
        yield {"problem": task.problem, "answer": str(task.answer), "language": language,
               "difficulty": task.difficulty, "source": f"synthetic/{task.kind}", "id": _task_id(task, language)}


def _task_id(task: Task, language: str) -> str:
    return f"synth-{language}-{hashlib.sha256(task.key.encode()).hexdigest()[:12]}"


def chat_prefix(problem: str, language: str) -> list[dict]:
    """System + user messages for ``problem`` from :func:`polyreason.prompts.build_messages`."""
    return [dict(m) for m in build_messages(problem, language)]


def task_to_sft(task: Task, language: str) -> dict:
    """An SFT row for ``task``: system + user from :mod:`polyreason.prompts`, assistant in think/boxed form."""
    content = format_assistant("\n".join(task.steps), str(task.answer), _ANSWER_SENTENCE[language])
    messages = chat_prefix(task.problem, language) + [{"role": "assistant", "content": content}]
    return {"messages": messages, "language": language, "source": f"synthetic/{task.kind}",
            "id": _task_id(task, language), "answer": str(task.answer), "difficulty": task.difficulty}


def generate_sft_rows(n: int, *, seed: int = 0, language: str = "en", difficulty: str | None = None,
                      kinds: Iterable[str] | None = None, split: str | None = None,
                      eval_fraction: float = DEFAULT_EVAL_FRACTION) -> Iterator[dict]:
    """Yield ``n`` SFT rows whose assistant turn is a short, correct reasoning trace in ``language``.

    The rows also carry ``answer`` and ``difficulty`` (extra columns) so they can be verified and mixed.
    """
    for task in generate_tasks(n, seed=seed, language=language, difficulty=difficulty, kinds=kinds,
                               split=split, eval_fraction=eval_fraction):
        yield task_to_sft(task, language)
