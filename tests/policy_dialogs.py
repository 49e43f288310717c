"""What the tests of goal-aware users share: a System that follows the prior, run against a scripted User."""

import json
import re
from collections.abc import Callable

import networkx as nx

from roleplay.backends.scripted import ScriptedRequest, scripted_model
from roleplay.dialog import Dialog
from roleplay.generators import AgentSpec, PersonaDialogGenerator
from roleplay.guards import Guards
from roleplay.personas import Persona
from roleplay.policy.config import Policy
from roleplay.policy.prior import Prior
from roleplay.policy.user import UserGoal

_SAY = re.compile(r"Your action now: (\S+?)\.")


def said_action(request: ScriptedRequest) -> str | None:
    """The action whose words a policy turn's second call asks for (None: another request)."""
    match = _SAY.search(request.last) if not request.schema else None
    return match.group(1) if match else None


def system_follows_the_prior(user: Callable[[ScriptedRequest], str]) -> Callable[[ScriptedRequest], str]:
    """A script whose System takes the prior's one offered action and whose User answers with ``user``."""
    def script(request: ScriptedRequest) -> str:
        props = (request.schema or {}).get("properties", {})
        if "action" in props:
            return json.dumps({"action": props["action"]["enum"][0]})
        if said_action(request):
            return f"I do {said_action(request)}."
        return user(request)
    return script


def run_policy_dialog(user: Callable[[ScriptedRequest], str], task: str, graph: nx.DiGraph, goal: UserGoal,
                      max_turns: int, prior: Prior | None = None):
    """One dialogue of a prior-following System and a goal-aware User on ``graph``; (dialog, scripted model)."""
    model = scripted_model(fn=system_follows_the_prior(user))
    policy = Policy(agent="System", graphs={task: graph}, prior=prior or Prior(mode="argmax"), user_goal=goal)
    generator = PersonaDialogGenerator(model, agents=[AgentSpec(name="User", persona=Persona(name="User")),
                                                      AgentSpec(name="System", persona=Persona(name="System"))],
                                       first_speaker="System", policy=policy, max_turns=max_turns,
                                       guards=Guards(enabled=False))
    dialog: Dialog = generator.generate(seed=1)
    return dialog, model
