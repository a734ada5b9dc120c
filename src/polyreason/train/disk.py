"""Disk space for checkpoints: refuse to start a save that cannot fit, and name a full disk when a write fails.

A checkpoint holds the model's weights plus the optimizer's two Adam moments per trainable weight (and small
files).  When the disk fills half-way through one, torch reports ``[enforce fail at inline_container.cc…]
unexpected pos`` and safetensors ``No space left on device`` — neither says which disk, how much is missing or
what to do.  :func:`checkpoint_bytes` estimates a checkpoint's size, :func:`require_free` checks it before a
save starts (a :class:`DiskFull`, exit code 2, and nothing written), and :func:`disk_errors` turns a failed
write into the same error when the disk is what failed.  Either way the stage's last complete checkpoint is
untouched, so freeing space and rerunning with ``--resume`` continues from it.
"""

from __future__ import annotations

import contextlib
import errno
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from polyreason.errors import UserError

MARGIN = 1.10  # tokenizer, config, RNG/scheduler state and filesystem slack on top of the tensors
_TORCH_WRITE_FAILURE = "inline_container.cc"  # where torch.save (optimizer.pt, rng state) reports a failed write


class DiskFull(UserError):
    """The disk holding a run's output has no room for the next checkpoint or model."""


def checkpoint_bytes(model: Any, optimizer_moments: int = 2) -> int:
    """Bytes a checkpoint of ``model`` takes: every weight once, plus ``optimizer_moments`` copies of each
    trainable one (Adam keeps two), times :data:`MARGIN`.  ``optimizer_moments=0`` sizes a final model."""
    weights = trainable = 0
    for param in model.parameters():
        size = param.numel() * param.element_size()
        weights += size
        trainable += size if param.requires_grad else 0
    return int((weights + optimizer_moments * trainable) * MARGIN)


def free_bytes(directory: Path) -> int:
    """Free bytes on the filesystem that holds ``directory`` (or its nearest existing parent)."""
    path = Path(directory).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def _size(n: float) -> str:
    return f"{n / 1024**3:.2f} GiB" if n >= 1024**3 / 10 else f"{n / 1024**2:.1f} MiB"


def _message(directory: Path, what: str, needed: int, free: int) -> str:
    return (f"disk full: {what} in {str(directory)!r} needs about {_size(needed)} and its disk has {_size(free)} "
            "free; fix: free space on that disk (old runs' checkpoint-*/ and model/ directories are the usual "
            "culprits) or write to another with -o, then rerun the same command with --resume: training "
            "continues from the stage's last complete checkpoint (a larger save_steps writes fewer of them)")


def require_free(directory: Path, needed: int, what: str = "the next checkpoint") -> None:
    """Raise :class:`DiskFull` unless the disk holding ``directory`` has ``needed`` bytes free."""
    free = free_bytes(directory)
    if free < needed:
        raise DiskFull(_message(directory, what, needed, free))


def as_disk_full(exc: BaseException, directory: Path, needed: int, what: str = "saving") -> DiskFull | None:
    """A :class:`DiskFull` when ``exc`` (or an exception it chains) is a write that failed for lack of space.

    ``ENOSPC`` / "No space left on device" anywhere in the chain counts; torch's bare write failure counts only
    when the disk now has less than ``needed`` bytes free (it says nothing of the cause).  Else None.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if getattr(current, "errno", None) == errno.ENOSPC or "No space left on device" in str(current):
            return DiskFull(_message(directory, what, needed, free_bytes(directory)))
        if _TORCH_WRITE_FAILURE in str(current):
            free = free_bytes(directory)
            if free < needed:
                return DiskFull(_message(directory, what, needed, free))
        current = current.__cause__ or current.__context__
    return None


@contextlib.contextmanager
def disk_errors(directory: Path, needed: int, what: str) -> Iterator[None]:
    """Re-raise a write that failed for lack of space inside the block as :class:`DiskFull` (see
    :func:`as_disk_full`); every other exception passes unchanged."""
    try:
        yield
    except Exception as exc:
        full = as_disk_full(exc, directory, needed, what)
        if full is None:
            raise
        raise full from exc
