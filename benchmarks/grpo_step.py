"""Seconds per GRPO step: `polyreason train` vs a bare TRL GRPOTrainer script with the identical configuration.

Both arms run in fresh subprocesses, one after the other, in the same invocation: same model, data, rewards
(polyreason's accuracy + format), and the same GRPOConfig values (built once from the recipe).  The bare arm
uses ``trl.GRPOTrainer`` directly with no polyreason callbacks or subclass; the polyreason arm is
``polyreason.train.run_recipe`` (metrics.jsonl, completions sample, progress, checkpoints off; its rollouts
go through polyreason's compacting decode loop where the sampling settings allow it).

Per model and arm it reports (the first step, which includes warm-up, is never timed):

* s/step: mean wall-clock seconds between consecutive step logs;
* generated tokens/s: completion tokens (TRL's ``completions/mean_length`` × completions per step, so padding
  after EOS is not counted) over the step time;
* trained tokens/step: prompt + completion tokens the policy's forward/backward sees (TRL's ``num_tokens``);
* peak memory: CUDA ``max_memory_allocated`` (and reserved) on a GPU, peak RSS on a CPU;
* MFU: (6·N·trained tokens + 2·N·generated tokens) per step / s/step / the device's peak dense bf16 FLOP/s.
  N counts every parameter once (tied embeddings once: the LM head's matmul uses them); attention's
  sequence-quadratic FLOPs and any reference-model forward are not counted.  The peak comes from the device
  name (:data:`PEAK_BF16_TFLOPS`, vendors' datasheets, dense) or ``--peak-tflops``; on a GPU the script also
  times an 8192³ bf16 matmul and reports MFU against that measured ceiling.

Models: a spec polyreason resolves (``tiny-random``, ``smollm2-135m``, a directory, a hub id), or
``random:SHAPE`` -- a randomly initialised Llama of a named shape (:data:`RANDOM_SHAPES`: ``llama-0.36b``,
``smollm2-135m``, ``tiny``) with the ``--tokenizer`` vocabulary, built once under the polyreason cache.
``--random-fallback`` replaces a built-in spec whose weights are not on this machine by its random shape
(compute per token is the same; a random model never stops early, so every completion is full length).

    python benchmarks/grpo_step.py                                  # tiny-random model, CPU, a few minutes
    python benchmarks/grpo_step.py --models smollm2-135m --steps 4
    python benchmarks/grpo_step.py --device cuda --models random:llama-0.36b,smollm2-135m --random-fallback \\
        --steps 6 --batch 64 --completion 256 --budget-s 450 --json out.json --markdown out.md
    bash benchmarks/gpu_grpo.sh                                     # the GPU measurement, <= 8 minutes
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ARMS = ("trl", "polyreason")
_LLAMA_036B = dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, num_key_value_heads=16,
                   intermediate_size=2816, max_position_embeddings=4096, tie_word_embeddings=True)
RANDOM_SHAPES: dict[str, dict] = {
    "llama-0.36b": _LLAMA_036B,  # ~0.36 B parameters with the 49,152-token SmolLM2 vocabulary
    "smollm2-135m": dict(hidden_size=576, num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                         intermediate_size=1536, max_position_embeddings=8192, rope_theta=100000.0,
                         rms_norm_eps=1e-5, tie_word_embeddings=True),  # HuggingFaceTB/SmolLM2-135M's config
    "tiny": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                 intermediate_size=128, max_position_embeddings=2048, tie_word_embeddings=True),
}
RANDOM_INIT = _LLAMA_036B  # the shape --random-init-config builds (kept for older commands)

# Dense (no sparsity) bf16 tensor-core peak per GPU from the vendors' datasheets, most specific name first.
PEAK_BF16_TFLOPS: list[tuple[str, float]] = [
    (r"\bGH200\b", 989.0),
    (r"\bH200 NVL\b", 835.0),
    (r"\bH200\b", 989.0),  # H200 SXM: the H100 SXM's rates
    (r"\bH100 NVL\b", 835.0),
    (r"\bH100 PCIe\b", 756.0),
    (r"\bH100\b", 989.0),  # "NVIDIA H100 80GB HBM3" is the SXM part
    (r"\bB200\b", 2250.0),
    (r"\bA100\b", 312.0),
    (r"\bL40S\b", 362.0),
    (r"\bL4\b", 121.0),
    (r"\bA10\b", 125.0),
]


def peak_bf16_tflops(device_name: str) -> float | None:
    """The datasheet dense bf16 peak (TFLOP/s) of the GPU called ``device_name``, or None if unknown."""
    for pattern, tflops in PEAK_BF16_TFLOPS:
        if re.search(pattern, device_name):
            return tflops
    return None


def model_flops_per_step(n_params: int, trained_tokens: float, generated_tokens: float) -> float:
    """6·N per trained token (forward + backward) plus 2·N per generated token (one forward each)."""
    return 6.0 * n_params * trained_tokens + 2.0 * n_params * generated_tokens


def recipe_dict(args: argparse.Namespace, model: str) -> dict:
    return {
        "name": "grpo-step-bench",
        "seed": 0,
        "model": {"spec": model, "dtype": args.dtype},
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


def build_random_model(directory: Path, shape: str = "llama-0.36b", tokenizer: str = "tiny-random") -> str:
    """A randomly initialised Llama of ``shape`` with ``tokenizer``'s vocabulary, saved once under ``directory``."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from polyreason.models import load_tokenizer

    target = directory / f"random-{shape}"
    if (target / "config.json").is_file():
        return str(target)
    tok = load_tokenizer(tokenizer)
    directory.mkdir(parents=True, exist_ok=True)
    config = LlamaConfig(vocab_size=len(tok), bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id, **RANDOM_SHAPES[shape])
    model = LlamaForCausalLM(config)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=directory))
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    tmp.rename(target)
    return str(target)


