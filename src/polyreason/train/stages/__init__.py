"""The stage registry: every stage type a recipe's ``stages:`` list may use.

One module per type (the interface is :mod:`polyreason.train.stages.base`); adding a type is a new module that
defines ``STAGE`` and its name in :data:`MODULES`.  Importing this package imports only the stage modules'
settings and plain functions (torch, transformers and TRL load when a stage runs).
"""

from __future__ import annotations

import importlib

from polyreason.config import install_stage_types
from polyreason.train.stages.base import (
    DataInput,
    Source,
    StageContext,
    StageOutcome,
    StageType,
    check_stages,
    data_source,
    read_rows,
)

MODULES = ("sft", "grpo", "synth", "eval", "dedup", "decontaminate", "difficulty", "mix")

STAGE_TYPES: dict[str, StageType] = {}
for _module in MODULES:
    _stage: StageType = importlib.import_module(f"{__name__}.{_module}").STAGE
    STAGE_TYPES[_stage.name] = _stage
install_stage_types([st.settings for st in STAGE_TYPES.values()])


def stage_type(name: str) -> StageType:
    """The registered type called ``name`` (KeyError for an unknown one: recipes are validated before)."""
    return STAGE_TYPES[name]


__all__ = ["MODULES", "STAGE_TYPES", "DataInput", "Source", "StageContext", "StageOutcome", "StageType",
           "check_stages", "data_source", "read_rows", "stage_type"]
