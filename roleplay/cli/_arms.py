"""``--prompt-only``: run a scenario's policy agent with its flowchart in the prompt only, not enforced.

The other arm of a comparison with enforcement. For both arms in one batch, a scenario lists
``policy.enforce: [true, false]`` under ``variants:`` instead; each dialogue records its arm
(``metadata.policy.mode``), and `roleplay evaluate` and `roleplay report` split their tables by it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from roleplay.errors import ScenarioError
from roleplay.evaluation.groups import ARM_KEY

if TYPE_CHECKING:
    from roleplay.scenario import Scenario

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["prompt_only", "prompt_only_option"]


def prompt_only_option(command: F) -> F:
    """``--prompt-only``, shared by `run` and `batch`."""
    return click.option("--prompt-only", is_flag=True,
                        help="Do not enforce the scenario's policy graph: its flowchart is only in the policy agent's "
                             "prompt (the baseline to compare enforcement with; policy.enforce: false in YAML). "
                             "Dialogues record the arm as policy.mode.")(command)


def prompt_only(scenario: Scenario) -> Scenario:
    """``scenario`` with its policy in the prompt only; a scenario without a policy, or playing both arms, refuses."""
    if scenario.policy is None:
        raise ScenarioError("--prompt-only needs a scenario with a policy: (an agent that follows a DOT graph); "
                            "this one has none. Drop --prompt-only, or add policy: {agent: NAME, graph: FILE.dot}.",
                            scenario.path)
    if ARM_KEY in scenario.variants:
        raise ScenarioError(f"--prompt-only and the variant {ARM_KEY} both set the arm; drop --prompt-only to play "
                            f"both arms in one batch, or remove {ARM_KEY} from variants:.", scenario.path)
    return scenario.model_copy(update={"policy": scenario.policy.model_copy(update={"enforce": False})})
