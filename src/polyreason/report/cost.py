"""Cost accounting: wall time, devices, device-hours, tokens, peak memory and a price estimate.

Every train summary (``summary.json`` → ``cost``) and eval run (``run_info.json`` → ``cost``) carries the rows
of seed 001's cost table (hardware, time, cost estimate) plus what they rest on::

    {"price_per_hour": 0.44,                       # recipe cost.price_per_hour or --price-per-hour (None: no estimate)
     "stages": [{"index": 0, "type": "grpo", "wall_s": 86400.0,
                 "device": {"type": "cuda", "name": "NVIDIA A40", "count": 4},
                 "device_hours": 96.0, "tokens_trained": 1.2e8, "tokens_generated": 9.1e7,
                 "peak_rss_mb": 8123.0, "rss_scope": "stage", "peak_cuda_allocated_mb": 40211.0,
                 "cost_estimate": 42.24}],
     "total": {…the same fields summed (wall time, device-hours, tokens, cost) or maxed (memory)…}}

Definitions:

* ``wall_s``: the stage from model load to final save, measured by :class:`StageMeter` in the process that
  ran it.  A stage resumed after a crash counts the attempt that finished (from its checkpoint on).
* ``device``: ``cuda`` with the GPU's name and ``count`` = the processes training (``WORLD_SIZE`` under
  accelerate/torchrun, else 1); ``cpu`` with the CPU model and ``count`` 1 (the host is the billed device).
  Recipe ``cost.device_count`` overrides the count (e.g. a fourth GPU serving vLLM, as Open-RS ran).
* ``device_hours`` = wall hours × count; ``cost_estimate`` = device-hours × price (the price's currency).
* ``tokens_trained``: TRL's own ``num_tokens`` counter from metrics.jsonl (SFT: non-padding tokens of the
  training batches; GRPO: prompt + completion tokens of every generated batch, refills included).  SFT's
  counter restarts when a stage resumes; a drop in the logged values is read as a restart and summed over.
* ``tokens_generated``: stages that generate through :mod:`polyreason.generation` (synth, eval, difficulty)
  record the backend's exact count in their usage.json.  GRPO: Σ over logged steps of TRL's ``completions/mean_length`` × completions
  generated in those steps (per_device_batch_size × gradient_accumulation_steps × processes ÷ num_iterations,
  × (1 + dynamic-sampling refill rounds)): an estimate from the logs, not a recount.  Eval: exact (the
  backend's counts), for the samples generated in this run (cache hits cost nothing).
* ``peak_rss_mb``: the process's peak resident memory (``resource.getrusage``); reset at stage start through
  ``/proc/self/clear_refs`` where Linux allows it (``rss_scope: stage``), else the process peak so far
  (``rss_scope: process``).  ``peak_cuda_allocated_mb``: ``torch.cuda.max_memory_allocated`` of this
  process's device, reset at stage start (None without CUDA).  Main process only under multi-GPU.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

USAGE_FILE = "usage.json"


# ------------------------------------------------------------------------------------------------ devices


@dataclass(frozen=True)
class DeviceInfo:
    """The billed hardware: ``type`` (cuda | mps | cpu), a human-readable ``name`` and ``count``."""

    type: str
    name: str
    count: int

    def label(self) -> str:
        """'4× NVIDIA A40' / '1× CPU (Intel Xeon, 2 cores)'."""
        return f"{self.count}× {self.name}"


def _cpu_name() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return f"CPU ({model or 'unknown model'}, {cores} core{'s' if cores != 1 else ''})"


def detect_device(device: str | None = None, count: int | None = None) -> DeviceInfo:
    """What this process computes on: CUDA when torch is loaded and sees a GPU (and ``device`` is not cpu).

    torch is only consulted when it is already imported (a training or eval process has imported it), so
    this never pays for the import itself.
    """
    torch = sys.modules.get("torch")
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    wants_cpu = device is not None and device.startswith("cpu")
    if torch is not None and not wants_cpu and torch.cuda.is_available():
        index = torch.cuda.current_device()
        if device and device.startswith("cuda:"):
            index = int(device.split(":", 1)[1])
        return DeviceInfo("cuda", torch.cuda.get_device_name(index), count or world)
    mps = getattr(getattr(torch, "backends", None), "mps", None) if torch is not None else None
    if mps is not None and not wants_cpu and mps.is_available():
        return DeviceInfo("mps", "Apple GPU (MPS)", count or 1)
    return DeviceInfo("cpu", _cpu_name(), count or 1)


# ------------------------------------------------------------------------------------------------ memory


def _reset_rss_peak() -> bool:
    """Reset the kernel's peak-RSS mark for this process (Linux ≥ 4.0); False where that is not allowed."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    import resource  # Unix only; imported here so the module loads everywhere

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _cuda(call: str) -> Any:
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return None
    return getattr(torch.cuda, call)()


