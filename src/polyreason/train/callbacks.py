"""Trainer callbacks: metrics.jsonl (crash-safe, no duplicated steps on resume), a stop at a finished
checkpoint, a progress bar with ETA, and a free-space check before each checkpoint."""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

from polyreason.files import read_jsonl, write_jsonl
from polyreason.progress import make_bar, progress_enabled

log = logging.getLogger(__name__)

# Keys of the end-of-training summary that Trainer logs once; they go to the run summary, not metrics.jsonl.
SUMMARY_KEYS = ("train_runtime", "train_samples_per_second", "train_steps_per_second", "train_loss")


class CheckpointIsFinal(Exception):  # noqa: N818 - a signal, not an error
    """Raised at the start of ``train()`` when the resumed checkpoint is already at ``max_steps``.

    transformers resumes a checkpoint taken at ``max_steps`` mid-epoch by running one more optimiser step
    before it checks the limit (a run killed during its final save ended at step 31 of 30).  The checkpoint's
    weights are loaded by then, so the caller saves them as the final model instead.
    """


def truncate_jsonl(path: Path, stage: int, max_step: int) -> int:
    """Keep records of earlier stages and of ``stage`` up to ``max_step``; drop later ones. Returns # dropped.

    Called before resuming ``stage`` from the checkpoint at ``max_step``: whatever was logged after that
    checkpoint will be logged again, so dropping it leaves no duplicated and no missing steps.
    """
    if not path.exists():
        return 0
    records = list(read_jsonl(path, tolerant=True))
    kept = [r for r in records if r.get("stage", 0) < stage or (r.get("stage", 0) == stage and r.get("step", 0) <= max_step)]
    write_jsonl(path, kept)
    return len(records) - len(kept)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if hasattr(value, "item"):
        return _clean(value.item())
    return value


def make_callbacks(metrics_path: Path, stage: int, stage_type: str) -> list[Any]:
    """The callbacks a stage's trainer gets (transformers is imported lazily)."""
    from transformers import TrainerCallback

    class MetricsJsonl(TrainerCallback):
        """Append every logged step to metrics.jsonl with its stage, step and wall time, flushed at once."""

        def __init__(self) -> None:
            self.summary: dict[str, Any] = {}

        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
            if not state.is_world_process_zero or not logs:
                return
            if any(k in logs for k in SUMMARY_KEYS):
                self.summary.update({k: _clean(v) for k, v in logs.items()})
                return
            record = {"stage": stage, "stage_type": stage_type, "step": state.global_step, "time": time.time()}
            record.update({k: _clean(v) for k, v in logs.items()})
            with metrics_path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
                fh.flush()

    class StopAtFinishedCheckpoint(TrainerCallback):
        """Raise :class:`CheckpointIsFinal` before any step when training resumes at ``max_steps``."""

        def on_train_begin(self, args, state, control, **kwargs):  # noqa: ANN001
            if state.max_steps > 0 and state.global_step >= state.max_steps:
                raise CheckpointIsFinal(f"global step {state.global_step} of {state.max_steps}")

    class Progress(TrainerCallback):
        """A rich bar (steps, elapsed, ETA) on a terminal; a log line per step elsewhere."""

        def __init__(self) -> None:
            self.bar: Any = None
            self.task: Any = None
            self.start = 0.0
            self.first_step = 0

        def on_train_begin(self, args, state, control, **kwargs):  # noqa: ANN001
            self.start, self.first_step = time.monotonic(), state.global_step
            if state.is_world_process_zero and progress_enabled():
                self.bar = make_bar()
                self.bar.start()
                self.task = self.bar.add_task(f"stage {stage} ({stage_type})", total=state.max_steps,
                                              completed=state.global_step)

        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
            if not state.is_world_process_zero:
                return
            if self.bar is not None:
                self.bar.update(self.task, completed=state.global_step)
                return
            done = state.global_step - self.first_step
            elapsed = time.monotonic() - self.start
            rate = elapsed / done if done else 0.0
            eta = rate * (state.max_steps - state.global_step)
            log.info("stage %d (%s): step %d/%d, %.1f s/step, ETA %.0f s", stage, stage_type,
                     state.global_step, state.max_steps, rate, eta)

        def on_train_end(self, args, state, control, **kwargs):  # noqa: ANN001
            if self.bar is not None:
                self.bar.stop()
                self.bar = None

    return [MetricsJsonl(), StopAtFinishedCheckpoint(), Progress()]


def make_disk_guard(directory: Path, needed: int) -> Any:
    """A callback that raises :class:`~polyreason.train.disk.DiskFull` before a checkpoint save that cannot fit.

    It runs after transformers' flow callback has decided to save this step (``control.should_save``) and
    before the save starts, so a full disk stops the run with nothing half-written.  Every process checks (the
    same estimate, the same disk), so all of them stop together.
    """
    from transformers import TrainerCallback

    from polyreason.train.disk import require_free

    class DiskGuard(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
            if control.should_save:
                require_free(directory, needed, f"the checkpoint of step {state.global_step}")

    return DiskGuard()