def count_parameters(path: str) -> int:
    """Parameters of the model at ``path`` (each tensor once, tied embeddings once), without loading weights."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(path))
    return sum(p.numel() for p in model.parameters())


# ------------------------------------------------------------------------------------------------ arms
def _peak_memory() -> dict:
    import resource

    import torch

    if torch.cuda.is_available():
        return {"peak_memory_mb": torch.cuda.max_memory_allocated() / 2**20,
                "peak_reserved_mb": torch.cuda.max_memory_reserved() / 2**20, "peak_memory_kind": "cuda allocated"}
    return {"peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "peak_memory_kind": "rss"}


def arm_polyreason(recipe: dict, out: Path) -> dict:
    from polyreason.config import recipe_from_dict
    from polyreason.files import read_jsonl
    from polyreason.train import run_recipe

    result = run_recipe(recipe_from_dict(recipe), out)
    rows = [r for r in read_jsonl(Path(result.metrics_path), tolerant=True) if "train_runtime" not in r]
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
    """Per-step figures over steps 2.. (step 1 includes warm-up); ``rows`` are the step logs in order."""
    from polyreason.config import recipe_from_dict
    from polyreason.models import resolve_dtype
    from polyreason.train.args import resolve_bf16

    stage = recipe_from_dict(recipe).stages[0]
    per_step = stage.per_device_batch_size * stage.gradient_accumulation_steps  # completions per optimizer step
    step_times = [b - a for a, b in zip(times, times[1:], strict=False)]
    seen = [r.get("num_tokens", 0.0) for r in rows]
    trained = [b - a for a, b in zip(seen, seen[1:], strict=False)]
    generated = [r.get("completions/mean_length", 0.0) * per_step for r in rows[1:]]
    total = sum(step_times)
    inner = [r["step_time"] for r in rows[1:] if r.get("step_time") is not None]
    nan = float("nan")
    return {
        "trl_step_time": statistics.mean(inner) if inner else nan,  # TRL's own training_step timer
        "steps_timed": len(step_times),
        "s_per_step": statistics.mean(step_times) if step_times else nan,
        "s_per_step_median": statistics.median(step_times) if step_times else nan,
        "completions_per_step": per_step,
        "generated_tokens_per_step": statistics.mean(generated) if generated else nan,
        "trained_tokens_per_step": statistics.mean(trained) if trained else nan,
        "generated_tokens_per_s": sum(generated) / total if total else nan,
        "dtype": str(resolve_dtype(recipe["model"]["dtype"])).removeprefix("torch."),
        "bf16_autocast": resolve_bf16(stage.bf16),
        **_peak_memory(),
    }


# ------------------------------------------------------------------------------------------------ driver
def run_arm(arm: str, args: argparse.Namespace, model: str, timeout: float | None = None) -> dict:
    """One arm in a fresh subprocess; ``{"error": …}`` if it failed or ran past ``timeout`` seconds."""
    env = {**os.environ, "POLYREASON_PROGRESS": "0"}
    if args.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    with tempfile.TemporaryDirectory(prefix=f"grpo-bench-{arm}-") as tmp:
        result_path = Path(tmp) / "result.json"
        cmd = [sys.executable, __file__, "--_arm", arm, "--_out", tmp, "--_model", model, "--steps", str(args.steps),
               "--batch", str(args.batch), "--generations", str(args.generations), "--completion",
               str(args.completion), "--device", args.device, "--dtype", args.dtype]
        if args.verbose:
            cmd.append("--verbose")
        started = time.perf_counter()
        try:
            proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"error": f"ran past its {timeout:.0f} s share of the time budget"}
        if proc.returncode != 0 or not result_path.is_file():
            return {"error": f"exit code {proc.returncode}"}
        result = json.loads(result_path.read_text())
        result["arm_wall_s"] = time.perf_counter() - started
        return result


def _run_one_arm(args: argparse.Namespace) -> None:
    """Inside an arm's subprocess: run it and write its numbers to --_out/result.json."""
    if not args.verbose:
        from polyreason.quiet import quiet_third_party

        quiet_third_party()
    if args.device == "cuda":
        import torch

        torch.cuda.reset_peak_memory_stats()
    recipe = recipe_dict(args, args._model)
    out = Path(args._out)
    fn = arm_polyreason if args._arm == "polyreason" else arm_trl
    result = fn(recipe, out / "run")
    (out / "result.json").write_text(json.dumps(result))


