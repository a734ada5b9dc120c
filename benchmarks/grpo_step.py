"""Seconds per GRPO step: `polyreason train` vs a bare TRL GRPOTrainer script with the identical configuration.

Both arms run in fresh subprocesses, one after the other, in the same invocation: same model, data, rewards
(polyreason's accuracy + format), and the same GRPOConfig values (built once from the recipe).  The bare arm
uses ``trl.GRPOTrainer`` directly with no polyreason callbacks or subclass; the polyreason arm is
``polyreason.train.run_recipe`` (metrics.jsonl, completions sample, progress, checkpoints off).

Per arm it prints: mean seconds per step (the first step, which includes warm-up, is excluded), generated
completion tokens per second of step time, and peak memory (CUDA: max allocated; CPU: peak RSS).

    python benchmarks/grpo_step.py                                  # tiny-random model, CPU, a few minutes
    python benchmarks/grpo_step.py --model smollm2-135m --steps 4
    python benchmarks/grpo_step.py --device cuda --random-init-config --steps 6 --batch 64 --completion 256
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RANDOM_INIT = dict(
    hidden_size=1024,
    num_hidden_layers=24,
    num_attention_heads=16,
    num_key_value_heads=16,
    intermediate_size=2816,
    max_position_embeddings=4096,
    tie_word_embeddings=True,
)


def recipe_dict(args: argparse.Namespace, model: str) -> dict:
    return {
        "name": "grpo-step-bench",
        "seed": 0,
        "model": {"spec": model, "dtype": "auto"},
        "data": {"train": "synthetic:512:en:easy:add_sub"},
        "rewards": {"accuracy": 1.0, "format": 0.5},
        "stages": [
            {
                "type": "grpo",
                "preset": "grpo",
                "max_steps": args.steps,
                "save_steps": 10_000,
                "num_generations": args.generations,
                "per_device_batch_size": args.batch,
                "max_completion_length": args.completion,
                "max_prompt_length": 256,
                "learning_rate": 1e-6,
                "lr_scheduler": "constant",
                "temperature": 1.0,
            }
        ],
        "tracking": {"logging_steps": 1, "log_completions": True},
    }


def build_random_model(directory: Path) -> str:
    """A randomly initialised ~0.4B Llama with the SmolLM2 tokenizer, saved once under ``directory``."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from polyreason.models import load_tokenizer

    target = directory / "random-llama-0.4b"
    if (target / "config.json").is_file():
        return str(target)
    tok = load_tokenizer("tiny-random")
    config = LlamaConfig(
        vocab_size=len(tok),
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        **RANDOM_INIT,
    )
    model = LlamaForCausalLM(config)
    model.save_pretrained(target)
    tok.save_pretrained(target)
    return str(target)


# ------------------------------------------------------------------------------------------------ arms
def _peak_memory_mb() -> float:
    import resource

    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def arm_polyreason(recipe: dict, out: Path) -> dict:
    from polyreason.config import recipe_from_dict
    from polyreason.files import read_jsonl
    from polyreason.train import run_recipe

    result = run_recipe(recipe_from_dict(recipe), out)
    rows = list(read_jsonl(Path(result.metrics_path), tolerant=True))
    times = [r["time"] for r in rows]
    return _stats(times, rows, recipe)


def arm_trl(recipe_raw: dict, out: Path) -> dict:
    from transformers import TrainerCallback
    from trl import GRPOTrainer

    from polyreason.config import recipe_from_dict
    from polyreason.data import load_rows
    from polyreason.train import args as targs
    from polyreason.train.datasets import grpo_records, to_dataset
    from polyreason.train.stages.grpo import build_reward_funcs
    from polyreason.train.stages.training import load_for_training

    recipe = recipe_from_dict(recipe_raw)
    stage = recipe.stages[0]
    model, tokenizer = load_for_training(recipe, recipe.model.spec)
    funcs, weights = build_reward_funcs(recipe.rewards, None, stage.max_completion_length)
    rows = list(load_rows(recipe.data.train, kind="rl"))
    dataset = to_dataset(grpo_records(rows, tokenizer, max_prompt_length=stage.max_prompt_length))
    config = targs.build_grpo_config(recipe, stage, str(out), weights)

    times: list[float] = []

    class Clock(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kw):  # noqa: ANN001
            if logs and "train_runtime" not in logs:
                times.append(time.time())

    trainer = GRPOTrainer(
        model=model,
        reward_funcs=funcs,
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=[Clock()],
    )
    trainer.train()
    rows = [r for r in trainer.state.log_history if "train_runtime" not in r]
    return _stats(times, rows, recipe_raw)


