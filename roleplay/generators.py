"""Dialogue generators, in the seed tutorial's shape.

- `DialogGenerator`: one model writes a whole dialogue at once as structured output.
- `PersonaDialogGenerator`: role-play. Each persona becomes its own agent (own prompt, own memory, own
  model if you like) and an `Orchestrator` lets them talk; two personas, or N with ``agents=``.

Both have an async ``agenerate`` (the real method) and a sync ``generate`` that also works in Jupyter.
A model is created per dialogue with that dialogue's seed, so the same seed on the same backend gives
the same dialogue, and concurrent dialogues never share a client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pydantic import ConfigDict, Field, field_validator

from roleplay import defaults
from roleplay._aio import run_sync
from roleplay._checked import CheckedModel
from roleplay._dialog_generator import (
    DIALOG_TOKENS,
    MIN_TURNS,
    TURN_TOKENS,
    DialogGenerator,
    GeneratedDialog,
    GeneratedTurn,
    dialog_schema,
    turn_bounds,
    turns_from_output,
)
from roleplay._generator_parts import ModelSpec, _check_personas, _model_label, _prefix_fields, new_seed
from roleplay.agents import DIRECTOR, END_MARKER, Agent, agent_id, check_unique_names, persona_system_prompt
from roleplay.backends import DEFAULT_MODEL, Model, get_backend
from roleplay.backends.human import HUMAN
from roleplay.conditions import EndSignal, MaxTurns, StopCondition, check_max_turns
from roleplay.dialog import Dialog, Turn
from roleplay.errors import ConfigError
from roleplay.guards import Guards
from roleplay.memory import MemoryPolicy
from roleplay.orchestrator import Orchestrator, TurnPolicy, round_robin
from roleplay.personas import BasePersona
from roleplay.policy._steering import Steering
from roleplay.policy.orchestrator import Policy, PolicyOrchestrator


class AgentSpec(CheckedModel):
    """One participant of a role-play: a name, a persona, and optionally its own model."""

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    name: str = Field(description="Speaker label in the transcript (any text; made an identifier for AutoGen).")
    persona: BasePersona
    model: ModelSpec | None = Field(default=None, description="This agent's model; None = the generator's.")

    @field_validator("name")
    @classmethod
    def _not_an_internal_source(cls, name: str) -> str:
        if agent_id(name).lower() == DIRECTOR:
            raise ValueError(f"the agent name {name!r} is reserved: roleplay's turn instructions come from "
                             f"'{DIRECTOR}', and an agent of that name would lose its own turns. Rename the agent.")
        return name


class PersonaDialogGenerator:
    """Role-play: each persona is its own agent, and an orchestrator lets them talk."""

    def __init__(
        self,
        model: ModelSpec = DEFAULT_MODEL,
        persona_a: BasePersona | None = None,
        persona_b: BasePersona | None = None,
        scenario: dict[str, Any] | str | None = None,
        dialogue_details: str = "",
        *,
        agents: Sequence[AgentSpec] | None = None,
        first_speaker: str | None = None,
        turn_policy: TurnPolicy = round_robin,
        stop: StopCondition | None = None,
        max_turns: int = defaults.MAX_TURNS,
        temperature: float | None = defaults.TEMPERATURE,
        max_tokens: int = defaults.MAX_TOKENS,
        context_window: int = defaults.CONTEXT_WINDOW,
        end_marker: str = END_MARKER,
        max_sentences: int | None = None,
        policy: Policy | None = None,
        guards: Guards | None = None,
        example_dialogs: Sequence[Dialog] = (),
        memory: MemoryPolicy | Mapping[str, MemoryPolicy] | None = None,
        **backend_options: Any,
    ):
        """``memory`` is every agent's `MemoryPolicy`, or agent name -> policy (others keep ``window``)."""
        agents = agents if agents is not None else _pair(persona_a, persona_b)
        check_unique_names([a.name for a in agents])
        self.agents = list(agents)
        self.model = model
        self.scenario = scenario
        self.dialogue_details = dialogue_details
        self.first_speaker = first_speaker
        self.turn_policy = turn_policy
        self.stop = stop
        self.max_turns = check_max_turns(max_turns)
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.context_window = context_window
        self.end_marker = end_marker
        self.max_sentences = max_sentences
        self.policy = policy
        self.guards = guards or Guards()
        self.example_dialogs = list(example_dialogs)
        self.memory = _memory_policies(memory, [a.name for a in self.agents])
        self.backend_options = backend_options

    def _build_agents(self, seed: int) -> list[Agent]:
        built = []
        for spec in self.agents:
            others = [(o.name, o.persona) for o in self.agents if o is not spec]
            model = get_backend(spec.model or self.model, seed=seed, temperature=self.temperature,
                                max_tokens=self.max_tokens, **self.backend_options)
            prompt = persona_system_prompt(spec.name, spec.persona, others, self.dialogue_details, self.end_marker,
                                           self.example_dialogs)
            if self.policy is not None and spec.name == self.policy.agent and not self.policy.enforce:
                prompt += "\n\n" + self.policy.prompt_guidance()
            guards = self.guards if model.backend != HUMAN else Guards(enabled=False)  # a person's words stand
            memory = self.memory.get(spec.name)
            summariser = get_backend(memory.summary_model, seed=seed, temperature=self.temperature,
                                     max_tokens=self.max_tokens, **self.backend_options) \
                if memory is not None and memory.summary_model else None
            built.append(Agent(spec.name, spec.persona, model, prompt, self.context_window, self.end_marker,
                               self.max_sentences, others=others, guards=guards, memory=memory,
                               summariser=summariser))
        return built

    def stop_condition(self, max_turns: int | None = None) -> StopCondition:
        """``stop`` (default: an agent's end signal) under the turn cap, which always applies.

        ``max_turns`` overrides the generator's cap for one dialogue; a cap already inside ``stop`` merges
        with it (the smaller one holds), so the cap is one condition.
        """
        cap = self.max_turns if max_turns is None else check_max_turns(max_turns)
        return MaxTurns(cap) | (self.stop or EndSignal())

    def _orchestrator(self, agents: list[Agent], stop: StopCondition,
                      on_turn: Callable[[Turn], None] | None, steer: Steering | None = None) -> Orchestrator:
        """A `PolicyOrchestrator` when an agent follows a policy, else the plain `Orchestrator`."""
        if self.policy is None:
            return Orchestrator(agents, stop, self.turn_policy, self.first_speaker, on_turn, self.dialogue_details)
        return PolicyOrchestrator(agents, self.policy, stop, self.turn_policy, self.first_speaker, on_turn, steer)

    def model_label(self) -> str | dict[str, str]:
        """The model string all agents use, or speaker -> model string when they differ."""
        return _one_or_each({a.name: _model_label(a.model or self.model) for a in self.agents})

    async def agenerate(
        self,
        seed: int | None = None,
        id: int | str | None = None,
        max_turns: int | None = None,
        on_turn: Callable[[Turn], None] | None = None,
        prefix: Dialog | None = None,
        steer: Steering | None = None,
    ) -> Dialog:
        """Role-play one dialogue; ``on_turn`` sees each turn as soon as it is spoken.

        ``steer``: walk the policy agent towards target edges (`roleplay.policy._steering`, coverage-driven runs).

        With ``prefix`` (`Dialog.fork`), the dialogue starts from the prefix's turns, which every agent
        remembers as said, and goes on with this generator's seed, personas and settings; the prefix is
        copied, never changed, and costs no model call. ``max_turns`` counts the prefix's turns too.
        """
        seed = new_seed() if seed is None else seed
        stop = self.stop_condition(max_turns)
        if prefix is not None:
            self._check_prefix(prefix)
        agents = self._build_agents(seed)
        dialog = Dialog(
            id=id, model=_one_or_each({a.name: a.model.name for a in agents}), seed=seed, scenario=self.scenario,
            personas={a.name: {"class": type(a.persona).__name__, **a.persona.model_dump()} for a in self.agents},
            **(_prefix_fields(prefix) if prefix is not None else {}),
        )
        for agent in agents if prefix is not None else ():
            await agent.prime(dialog.turns, prefix_speakers=len(agents) > 2)
        if steer is not None and self.policy is None:
            raise ConfigError("Steering towards policy edges needs a policy graph; this generator has none.")
        orchestrator = self._orchestrator(agents, stop, on_turn, steer)
        try:
            return mark_human_turns(await orchestrator.run(dialog), agents)
        finally:
            for agent, spec in zip(agents, self.agents, strict=True):
                if not isinstance(spec.model or self.model, Model):
                    await agent.model.close()
                if agent.summariser is not agent.model:
                    await agent.summariser.close()

    def _check_prefix(self, prefix: Dialog) -> None:
        """A prefix this generator can continue: a `Dialog` whose speakers are this generator's agents."""
        if not isinstance(prefix, Dialog):
            raise ConfigError(f"prefix must be a Dialog (from dialog.fork(n)), got {type(prefix).__name__}.")
        names = [a.name for a in self.agents]
        strangers = sorted({t.speaker or "(no speaker)" for t in prefix.turns} - set(names))
        if strangers:
            raise ConfigError(f"The prefix has turns by {', '.join(strangers)}, who are not among this generator's "
                              f"agents ({', '.join(names)}); branch with the same speaker names.")
        if self.policy is not None and prefix.turns:
            raise ConfigError("Continuing a prefix under a policy graph is not supported yet (the tracker would "
                              "start at the graph's start mid-dialogue); branch a dialogue without a policy.")

    def generate(
        self,
        seed: int | None = None,
        id: int | str | None = None,
        max_turns: int | None = None,
        on_turn: Callable[[Turn], None] | None = None,
        prefix: Dialog | None = None,
    ) -> Dialog:
        """Sync `agenerate` (works inside Jupyter too)."""
        return run_sync(self.agenerate(seed=seed, id=id, max_turns=max_turns, on_turn=on_turn, prefix=prefix))




