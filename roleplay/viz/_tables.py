"""Tables for reading: rounded numbers, and as wide as the terminal (`render_table`) or the page (`sideways`).

The commands print them (`evaluate`, its judged sections, `compare`, `personas sample`: `roleplay.cli._tables`)
and `roleplay report` rounds and turns its tables the same way (the ``number`` and ``sideways`` filters).

Numbers are rounded for reading (the CSV and JSON beside them keep every digit): three decimals under 1,
two under 10, one under 100, none above; whole numbers (ints, and floats such as 6.0) get thousands
separators and no decimals. A table wider than the terminal
with fewer rows than columns (a few variants, many metrics) is turned on its side: one line per metric,
one column per row. rich draws it and wraps what still does not fit: text cells, and headers between
their words (column name ``reference_value`` is shown as ``reference value``), so the first column and
numbers stay whole.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

__all__ = ["number_text", "render_table", "sideways"]

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


def _strings(rows: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """The header and then each row, as cell texts."""
    return [[str(name) for name in rows[0]], *([number_text(row.get(name)) for name in rows[0]] for row in rows)]


def _natural_width(lines: Sequence[Sequence[str]]) -> int:
    """The width a table of ``lines`` (the header, then the rows) takes without wrapping anything."""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return sum(widths) + _GAP * len(widths)


def sideways(rows: Sequence[Mapping[str, Any]], key: str = "metric") -> list[dict[str, Any]]:
    """``rows`` turned on their side when they are fewer than their columns: a row per column, one column per row.

    The first column's values (a variant, a task) become the new columns; ``key`` names the old column names.
    Rows at least as many as their columns come back as they are.
    """
    if not rows or len(rows) >= len(rows[0]):
        return [dict(row) for row in rows]
    first, *rest = list(rows[0])
    labels = [str(row[first]) for row in rows]
    if len(set(labels)) < len(labels) and rest:  # e.g. one variant in two policy arms: name both
        labels = [f"{row[first]} / {row.get(rest[0])}" for row in rows]
    return [{key: name, **{label: row.get(name) for label, row in zip(labels, rows, strict=True)}} for name in rest]


def render_table(rows: Sequence[Mapping[str, Any]], width: int, title: str | None = None, *,
                 turn: bool = True) -> str:
    """``rows`` (mappings with the same keys) as a rich table of at most ``width`` characters.

    A table wider than ``width`` is turned on its side (`sideways`) unless ``turn=False`` (a row per
    persona, say): rich wraps the cells.
    """
    if not rows:
        return f"{title}:\n(no rows)\n" if title else "(no rows)\n"
    turned = turn and _natural_width(_strings(rows)) > width and len(rows) < len(rows[0])
    header, *cells = _strings(sideways(rows) if turned else rows)
    table = Table(box=box.SIMPLE, show_edge=False, pad_edge=False)
    tight = _natural_width([header, *cells]) > width
    for index, name in enumerate(header):
        # A column name wraps between its words; a turned table's headers are values (a task, a variant).
        shown = name if index == 0 or turned else name.replace("_", " ")
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
