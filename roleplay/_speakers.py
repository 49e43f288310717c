"""Who speaks in a kind of scenario: rules that datasets register, so any generator names the right speakers.

A STAR scenario's speakers are ``User`` and ``System`` (`roleplay.datasets.star._format` registers it on
import); `roleplay.generators.DialogGenerator` asks here when it is given no speakers or personas, so the
tutorial's ``DialogGenerator(dialogue_details=desc, scenario=scenario)`` cannot invent a speaker.
Light on purpose: data-level modules register here without importing any generator.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["SpeakerRule", "register_scenario_speakers", "scenario_speakers"]

SpeakerRule = Callable[[Any], Sequence[str] | None]
"""Names the speakers of a kind of scenario (None: not that kind)."""
_RULES: list[SpeakerRule] = []


def register_scenario_speakers(rule: SpeakerRule) -> None:
    """Let generators name the speakers of the scenarios ``rule`` knows (registering twice is harmless)."""
    if rule not in _RULES:
        _RULES.append(rule)


def scenario_speakers(scenario: Any) -> list[str]:
    """The speakers the first rule that knows ``scenario`` names ([] when none does)."""
    return next((list(names) for rule in _RULES if (names := rule(scenario))), [])
