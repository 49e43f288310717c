"""Dialogue generators, in the seed tutorial's shape.

- `DialogGenerator`: one model writes a whole dialogue at once as structured output.
- `PersonaDialogGenerator`: role-play. Each persona becomes its own agent (own prompt, own memory, own
  model if you like) and an `Orchestrator` lets them talk; two personas, or N with ``agents=``.

Both have an async ``agenerate`` (the real method) and a sync ``generate`` that also works in Jupyter.
A model is created per dialogue with that dialogue's seed, so the same seed on the same backend gives
the same dialogue, and concurrent dialogues never share a client.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from autogen_core.models import ChatCompletionClient
from pydantic import BaseModel, ConfigDict, Field, field_validator

from roleplay import defaults
from roleplay._aio import run_sync
from roleplay._checked import CheckedModel
from roleplay.agents import (
    DIRECTOR,
    END_MARKER,
    Agent,
    agent_id,
    check_unique_names,
    persona_system_prompt,
    render_examples,
    split_thought,
)
from roleplay.backends import DEFAULT_MODEL, Model, get_backend
from roleplay.backends.human import HUMAN, mark_human_turns
from roleplay.conditions import EndSignal, MaxTurns, StopCondition, check_max_turns
from roleplay.dialog import Dialog, StopReason, Turn
from roleplay.errors import ConfigError
from roleplay.guards import TRIM_KEY, Guards, Trim
from roleplay.memory import MemoryPolicy
from roleplay.orchestrator import Orchestrator, TurnPolicy, round_robin
from roleplay.personas import BasePersona
from roleplay.policy.orchestrator import Policy, PolicyOrchestrator
from roleplay.prompts import render
from roleplay.sentences import is_complete, trim_to_complete
from roleplay.speakers import scenario_speakers
from roleplay.structured import CUT_AT_LIMIT, OutputFormat, chars_for, complete_structured_answer, tokens_for
from roleplay.usage import AGENT, metered

ModelSpec = str | ChatCompletionClient  # a model string, a `Model`, or any AutoGen client (see roleplay.interop)


def new_seed() -> int:
    """A fresh random seed, recorded in the Dialog so the run can be repeated."""
    return random.SystemRandom().randrange(2**31)


def _model_label(model: ModelSpec) -> str:
    return model if isinstance(model, str) else get_backend(model).name


class GeneratedTurn(BaseModel):
    """One turn as the single-model generator writes it."""

    speaker: str
    text: str


class GeneratedDialog(BaseModel):
    """The default output format of `DialogGenerator`."""

    dialog: list[GeneratedTurn]


_TURN_LIST_KEYS = ("dialog", "dialogue", "turns", "conversation", "messages")
_SPEAKER_KEYS = ("speaker", "role", "from", "name")
_TEXT_KEYS = ("text", "content", "value", "utterance")


def turns_from_output(output: Any) -> list[Turn] | None:
    """Find the turns in a structured output (a list of {speaker, text}-like objects), if there are any."""
    data = output.model_dump() if isinstance(output, BaseModel) else output
    if not isinstance(data, dict):
        return None
    items = next((data[k] for k in _TURN_LIST_KEYS if isinstance(data.get(k), list)), None)
    if items is None or not all(isinstance(i, dict) for i in items):
        return None
    turns = []
    for item in items:
        speaker = next((item[k] for k in _SPEAKER_KEYS if k in item), None)
        text = next((item[k] for k in _TEXT_KEYS if k in item), None)
        if text is None:
            return None
        action = item.get("action")
        turns.append(Turn(speaker=None if speaker is None else str(speaker), text=str(text),
                          action=str(action) if action else None))
    return turns


MIN_TURNS = 4
MAX_TURN_CHARS = 300
"""Longest turn of a generated dialogue (one to three sentences), unless the budget allows less."""
MIN_TURN_CHARS = 40
"""Shortest turn bound worth asking for: a budget that leaves less cannot hold the turns asked for."""
TURN_TOKENS = 12
"""Tokens the JSON around one generated turn spends: braces, keys, quotes, the speaker's name."""
DIALOG_TOKENS = 8
"""Tokens the JSON around the whole turn list spends."""

