"""Shared fixtures: offline, quiet, CPU-only."""

from __future__ import annotations

import itertools
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
def tiny_grpo_run(tmp_path, monkeypatch):
    """``tiny_grpo_run(stage, reward_factory, rewards=..., on_compute_loss=None, **trainer_kwargs)`` ->
    ``(weights, metrics_path)``: a one-stage Dr. GRPO run of the tiny random model (4 prompts' worth of
    completions per micro-batch, G 4) with polyreason's GRPO trainer built with ``trainer_kwargs`` (e.g.
    ``skip_zero_advantage=False``, ``shared_prompt=False``): the final named parameters and metrics.jsonl.
    ``on_compute_loss`` is called once per training forward that actually runs (TRL's ``_compute_loss``).
    Tests compare an optimisation switched on and off with it."""
    from polyreason.config import recipe_from_dict
    from polyreason.models import load_model
    from polyreason.train import dynamic, run_recipe

    runs = itertools.count()

    def run(stage: dict, reward_factory, rewards: dict | None = None, on_compute_loss=None, **trainer_kwargs):
        original = dynamic.make_trainer_class

        def patched():
            class Toggled(original()):
                def __init__(self, *a, **kw):
                    super().__init__(*a, **trainer_kwargs, **kw)

                def _compute_loss(self, model, inputs):
                    if on_compute_loss is not None:
                        on_compute_loss()
                    return super()._compute_loss(model, inputs)

            return Toggled

        recipe = recipe_from_dict({
            "model": "tiny-random", "seed": 5, "data": {"train": "synthetic:64:en:easy:add_sub"},
            "rewards": rewards or {"accuracy": 1.0},
            "stages": [{"type": "grpo", "preset": "dr_grpo", "per_device_batch_size": 4, "num_generations": 4,
                        "save_steps": 100, **stage}],
            "tracking": {"log_completions": False},
        })
        out = tmp_path / f"grpo-run-{next(runs)}"
        with monkeypatch.context() as patch:
            patch.setattr(dynamic, "make_trainer_class", patched)
            run_recipe(recipe, out, reward_factory=reward_factory)
        model, _ = load_model(str(out / "model"), device="cpu")
        return dict(model.named_parameters()), out / "metrics.jsonl"

    return run


@pytest.fixture
def tiny_start_weights():
    """The tiny random model's named parameters before any training."""
    from polyreason.models import load_model

    return dict(load_model("tiny-random", device="cpu")[0].named_parameters())


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
