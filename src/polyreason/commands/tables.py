"""Result tables that fit the terminal: never a cell cut to ``…``.

A table that fits is printed as one; a wider one is split into several tables of the same rows, each
repeating the first (key) column; a cell still wider than the terminal wraps onto more lines.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table


def print_table(console: Console, title: str, columns: Sequence[str], rows: Sequence[Sequence[str]],
                *, right: Sequence[str] = ()) -> None:
    """Print ``rows`` under ``columns`` (columns named in ``right`` are right-aligned)."""
    groups = _groups(console, title, list(columns), rows, set(right))
    for i, group in enumerate(groups):
        suffix = f" ({i + 1}/{len(groups)})" if len(groups) > 1 else ""
        console.print(_table(f"{title}{suffix}", group, columns, rows, set(right)))


def _table(title: str, names: list[str], columns: Sequence[str], rows: Sequence[Sequence[str]],
           right: set[str]) -> Table:
    table = Table(title=title)
    index = [list(columns).index(name) for name in names]
    for name in names:
        table.add_column(name, justify="right" if name in right else "left", overflow="fold")
    for row in rows:
        table.add_row(*(row[i] for i in index))
    return table


def _groups(console: Console, title: str, columns: list[str], rows: Sequence[Sequence[str]],
            right: set[str]) -> list[list[str]]:
    """Column groups, each with the key column, packed greedily so each table fits ``console.width``."""

    unbounded = console.options.update_width(10**6)  # measure the table's natural width, not the terminal's

    def fits(names: list[str]) -> bool:
        return console.measure(_table(title, names, columns, rows, right), options=unbounded).maximum <= console.width

    if fits(columns):
        return [columns]
    key, groups, current = columns[0], [], [columns[0]]
    for name in columns[1:]:
        if len(current) > 1 and not fits(current + [name]):
            groups.append(current)
            current = [key]
        current.append(name)
    groups.append(current)
    return groups