def _stats(times: list[float], rows: list[dict], recipe: dict) -> dict:
    stage = recipe["stages"][0]
    step_times = [b - a for a, b in zip(times, times[1:], strict=False)]  # step 2.. (step 1 = warm-up)
    generated = sum(r.get("completions/mean_length", 0.0) * stage["per_device_batch_size"] for r in rows[1:])
    total = sum(step_times)
    inner = [r["step_time"] for r in rows[1:] if r.get("step_time") is not None]
    return {
        "trl_step_time": statistics.mean(inner) if inner else float("nan"),  # TRL's own training_step timer
        "steps_timed": len(step_times),
        "s_per_step": statistics.mean(step_times) if step_times else float("nan"),
        "s_per_step_median": statistics.median(step_times) if step_times else float("nan"),
        "generated_tokens_per_s": generated / total if total else float("nan"),
        "peak_memory_mb": _peak_memory_mb(),
    }


# ------------------------------------------------------------------------------------------------ driver
def run_arm(arm: str, args: argparse.Namespace, model: str) -> dict:
    env = {**os.environ, "POLYREASON_PROGRESS": "0"}
    if args.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    with tempfile.TemporaryDirectory(prefix=f"grpo-bench-{arm}-") as tmp:
        result_path = Path(tmp) / "result.json"
        cmd = [
            sys.executable,
            __file__,
            "--_arm",
            arm,
            "--_out",
            tmp,
            "--_model",
            model,
            "--steps",
            str(args.steps),
            "--batch",
            str(args.batch),
            "--generations",
            str(args.generations),
            "--completion",
            str(args.completion),
            "--device",
            args.device,
        ]
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
        return json.loads(result_path.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="tiny-random", help="model spec (default tiny-random)")
    parser.add_argument(
        "--random-init-config",
        action="store_true",
        help="use a randomly initialised ~0.4B Llama (hidden 1024, 24 layers, 16 heads, "
        "intermediate 2816, SmolLM2 tokenizer) instead of --model",
    )
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--steps", type=int, default=4, help="GRPO steps per arm (the first is not timed)")
    parser.add_argument("--batch", type=int, default=16, help="completions per step")
    parser.add_argument("--generations", type=int, default=8, help="G")
    parser.add_argument("--completion", type=int, default=32, help="max completion tokens")
    parser.add_argument("--repeats", type=int, default=1, help="alternate the arms this many times")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--_arm", help=argparse.SUPPRESS)
    parser.add_argument("--_out", help=argparse.SUPPRESS)
    parser.add_argument("--_model", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args._arm:  # inside a subprocess: run one arm, write its numbers
        recipe = recipe_dict(args, args._model)
        out = Path(args._out)
        fn = arm_polyreason if args._arm == "polyreason" else arm_trl
        result = fn(recipe, out / "run")
        (out / "result.json").write_text(json.dumps(result))
        return

    model = args.model
    if args.random_init_config:
        from polyreason.models import cache_dir

        model = build_random_model(cache_dir() / "bench")
    results: dict[str, list[dict]] = {"trl": [], "polyreason": []}
    for i in range(args.repeats):
        for arm in ("trl", "polyreason") if i % 2 == 0 else ("polyreason", "trl"):
            results[arm].append(run_arm(arm, args, model))
    summary = {
        arm: {k: statistics.mean(r[k] for r in runs) for k in runs[0]} for arm, runs in results.items()
    }
    ratio = summary["polyreason"]["s_per_step"] / summary["trl"]["s_per_step"]
    machine = _machine(args.device)
    print(
        f"model {model} on {machine}; {args.steps} steps/arm (first untimed), {args.batch} completions/step, "
        f"G={args.generations}, ≤{args.completion} tokens, {args.repeats} repeat(s)"
    )
    print(f"{'arm':<12}{'s/step':>10}{'median':>10}{'TRL timer':>11}{'gen tok/s':>12}{'peak MB':>10}")
    for arm, s in summary.items():
        print(f"{arm:<12}{s['s_per_step']:>10.2f}{s['s_per_step_median']:>10.2f}{s['trl_step_time']:>11.2f}"
              f"{s['generated_tokens_per_s']:>12.1f}{s['peak_memory_mb']:>10.0f}")
    print(f"ratio polyreason / bare TRL: {ratio:.3f} (target ≤ 1.05)")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"summary": summary, "runs": results, "ratio": ratio, "machine": machine, "args": vars(args)},
                indent=2,
            )
        )


def _machine(device: str) -> str:
    import platform

    import torch

    if device == "cuda" and torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}"


if __name__ == "__main__":
    main()
