"""What both generators share: the model spec type, fresh seeds, model labels, a prefix's fields, persona checks."""

from __future__ import annotations

import random
from typing import Any

from autogen_core.models import ChatCompletionClient

from roleplay.backends import get_backend
from roleplay.dialog import Dialog
from roleplay.errors import ConfigError
from roleplay.personas import BasePersona


def _check_personas(personas: Any) -> None:
    """ConfigError unless ``personas`` are `BasePersona` objects (``Persona(role="a doctor")``, not the text)."""
    bad = next((p for p in personas if not isinstance(p, BasePersona)), None) if not isinstance(personas, str) \
        else personas
    if bad is not None:
        raise ConfigError(f"A persona must be a Persona (or another BasePersona), got {type(bad).__name__} {bad!r}; "
                          "write e.g. Persona(name='Ann', role='a doctor').")


def _prefix_fields(prefix: Dialog) -> dict[str, Any]:
    """What a dialogue continuing ``prefix`` takes from it (deep copies): turns, events, variant facts, lineage."""
    copied = prefix.model_copy(deep=True)
    return {"turns": copied.turns, "events": copied.events, "metadata": copied.metadata,
            "parent_id": copied.parent_id if copied.branched_at is not None else copied.id,
            "branched_at": len(copied.turns)}


ModelSpec = str | ChatCompletionClient  # a model string, a `Model`, or any AutoGen client (see roleplay.interop)


def new_seed() -> int:
    """A fresh random seed, recorded in the Dialog so the run can be repeated."""
    return random.SystemRandom().randrange(2**31)


def _model_label(model: ModelSpec) -> str:
    return model if isinstance(model, str) else get_backend(model).name