def resolve_model(spec: str, args: argparse.Namespace) -> tuple[str, str]:
    """(path or spec to train, what its weights are) for a ``--models`` item."""
    from polyreason.errors import UserError
    from polyreason.models import cache_dir, resolve_model_path

    if spec.startswith("random:"):
        shape = spec.removeprefix("random:")
        if shape not in RANDOM_SHAPES:
            raise SystemExit(f"unknown shape {shape!r}; fix: one of {', '.join(RANDOM_SHAPES)}")
        return build_random_model(cache_dir() / "bench", shape, args.tokenizer), f"random init ({shape} shape)"
    try:
        return resolve_model_path(spec), "the spec's own"
    except UserError as exc:
        if not (args.random_fallback and spec in RANDOM_SHAPES):
            raise
        print(f"grpo_step: {spec}'s weights are not on this machine ({exc}); using a random model of its shape",
              file=sys.stderr)
        path = build_random_model(cache_dir() / "bench", spec, args.tokenizer)
        return path, f"random init ({spec} shape; its weights are not on this machine)"


def measure_matmul_tflops() -> float | None:
    """Achieved bf16 TFLOP/s of an 8192³ matmul on the current GPU (median of 10 after 3 warm-ups)."""
    import torch

    if not torch.cuda.is_available():
        return None
    a, b = (torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16) for _ in range(2))
    for _ in range(3):
        a @ b
    times = []
    for _ in range(10):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        a @ b
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    del a, b
    torch.cuda.empty_cache()
    return 2 * 8192**3 / statistics.median(times) / 1e12


