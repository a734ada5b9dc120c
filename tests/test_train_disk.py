"""A full disk stops training with a clear error (exit 2) before a checkpoint is half-written, and the run resumes."""

from __future__ import annotations

import errno

import pytest
import torch

from polyreason.train import disk

pytestmark = pytest.mark.usefixtures("one_torch_thread")

GIB = 1024**3

RECIPE = {
    "name": "disk-test",
    "model": "tiny-random",
    "data": {"train": "synthetic:32:en:easy:add_sub", "sft": "synthetic:16:en:easy:add_sub"},
    "rewards": {"accuracy": 1.0},
    "stages": [{"type": "sft", "max_steps": 2, "per_device_batch_size": 2, "max_length": 96, "save_steps": 1}],
}


def test_checkpoint_size_counts_every_weight_once_and_adam_moments_of_the_trainable_ones():
    model = torch.nn.Sequential(torch.nn.Linear(10, 10), torch.nn.Linear(10, 5))  # 110 + 55 float32 numbers
    model[0].requires_grad_(False)
    assert disk.checkpoint_bytes(model) == int((165 * 4 + 2 * 55 * 4) * disk.MARGIN)
    assert disk.checkpoint_bytes(model, optimizer_moments=0) == int(165 * 4 * disk.MARGIN)


def test_require_free_names_the_disk_the_shortfall_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(disk, "free_bytes", lambda directory: GIB // 2)
    disk.require_free(tmp_path, GIB // 4)  # fits: nothing raised
    with pytest.raises(disk.DiskFull) as caught:
        disk.require_free(tmp_path / "not-yet-made", 3 * GIB, "the checkpoint of step 5")
    message = str(caught.value)
    assert caught.value.exit_code == 2
    for part in ("disk full", "the checkpoint of step 5", "3.00 GiB", "0.50 GiB free", str(tmp_path), "--resume"):
        assert part in message
    monkeypatch.setattr(disk, "free_bytes", lambda directory: 3 * 1024**2)
    with pytest.raises(disk.DiskFull, match=r"needs about 40\.0 MiB and its disk has 3\.0 MiB free"):
        disk.require_free(tmp_path, 40 * 1024**2)  # small sizes in MiB, not "0.00 GiB"


def test_free_bytes_of_a_directory_not_yet_made_is_its_parents_disk(tmp_path):
    assert disk.free_bytes(tmp_path / "a" / "b") == disk.free_bytes(tmp_path) > 0


@pytest.mark.parametrize(
    ("raised", "free", "full"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), 10 * GIB, True),  # the errno says it, whatever is free
        (RuntimeError("safetensors_rust.SafetensorError: Error while serializing: No space left on device"),
         10 * GIB, True),
        (RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 1234 vs 1200"), 0, True),
        (RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 1234 vs 1200"), 10 * GIB, False),
        (OSError(errno.EACCES, "Permission denied"), 0, False),
        (ValueError("a bug"), 0, False),
    ],
    ids=["enospc", "safetensors", "torch-low-space", "torch-space-left", "eacces", "other"],
)
def test_only_writes_that_failed_for_space_become_disk_full(tmp_path, monkeypatch, raised, free, full):
    monkeypatch.setattr(disk, "free_bytes", lambda directory: free)
    assert isinstance(disk.as_disk_full(raised, tmp_path, GIB), disk.DiskFull) is full
    wrapped = RuntimeError("saving failed")
    wrapped.__cause__ = raised  # found through the chain too
    assert isinstance(disk.as_disk_full(wrapped, tmp_path, GIB), disk.DiskFull) is full


def test_disk_errors_reraises_as_disk_full_and_lets_other_errors_through(tmp_path, monkeypatch):
    monkeypatch.setattr(disk, "free_bytes", lambda directory: 0)
    with pytest.raises(disk.DiskFull, match="the final model") as caught, \
            disk.disk_errors(tmp_path, GIB, "the final model"):
        raise OSError(errno.ENOSPC, "No space left on device")
    assert isinstance(caught.value.__cause__, OSError)
    with pytest.raises(KeyError), disk.disk_errors(tmp_path, GIB, "x"):
        raise KeyError("not about disks")


def test_training_stops_before_a_checkpoint_that_cannot_fit_and_resumes_once_space_is_freed(tmp_path, monkeypatch):
    from polyreason.config import recipe_from_dict
    from polyreason.files import read_jsonl
    from polyreason.train import run_recipe

    out = tmp_path / "run"
    monkeypatch.setattr(disk, "free_bytes", lambda directory: 1024)  # 1 KiB free: no checkpoint fits
    with pytest.raises(disk.DiskFull, match="the checkpoint of step 1"):
        run_recipe(recipe_from_dict(RECIPE), out)
    stage_dir = out / "stages" / "0-sft"
    assert not list(stage_dir.glob("checkpoint-*")) and not (out / "model").exists()  # nothing half-written

    monkeypatch.undo()  # space freed
    run_recipe(recipe_from_dict(RECIPE), out, resume=True)
    assert (out / "model" / "config.json").is_file()
    assert [r["step"] for r in read_jsonl(out / "metrics.jsonl") if "loss" in r] == [1, 2]


def test_a_save_that_fails_for_space_mid_write_is_reported_as_disk_full(tmp_path, monkeypatch):
    from transformers import Trainer

    from polyreason.config import recipe_from_dict
    from polyreason.train import run_recipe

    free = {"bytes": 10 * GIB}  # room for the guard's check; the failing write then fills the disk

    def full_disk(self, *args, **kwargs):  # noqa: ANN001, ANN202 - what torch.save raises when the disk fills
        free["bytes"] = 0
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 8896 vs 8784")

    monkeypatch.setattr(Trainer, "_save_checkpoint", full_disk)
    monkeypatch.setattr(disk, "free_bytes", lambda directory: free["bytes"])
    with pytest.raises(disk.DiskFull, match="disk full: a checkpoint") as caught:
        run_recipe(recipe_from_dict(RECIPE), tmp_path / "run")
    assert "unexpected pos" in str(caught.value.__cause__)
