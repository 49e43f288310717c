"""Personas are pure data: who an agent is. `agents.py` turns one into a talking agent.

Subclass `BasePersona` with typed fields for your own kind of character; its text (what the agent is
told about itself) is one ``Your <field>: value`` line per non-empty field, in field order, unless the
subclass overrides `description()`. Ready-made persona files live in ``agents/*.yaml``; casts of many
different personas are sampled by `roleplay.personas._sampling`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from roleplay._checked import CheckedModel
from roleplay._field_hints import suggestion
from roleplay._yaml import read_yaml
from roleplay.errors import ConfigError, PersonaError

P = TypeVar("P", bound="BasePersona")

__all__ = ["BasePersona", "Persona", "describe", "filled_fields"]


def filled_fields(data: BaseModel | Mapping[str, Any], separator: str = ", ") -> Iterator[tuple[str, str]]:
    """(field name with spaces, value as text) for each non-empty field in field order; lists joined.

    ``data`` is a model, or a mapping of its fields (a persona as a saved dialogue records it).
    """
    values = data if isinstance(data, Mapping) else {field: getattr(data, field) for field in type(data).model_fields}
    for field, value in values.items():
        if value in (None, "", [], {}):
            continue
        if isinstance(value, (list, tuple)):
            value = separator.join(str(item) for item in value)
        yield field.replace("_", " "), str(value)


def describe(persona: BaseModel | Mapping[str, Any]) -> str:
    """A persona (or its fields) told to itself: one ``Your <field>: value`` line per non-empty field."""
    return "\n".join(f"Your {label}: {value}" for label, value in filled_fields(persona))


class BasePersona(CheckedModel):
    """Base class for personas: typed fields in, a second-person description out."""

    model_config = ConfigDict(extra="forbid")
    config_error: ClassVar[type[ConfigError]] = PersonaError

    def description(self) -> str:
        """One ``Your <field>: value`` line per non-empty field, in field order (`describe`)."""
        return describe(self)

    def situation(self) -> str:
        """What brings this persona to the conversation ("" if nothing): restated in its first-turn note.

        A small model loses a fact that sits among the persona's lines of its system prompt; said again
        as the turn begins, it leads the first reply ("I have had a headache for three days").
        """
        return ""

    def __str__(self) -> str:
        return self.description()

    @property
    def display_name(self) -> str | None:
        """The persona's name if it has one, else its role; used to label its turns."""
        return getattr(self, "name", None) or getattr(self, "role", None)

    @classmethod
    def from_dict(cls: type[P], data: Any, source: str | Path | None = None) -> P:
        """Validate persona data, turning pydantic's errors into a `PersonaError` that names the fix."""
        if not isinstance(data, dict):
            raise PersonaError(
                f"a persona must be a mapping of fields ({', '.join(cls.model_fields)}), got {type(data).__name__}.",
                source,
            )
        try:
            return cls.model_validate(data)
        except ValidationError as err:
            problems = []
            for error in err.errors():
                field = ".".join(str(p) for p in error["loc"])
                if error["type"] == "extra_forbidden":
                    meant = suggestion(cls, error["loc"])
                    problems.append(f"unknown field '{field}'" + (f" (did you mean '{meant}'?)" if meant else
                                                                  " (remove it)"))
                else:
                    problems.append(f"field '{field}': {error['msg']}")
            raise PersonaError(
                f"invalid {cls.__name__}: {'; '.join(problems)}. Allowed fields: {', '.join(cls.model_fields)}.",
                source,
            ) from err

    @classmethod
    def from_yaml(cls: type[P], path: str | Path) -> P:
        """Load a persona from a YAML file holding a mapping of its fields."""
        data = read_yaml(path, "persona", "Check the path (relative paths start at the file that names it).",
                         error=PersonaError)
        return cls.from_dict(data, path)


class Persona(BasePersona):
    """A general persona, enough for most role-play."""

    name: str = ""
    role: str = ""
    background: str = ""
    personality: str = ""
    circumstances: str = ""
    rules: str = ""

    def situation(self) -> str:
        """The persona's circumstances."""
        return self.circumstances
