"""How speakers are named: the end marker, the director's source name and AutoGen-safe identifiers."""

from __future__ import annotations

import re
from collections.abc import Sequence

from roleplay.errors import ConfigError

__all__ = ["DIRECTOR", "END_MARKER", "agent_id", "check_unique_names"]


END_MARKER = "[END]"
DIRECTOR = "director"


def agent_id(name: str) -> str:
    """An identifier AutoGen accepts for a display name: ``'Dr. Smith' -> 'Dr_Smith'``."""
    ident = re.sub(r"\W+", "_", name.strip()).strip("_")
    if not ident:
        raise ConfigError(f"Agent name {name!r} has no letters or digits; give the agent a real name.")
    return f"_{ident}" if ident[0].isdigit() else ident


def check_unique_names(names: Sequence[str]) -> None:
    """Reject names that are the same once made identifiers (AutoGen needs unique identifier names)."""
    seen: dict[str, str] = {}
    for name in names:
        key = agent_id(name).lower()
        if key in seen:
            raise ConfigError(
                f"Agents {seen[key]!r} and {name!r} have the same name once made an identifier ({agent_id(name)!r}); "
                "give every agent a distinct name."
            )
        seen[key] = name

