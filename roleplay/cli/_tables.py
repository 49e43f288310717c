"""Printing a table that fits the terminal (`roleplay.viz._tables` draws it)."""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from typing import Any

import click

from roleplay.viz._tables import render_table

__all__ = ["echo_table", "terminal_width"]


def terminal_width() -> int:
    """The terminal's columns ($COLUMNS first; 80 when the output is no terminal)."""
    return shutil.get_terminal_size((80, 24)).columns


def echo_table(rows: Sequence[Mapping[str, Any]], title: str | None = None) -> None:
    """Print ``rows`` as a table that fits the terminal, under ``title``."""
    click.echo(render_table(rows, terminal_width(), title), nl=False)
