"""Agreement with math-verify's own test table, through `polyreason score` (the real CLI path).

The table (``../shared/data/peer/mathverify_cases.jsonl``, 254 rows from huggingface/Math-Verify's tests, see
its README) holds {answer, completion, expected}.  This script

  ours:     runs ``polyreason score --rewards accuracy=1.0`` on the file in a subprocess (the same command a
            user runs) and counts a row as agreeing when (reward == 1.0) == expected; a skipped row (reward
            None: the gold cannot be parsed) counts as "not correct";
  baseline: plain math-verify in the same harness, row by row: parse(answer), parse(completion),
            verify(gold, pred), all at math-verify 0.9 defaults,

and prints agreement split into false positives (expected 0, said correct) and false negatives, per row
category, plus every disagreeing row.

    python benchmarks/verify_peer_suite.py [--data FILE] [--json OUT] [--skip-baseline] [--compare OLD.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CANDIDATES = [REPO.parent / "shared" / "data" / "peer", Path("/work/shared/data/peer")]
TABLE = "mathverify_cases.jsonl"


def default_data() -> Path:
    for folder in CANDIDATES:
        if (folder / TABLE).is_file():
            return folder / TABLE
    return CANDIDATES[0] / TABLE


_RELATION = ("<", ">", "\\le", "\\ge", "\\lt", "\\gt", "\\neq", "!=", "\\approx")
_DELIMS = re.compile(r"\$|\\\(|\\\)|\\\[|\\\]")


def category(row: dict) -> str:
    """A coarse shape of the row (for the per-category table): long prose, else the gold's kind of answer."""
    gold, pred = row["answer"], row["completion"]
    if len(pred) > 300 or len(gold) > 300:
        return "long prose"
    g = _DELIMS.sub(" ", gold)
    both = g + " \n " + _DELIMS.sub(" ", pred)
    if "matrix" in both or "\\begin{array}" in both:
        return "matrix"
    if gold.count("\\boxed") > 1 or pred.count("\\boxed") > 1 or re.search(r"\band\b|\bor\b|;", g):
        return "several parts"
    if any(r in both for r in _RELATION) or "=" in both:
        return "relation/equation"
    if "%" in g or "pct" in g or "percent" in g:
        return "percent"
    if "\\cup" in g or "\\infty" in g or re.search(r"^\s*(?:\\boxed\{)?(?:[(\[{]|\\\{)", g):
        return "interval/set/tuple"
    if "\\text" in g or re.search(r"[a-zA-Z]", re.sub(r"\\[a-zA-Z]+", "", g)):
        return "text/symbolic"
    return "number"


def run_ours(data: Path, timeout: float) -> tuple[list[float | None], float]:
    """Rewards from ``polyreason score`` (a subprocess, exactly the CLI path), and its wall time."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "scored.jsonl"
        cmd = [
            sys.executable, "-c", "from polyreason.cli import app; app()",
            "score", "--input", str(data), "--output", str(out), "--rewards", "accuracy=1.0",
            "--param", f"accuracy.timeout={timeout}",
        ]
        env = {**os.environ, "POLYREASON_PROGRESS": "0"}
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        took = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"polyreason score failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r["rewards"]["accuracy"] for r in rows], took


def run_math_verify(rows: list[dict]) -> tuple[list[bool], float]:
    """Plain math-verify, row by row, at its defaults (a crash counts as "not correct")."""
    import logging

    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.CRITICAL)
    out = []
    start = time.perf_counter()
    for row in rows:
        try:
            out.append(bool(verify(parse(row["answer"]), parse(row["completion"]))))
        except Exception:  # noqa: BLE001 - the baseline's failure is a "not correct"
            out.append(False)
    return out, time.perf_counter() - start


def tally(rows: list[dict], said: list[bool]) -> dict:
    """Agreement, false positives / negatives, per category, and the disagreeing rows."""
    per_cat: dict[str, Counter] = defaultdict(Counter)
    disagree = []
    fp = fn = 0
    for i, (row, s) in enumerate(zip(rows, said, strict=True)):
        cat = category(row)
        ok = s == bool(row["expected"])
        per_cat[cat]["rows"] += 1
        per_cat[cat]["agree"] += ok
        if not ok:
            fp += s
            fn += not s
            disagree.append({
                "row": i, "category": cat, "expected": row["expected"], "source": row["source"],
                "answer": row["answer"][-120:], "completion": row["completion"][-160:],
            })
    return {
        "agree": len(rows) - fp - fn, "rows": len(rows), "false_positives": fp, "false_negatives": fn,
        "per_category": {k: dict(v) for k, v in sorted(per_cat.items())}, "disagreements": disagree,
        "agree_rows": [s == bool(r["expected"]) for r, s in zip(rows, said, strict=True)],
    }


def found_by(rows: list[dict]) -> list[str]:
    """Which extraction rule found each row's predicted answer (boxed, phrase, math, sentence, bare, ...)."""
    try:
        from polyreason.verify import find_answer
    except ImportError:  # an older polyreason without find_answer
        return ["n/a"] * len(rows)
    return [find_answer(r["completion"]).source for r in rows]