# ------------------------------------------------------------------------------------------------ metering


class StageMeter:
    """Measures one stage: ``meter = StageMeter.start()`` … ``usage = meter.finish(path)``.

    ``finish`` returns (and, given a path, writes atomically) the usage dict: ``wall_s``, ``device``,
    ``processes``, ``peak_rss_mb``, ``rss_scope``,
    ``peak_cuda_allocated_mb``, ``started_at``/``finished_at`` (UTC ISO).
    """

    def __init__(self, device: str | None = None, device_count: int | None = None) -> None:
        self.device = device
        self.device_count = device_count
        self.started = time.monotonic()
        self.started_at = _utc_now()
        self.rss_scope = "stage" if _reset_rss_peak() else "process"
        if _cuda("is_initialized"):
            _cuda("reset_peak_memory_stats")

    @classmethod
    def start(cls, device: str | None = None, device_count: int | None = None) -> StageMeter:
        return cls(device, device_count)

    def finish(self, path: Path | None = None) -> dict[str, Any]:
        cuda_peak = _cuda("max_memory_allocated")
        dev = detect_device(self.device, self.device_count)
        usage = {
            "wall_s": round(time.monotonic() - self.started, 3),
            "device": {"type": dev.type, "name": dev.name, "count": dev.count},
            "processes": int(os.environ.get("WORLD_SIZE", "1") or 1),
            "peak_rss_mb": round(peak_rss_mb(), 1),
            "rss_scope": self.rss_scope,
            "peak_cuda_allocated_mb": None if cuda_peak is None else round(cuda_peak / 2**20, 1),
            "started_at": self.started_at,
            "finished_at": _utc_now(),
        }
        if path is not None and os.environ.get("RANK", "0") == "0":
            _write_json(Path(path), usage)
        return usage