def _mean_runs(runs: list[dict]) -> dict:
    """The mean of each number over the runs that worked (other fields from the first), or the errors."""
    good = [r for r in runs if "error" not in r]
    if not good:
        return {"error": "; ".join(r["error"] for r in runs) or "not run"}
    out = dict(good[0])
    for key, value in good[0].items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = statistics.mean(r[key] for r in good)
    return out


def _precisions(result: dict) -> str:
    """The weights' dtypes and bf16 autocast the arms ran with, e.g. "bfloat16 weights, bf16 autocast"."""
    ran = {(a["dtype"], a["bf16_autocast"]) for m in result["models"].values() for a in m["arms"].values()
           if "error" not in a}
    return "; ".join(f"{d} weights, bf16 autocast {'on' if bf16 else 'off'}" for d, bf16 in sorted(ran)) or "none ran"


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.2f}"


def add_mfu(arm: dict, n_params: int, peak: float | None, measured: float | None) -> None:
    """Model FLOP/s and MFU (against the datasheet peak and the measured matmul rate) into ``arm``."""
    if "error" in arm:
        return
    flops = model_flops_per_step(n_params, arm["trained_tokens_per_step"], arm["generated_tokens_per_step"])
    arm["model_tflops_per_s"] = flops / arm["s_per_step"] / 1e12
    arm["mfu"] = arm["model_tflops_per_s"] / peak if peak else None
    arm["mfu_vs_measured_matmul"] = arm["model_tflops_per_s"] / measured if measured else None


def run_benchmark(args: argparse.Namespace) -> dict:
    """Every model × arm (arms alternated over repeats) within ``--budget-s``; the results as one dict."""
    started = time.time()
    deadline = started + args.budget_s if args.budget_s else None
    device_name = _machine(args.device)
    peak = args.peak_tflops or (peak_bf16_tflops(device_name) if args.device == "cuda" else None)
    measured = measure_matmul_tflops() if args.device == "cuda" else None
    models: dict[str, dict] = {}
    specs = args.models.split(",")
    arms_left = len(specs) * args.repeats * len(ARMS)
    for spec in specs:
        path, weights = resolve_model(spec, args)
        runs: dict[str, list[dict]] = {arm: [] for arm in ARMS}
        for i in range(args.repeats):
            for arm in ARMS if i % 2 == 0 else ARMS[::-1]:
                arms_left -= 1
                # what this arm may use: the budget left, less --min-arm-s for each arm still to come
                share = None if deadline is None else deadline - time.time() - arms_left * args.min_arm_s
                if share is not None and share < args.min_arm_s:
                    runs[arm].append({"error": f"skipped: {max(share, 0):.0f} s of the time budget for it"})
                    continue
                runs[arm].append(run_arm(arm, args, path, timeout=share))
        n_params = count_parameters(path)
        summary = {arm: _mean_runs(r) for arm, r in runs.items()}
        for arm in summary.values():
            add_mfu(arm, n_params, peak, measured)
        ok = all("error" not in summary[a] for a in ARMS)
        models[spec] = {"path": path, "weights": weights, "n_params": n_params, "arms": summary, "runs": runs,
                        "ratio": summary["polyreason"]["s_per_step"] / summary["trl"]["s_per_step"] if ok else None}
    return {"device": args.device, "device_name": device_name, "peak_bf16_tflops": peak,
            "peak_source": "--peak-tflops" if args.peak_tflops else ("datasheet, by device name" if peak else None),
            "measured_matmul_tflops": measured, "wall_s": time.time() - started, "models": models,
            "config": {k: v for k, v in vars(args).items() if not k.startswith("_")}}


