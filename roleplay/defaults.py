"""Run defaults, defined once: what a role-play uses when the caller does not say.

`PersonaDialogGenerator` and `Orchestrator` take their defaults from here, so a number never differs
between the Python API and the layers built on it. A scenario file or a CLI flag that sets a value
overrides it for that run; backends keep their own connection defaults (ports, context size).
"""

from __future__ import annotations

__all__ = ["CONTEXT_WINDOW", "DIALOG_MAX_TOKENS", "MAX_TOKENS", "MAX_TURNS", "SCENARIO_MAX_SENTENCES",
           "SCENARIO_MAX_TOKENS", "SCENARIO_MAX_TURNS", "SCENARIO_POLICY_MAX_TOKENS", "SCENARIO_REPEAT_PENALTY",
           "STAR_MAX_TURNS", "TEMPERATURE", "scenario_max_tokens"]

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

STAR_MAX_TURNS = 16
"""Turns of a synthetic STAR dialogue (``roleplay star generate``): room for a task's slots, query and goodbye."""

# A scenario file's defaults: the settings every bundled scenario uses, so a scenario that sets nothing runs
# well on a small model (measured in bench/scenario_defaults.py). A scenario sets any of them to override it.

SCENARIO_MAX_TOKENS = 80
"""Most tokens per turn of a scenario without a policy: room for three sentences, not for a speech."""

SCENARIO_POLICY_MAX_TOKENS = 160
"""Most tokens per turn of a scenario with a policy: its turns write JSON (the action) besides the words."""

SCENARIO_MAX_SENTENCES = 3
"""Sentences kept per turn: a turn of conversation, not a monologue."""

SCENARIO_REPEAT_PENALTY = 1.15
"""Penalty on repeated tokens (llama.cpp, Ollama; other servers ignore it): keeps a small model from looping."""


def scenario_max_tokens(has_policy: bool) -> int:
    """A scenario's tokens per turn when it sets none: more with a policy, whose turns also write JSON."""
    return SCENARIO_POLICY_MAX_TOKENS if has_policy else SCENARIO_MAX_TOKENS