def read_usage(path: Path) -> dict[str, Any] | None:
    """A stage's usage.json, or None when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


# ------------------------------------------------------------------------------------------------ tokens


def counter_total(values: list[float]) -> float | None:
    """Final value of a cumulative counter that may restart (a drop = restart: the previous run is added)."""
    if not values:
        return None
    total, last = 0.0, None
    for v in values:
        if last is not None and v < last:
            total += last
        last = v
    return total + (last or 0.0)


def stage_tokens(records: list[dict[str, Any]], stage: Any, world: int = 1) -> tuple[float | None, float | None]:
    """(tokens_trained, tokens_generated) of one stage from its metrics.jsonl records (see the module doc).

    ``stage``: the recipe stage (read for batch sizes; any object with those attributes); ``world``: the
    number of training processes.
    """
    trained = counter_total([float(r["num_tokens"]) for r in records if r.get("num_tokens") is not None])
    if getattr(stage, "type", None) != "grpo":
        return trained, None
    per_step = (stage.per_device_batch_size * stage.gradient_accumulation_steps * world
                / max(1, getattr(stage, "num_iterations", 1)))
    generated, previous_step, seen = 0.0, 0, False
    for r in records:
        length = r.get("completions/mean_length")
        steps = max(0, int(r.get("step", 0)) - previous_step)
        previous_step = int(r.get("step", previous_step))
        if length is None:
            continue
        seen = True
        rounds = float(r.get("dynamic_sampling/rounds") or 0.0)
        generated += float(length) * per_step * steps * (1 + rounds)
    return trained, (round(generated) if seen else None)


# ------------------------------------------------------------------------------------------------ costs


def _estimate(device_hours: float | None, price: float | None) -> float | None:
    if device_hours is None or price is None:
        return None
    return round(device_hours * price, 6)


def stage_cost(
    usage: dict[str, Any] | None,
    *,
    index: int,
    type: str,
    tokens_trained: float | None = None,
    tokens_generated: float | None = None,
    price_per_hour: float | None = None,
) -> dict[str, Any]:
    """One stage's cost entry from its usage (None: not measured, e.g. a run from before cost accounting)."""
    usage = usage or {}
    wall = usage.get("wall_s")
    device = usage.get("device")
    hours = None if wall is None or device is None else round(wall / 3600 * device["count"], 6)
    return {
        "index": index, "type": type, "wall_s": wall, "device": device, "device_hours": hours,
        "tokens_trained": tokens_trained, "tokens_generated": tokens_generated,
        "peak_rss_mb": usage.get("peak_rss_mb"), "rss_scope": usage.get("rss_scope"),
        "peak_cuda_allocated_mb": usage.get("peak_cuda_allocated_mb"),
        "cost_estimate": _estimate(hours, price_per_hour),
    }


def _sum(values: list[Any]) -> float | None:
    present = [v for v in values if v is not None]
    return round(sum(present), 6) if present else None


def _max(values: list[Any]) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def total_cost(stages: list[dict[str, Any]], price_per_hour: float | None) -> dict[str, Any]:
    """Sums (time, device-hours, tokens, cost) and maxima (memory) over stage entries."""
    devices = [s["device"] for s in stages if s.get("device")]
    hours = _sum([s.get("device_hours") for s in stages])
    return {
        "wall_s": _sum([s.get("wall_s") for s in stages]),
        "device": max(devices, key=lambda d: d["count"]) if devices else None,
        "device_hours": hours,
        "tokens_trained": _sum([s.get("tokens_trained") for s in stages]),
        "tokens_generated": _sum([s.get("tokens_generated") for s in stages]),
        "peak_rss_mb": _max([s.get("peak_rss_mb") for s in stages]),
        "peak_cuda_allocated_mb": _max([s.get("peak_cuda_allocated_mb") for s in stages]),
        "cost_estimate": _estimate(hours, price_per_hour),
    }


def train_cost(recipe: Any, usages: list[dict[str, Any] | None], records: list[dict[str, Any]],
               stage_indices: list[int] | None = None) -> dict[str, Any]:
    """The ``cost`` block of a train summary.

    ``usages[k]`` is stage ``stage_indices[k]``'s usage dict (default: stage k); ``records`` are all
    metrics.jsonl records of the run; ``recipe`` gives the stages and ``cost.price_per_hour``.
    """
    price = recipe.cost.price_per_hour
    indices = stage_indices if stage_indices is not None else list(range(len(usages)))
    stages = []
    for index, usage in zip(indices, usages, strict=True):
        stage = recipe.stages[index]
        world = (usage or {}).get("processes", 1)
        trained, generated = stage_tokens([r for r in records if r.get("stage") == index], stage, world)
        if (usage or {}).get("tokens_generated") is not None:  # counted by the backend (synth, eval stages)
            generated = usage["tokens_generated"]
        stages.append(stage_cost(usage, index=index, type=stage.type, tokens_trained=trained,
                                 tokens_generated=generated, price_per_hour=price))
    return {"price_per_hour": price, "stages": stages, "total": total_cost(stages, price)}


