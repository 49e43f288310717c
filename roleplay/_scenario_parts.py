"""The parts of a scenario file: its agents, stop conditions, example turns and policy (`roleplay.scenario`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field, model_validator

from roleplay import defaults
from roleplay._checked import CheckedModel
from roleplay.conditions import EndSignal, MaxTurns, StopCondition, Timeout
from roleplay.errors import ScenarioError
from roleplay.policy.prior import PriorMode

__all__ = ["SECTIONS", "AgentEntry", "ExampleTurn", "PolicyEntry", "StopEntry", "set_value"]


class AgentEntry(CheckedModel):
    """One participant as written in a scenario file."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str | None = Field(default=None, description="Speaker label; defaults to the persona's name or role.")
    persona: str | dict[str, Any] = Field(default_factory=dict, description="Persona file (relative to the "
                                          "scenario) or inline fields; with sample:, the fields kept fixed.")
    model: str | None = Field(default=None, description="This agent's model; defaults to the scenario's.")
    persona_class: str | None = Field(default=None, alias="class", description="'package.module:Name' of a "
                                      "BasePersona subclass; default Persona.")
    sample: str | dict[str, Any] | None = Field(default=None, description="Rules that sample the persona per "
                                                "dialogue: a rules file (relative to the scenario) or inline.")

    @model_validator(mode="after")
    def _sampled_agents_are_named(self) -> AgentEntry:
        if self.sample is not None and not self.name:
            raise ValueError("an agent with sample: needs a name: (its speaker label in every dialogue)")
        return self


class StopEntry(CheckedModel):
    """Stop conditions as written in a scenario file; any one that holds ends the dialogue."""

    model_config = ConfigDict(extra="forbid")

    max_turns: int = Field(default=defaults.SCENARIO_MAX_TURNS, ge=1)  # shorter than a bare generator's
    end_signal: bool = True
    timeout: float | None = Field(default=None, gt=0, description="Wall-clock seconds.")

    def condition(self, max_turns: int | None = None) -> StopCondition:
        """The composed stop condition, with an optional override of the turn cap."""
        condition: StopCondition = MaxTurns(self.max_turns if max_turns is None else max_turns)
        if self.end_signal:
            condition = condition | EndSignal()
        if self.timeout is not None:
            condition = condition | Timeout(self.timeout)
        return condition


class ExampleTurn(CheckedModel):
    """One turn of an inline example dialogue."""

    model_config = ConfigDict(extra="forbid")

    speaker: str
    text: str


class PolicyEntry(CheckedModel):
    """A policy graph one agent follows, as written in a scenario file."""

    model_config = ConfigDict(extra="forbid")

    agent: str = Field(description="Name of the agent that follows the graph.")
    graph: str = Field(description="DOT file, relative to the scenario.")
    enforce: bool = Field(default=True, description="Constrain actions to the legal ones (False: prompt only).")
    prior: PriorMode | None = Field(default=None, description="Steer by the graph's edge counts "
                                    "(roleplay.policy.prior); unset: sample when its edges carry counts, else none.")


SECTIONS = ("policy", "stop", "guards")
"""Scenario fields that are mappings: a variant key ``policy.enforce`` or ``stop.max_turns`` sets one field inside."""


def set_value(data: dict[str, Any], key: str, value: Any, path: Path | None) -> None:
    """Set a scenario field (``temperature``) or a field of a section (``policy.enforce``) in scenario ``data``."""
    name, dot, field = key.partition(".")
    if not dot:
        data[key] = value
        return
    if data.get(name) is None:
        raise ScenarioError(f"variant '{key}' sets {field} in {name}:, which this scenario does not have; add a "
                            f"{name}: section, or remove the variant.", path)
    data[name] = {**data[name], field: value}
