"""Verifier throughput: polyreason.verify.verify_batch vs a plain sequential math-verify loop, same run.

Builds N realistic completions from MATH-500 golds (correct in several written forms, wrong, malformed,
long reasoning), each with a ground-truth label known by construction, then times

  baseline: for each item: parse(gold), parse(completion), verify(gold, pred)   (math-verify defaults)
  ours:     verify_batch(golds, completions, workers=W, timeout=2.0)
            (the two alternate over --blocks blocks so that both see the same load on a shared machine;
            the verifier pool is started before timing, its gold caches persist across blocks)
  latency:  verify() called one item at a time (warm pool) -> p50 / p99 / max per-item latency

and checks that our verdict equals math-verify's wherever math-verify agrees with the label.

    python benchmarks/verify_throughput.py --n 10000 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from collections import Counter
from pathlib import Path

_WORKER_REASONS = (
    "math-verify",
    "equations",
    "timeout",
    "gold unparseable",
    "prediction unparseable",
    "verifier",
)
DEFAULT_DATA = "/work/shared/data/benchmarks/math500/test.jsonl"

FILLER = [
    "Let me think about this step by step.",
    "First, I restate the problem in my own words.",
    "We can simplify the expression before substituting.",
    "Checking the arithmetic again, everything is consistent.",
    "So the quantity we want follows directly.",
]


def _reasoning(rng: random.Random, k: int) -> str:
    return " ".join(rng.choice(FILLER) for _ in range(k))


def _digits(text: str) -> str:
    return "".join(sorted(ch for ch in text if ch.isdigit()))


def _int_gold(gold: str) -> int | None:
    g = gold.strip()
    return int(g) if g.lstrip("-").isdigit() and len(g) < 12 else None


def build_items(rows: list[dict], n: int, seed: int = 0) -> list[dict]:
    """N items {gold, completion, label, kind}; label True/False is the ground truth by construction."""
    rng = random.Random(seed)
    golds = [r["answer"] for r in rows]
    items = []
    for i in range(n):
        row = rows[i % len(rows)]
        gold = row["answer"]
        # A different answer: not "x=5"-style, and not the same digits ("90^\circ" is the same as "90").
        other = rng.choice([g for g in golds[:50] if "=" not in g and _digits(g) != _digits(gold)])
        r = rng.random()
        think = f"<think>\n{_reasoning(rng, rng.randint(2, 8))}\n</think>\n\n"
        ig = _int_gold(gold)
        if r < 0.40:
            kind, label = "correct", True
            form = rng.randint(0, 3)
            if form == 0 or ig is None:
                ans = f"The final answer is $\\boxed{{{gold}}}$."
            elif form == 1:
                ans = f"Therefore the answer is \\boxed{{{ig}.0}}."
            elif form == 2:
                ans = f"So we get $\\boxed{{{ig:,}}}$." if abs(ig) >= 1000 else f"**Answer:** \\boxed{{{ig}}}"
            else:
                ans = f"The final answer is ${gold}$."
            completion = think + ans
        elif r < 0.70:
            kind, label = "wrong", False
            wrong = str(ig + rng.choice([-2, -1, 1, 10])) if ig is not None and rng.random() < 0.5 else other
            completion = think + f"The final answer is $\\boxed{{{wrong}}}$."
        elif r < 0.82:
            kind, label = "malformed", False
            m = rng.randint(0, 3)
            if m == 0:
                completion = think + f"The final answer is \\boxed{{{gold}"
            elif m == 1:
                completion = f"<think>\n{_reasoning(rng, 6)} maybe \\boxed{{{gold}}}"  # never closed
            elif m == 2:
                completion = ""
            else:
                completion = think + "I am not sure how to finish this problem."
        else:
            kind, label = "long", True
            solution = row["solution"].replace("\\boxed", "")
            correct = rng.random() < 0.5
            final = gold if correct else other
            label = correct
            completion = f"<think>\n{solution}\n{_reasoning(rng, 30)}\n</think>\n\nThe final answer is $\\boxed{{{final}}}$."
        items.append({"gold": gold, "completion": completion, "label": label, "kind": kind})
    return items


ADVERSARIAL = {
    "power tower": "\\boxed{2^{2^{2^{2^{2^{2^{2^{2}}}}}}}}",
    "9^9^9^9": "\\boxed{9^{9^{9^{9}}}}",
    "10,000 nested braces": "\\boxed{" + "{" * 10_000 + "1" + "}" * 10_000 + "}",
    "1 MB string": "x" * 1_000_000 + " \\boxed{2}",
    "300-deep \\frac": "\\boxed{" + "\\frac{1}{" * 300 + "2" + "}" * 300 + "}",
    "60-deep \\frac": "\\boxed{" + "\\frac{1}{" * 60 + "2" + "}" * 60 + "}",
    "20,000-digit number": "\\boxed{" + "9" * 20_000 + "}",
    "control characters": "\\boxed{\x00\x01 2 \x1b[31m}" + "\x07" * 1000,
    "3,000-term sum": "\\boxed{" + "+".join(["x"] * 3000) + "}",
}


def run_adversarial(timeout: float) -> dict[str, float]:
    """Wall time (ms) of one verify() call per pathological input, warm pool."""
    from polyreason.verify import verify

    out = {}
    for name, text in ADVERSARIAL.items():
        t = time.perf_counter()
        verify("2", text, timeout=timeout)
        out[name] = round((time.perf_counter() - t) * 1000, 1)
    return out


def run_baseline(items: list[dict]) -> tuple[list[bool], float]:
    from math_verify import parse, verify

    verdicts = []
    start = time.perf_counter()
    for it in items:
        try:
            g = parse("\\boxed{" + it["gold"] + "}")
            p = parse(it["completion"])
            verdicts.append(bool(verify(g, p)))
        except Exception:  # noqa: BLE001 - the baseline counts a crash as "wrong"
            verdicts.append(False)
    return verdicts, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("--blocks", type=int, default=10, help="interleave baseline and ours in this many blocks")
    ap.add_argument("--latency-sample", type=int, default=2_000, help="items timed one by one for p99")
    ap.add_argument("--json", default=None, help="write the figures here")
    args = ap.parse_args(argv)

    from polyreason.verify import verify, verify_batch, warm_up

    rows = [json.loads(line) for line in Path(args.data).read_text().splitlines() if line.strip()]
    items = build_items(rows, args.n)
    print(f"{len(items)} items: {dict(Counter(it['kind'] for it in items))}", flush=True)

    t0 = time.perf_counter()
    warm_up(args.workers)
    warm_s = time.perf_counter() - t0
    # Interleave the two in blocks so that both see the same machine load (the machine may be shared).
    base, ours = [], []
    base_s = ours_s = 0.0
    size = max(1, -(-len(items) // args.blocks))
    for start in range(0, len(items), size):
        block = items[start : start + size]
        verdicts, seconds = run_baseline(block)
        base += verdicts
        base_s += seconds
        t0 = time.perf_counter()
        ours += verify_batch(
            [it["gold"] for it in block],
            [it["completion"] for it in block],
            workers=args.workers,
            timeout=args.timeout,
        )
        ours_s += time.perf_counter() - t0
    print(f"baseline sequential math-verify: {base_s:.1f} s ({len(items) / base_s:.0f} items/s)", flush=True)
    print(
        f"verify_batch(workers={args.workers}): {ours_s:.1f} s ({len(items) / ours_s:.0f} items/s), "
        f"pool warm-up {warm_s:.2f} s (not included)",
        flush=True,
    )

    sample = items[: args.latency_sample]
    lat = []
    for it in sample:
        t = time.perf_counter()
        verify(it["gold"], it["completion"], timeout=args.timeout)
        lat.append(time.perf_counter() - t)
    lat.sort()
    p50, p99 = lat[len(lat) // 2], lat[min(len(lat) - 1, int(0.99 * len(lat)))]

    adversarial = run_adversarial(args.timeout)

    base_right = [i for i, it in enumerate(items) if base[i] == it["label"]]
    same_where_right = sum(1 for i in base_right if bool(ours[i].correct) == base[i])
    ours_right = sum(1 for i, it in enumerate(items) if bool(ours[i].correct) == it["label"])
    diffs = Counter(
        (it["kind"], base[i], bool(ours[i].correct))
        for i, it in enumerate(items)
        if bool(ours[i].correct) != base[i]
    )
    figures = {
        "items": len(items),
        "workers": args.workers,
        "blocks": args.blocks,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpu_count": os.cpu_count(),
        "machine": f"{platform.machine()} {platform.processor() or ''} {platform.platform()}".strip(),
        "python": sys.version.split()[0],
        "baseline_s": round(base_s, 2),
        "ours_s": round(ours_s, 2),
        "speedup": round(base_s / ours_s, 2),
        "latency_sample": len(lat),
        "latency_p50_ms": round(p50 * 1000, 2),
        "latency_p99_ms": round(p99 * 1000, 2),
        "latency_max_ms": round(lat[-1] * 1000, 2),
        "adversarial_ms": adversarial,
        "adversarial_max_ms": max(adversarial.values()),
        "baseline_accuracy_vs_label": round(len(base_right) / len(items), 4),
        "ours_accuracy_vs_label": round(ours_right / len(items), 4),
        "identical_where_math_verify_right": f"{same_where_right}/{len(base_right)}",
        "disagreements(kind, math_verify, ours)": {str(k): v for k, v in diffs.most_common()},
        "decided_without_math_verify": round(
            sum(1 for v in ours if not v.reason.startswith(_WORKER_REASONS)) / len(items), 3
        ),
        "reasons": dict(Counter(v.reason.split(":")[0] for v in ours).most_common()),
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