def eval_cost(usage: dict[str, Any], tokens_generated: int, price_per_hour: float | None) -> dict[str, Any]:
    """The ``cost`` block of an eval run (one stage of type ``eval``)."""
    stages = [stage_cost(usage, index=0, type="eval", tokens_generated=tokens_generated,
                         price_per_hour=price_per_hour)]
    return {"price_per_hour": price_per_hour, "stages": stages, "total": total_cost(stages, price_per_hour)}


def reprice(cost: dict[str, Any], price_per_hour: float | None) -> dict[str, Any]:
    """The same cost block at another price (device-hours are kept; only the estimates change)."""
    stages = [{**s, "cost_estimate": _estimate(s.get("device_hours"), price_per_hour)} for s in cost["stages"]]
    return {**cost, "price_per_hour": price_per_hour, "stages": stages,
            "total": {**cost["total"], "cost_estimate": _estimate(cost["total"].get("device_hours"), price_per_hour)}}


# ------------------------------------------------------------------------------------------------ table


def _num(value: Any, unit: str = "", digits: int = 0) -> str:
    if value is None:
        return "–"
    if abs(value) >= 1e6 and not unit:
        return f"{value / 1e6:.{max(digits, 2)}f} M"
    return f"{value:,.{digits}f}{unit}"


def _time(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


def _money(value: float | None) -> str:
    if value is None:
        return "–"
    return f"${value:,.2f}" if value >= 0.01 or value == 0 else f"${value:.4f}"


def cost_columns(labels: list[str], entries: list[dict[str, Any]],
                 price_per_hour: float | None) -> tuple[list[str], list[list[str]]]:
    """Seed 001's cost table with one column per entry (a stage's or a run's total): (header, rows).

    Rows: hardware, time, device-hours, tokens trained, tokens generated, peak RSS, peak CUDA, cost estimate.
    """

    def device(e: dict[str, Any]) -> str:
        d = e.get("device")
        return "–" if not d else f"{d['count']}× {d['name']}"

    price = "no price" if price_per_hour is None else f"${price_per_hour:g}/device-h"
    rows = [
        ["Hardware", *[device(e) for e in entries]],
        ["Time", *[_time(e.get("wall_s")) for e in entries]],
        ["Device-hours", *[_num(e.get("device_hours"), digits=4) for e in entries]],
        ["Tokens trained", *[_num(e.get("tokens_trained")) for e in entries]],
        ["Tokens generated", *[_num(e.get("tokens_generated")) for e in entries]],
        ["Peak RSS", *[_num(e.get("peak_rss_mb"), " MiB") for e in entries]],
        ["Peak CUDA allocated", *[_num(e.get("peak_cuda_allocated_mb"), " MiB") for e in entries]],
        [f"Cost est. ({price})", *[_money(e.get("cost_estimate")) for e in entries]],
    ]
    return ["", *labels], rows


def cost_rows(cost: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """A cost block as :func:`cost_columns`: a column per stage, plus the total when there are several."""
    entries = list(cost["stages"])
    labels = [f"{s['index']}-{s['type']}" for s in entries]
    if len(entries) > 1:
        entries.append(cost["total"])
        labels.append("total")
    return cost_columns(labels, entries, cost.get("price_per_hour"))


def cost_line(cost: dict[str, Any]) -> str:
    """One line for a terminal: '12.8 s on 1× CPU (…) = 0.0036 device-hours, est. $0.0016 at $0.44/device-h'."""
    total = cost["total"]
    device = total.get("device")
    text = (f"{_time(total.get('wall_s'))} on {device['count']}× {device['name'] if device else '?'} = "
            f"{_num(total.get('device_hours'), digits=4)} device-hours") if device else "not measured"
    if total.get("cost_estimate") is not None:
        text += f", est. {_money(total['cost_estimate'])} at ${cost['price_per_hour']:g}/device-h"
    return text


def cost_markdown(cost: dict[str, Any]) -> str:
    """:func:`cost_rows` as a Markdown table."""
    header, rows = cost_rows(cost)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _write_json(path: Path, obj: Any) -> None:
    from polyreason.files import write_json

    write_json(path, obj)
