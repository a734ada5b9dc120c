"""Evaluation throughput: batched generation (polyreason's transformers backend) vs a naive loop.

Run:  python benchmarks/eval_throughput.py [--model smollm2-135m] [--prompts 32] [--naive-prompts 3]
                                            [--max-new-tokens 128] [--batch-size 32] [--generate-arm]

Both arms use the same model, the same zero-shot GSM8K prompts (chat template, lighteval instruction) and
greedy decoding in the same process.  The naive arm calls ``model.generate`` on one prompt at a time; the
batched arm sorts prompts by length and generates ``--batch-size`` at a time with left padding, the KV
cache, and EOS stopping.  Generated tokens count up to and including each row's first EOS (padding after a
finished row is not counted).  Prints generated tokens/s for both and the speed-up.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--benchmark", default="gsm8k")
    parser.add_argument("--prompts", type=int, default=32, help="prompts in the batched arm")
    parser.add_argument("--naive-prompts", type=int, default=3, help="prompts in the naive arm (it is slow)")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument("--threads", type=int, help="torch CPU threads for both arms (default: torch's choice)")
    parser.add_argument(
        "--generate-arm",
        action="store_true",
        help="also time the same batches through plain model.generate (costs another batched run)",
    )
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    from polyreason.evaluate.benchmarks import load_benchmark
    from polyreason.evaluate.prompting import build_eval_messages, render_prompt
    from polyreason.generation import SamplingParams
    from polyreason.generation.transformers_backend import TransformersBackend

    backend = TransformersBackend.load(args.model, batch_size=args.batch_size, device="cpu")
    tok, model = backend.tokenizer, backend.model
    problems = load_benchmark(args.benchmark, limit=args.prompts)
    prompts = [render_prompt(tok, build_eval_messages(p.problem, p.language)) for p in problems]
    params = SamplingParams(temperature=0.0, max_new_tokens=args.max_new_tokens)

    # warm-up (one-time kernel/allocator set-up must not count against the first arm)
    with torch.inference_mode():
        warm = tok(prompts[0], return_tensors="pt", add_special_tokens=False)
        model.generate(**warm, max_new_tokens=2, do_sample=False, pad_token_id=tok.pad_token_id)

    # naive: one prompt at a time, plain generate, no padding
    naive_tokens, start = 0, time.perf_counter()
    for prompt in prompts[: args.naive_prompts]:
        ids = tok(prompt, return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode():
            out = model.generate(
                **ids,
                max_new_tokens=args.max_new_tokens,
                do_sample=False,
                pad_token_id=tok.pad_token_id,
                eos_token_id=backend.eos_ids,
            )
        naive_tokens += backend._finish(
            out[0, ids["input_ids"].shape[1] :].tolist(), args.max_new_tokens
        ).n_tokens
    naive_s = time.perf_counter() - start
    print(
        f"naive   : {naive_tokens} tokens in {naive_s:.1f}s = {naive_tokens / naive_s:.1f} tokens/s "
        f"({args.naive_prompts} prompts, one at a time)",
        flush=True,
    )

    # batched: sorted by prompt length, batch_size at a time; compact decode loop, then plain generate
    order = sorted(
        range(len(prompts)), key=lambda i: len(tok(prompts[i], add_special_tokens=False)["input_ids"])
    )

    def batched_arm(compact: bool) -> tuple[int, float]:
        backend.compact = compact
        tokens, began = 0, time.perf_counter()
        for first in range(0, len(order), args.batch_size):
            chunk = [prompts[i] for i in order[first : first + args.batch_size]]
            tokens += sum(g.n_tokens for g in backend.generate(chunk, params, seed=0))
        return tokens, time.perf_counter() - began

    batched_tokens, batched_s = batched_arm(compact=True)
    print(
        f"batched : {batched_tokens} tokens in {batched_s:.1f}s = {batched_tokens / batched_s:.1f} tokens/s "
        f"({len(prompts)} prompts, batch {args.batch_size})",
        flush=True,
    )
    generate_tokens, generate_s = batched_arm(compact=False) if args.generate_arm else (0, 0.0)

    naive_tps, batched_tps = naive_tokens / naive_s, batched_tokens / batched_s
    figures = {
        "model": args.model,
        "benchmark": args.benchmark,
        "max_new_tokens": args.max_new_tokens,
        "naive": {
            "prompts": args.naive_prompts,
            "tokens": naive_tokens,
            "seconds": round(naive_s, 2),
            "tokens_per_s": round(naive_tps, 2),
        },
        "batched": {
            "prompts": len(prompts),
            "batch_size": args.batch_size,
            "tokens": batched_tokens,
            "seconds": round(batched_s, 2),
            "tokens_per_s": round(batched_tps, 2),
        },
        "batched_generate": {
            "tokens": generate_tokens,
            "seconds": round(generate_s, 2),
            "tokens_per_s": round(generate_tokens / generate_s, 2) if generate_s else None,
        },
        "speedup": round(batched_tps / naive_tps, 2),
        "machine": {
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "processor": platform.processor() or platform.machine(),
            "torch": torch.__version__,
        },
    }
    if generate_s:
        print(
            f"batched, model.generate: {generate_tokens} tokens in {generate_s:.1f}s = "
            f"{generate_tokens / generate_s:.1f} tokens/s ({generate_tokens / generate_s / naive_tps:.2f}x naive)"
        )
    print(f"speed-up (compact batched vs naive): {batched_tps / naive_tps:.2f}x")
    print(json.dumps(figures["machine"]))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(figures, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
