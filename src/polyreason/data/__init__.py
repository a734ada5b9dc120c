"""Data for polyreason: the row schema, built-in synthetic tasks, loaders and the curation pipeline.

Public entry points::

    from polyreason.data import load_rows, generate_problems, generate_sft_rows, validate_rl_row
    rows = load_rows("synthetic:256:en:easy:add_sub")          # RL rows, streamed
    rows = load_rows("gsm8k.jsonl", kind="sft")                 # SFT rows with the reasoning
    rows = load_rows("owner/dataset", column_map={"problem": "question"})

See ``docs/data.md`` for the schema and the ``polyreason data`` pipeline.
"""

from polyreason.data.schema import (
    DIFFICULTIES,
    RL_COLUMNS,
    SFT_COLUMNS,
    format_assistant,
    normalize_problem,
    row_id,
    validate_rl_row,
    validate_row,
    validate_sft_row,
)
from polyreason.data.sources import iter_records, load_rows
from polyreason.data.synthetic import KINDS, generate_problems, generate_sft_rows, split_of

__all__ = [
    "DIFFICULTIES",
    "KINDS",
    "RL_COLUMNS",
    "SFT_COLUMNS",
    "format_assistant",
    "generate_problems",
    "generate_sft_rows",
    "iter_records",
    "load_rows",
    "normalize_problem",
    "row_id",
    "split_of",
    "validate_rl_row",
    "validate_row",
    "validate_sft_row",
]