def compare(rows: list[dict], now: dict, base_path: Path) -> None:
    """Print the rows this run agrees on and the base run did not (and the reverse), by category and rule."""
    base = json.loads(base_path.read_text(encoding="utf-8"))["polyreason"]["agree_rows"]
    pairs = list(enumerate(zip(now["agree_rows"], base, strict=True)))
    won = Counter((category(rows[i]), now["found_by"][i]) for i, (a, b) in pairs if a and not b)
    lost = [i for i, (a, b) in pairs if b and not a]
    print(f"\nvs {base_path}: {sum(won.values())} rows recovered, {len(lost)} lost {lost}")
    for (cat, rule), n in sorted(won.items()):
        print(f"  recovered {n:3d}  [{cat}] answer found by: {rule}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=default_data())
    ap.add_argument("--timeout", type=float, default=2.0, help="accuracy reward's per-item bound (s)")
    ap.add_argument("--skip-baseline", action="store_true", help="do not run plain math-verify")
    ap.add_argument("--json", type=Path, help="write the figures here")
    ap.add_argument("--compare", type=Path, help="a --json file of an earlier run: print what changed")
    args = ap.parse_args(argv)
    if not args.data.is_file():
        raise SystemExit(f"{args.data} not found; pass --data")
    rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines() if line.strip()]
    rewards, ours_s = run_ours(args.data, args.timeout)
    ours = tally(rows, [r == 1.0 for r in rewards])
    ours["skipped"] = sum(r is None for r in rewards)
    ours["found_by"] = found_by(rows)
    ours["seconds"] = round(ours_s, 2)
    figures = {
        "data": str(args.data), "machine": f"{platform.machine()} {platform.platform()}",
        "cpu_count": os.cpu_count(), "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "polyreason": ours,
    }
    print(f"polyreason score: {ours['agree']}/{ours['rows']} agree, {ours['false_positives']} false "
          f"positives, {ours['false_negatives']} false negatives, {ours['skipped']} skipped ({ours_s:.1f} s)")
    if not args.skip_baseline:
        said, mv_s = run_math_verify(rows)
        mv = tally(rows, said)
        mv["seconds"] = round(mv_s, 2)
        figures["math_verify"] = mv
        print(f"math-verify:      {mv['agree']}/{mv['rows']} agree, {mv['false_positives']} false "
              f"positives, {mv['false_negatives']} false negatives ({mv_s:.1f} s)")
    print("\ncategory             rows  polyreason  math-verify")
    for cat, c in ours["per_category"].items():
        base = figures.get("math_verify", {}).get("per_category", {}).get(cat, {}).get("agree", "-")
        print(f"{cat:20s} {c['rows']:4d}  {c['agree']:10d}  {base:>11}")
    print("\npolyreason disagreements:")
    for d in ours["disagreements"]:
        kind = "FP" if d["expected"] == 0 else "FN"
        print(f"  {kind} row {d['row']:3d} [{d['category']}] gold {d['answer']!r} | pred {d['completion']!r}")
    if args.compare:
        compare(rows, ours, args.compare)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