def turn_bounds(max_tokens: int | None, min_turns: int, longest: int = MAX_TURN_CHARS,
                extra_chars: int = 0) -> tuple[int | None, int]:
    """The most turns, and the longest turn (characters), that fit ``max_tokens`` with ``min_turns`` turns.

    Each turn's text is bounded so that ``min_turns`` turns fit, at most ``longest``; the turn count
    then so that as many such turns fit. ``extra_chars``: what other strings of a turn may hold (an
    action label). Estimates use `roleplay.structured.CHARS_PER_TOKEN`; an answer cut anyway is salvaged.

    Raises:
        ConfigError: ``max_tokens`` cannot hold ``min_turns`` turns of `MIN_TURN_CHARS`.
    """
    if max_tokens is None:
        return None, longest
    room = max_tokens - DIALOG_TOKENS
    chars = min(longest, chars_for(room // min_turns - TURN_TOKENS - tokens_for(extra_chars)))
    if chars < MIN_TURN_CHARS:
        raise ConfigError(f"max_tokens={max_tokens} cannot hold {min_turns} turns of {MIN_TURN_CHARS} characters "
                          f"or more: the dialogue would be {CUT_AT_LIMIT} (min_turns).")
    return max(min_turns, room // (TURN_TOKENS + tokens_for(chars + extra_chars))), chars


def _bound_turns(turns: dict[str, Any], max_tokens: int | None, min_turns: int) -> None:
    """Bound a turn list's schema in place: ``minItems``, and ``maxItems``/text ``maxLength`` from the budget."""
    turns["minItems"] = max(turns.get("minItems", 0), min_turns)
    props = turns.get("items", {}).get("properties", {})
    text = next((props[k] for k in _TEXT_KEYS if isinstance(props.get(k), dict)), None)
    others = [p for k, p in props.items() if isinstance(p, dict) and p is not text and k not in _SPEAKER_KEYS]
    extra = sum(int(p.get("maxLength", 0)) for p in others)
    longest = int(text.get("maxLength", MAX_TURN_CHARS)) if text is not None else MAX_TURN_CHARS
    most, chars = turn_bounds(max_tokens, turns["minItems"], longest, extra)
    if most is not None:
        turns["maxItems"] = min(int(turns.get("maxItems", most)), most)
    if text is not None and text.get("type") == "string":
        text["maxLength"] = chars  # without it one endless turn spends the whole budget (cut, then failed)


def dialog_schema(output_format: OutputFormat, speakers: Sequence[str] = (), min_turns: int = MIN_TURNS,
                  max_tokens: int | None = None) -> OutputFormat:
    """``output_format`` held to the known speakers (an enum), ``min_turns`` turns, and the token budget.

    The default `GeneratedDialog` becomes such a JSON schema; a JSON-schema dict with a turn list is
    tightened the same way; any other pydantic class is returned as it is. With ``max_tokens`` the turn
    count and turn length are bounded so that a valid answer fits it (`turn_bounds`).
    """
    if output_format is GeneratedDialog:
        output_format = {"type": "object", "required": ["dialog"], "properties": {"dialog": {
            "type": "array", "items": {"type": "object", "required": ["speaker", "text"],
                                       "properties": {"speaker": {"type": "string"}, "text": {"type": "string"}}}}}}
    if not isinstance(output_format, dict):
        return output_format
    schema = copy.deepcopy(output_format)
    turns = next((schema["properties"][k] for k in _TURN_LIST_KEYS
                  if schema.get("properties", {}).get(k, {}).get("type") == "array"), None)
    if turns is not None:
        _bound_turns(turns, max_tokens, min_turns)
        item_speaker = turns.get("items", {}).get("properties", {}).get("speaker")
        if speakers and isinstance(item_speaker, dict):
            item_speaker["enum"] = list(speakers)
    return schema


def _trimmed_turns(turns: Sequence[Turn], schema: OutputFormat) -> None:
    """Trim turns that stop mid-sentence to their complete sentences, each with a `Trim` record."""
    props = schema.get("properties", {}) if isinstance(schema, dict) else {}
    lists = [props[k] for k in _TURN_LIST_KEYS if isinstance(props.get(k), dict)]
    item = lists[0].get("items", {}).get("properties", {}) if lists else {}
    bound = next((item[k].get("maxLength") for k in _TEXT_KEYS if isinstance(item.get(k), dict)), None)
    for turn in turns:
        kept = trim_to_complete(turn.text)
        if kept != turn.text and is_complete(kept):
            reason = "char_limit" if bound is not None and len(turn.text) >= bound else "unfinished"
            turn.metadata[TRIM_KEY] = Trim(reason=reason, said=turn.text).model_dump()
            turn.text = kept


class DialogGenerator:
    """One LLM writes the whole dialogue as schema-constrained JSON.

    The speakers are ``speakers=``, the ``personas``' names, or those a dataset names for its scenario
    (`roleplay.speakers`: ``User`` and ``System`` for a STAR scenario); the output schema allows
    only them, at least ``min_turns`` turns, and as many turns of such a length as ``max_tokens`` holds
    (`turn_bounds`), so constrained decoding can neither stop after one turn, invent a speaker, nor write
    past the token limit. An answer cut at the limit anyway keeps its complete turns (``metadata["salvaged"]``);
    a turn that stops mid-sentence is trimmed to whole sentences with a `Trim` record.
    ``example_dialogs`` are shown in the prompt as style examples.
    """

    def __init__(
        self,
        model: ModelSpec = DEFAULT_MODEL,
        dialogue_details: str = "",
        output_format: OutputFormat = GeneratedDialog,
        scenario: dict[str, Any] | str | None = None,
        temperature: float | None = defaults.TEMPERATURE,
        max_tokens: int = defaults.DIALOG_MAX_TOKENS,
        attempts: int = 3,
        *,
        speakers: Sequence[str] | None = None,
        personas: Sequence[BasePersona] = (),
        min_turns: int = MIN_TURNS,
        example_dialogs: Sequence[Dialog] = (),
        **backend_options: Any,
    ):
        if isinstance(min_turns, bool) or not isinstance(min_turns, int) or min_turns < 1:
            raise ConfigError(f"min_turns must be an int of at least 1, got {min_turns!r}.")
        if speakers is not None and (isinstance(speakers, str) or not speakers or
                                     not all(isinstance(s, str) and s.strip() for s in speakers)):
            raise ConfigError(f"speakers must be a non-empty list of names, e.g. ['Doctor', 'Patient'], got "
                              f"{speakers!r} (leave it out to take the personas' names).")
        _check_personas(personas)
        self.model = model
        self.personas = list(personas)
        self.speakers = list(speakers) if speakers is not None else [p.display_name or "" for p in self.personas]
        if not all(self.speakers):
            raise ConfigError("Every persona given to DialogGenerator needs a name or role (or pass speakers=[...]).")
        self.min_turns = min_turns
        self.given_format = output_format
        self.example_dialogs = list(example_dialogs)
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.attempts = attempts
        self.backend_options = backend_options
        self.set(dialogue_details, scenario)

    def set(self, dialogue_details: str, scenario: dict[str, Any] | str | None = None) -> None:
        """Change what the next dialogues are about (the speakers of a known kind of scenario too)."""
        self.dialogue_details = dialogue_details
        self.scenario = scenario
        self.output_format = dialog_schema(self.given_format, self.speakers_now(), self.min_turns, self.max_tokens)

    def speakers_now(self) -> list[str]:
        """The speakers: ``speakers=`` or the personas' names, else those registered for the scenario."""
        return self.speakers or scenario_speakers(self.scenario)

    def system_prompt(self) -> str:
        """The system prompt: the task, the speakers, the turn count, style examples."""
        who = "\n".join(f"{p.display_name}:\n{p.description()}" for p in self.personas)
        return render("dialog_generator", speakers=", ".join(self.speakers_now()) or "the people in the details",
                      min_turns=self.min_turns, personas=f"The speakers:\n{who}\n" if who else "",
                      examples=render_examples(self.example_dialogs))

    def prompt(self) -> str:
        """The user prompt sent to the model."""
        return f"Dialogue details: {self.dialogue_details.strip()}" if self.dialogue_details else "Write a dialogue."

    async def agenerate(self, seed: int | None = None, id: int | str | None = None,
                        prefix: Dialog | None = None) -> Dialog | Any:
        """Generate one dialogue. Returns a `Dialog` when the output holds turns, else the parsed output.

        With ``prefix`` (`Dialog.fork`), the model is shown the prefix's turns and writes what follows;
        the dialogue is the prefix's turns (copied, unchanged) and then the new ones.
        """
        seed = new_seed() if seed is None else seed
        if prefix is not None and not isinstance(prefix, Dialog):
            raise ConfigError(f"prefix must be a Dialog (from dialog.fork(n)), got {type(prefix).__name__}.")
        model = get_backend(self.model, seed=seed, temperature=self.temperature, max_tokens=self.max_tokens,
                            **self.backend_options)
        prompt = self.prompt()
        if prefix is not None and prefix.turns:
            prompt += "\n\n" + render("dialog_continue", transcript="\n".join(map(str, prefix.turns)))
        try:
            with metered(AGENT) as meter:  # every attempt's tokens, as one writer's line of the usage
                answer = await complete_structured_answer(
                    model, self.system_prompt(), prompt, self.output_format, attempts=self.attempts
                )
        finally:
            if not isinstance(self.model, Model):
                await model.close()
        turns = turns_from_output(answer.output)
        if turns is None:
            return answer.output
        for turn in turns:
            turn.text, thought = split_thought(turn.text)
            if thought:
                turn.metadata["thought"] = thought
        _trimmed_turns(turns, self.output_format)
        salvaged = {"salvaged": {"reason": "token_limit", "turns": len(turns)}} if answer.salvaged else {}
        lineage = _prefix_fields(prefix) if prefix is not None else {}
        return Dialog(
            id=id, model=_model_label(self.model), seed=seed, scenario=self.scenario,
            turns=[*lineage.pop("turns", []), *turns], complete=True, stop_reason=StopReason.GENERATED,
            **{**lineage, "metadata": {**lineage.get("metadata", {}), "completion_tokens": answer.tokens, **salvaged,
                                       "usage": [line.model_dump() for line in meter.lines()]}},
        )

    def generate(self, seed: int | None = None, id: int | str | None = None,
                 prefix: Dialog | None = None) -> Dialog | Any:
        """Sync `agenerate` (works inside Jupyter too)."""
        return run_sync(self.agenerate(seed=seed, id=id, prefix=prefix))


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
                      on_turn: Callable[[Turn], None] | None) -> Orchestrator:
        """A `PolicyOrchestrator` when an agent follows a policy, else the plain `Orchestrator`."""
        if self.policy is None:
            return Orchestrator(agents, stop, self.turn_policy, self.first_speaker, on_turn, self.dialogue_details)
        return PolicyOrchestrator(agents, self.policy, stop, self.turn_policy, self.first_speaker, on_turn)

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
    ) -> Dialog:
        """Role-play one dialogue; ``on_turn`` sees each turn as soon as it is spoken.

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
        orchestrator = self._orchestrator(agents, stop, on_turn)
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


def _prefix_fields(prefix: Dialog) -> dict[str, Any]:
    """What a dialogue continuing ``prefix`` takes from it (deep copies): turns, events, variant facts, lineage."""
    copied = prefix.model_copy(deep=True)
    return {"turns": copied.turns, "events": copied.events, "metadata": copied.metadata,
            "parent_id": copied.parent_id if copied.branched_at is not None else copied.id,
            "branched_at": len(copied.turns)}


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


def _check_personas(personas: Any) -> None:
    """ConfigError unless ``personas`` are `BasePersona` objects (``Persona(role="a doctor")``, not the text)."""
    bad = next((p for p in personas if not isinstance(p, BasePersona)), None) if not isinstance(personas, str) \
        else personas
    if bad is not None:
        raise ConfigError(f"A persona must be a Persona (or another BasePersona), got {type(bad).__name__} {bad!r}; "
                          "write e.g. Persona(name='Ann', role='a doctor').")


__all__ = ["AgentSpec", "DialogGenerator", "GeneratedDialog", "PersonaDialogGenerator", "turn_bounds"]
