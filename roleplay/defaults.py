"""Run defaults, defined once: what a role-play uses when the caller does not say.

`PersonaDialogGenerator` and `Orchestrator` take their defaults from here, so a number never differs
between the Python API and the layers built on it. A scenario file or a CLI flag that sets a value
overrides it for that run; backends keep their own connection defaults (ports, context size).
"""

from __future__ import annotations

__all__ = ["CONTEXT_WINDOW", "DIALOG_MAX_TOKENS", "MAX_TOKENS", "MAX_TURNS", "SCENARIO_MAX_TOKENS",
           "SCENARIO_MAX_TURNS", "STAR_MAX_TURNS", "TEMPERATURE"]

MAX_TURNS = 20
"""Turns after which a role-play stops if no agent ended it: a cap always applies, so no run loops forever."""

MAX_TOKENS = 128
"""Most tokens one role-play turn may generate: one to three sentences, with room for a policy turn's JSON."""

TEMPERATURE = 0.7
"""Sampling temperature of every agent: varied dialogues that still stay on topic."""

CONTEXT_WINDOW = 24
"""Messages each agent remembers: enough for a task dialogue, small enough for a small model's context."""

DIALOG_MAX_TOKENS = 1024
"""Most tokens `DialogGenerator` may spend writing a whole dialogue in one structured answer."""

SCENARIO_MAX_TURNS = 12
"""A scenario file's cap when its ``stop:`` names none: shorter than a bare generator's `MAX_TURNS`."""

SCENARIO_MAX_TOKENS = 96
"""Most tokens per turn when a scenario file does not say (``max_tokens:``)."""

STAR_MAX_TURNS = 16
"""Turns of a synthetic STAR dialogue (``roleplay star generate``): room for a task's slots, query and goodbye."""
