"""What to write instead of an unknown field: the fields allowed there, and the one meant.

A scenario's top-level ``max_turns: 6`` belongs under ``stop:``; ``persna:`` in an agent is ``persona:``.
`unknown_field` finds the model that the error's location points into (through lists, dicts and unions),
lists its fields, and suggests a close name there or a field of the same name elsewhere in the file
(``stop.max_turns``), so a validation error says what to write, not only what is wrong.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
from typing import Any, get_args

from pydantic import BaseModel

__all__ = ["allowed_fields", "clean_location", "model_at", "suggestion", "unknown_field"]

_BUILTIN_TAGS = {"str", "int", "float", "bool", "none"}


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The first pydantic model inside a type (``list[AgentEntry]``, ``StopEntry | None``...)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None


def _field(model: type[BaseModel], name: str) -> Any:
    """The field called ``name`` in ``model`` (by its name or its alias), or None."""
    return model.model_fields.get(name) or next(
        (info for info in model.model_fields.values() if info.alias == name), None)


def model_at(model: type[BaseModel], location: Sequence[int | str]) -> type[BaseModel] | None:
    """The model that holds the field at ``location`` (pydantic's ``loc`` without its last part)."""
    current: type[BaseModel] | None = model
    for part in location:
        if current is None:
            return None
        if isinstance(part, int):
            continue  # a list index: the items' model is the one the field named
        info = _field(current, part)
        if info is not None:
            current = _model_in(info.annotation)
        # else: a union's tag (``MemoryPolicy``, ``str``) or a dict key: the model stays
    return current


def clean_location(root: type[BaseModel], location: Sequence[int | str]) -> tuple[int | str, ...]:
    """``location`` without the union tags pydantic puts in it (``memory.MemoryPolicy.kind`` -> ``memory.kind``)."""
    kept: list[int | str] = []
    current: type[BaseModel] | None = root
    for part in location:
        info = _field(current, part) if current is not None and isinstance(part, str) else None
        if info is not None:
            current = _model_in(info.annotation)
        elif isinstance(part, str) and ("[" in part or part in _BUILTIN_TAGS or
                                        (current is not None and part == current.__name__)):
            continue  # which member of a union was tried, not a place in the file
        kept.append(part)
    return tuple(kept)


def allowed_fields(model: type[BaseModel]) -> list[str]:
    """The names a file may use for ``model``'s fields (aliases where set), file-only fields left out."""
    return [info.alias or name for name, info in model.model_fields.items() if not info.exclude]


def _paths(model: type[BaseModel], prefix: str = "", depth: int = 2) -> Iterator[str]:
    """Every field path of ``model``, ``depth`` sections deep (``stop.max_turns``, ``policy.enforce``)."""
    for name in allowed_fields(model):
        yield f"{prefix}{name}"
        inner = _model_in(_field(model, name).annotation)
        if inner is not None and depth > 1:
            yield from _paths(inner, f"{prefix}{name}.", depth - 1)


def suggestion(root: type[BaseModel], location: Sequence[int | str]) -> str | None:
    """The field meant by the unknown one at ``location``: its name in a section, a close name, or one elsewhere."""
    name = str(location[-1])
    paths = list(_paths(root))
    same = [path for path in paths if "." in path and path.rsplit(".", 1)[-1] == name]
    if same:
        return same[0]
    here = model_at(root, location[:-1])
    close = difflib.get_close_matches(name, allowed_fields(here), n=1, cutoff=0.6) if here else []
    if close:
        return close[0]
    leaves = {path.rsplit(".", 1)[-1]: path for path in paths}
    near = difflib.get_close_matches(name, list(leaves), n=1, cutoff=0.75)
    return leaves[near[0]] if near else None


def unknown_field(root: type[BaseModel], location: Sequence[int | str]) -> str:
    """``unknown field X (allowed: ...): did you mean Y?`` for an unknown field at ``location`` under ``root``."""
    shown = clean_location(root, location)
    where = ".".join(str(part) for part in shown)
    here = model_at(root, location[:-1])
    section = f" in {'.'.join(map(str, shown[:-1]))}" if shown[:-1] else ""
    allowed = f" (allowed{section}: {', '.join(allowed_fields(here))})" if here else ""
    meant = suggestion(root, location)
    fix = f"did you mean {meant}?" if meant else "remove it, or use one of those"
    return f"unknown field {where}{allowed}: {fix}"