def mark_human_turns(dialog: Dialog, agents: Iterable[Agent]) -> Dialog:
    """Mark the turns spoken through the human backend with ``metadata["human"] = True``."""
    humans = {agent.name for agent in agents if agent.model.backend == HUMAN}
    for turn in dialog.turns:
        if turn.speaker in humans:
            turn.metadata["human"] = True
    return dialog


def _memory_policies(memory: MemoryPolicy | Mapping[str, MemoryPolicy] | None,
                     names: Sequence[str]) -> dict[str, MemoryPolicy]:
    """Agent name -> its memory policy (agents left out keep the default window)."""
    if memory is None:
        return {}
    if isinstance(memory, MemoryPolicy):
        return {name: memory for name in names}
    if not isinstance(memory, Mapping) or not all(isinstance(p, MemoryPolicy) for p in memory.values()):
        raise ConfigError("memory must be a MemoryPolicy, or a mapping of agent name -> MemoryPolicy; e.g. "
                          "memory=MemoryPolicy(kind='summary', facts=True).")
    unknown = sorted(set(memory) - set(names))
    if unknown:
        raise ConfigError(f"memory names {', '.join(unknown)}, not among the agents ({', '.join(names)}).")
    return dict(memory)


def _one_or_each(labels: dict[str, str]) -> str | dict[str, str]:
    distinct = set(labels.values())
    return distinct.pop() if len(distinct) == 1 else labels


def _pair(persona_a: BasePersona | None, persona_b: BasePersona | None) -> list[AgentSpec]:
    """The two agents of the tutorial's two-persona form, named after their personas (else A and B)."""
    if persona_a is None or persona_b is None:
        raise ConfigError("Give persona_a and persona_b, or agents=[AgentSpec(...), ...] for N parties.")
    _check_personas([persona_a, persona_b])
    return [AgentSpec(name=persona_a.display_name or "A", persona=persona_a),
            AgentSpec(name=persona_b.display_name or "B", persona=persona_b)]



__all__ = ["DIALOG_TOKENS", "MIN_TURNS", "TURN_TOKENS", "AgentSpec", "DialogGenerator", "GeneratedDialog",
           "GeneratedTurn", "ModelSpec", "PersonaDialogGenerator", "dialog_schema", "new_seed", "turn_bounds",
           "turns_from_output"]