def markdown(result: dict) -> str:
    """The results as a markdown table with the machine, the peak used and the configuration above it."""
    cfg = result["config"]
    peak, measured = result["peak_bf16_tflops"], result["measured_matmul_tflops"]
    device = f"Device: {result['device_name']}; peak dense bf16 "
    device += f"{peak:g} TFLOP/s ({result['peak_source']})" if peak else "unknown (no MFU)"
    if measured:
        device += f"; measured 8192³ bf16 matmul {measured:.0f} TFLOP/s"
    lines = [
        device,
        f"Config: {cfg['steps']} steps per arm (first untimed), {cfg['batch']} completions/step, G={cfg['generations']}, "
        f"≤ {cfg['completion']} completion tokens, dtype {cfg['dtype']} ({_precisions(result)}), "
        f"{cfg['repeats']} repeat(s); wall {result['wall_s']:.0f} s",
        "MFU = (6·N·trained tokens + 2·N·generated tokens) per step / s per step / peak",
        "",
        "| model | weights | N | arm | s/step | gen tok/s | trained tok/step | peak mem GB | MFU % | vs matmul % "
        "| polyreason / TRL |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for spec, m in result["models"].items():
        for arm in ARMS:
            a = m["arms"][arm]
            if "error" in a:
                lines.append(f"| {spec} | {m['weights']} | {m['n_params'] / 1e6:.0f} M | {arm} | {a['error']} "
                             "| | | | | | |")
                continue
            ratio = f"{m['ratio']:.3f}" if arm == "polyreason" and m["ratio"] is not None else ""
            lines.append(
                f"| {spec} | {m['weights']} | {m['n_params'] / 1e6:.0f} M | {arm} | {a['s_per_step']:.2f} "
                f"| {a['generated_tokens_per_s']:.0f} | {a['trained_tokens_per_step']:.0f} "
                f"| {a['peak_memory_mb'] / 1024:.2f} | {_pct(a['mfu'])} | {_pct(a['mfu_vs_measured_matmul'])} | {ratio} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", "--model", default="tiny-random",
                        help="comma-separated model specs or random:SHAPE (default tiny-random)")
    parser.add_argument("--random-init-config", action="store_true",
                        help="same as --models random:llama-0.36b (hidden 1024, 24 layers, 16 heads, intermediate "
                        "2816, SmolLM2 tokenizer)")
    parser.add_argument("--random-fallback", action="store_true",
                        help="a built-in spec whose weights are not here is replaced by its random shape")
    parser.add_argument("--tokenizer", default="tiny-random", help="vocabulary of random:SHAPE models")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--dtype", default="auto", help="model dtype: auto (bf16 on a GPU), float32, bfloat16")
    parser.add_argument("--steps", type=int, default=4, help="GRPO steps per arm (the first is not timed)")
    parser.add_argument("--batch", type=int, default=16, help="completions per step")
    parser.add_argument("--generations", type=int, default=8, help="G")
    parser.add_argument("--completion", type=int, default=32, help="max completion tokens")
    parser.add_argument("--repeats", type=int, default=1, help="alternate the arms this many times")
    parser.add_argument("--budget-s", type=float, help="stop starting arms after this many seconds in all")
    parser.add_argument("--min-arm-s", type=float, default=45.0, help="skip an arm with less budget left than this")
    parser.add_argument("--peak-tflops", type=float, help="peak bf16 TFLOP/s for MFU (default: from the GPU name)")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--markdown", help="also write the results as a markdown table here")
    parser.add_argument("--verbose", action="store_true", help="show the arms' third-party warnings and bars")
    parser.add_argument("--_arm", help=argparse.SUPPRESS)
    parser.add_argument("--_out", help=argparse.SUPPRESS)
    parser.add_argument("--_model", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._arm:
        _run_one_arm(args)
        return
    if args.random_init_config:
        args.models = "random:llama-0.36b"
    if not args.verbose:  # building a random model draws transformers' "Writing model shards" bar
        from polyreason.quiet import quiet_third_party

        quiet_third_party()
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise SystemExit("--device cuda: torch sees no CUDA device here; fix: run on a GPU or use --device cpu")
    result = run_benchmark(args)
    print(markdown(result), end="")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    if args.markdown:
        Path(args.markdown).write_text(markdown(result))
    if not all(m["ratio"] is not None for m in result["models"].values()):
        sys.exit(1)


def _machine(device: str) -> str:
    import platform

    import torch

    if device == "cuda" and torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}"


if __name__ == "__main__":
    main()
