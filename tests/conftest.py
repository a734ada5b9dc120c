"""Shared fixtures: offline, quiet, CPU-only."""

from __future__ import annotations

import os
from contextlib import ExitStack
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
def benchmark_script():
    """Import a script of benchmarks/ by name (they are scripts, not a package): ``benchmark_script("rl_study")``."""
    import importlib.util

    def load(name: str):
        spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


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


@pytest.fixture
def serve_stub():
    """``serve_stub(Handler, host="127.0.0.1") -> "http://host:port"``: an HTTP stub (tests/http_stub.py) that
    runs until the test ends; the handler's ``seen`` list is emptied first."""
    from http_stub import serve

    with ExitStack() as stack:

        def start(handler, host: str = "127.0.0.1") -> str:
            handler.seen = []
            return stack.enter_context(serve(handler, host))

        yield start


@pytest.fixture
def readonly_dir(tmp_path):
    """``readonly_dir()`` -> a directory this process cannot write (chmod 555 for users; a read-only sysfs
    directory for root); skips the test where root has none.  Called only where a test needs one."""

    def make() -> Path:
        if os.geteuid() != 0:
            d = tmp_path / "ro"
            d.mkdir()
            d.chmod(0o555)
            return d
        probe = Path("/sys/kernel")
        try:
            (probe / "polyreason-probe").touch()
        except OSError:
            return probe
        pytest.skip("no read-only directory available to root here")

    return make
