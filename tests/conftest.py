"""Shared fixtures: offline, quiet, CPU-only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("POLYREASON_PROGRESS", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SHARED_BENCHMARKS = SHARED / "data" / "benchmarks"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_benchmarks() -> Path:
    if not SHARED_BENCHMARKS.is_dir():
        pytest.skip("../shared/data/benchmarks is not beside the repository")
    return SHARED_BENCHMARKS


@pytest.fixture(scope="session")
def tiny_model_path() -> str:
    """Local directory of the tiny random model (built once into the user cache)."""
    from polyreason.models import resolve_model_path

    return resolve_model_path("tiny-random")


@pytest.fixture
def one_torch_thread():
    """One torch thread: on a shared 2-core box, oversubscribed threads make tiny-model steps ~2.5x slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
