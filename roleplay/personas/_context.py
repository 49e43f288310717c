"""Scenario contexts: where and when a dialogue happens and what every participant knows, sampled by rules.

`ContextGenerator` is `PersonaGenerator`'s twin for the setting instead of a person (as sdialog's
``ContextGenerator``): the same rules (`roleplay.personas._rules`), the same seed semantics. Sample one per
dialogue and pass its `description` as the generator's ``dialogue_details``, so both agents share it (a
scenario file has no ``context:`` field).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from roleplay.backends import Model
from roleplay.errors import ConfigError
from roleplay.personas._model import filled_fields
from roleplay.personas._sampling import FieldSampler, class_of, read_rules

__all__ = ["Context", "ContextGenerator"]


class Context(BaseModel):
    """The setting of one dialogue; subclass it for more fields."""

    model_config = ConfigDict(extra="forbid")

    place: str = Field(default="", description="Where the dialogue happens.")
    time: str = Field(default="", description="When: time of day, day, season.")
    environment: str = Field(default="", description="What the place is like right now.")
    circumstances: str = Field(default="", description="What is going on that matters to everyone.")
    shared_facts: list[str] = Field(default_factory=list, description="Facts every participant knows.")

    def description(self) -> str:
        """One ``<Field>: value`` line per non-empty field, for the dialogue details."""
        return "\n".join(f"{label.capitalize()}: {value}" for label, value in filled_fields(self, "; "))


class ContextGenerator(FieldSampler[Any]):
    """Samples `Context` objects (or ``context_class`` ones) from rules, reproducibly by seed."""

    def __init__(self, rules: Mapping[str, Any], model: str | Model | None = None, *,
                 context_class: type[BaseModel] = Context, **options: Any):
        """See `FieldSampler`; ``context_class`` is any pydantic class with a ``description()`` method."""
        if not (isinstance(context_class, type) and issubclass(context_class, BaseModel)
                and callable(getattr(context_class, "description", None))):
            raise ConfigError(f"context_class must be a pydantic class with description(), got {context_class!r}.")
        super().__init__(context_class, rules, model, **options)

    @classmethod
    def from_yaml(cls, path: str | Path, model: str | Model | None = None, **options: Any) -> ContextGenerator:
        """A generator from a rules file (``class:`` optional, `Context` by default)."""
        spec, rules = read_rules(path)
        return cls(rules, model, context_class=class_of(spec, BaseModel, Context, path),
                   base=Path(path).parent, source=path, **options)
