"""A person seated in a scenario: `human_generator` gives one agent to the ``human`` backend.

The backend itself (`roleplay.backends.human`) is only the client a person types into.
"""

from __future__ import annotations

from roleplay.backends.human import HUMAN
from roleplay.errors import ConfigError
from roleplay.generators import PersonaDialogGenerator
from roleplay.scenario import Scenario

__all__ = ["human_generator"]


def human_generator(scenario: Scenario, name: str, model: str | None = None,
                    max_turns: int | None = None) -> PersonaDialogGenerator:
    """The scenario's generator with agent ``name`` played by a person at the terminal.

    The scenario's wall-clock timeout is dropped: it budgets a model's time, not a person's.
    """
    untimed = scenario.model_copy(update={"stop": scenario.stop.model_copy(update={"timeout": None})})
    generator = untimed.generator(model=model, max_turns=max_turns)
    names = [spec.name for spec in generator.agents]
    if name not in names:
        raise ConfigError(f"--human {name!r} is not one of the scenario's agents: {', '.join(names)}. "
                          "Name the agent you want to play.")
    generator.agents = [spec.model_copy(update={"model": f"{HUMAN}:{name}"}) if spec.name == name else spec
                        for spec in generator.agents]
    return generator

