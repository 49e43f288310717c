"""roleplay: simulate conversations between LLM agents, each role-playing a persona.

Data flow: persona -> agent -> orchestrator (+ stop conditions) -> `Dialog` -> files / evaluation.

``import roleplay`` stays light: the dialogue types load at once, everything else on first use, so a
script that only reads saved dialogues never imports AutoGen, and no import here ever loads llama.cpp.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from roleplay.dialog import Dialog, Event, StopReason, Turn

if TYPE_CHECKING:
    from roleplay.conditions import CostBudget, EndSignal, MaxTurns, Predicate, StopCondition, Timeout, TokenBudget
    from roleplay.errors import ConfigError, RoleplayError, RunError
    from roleplay.generators import DialogGenerator, PersonaDialogGenerator
    from roleplay.memory import MemoryPolicy
    from roleplay.personas import BasePersona, Persona
    from roleplay.policy import Policy
    from roleplay.scenario import Scenario, load_scenario

__version__ = "0.1.0"  # the one version source: pyproject.toml reads it (tool.setuptools.dynamic)

_LAZY = {  # public name -> module that defines it, imported on first access
    "BasePersona": "roleplay.personas",
    "Persona": "roleplay.personas",
    "DialogGenerator": "roleplay.generators",
    "PersonaDialogGenerator": "roleplay.generators",
    "Policy": "roleplay.policy",
    "Scenario": "roleplay.scenario",
    "load_scenario": "roleplay.scenario",
    "StopCondition": "roleplay.conditions",
    "MaxTurns": "roleplay.conditions",
    "EndSignal": "roleplay.conditions",
    "Predicate": "roleplay.conditions",
    "Timeout": "roleplay.conditions",
    "TokenBudget": "roleplay.conditions",
    "CostBudget": "roleplay.conditions",
    "MemoryPolicy": "roleplay.memory",
    "RoleplayError": "roleplay.errors",
    "ConfigError": "roleplay.errors",
    "RunError": "roleplay.errors",
}


def __getattr__(name: str) -> Any:
    """Import a public name's module on first access (PEP 562)."""
    if name not in _LAZY:
        raise AttributeError(f"module 'roleplay' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "BasePersona",
    "ConfigError",
    "CostBudget",
    "Dialog",
    "DialogGenerator",
    "EndSignal",
    "Event",
    "MaxTurns",
    "MemoryPolicy",
    "Persona",
    "PersonaDialogGenerator",
    "Policy",
    "Predicate",
    "RoleplayError",
    "RunError",
    "Scenario",
    "StopCondition",
    "StopReason",
    "Timeout",
    "TokenBudget",
    "Turn",
    "__version__",
    "load_scenario",
]
