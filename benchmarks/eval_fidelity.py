"""Scoring fidelity: each benchmark's own references scored as completions (target >= 99%), and near misses.

Run:  python benchmarks/eval_fidelity.py [--benchmarks math500,aime24,...] [--markdown FILE]
Prints one line per benchmark, every miss with the verifier's reason, and every near miss the verifier
accepted (there must be none).  Exit code 1 if a benchmark is under 99% or a near miss is accepted.
"""

from __future__ import annotations

import argparse
import sys
import time

from polyreason.evaluate.fidelity import FIDELITY_BENCHMARKS, TARGET, check_benchmark, check_near_misses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmarks", default=",".join(FIDELITY_BENCHMARKS))
    parser.add_argument("--markdown", help="also write the results as markdown to this file")
    args = parser.parse_args()
    lines = ["| benchmark | references | scored correct | accuracy |", "|---|---|---|---|"]
    miss_lines, failed = [], False
    for name in args.benchmarks.split(","):
        start = time.perf_counter()
        result = check_benchmark(name)
        took = time.perf_counter() - start
        ok = result["accuracy"] >= TARGET
        failed |= not ok
        print(
            f"{name:14s} {result['correct']:5d}/{result['n']:<5d} {100 * result['accuracy']:6.2f}%  "
            f"{'ok' if ok else 'BELOW 99%'}  ({took:.1f}s)"
        )
        lines.append(f"| {name} | {result['n']} | {result['correct']} | {100 * result['accuracy']:.2f}% |")
        for miss in result["misses"]:
            text = (
                f"{name} #{miss['index']}: gold {miss['gold']!r}, extracted {miss['extracted']!r}, "
                f"correct={miss['correct']}, reason: {miss['reason']}"
            )
            print("    miss", text)
            miss_lines.append(f"- {text}")
    rows = check_near_misses()
    accepted = [r for r in rows if r["accepted"]]
    print(f"near misses: {len(rows) - len(accepted)}/{len(rows)} rejected")
    for row in accepted:
        failed = True
        print(f"    ACCEPTED near miss: gold {row['gold']!r} vs {row['completion']!r} ({row['why']})")
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n\nMisses:\n\n" + ("\n".join(miss_lines) or "none") + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
