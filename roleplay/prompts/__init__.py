"""Prompt templates live as text files beside this module, so wording changes never touch code."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

__all__ = ["render", "template"]


@cache
def template(name: str) -> str:
    """The text of ``prompts/<name>.txt``."""
    return files(__package__).joinpath(f"{name}.txt").read_text(encoding="utf-8")


def render(template_name: str, /, **fields: Any) -> str:
    """Fill ``prompts/<name>.txt`` with ``fields`` (``str.format`` placeholders)."""
    return template(template_name).format(**fields).strip()
