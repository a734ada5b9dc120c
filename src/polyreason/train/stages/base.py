"""The stage interface: what a stage type declares, what it is given, what it gives back.

A stage type is one module of this package that builds a :class:`StageType` called ``STAGE``, plus one name in
the registry (:data:`polyreason.train.stages.MODULES`).  It declares

* its **settings**: a pydantic model (a :class:`~polyreason.config.StageSettings` with ``type: Literal[NAME]``)
  that the recipe's ``stages:`` list validates against;
* its **inputs**: ``data`` (:class:`DataInput`: which row kinds it reads and where they come from when the stage
  names none) and, when the settings have a ``model`` field, a model (``{from: NAME}``, a spec or URL where the
  type allows one, else the model the stages before it left);
* its **outputs**: a model (``produces_model``), rows (``produces_rows``: ``"sft"``, ``"rl"``, or ``"input"`` =
  the kind it read) and metrics (the ``record`` of its :class:`StageOutcome`, shown in the run's summary.json);
* how it **runs**: ``run(ctx) -> StageOutcome``, given a :class:`StageContext` with the inputs resolved;
* how it **resumes**: ``finished(directory, model_target)`` returns the outcome an earlier attempt recorded (the
  stage is then skipped on ``--resume``) or None, and an interrupted ``run`` called with ``ctx.resume`` continues
  (training from its last checkpoint, generation from the rows already written) or restarts cleanly.

The runner (:mod:`polyreason.train.runner`) owns everything stages share: order, directories, resolving
``{from: NAME}`` to files, metering cost, writing ``stage.json`` and the run summary.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyreason.config import StageRef, StageSettings
from polyreason.errors import UserError
from polyreason.files import read_json

if TYPE_CHECKING:
    from polyreason.config import Recipe

RECORD_FILE = "stage.json"  # the outcome of a finished stage, in its directory


@dataclass(frozen=True)
class DataInput:
    """A stage's ``data`` input.

    ``kind``: how rows are read (``rl``, ``sft`` or ``auto``, :func:`polyreason.data.load_rows`); ``accepts``:
    the row kinds an earlier stage may hand over through ``data: {from: NAME}``; ``default``: the source used
    when the stage sets no ``data`` (e.g. the recipe's ``data.train``).
    """

    kind: str
    accepts: tuple[str, ...]
    default: Callable[[Recipe], str]


@dataclass(frozen=True)
class Source:
    """A resolved data input: a source string for :func:`polyreason.data.load_rows`, and where it came from
    (``produced_by``: the earlier stage that wrote it, else None for a source the recipe names)."""

    path: str
    produced_by: str | None = None


@dataclass
class StageOutcome:
    """What a stage produced: a model directory, a rows file, counts and metrics for the summary."""

    model_dir: str | None = None  # the model this stage wrote
    data: str | None = None  # the rows file this stage wrote
    steps: int = 0  # optimiser steps (training stages)
    runtime_s: float | None = None  # the stage's own work time; None = the runner's wall time for it
    tokens_generated: int | None = None  # exact counts from the generation backend (synth, eval, difficulty)
    record: dict[str, Any] = field(default_factory=dict)  # merged into the stage's entry in summary.json

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StageOutcome:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


@dataclass
class StageContext:
    """Everything a stage's ``run`` is given; inputs are resolved (no ``{from: …}`` left)."""

    recipe: Recipe
    index: int
    settings: Any  # the stage's settings model
    name: str  # the stage's name (``name:``, else ``<index>-<type>``)
    run_dir: Path  # the run's output directory
    directory: Path  # run_dir/stages/<name>: the stage's own files
    model: str  # the model the stage works on: its ``model`` input resolved, else the current model
    data: Source | None  # its ``data`` input resolved (None for a type without one)
    model_target: Path | None  # where a model-producing stage saves its final model
    resume: bool  # continue an interrupted attempt (True) or start over
    reward_factory: Any = None  # tests: replace reward construction (GRPO)

    @property
    def metrics_path(self) -> Path:
        return self.run_dir / "metrics.jsonl"


def _no_check(recipe: Recipe, index: int) -> None:
    return None


def _no_preflight(recipe: Recipe, index: int) -> None:
    return None


def recorded_outcome(directory: Path, model_target: Path | None = None) -> StageOutcome | None:
    """The outcome a finished attempt wrote to ``directory/stage.json`` (None: not finished)."""
    data = read_json(directory / RECORD_FILE) if (directory / RECORD_FILE).is_file() else None
    return StageOutcome.from_json(data) if isinstance(data, dict) else None


def _type_label(settings: Any) -> str:
    return str(settings.type)


@dataclass(frozen=True)
class StageType:
    """One kind of stage (see the module docstring)."""

    settings: type[StageSettings]
    run: Callable[[StageContext], StageOutcome]
    about: str  # one line: what the stage does
    data: DataInput | None = None
    produces_model: bool = False
    produces_rows: str | None = None  # "sft" | "rl" | "input" (the kind its data input has)
    trains: bool = False  # a TRL trainer: logs steps to metrics.jsonl, can evaluate held-out problems
    check: Callable[[Recipe, int], None] = _no_check  # cross-field checks at validation (raise ValueError)
    preflight: Callable[[Recipe, int], None] = _no_preflight  # cheap checks before the first stage runs
    finished: Callable[[Path, Path | None], StageOutcome | None] = recorded_outcome
    label: Callable[[Any], str] = _type_label  # how `polyreason train` shows the stage

    @property
    def name(self) -> str:
        return str(self.settings.model_fields["type"].default)


# ------------------------------------------------------------------------------------------------ inputs


def rows_outcome(ctx: StageContext, rows: Any, report: dict[str, Any]) -> StageOutcome:
    """Write a data stage's kept rows to its ``data.jsonl`` and return the outcome that names them."""
    from polyreason.files import write_jsonl

    out = ctx.directory / "data.jsonl"
    write_jsonl(out, rows)
    return StageOutcome(data=str(out), record={"report": report})


def read_rows(ctx: StageContext, kind: str | None = None) -> Iterator[dict]:
    """Stream the stage's data input as standard rows (``kind`` defaults to the type's ``DataInput.kind``).

    A source the recipe names is read with the recipe's ``data.split``, ``column_map`` and ``limit``; rows an
    earlier stage wrote are read whole, as written.  An earlier stage's empty output is a UserError naming it.
    """
    from polyreason.data import load_rows
    from polyreason.files import count_lines
    from polyreason.train.stages import STAGE_TYPES

    if ctx.data is None:
        raise RuntimeError(f"stage {ctx.name} has no data input")  # pragma: no cover - a stage type's bug
    kind = kind or STAGE_TYPES[ctx.settings.type].data.kind
    recipe = ctx.recipe
    if ctx.data.produced_by is None:
        return load_rows(ctx.data.path, split=recipe.data.split, column_map=recipe.data.column_map or None,
                         kind=kind, language=recipe.language, limit=recipe.data.limit)
    if count_lines(ctx.data.path) == 0:
        raise UserError(
            f"stages.{ctx.index} ({ctx.name}): its data, {ctx.data.path}, written by stage {ctx.data.produced_by}, "
            "holds no rows; fix: see that stage's entry in summary.json (e.g. synth kept no verified trace: more "
            "problems or samples, a stronger model, a lower judge min_score)"
        )
    return load_rows(ctx.data.path, kind=kind, language=recipe.language)


def data_source(recipe: Recipe, index: int) -> str | None:
    """The source a stage reads when it names no earlier stage: its own ``data`` string, else its type's
    default; None when the stage has no data input or reads ``{from: NAME}``."""
    from polyreason.train.stages import STAGE_TYPES

    stage = recipe.stages[index]
    spec = STAGE_TYPES[stage.type].data
    value = getattr(stage, "data", None)
    if spec is None or isinstance(value, StageRef):
        return None
    return value or spec.default(recipe)


# ------------------------------------------------------------------------------------------------ validation


def check_stages(recipe: Recipe) -> None:
    """Stage names are unique; every ``{from: NAME}`` names an earlier stage with the right kind of output;
    then each type's own checks.  Raises ValueError naming ``stages.N.KEY`` (a UserError once formatted)."""
    from polyreason.train.stages import STAGE_TYPES

    names: dict[str, int] = {}
    for i, stage in enumerate(recipe.stages):
        name = stage.stage_name(i)
        if name in names:
            raise ValueError(f"stages.{i}.name: {name!r} is also the name of stage {names[name]}; fix: give each "
                             "stage its own name:")
        names[name] = i
    rows: dict[str, str | None] = {}  # name → row kind written (None: none, "any": unknown)
    for i, stage in enumerate(recipe.stages):
        st = STAGE_TYPES[stage.type]
        for key in ("model", "data"):
            ref = getattr(stage, key, None)
            if isinstance(ref, StageRef):
                _check_ref(recipe, i, key, ref, names, rows)
        rows[stage.stage_name(i)] = _rows_written(recipe, i, rows)
        st.check(recipe, i)


def _check_ref(recipe: Recipe, i: int, key: str, ref: StageRef, names: dict[str, int],
               rows: dict[str, str | None]) -> None:
    from polyreason.train.stages import STAGE_TYPES

    where = f"stages.{i}.{key}: {ref}"
    j = names.get(ref.stage)
    earlier = [recipe.stages[k].stage_name(k) for k in range(i)]
    if j is None:
        raise ValueError(f"{where} names no stage; stages before this one: {', '.join(earlier) or 'none'}; fix: use "
                         "one of those names (a stage's name:, else <index>-<type>)")
    if j >= i:
        raise ValueError(f"{where} is stage {j}, which does not run before stage {i}; fix: refer to an earlier "
                         "stage (stages run in order)")
    target = STAGE_TYPES[recipe.stages[j].type]
    if key == "model" and not target.produces_model:
        makers = [n for n, st in STAGE_TYPES.items() if st.produces_model]
        raise ValueError(f"{where} is a {target.name} stage, which writes no model; fix: name a stage of type "
                         f"{' or '.join(makers)}")
    if key == "data":
        kind = rows.get(ref.stage)
        if kind is None:
            makers = [n for n, st in STAGE_TYPES.items() if st.produces_rows]
            raise ValueError(f"{where} is a {target.name} stage, which writes no data; fix: name a stage of type "
                             f"{', '.join(makers)}")
        accepts = STAGE_TYPES[recipe.stages[i].type].data.accepts
        if kind != "any" and kind not in accepts:
            raise ValueError(f"{where} writes {kind} rows, and a {recipe.stages[i].type} stage reads "
                             f"{' or '.join(accepts)} rows; fix: name a stage that writes those")


def _rows_written(recipe: Recipe, i: int, rows: dict[str, str | None]) -> str | None:
    """The row kind stage ``i`` writes: its type's, or for ``input`` the kind of what it reads: an earlier
    stage's, RL rows for ``data.train`` and synthetic specs, SFT rows for ``data.sft``, else "any" (a file
    whose kind is only known when read)."""
    from polyreason.train.stages import STAGE_TYPES

    stage = recipe.stages[i]
    kind = STAGE_TYPES[stage.type].produces_rows
    if kind != "input":
        return kind
    ref = getattr(stage, "data", None)
    if isinstance(ref, StageRef):
        return rows.get(ref.stage)
    source = data_source(recipe, i)
    if source == recipe.data.train or str(source).startswith("synthetic:"):
        return "rl"
    return "sft" if source == recipe.data.sft else "any"


# ------------------------------------------------------------------------------------------------ models


def check_model_input(value: Any) -> Any:
    """Validator for a stage's ``model`` that may be a spec or an endpoint URL (a ``{from: NAME}`` passes)."""
    if not isinstance(value, str):
        return value
    from polyreason.generation import is_endpoint
    from polyreason.generation.endpoint import endpoint_base
    from polyreason.models import validate_model_spec

    try:
        endpoint_base(value) if is_endpoint(value) else validate_model_spec(value)
    except UserError as exc:
        raise ValueError(str(exc)) from None
    return value


def make_generator(ctx: StageContext, spec: str, *, endpoint_model: str = "default", batch_size: int | None = None,
                   concurrency: int = 4) -> Any:
    """A generation backend (:func:`polyreason.generation.make_backend`) for ``spec``: a local model loaded with
    the recipe's dtype and trust_remote_code, or an OpenAI-compatible endpoint for an http(s) URL."""
    from polyreason.generation import make_backend

    return make_backend(spec, endpoint_model=endpoint_model, batch_size=batch_size, concurrency=concurrency,
                        dtype=ctx.recipe.model.dtype, trust_remote_code=ctx.recipe.model.trust_remote_code)


def release(backend: Any) -> None:
    """Drop a local backend's model before the next one loads (memory); a no-op for endpoints."""
    if getattr(backend, "model", None) is not None:
        backend.model = None
    return_freed_memory()


def return_freed_memory() -> bool:
    """Collect garbage and hand the C heap's free pages back to the OS (glibc ``malloc_trim``; CUDA's cache too).

    A finished stage's weights, optimizer state and activations are freed, but glibc keeps most of those pages
    mapped, so the next model loaded (an evaluation, the next stage) stacks on top of them in resident memory.
    Returns whether the heap could be trimmed (False off glibc)."""
    import ctypes
    import ctypes.util
    import gc
    import sys

    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()
    name = ctypes.util.find_library("c")
    if not sys.platform.startswith("linux") or name is None:
        return False
    try:
        ctypes.CDLL(name).malloc_trim(0)
    except (OSError, AttributeError):  # musl and other libcs have no malloc_trim
        return False
    return True
