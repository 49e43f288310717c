"""Tables the commands print (`evaluate`, `judge`, `compare`, `personas sample`): rounded, and as wide as the terminal.

Numbers are rounded for reading (the CSV and JSON beside them keep every digit): three decimals under 1,
two under 10, one under 100, none above; whole numbers (ints, and floats such as 6.0) get thousands
separators and no decimals. A table wider than the terminal
with fewer rows than columns (a few variants, many metrics) is turned on its side: one line per metric,
one column per row. rich draws it and wraps what still does not fit: text cells, and headers between
their words (``reference_value`` is shown as ``reference value``), so the first column and numbers stay whole.
"""

from __future__ import annotations

import io
import math
import shutil
from collections.abc import Mapping, Sequence
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.table import Table

__all__ = ["echo_table", "number_text", "render_table"]

_GAP = 3
"""Characters rich puts between two columns of a `box.SIMPLE` table (padding and the gap)."""


def number_text(value: Any) -> str:
    """A cell as text: rounded floats (module doc), ints with separators, "" for None, anything else as str."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int) or (math.isfinite(value) and value.is_integer()):
        return f"{int(value):,}"
    if not math.isfinite(value):
        return str(value)
    size = abs(value)
    decimals = 3 if size < 1 else 2 if size < 10 else 1 if size < 100 else 0
    return f"{value:,.{decimals}f}"


def _natural_width(header: Sequence[str], cells: Sequence[Sequence[str]]) -> int:
    """The width the table takes without wrapping anything."""
    widths = [max(len(name), *(len(row[i]) for row in cells)) for i, name in enumerate(header)]
    return sum(widths) + _GAP * len(widths)


def _sideways(header: list[str], cells: list[list[str]], key: str) -> tuple[list[str], list[list[str]]]:
    """The table turned on its side: a row per column of ``header``, the first column's cells as the header."""
    names = [row[0] for row in cells]
    return [key, *names], [[name, *(row[i] for row in cells)] for i, name in enumerate(header) if i]


def render_table(rows: Sequence[Mapping[str, Any]], width: int, title: str | None = None, *,
                 sideways: bool = True) -> str:
    """``rows`` (mappings with the same keys) as a rich table of at most ``width`` characters.

    ``sideways=False`` keeps a row per row however wide (a row per persona, say): rich wraps the cells.
    """
    if not rows:
        return f"{title}:\n(no rows)\n" if title else "(no rows)\n"
    header = [str(name) for name in rows[0]]
    cells = [[number_text(row.get(name)) for name in rows[0]] for row in rows]
    if sideways and _natural_width(header, cells) > width and len(rows) < len(header):
        header, cells = _sideways(header, cells, "metric")
    table = Table(box=box.SIMPLE, show_edge=False, pad_edge=False)
    tight = _natural_width(header, cells) > width
    for index, name in enumerate(header):
        shown = name if index == 0 else name.replace("_", " ")  # a header wraps between its words
        numeric = index > 0 and all(_numeric(row[index]) for row in cells)
        fitted = max(*(len(row[index]) for row in cells), *(len(word) for word in shown.split()))
        table.add_column(shown, justify="right" if numeric else "left", overflow="fold",
                         width=fitted if tight and (index == 0 or numeric) else None)
    for row in cells:
        table.add_row(*row)
    buffer = io.StringIO()
    Console(file=buffer, width=width, highlight=False, color_system=None, soft_wrap=False).print(table)
    heading = f"{title}:\n" if title else ""  # a line of its own: a rich title would wrap to the table's width
    return heading + buffer.getvalue() + "\n"  # a blank line before whatever follows


def _numeric(cell: str) -> bool:
    return cell == "" or cell.lstrip("-").replace(",", "").replace(".", "", 1).isdigit()


def echo_table(rows: Sequence[Mapping[str, Any]], title: str | None = None) -> None:
    """Print ``rows`` as a table that fits the terminal (80 columns when the output is no terminal)."""
    click.echo(render_table(rows, shutil.get_terminal_size((80, 24)).columns, title), nl=False)
