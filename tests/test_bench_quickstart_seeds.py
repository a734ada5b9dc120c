"""benchmarks/quickstart_seeds.py: the per-seed table reads quickstart.json and /usr/bin/time's peak RSS."""

from __future__ import annotations

import json
from pathlib import Path


def _score(label, acc, fmt=1.0, lang=1.0):
    return {"label": label, "n": 200, "accuracy": acc, "format": fmt, "mean_reward": None, "mean_length": 50.0,
            "seconds": 1.0, "language_compliance": lang, "naturalness_per_100": 0.5, "repetition_penalty": -0.01}


def test_table_gives_each_seeds_rl_gain_and_the_mean(tmp_path, benchmark_script):
    qs = benchmark_script("quickstart_seeds")
    for seed, (sft, grpo) in {1: (0.50, 0.62), 2: (0.55, 0.60)}.items():
        out = qs.run_dir(tmp_path, "es", seed)
        out.mkdir()
        (out / "quickstart.json").write_text(json.dumps({
            "scores": [_score("base", 0.1, 0.0, 0.2), _score("after sft", sft), _score("after grpo", grpo)],
            "total_seconds": 600.0, "peak_rss_mb": 2048.0 * seed}))
        Path(f"{out}.time").write_text("\tMaximum resident set size (kbytes): 3145728\n")
    text = qs.table(tmp_path, "es", [1, 2])
    assert "| 1 | 10.0 % | 50.0 % | 62.0 % | **+12.0** |" in text
    assert "| 2 | 10.0 % | 55.0 % | 60.0 % | **+5.0** |" in text
    assert "| 3.00 GiB |" in text and "| 4.00 GiB |" in text  # the larger of time -v's and the run's own
    assert "10.0 min" in text and "100.0 → 100.0 %" in text
    assert "mean of 2 seeds: **+8.5 points** (min +5.0)" in text
