"""Scenario files: who talks (persona files in ``agents/`` or inline), who starts, when to stop, which models.

A scenario is YAML like::

    name: doctor_patient
    dialogue_details: A patient sees a family doctor about a headache.
    model: embedded              # default for every agent
    first_speaker: Doctor
    agents:
      - {name: Doctor, persona: ../agents/doctor.yaml}
      - {name: Patient, persona: {name: Ana, role: patient}, model: ollama:qwen2.5:14b}
    stop: {max_turns: 10, end_signal: true, timeout: 300}
    request_timeout: 60          # optional: seconds one model call may take (--request-timeout overrides it)
    policy: {agent: Doctor, graph: doctor_intake.dot, prior: rank}   # optional: keep Doctor on a DOT flowchart
    examples:                    # optional style examples: dialogue files (.txt/.json) or inline turns
      - examples/doctor_patient.txt
      - [{speaker: Doctor, text: What brings you in?}, {speaker: Patient, text: My back hurts.}]
    guards: {near_copy: 85, resamples: 3}   # degeneration guards (on by default; enabled: false turns them off)
    topic: [headache, head, pain]  # optional: words that show a dialogue is on its subject (`roleplay evaluate`)
    variants:                    # optional, for batches: dialogue i plays grid combination i % size (never listed)
      temperature: [0.5, 0.9]
      Patient.circumstances: [a headache for three days, a cough since Monday]

Persona, graph and example paths are relative to the scenario file. `load_scenario` also takes the name of a bundled
scenario (``doctor_patient``; see `roleplay.resources`).

An agent may be of a custom persona class, and may sample its persona per dialogue (rules: see
`roleplay.personas._sampling`); ``persona:`` then holds the fields kept fixed::

      - name: Patient
        class: roleplay.personas.clinic:Patient   # a BasePersona subclass; default Persona
        sample: clinic/patient_rules.yaml         # or inline: {age: {range: [18, 90]}, ...}

`acast` draws the cast with a seed (a batch uses dialogue i's seed, seed + i); ``variants:`` apply on top.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import ConfigDict, Field, ValidationError, field_validator

from roleplay import defaults
from roleplay._aio import run_sync
from roleplay._checked import CheckedModel, describe_problems
from roleplay._scenario_parts import SECTIONS, AgentEntry, ExampleTurn, PolicyEntry, StopEntry, set_value
from roleplay._yaml import read_yaml
from roleplay.dialog import Dialog, Turn
from roleplay.errors import ConfigError, DialogFileError, PersonaError, PolicyGraphError, ScenarioError
from roleplay.generators import AgentSpec, PersonaDialogGenerator
from roleplay.memory import MemoryPolicy
from roleplay.personas import BasePersona, Fixed, Persona, PersonaGenerator
from roleplay.personas._loading import load_class
from roleplay.personas._sampling import class_of, read_rules
from roleplay.policy.graph import read_dot
from roleplay.policy.orchestrator import Policy
from roleplay.policy.prior import Prior, default_mode
from roleplay.resources import bundled_scenarios, find_scenario
from roleplay.text import Guards
from roleplay.text._names import check_unique_names
from roleplay.variants import VariantGrid

SCHEMA_VERSION = 1


class Scenario(CheckedModel):
    """A role-play scenario loaded from YAML."""

    model_config = ConfigDict(extra="forbid")
    config_error: ClassVar[type[ConfigError]] = ScenarioError

    schema_version: int = Field(default=SCHEMA_VERSION, description="Version of the scenario file format.")
    name: str
    description: str = ""
    dialogue_details: str = ""
    topic: list[str] = Field(default_factory=list, description="Words that show a dialogue is on its subject "
                             "(headache, pain): the on-topic measures of `roleplay evaluate` (default: the "
                             "description's words; see roleplay.evaluation.topic).")
    model: str = "embedded"
    first_speaker: str | None = None
    agents: list[AgentEntry] = Field(min_length=2)
    stop: StopEntry = Field(default_factory=StopEntry)
    temperature: float | None = Field(default=defaults.TEMPERATURE, ge=0)
    repeat_penalty: float | None = Field(default=defaults.SCENARIO_REPEAT_PENALTY, gt=0, description="Penalty on "
                                         "repeated tokens (llama.cpp, Ollama); null: the backend's.")
    max_tokens: int | None = Field(default=None, gt=0, description="Tokens per turn (default 80; 160 with a policy).")
    request_timeout: float | None = Field(default=None, gt=0, description="Seconds one model call may take "
                                          "(default: the backend's); --request-timeout overrides it.")
    context_window: int = Field(default=defaults.CONTEXT_WINDOW, gt=0, description="Messages each agent remembers.")
    max_sentences: int | None = Field(default=defaults.SCENARIO_MAX_SENTENCES, gt=0, description="Sentences per turn.")
    policy: PolicyEntry | None = None
    examples: list[str | list[ExampleTurn]] = Field(default_factory=list, description="Style example dialogues: "
                                                    "a .txt/.json dialogue file, or a list of inline turns.")
    guards: Guards = Field(default_factory=Guards, description="Degeneration guards (see roleplay.guards).")
    memory: MemoryPolicy | dict[str, MemoryPolicy] | None = Field(
        default=None, description="Memory policy of every agent, or agent name -> policy (roleplay.memory).")
    variants: dict[str, list[Any]] = Field(default_factory=dict, description="Parameter grid for batches: a "
                                           "scenario field, a section's field ('policy.enforce', 'stop.max_turns') "
                                           "or '<agent>.<persona field>', -> values.")
    path: Path | None = Field(default=None, exclude=True)

    @field_validator("schema_version")
    @classmethod
    def _readable_version(cls, version: int) -> int:
        if version != SCHEMA_VERSION:
            raise ValueError(f"schema_version {version} is not supported: this version of roleplay reads scenario "
                             f"files of schema_version {SCHEMA_VERSION}. Upgrade roleplay, or write the scenario "
                             f"for schema_version {SCHEMA_VERSION}.")
        return version

    @field_validator("variants")
    @classmethod
    def _every_variant_has_values(cls, variants: dict[str, list[Any]]) -> dict[str, list[Any]]:
        empty = [key for key, values in variants.items() if not values]
        if empty:
            raise ValueError(f"{', '.join(empty)} has no values; give each variant a non-empty list, or remove it.")
        return variants

    def agent_specs(self, model: str | None = None) -> list[AgentSpec]:
        """Resolve persona files and models into `AgentSpec`s; ``model`` overrides every agent's model."""
        base = self.path.parent if self.path else Path.cwd()
        specs = []
        for entry in self.agents:
            if entry.sample is not None:
                raise ScenarioError(f"agent '{entry.name}' samples its persona per dialogue: draw the cast first "
                                    "with `await scenario.acast(seed)` (generator(seed=...) and batches do).",
                                    self.path)
            persona_class = self._persona_class(entry)
            if isinstance(entry.persona, str):
                persona = persona_class.from_yaml(base / entry.persona)
            else:
                persona = persona_class.from_dict(entry.persona, self.path)
            name = entry.name or persona.display_name
            if not name:
                raise ScenarioError(f"agent {self.agents.index(entry) + 1} has no name and its persona has no name "
                                    "or role; give it a name: (its speaker label).", self.path)
            specs.append(AgentSpec(name=name, persona=persona, model=model or entry.model or self.model))
        return specs

    def _persona_class(self, entry: AgentEntry) -> type[BasePersona]:
        if entry.persona_class is None:
            return Persona
        try:
            return load_class(entry.persona_class, BasePersona, "persona class")
        except ConfigError as err:
            raise ScenarioError(f"agent '{entry.name}': {err}", self.path) from err

    def samplers(self, model: str | None = None) -> dict[str, PersonaGenerator[Any]]:
        """Agent name -> the generator of its persona, for each agent with ``sample:``.

        Its ``persona:`` fields are fixed rules; LLM-filled fields use ``model`` or the agent's model.
        """
        base = self.path.parent if self.path else Path.cwd()
        samplers: dict[str, PersonaGenerator[Any]] = {}
        for entry in self.agents:
            if entry.sample is None:
                continue
            fixed = entry.persona if isinstance(entry.persona, dict) else read_yaml(
                base / entry.persona, "persona", "Check the path (relative to the scenario).", error=PersonaError)
            spec, rules, rules_file = entry.persona_class, entry.sample, self.path
            if isinstance(rules, str):
                rules_file = base / rules
                own_spec, rules = read_rules(rules_file)
                spec = spec or own_spec
            if not isinstance(fixed, dict) or not isinstance(rules, dict):
                raise ScenarioError(f"agent '{entry.name}': persona: and sample: must be mappings of fields.",
                                    self.path)
            samplers[str(entry.name)] = PersonaGenerator(
                class_of(spec, BasePersona, Persona, rules_file), {**{k: Fixed(v) for k, v in fixed.items()}, **rules},
                model or entry.model or self.model, base=Path(rules_file).parent if rules_file else base,
                source=rules_file)
        return samplers

    async def acast(self, seed: int, samplers: Mapping[str, PersonaGenerator[Any]] | None = None,
                    ) -> tuple[Scenario, dict[str, dict[str, Any]]]:
        """This scenario with every sampled persona drawn with ``seed`` (then fixed), and agent -> drawn fields.

        ``samplers`` defaults to `samplers()`; pass them to build them (and read their files) only once.
        """
        samplers = self.samplers() if samplers is None else samplers
        if not samplers:
            return self, {}
        sampled = {name: (await sampler.agenerate(seed)).model_dump() for name, sampler in samplers.items()}
        data = self.model_dump(exclude={"path"})
        for entry in data["agents"]:
            if entry["name"] in sampled:
                entry.update(persona=sampled[entry["name"]], sample=None)
        return Scenario.model_validate({**data, "path": self.path}), sampled

    def unsampled(self) -> Scenario:
        """This scenario without the agents that sample their persona (for checks that need no cast)."""
        return self.model_copy(update={"agents": [a for a in self.agents if a.sample is None]})

    def example_dialogs(self) -> list[Dialog]:
        """The ``examples:`` as dialogues (files are read relative to the scenario)."""
        base = self.path.parent if self.path else Path.cwd()
        dialogs = []
        for entry in self.examples:
            if isinstance(entry, str):
                try:
                    dialogs.append(Dialog.from_file(base / entry))
                except DialogFileError as err:
                    raise ScenarioError(f"cannot read example dialogue '{entry}': {err}", self.path) from err
            else:
                dialogs.append(Dialog(turns=[Turn(speaker=t.speaker, text=t.text) for t in entry]))
        return dialogs

    def grid(self) -> VariantGrid:
        """Every combination of the variant values, in a stable order ([{}] without variants), built on demand."""
        return VariantGrid(self.variants)

    def variant(self, index: int) -> tuple[Scenario, dict[str, Any]]:
        """The scenario with grid combination ``index % size`` applied, and that combination."""
        grid = self.grid()
        combination = grid[index % grid.size]
        return self.with_values(combination), combination

    def with_values(self, combination: Mapping[str, Any]) -> Scenario:
        """The scenario with these variant values (``field`` or ``agent.persona_field`` -> value) applied."""
        data = self.model_dump(exclude={"variants", "path"})
        for key, value in combination.items():
            agent, dot, field = key.partition(".")
            if not dot or (agent in SECTIONS and all(a.get("name") != agent for a in data["agents"])):
                set_value(data, key, value, self.path)  # temperature, or policy.enforce: both arms in one batch
                continue
            entry = next((a for a in data["agents"] if a.get("name") == agent), None)
            if entry is None:
                raise ScenarioError(f"variant '{key}' names agent '{agent}', which the scenario does not have.",
                                    self.path)
            base = self.path.parent if self.path else Path.cwd()
            persona = entry["persona"] if isinstance(entry["persona"], dict) else \
                read_yaml(base / entry["persona"], "persona", "Check the path (relative to the scenario).",
                          error=PersonaError)
            entry["persona"] = {**persona, field: value}
        try:
            return Scenario.model_validate({**data, "path": self.path})
        except ValidationError as err:
            raise ScenarioError(f"variant {dict(combination)} makes the scenario invalid: "
                                f"{describe_problems(err, Scenario)}", self.path) from err

    def generator(self, model: str | None = None, max_turns: int | None = None, seed: int = 0,
                  guards: Guards | None = None, **backend_options: Any) -> PersonaDialogGenerator:
        """A role-play generator for this scenario (``backend_options`` such as ``cache_dir`` go to the models).

        Sampled personas (``sample:``) are drawn with ``seed`` first (see `acast`). ``guards`` replaces the
        scenario's own (a bench compares guards off and on over one scenario).
        """
        if any(entry.sample is not None for entry in self.agents):
            cast, _ = run_sync(self.acast(seed, self.samplers(model)))
            return cast.generator(model, max_turns, guards=guards, **backend_options)
        if self.request_timeout is not None:
            backend_options.setdefault("request_timeout", self.request_timeout)
        specs = self.agent_specs(model)
        names = [s.name for s in specs]
        if self.first_speaker is not None and self.first_speaker not in names:
            raise ScenarioError(f"first_speaker '{self.first_speaker}' is not one of the agents: {', '.join(names)}.",
                                self.path)
        return PersonaDialogGenerator(
            model=model or self.model,
            agents=specs,
            scenario={"name": self.name, "description": self.description,
                      **({"topic": self.topic} if self.topic else {})},
            dialogue_details=self.dialogue_details,
            first_speaker=self.first_speaker,
            stop=self.stop.condition(max_turns),
            max_turns=self.stop.max_turns if max_turns is None else max_turns,
            temperature=self.temperature,
            max_tokens=self.max_tokens or defaults.scenario_max_tokens(self.policy is not None),
            context_window=self.context_window,
            max_sentences=self.max_sentences,
            policy=self.load_policy(),
            repeat_penalty=self.repeat_penalty,
            guards=guards or self.guards,
            example_dialogs=self.example_dialogs(),
            memory=self.memory,
            **backend_options,
        )

    def load_policy(self) -> Policy | None:
        """The policy graph named by the file, read and checked (None if the scenario has none)."""
        if self.policy is None:
            return None
        names = [a.name or "" for a in self.agents] + [s.name for s in self.unsampled().agent_specs()]
        if self.policy.agent not in names:
            raise ScenarioError(f"policy.agent '{self.policy.agent}' is not one of the agents.", self.path)
        base = self.path.parent if self.path else Path.cwd()
        graph = read_dot(base / self.policy.graph)
        return Policy.single(self.policy.agent, graph, enforce=self.policy.enforce,
                             prior=Prior(mode=self.policy.prior or default_mode([graph])))


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file or bundled name (`roleplay.resources`), including every persona it names."""
    if not isinstance(path, (str, os.PathLike)):
        raise ScenarioError(f"load_scenario takes the path of a scenario file or a bundled scenario's name, not "
                            f"{type(path).__name__} {path!r}.")
    source = find_scenario(path)
    data = read_yaml(source, "scenario", lambda: "Give the path of a scenario YAML file, or the name of a bundled "
                     f"one: {', '.join(s.name for s in bundled_scenarios())} (`roleplay scenarios` lists them).")
    if not isinstance(data, dict):
        raise ScenarioError("a scenario must be a YAML mapping with at least 'name' and 'agents'.", source)
    try:
        scenario = Scenario.model_validate({**data, "path": source})
    except ValidationError as err:
        raise ScenarioError(f"invalid scenario ({describe_problems(err, Scenario)}).", source) from err
    try:
        scenario.samplers()  # every sampling rule compiles: fields, kinds, files, columns, classes
        check_unique_names([spec.name for spec in scenario.unsampled().agent_specs()])
        for single in scenario.grid().singles():  # each value must load; never the whole grid (it may be huge)
            scenario.with_values(single).unsampled().agent_specs()
    except PersonaError as err:
        raise ScenarioError(f"cannot load an agent's persona: {err}", source) from err
    except ScenarioError:
        raise
    except ConfigError as err:  # an agent's name or class: say which file has it
        raise ScenarioError(str(err), source) from err
    scenario.example_dialogs()  # every example file must read
    try:
        scenario.load_policy()
    except PolicyGraphError as err:
        raise ScenarioError(f"cannot load the policy graph: {err}", source) from err
    return scenario


__all__ = ["AgentEntry", "PolicyEntry", "Scenario", "StopEntry", "load_scenario"]
