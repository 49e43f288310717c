"""Keeping one agent on its policy graph at run time: `Policy` and `PolicyOrchestrator`.

Each turn of the policy agent (the STAR "System"), the orchestrator asks the `FlowchartTracker` for
the legal next actions and has the agent answer in JSON, ``{"action", "utterance"}``:

- ``enforce=True``: ``action`` is an enum of the legal actions, so schema-constrained decoding (llama.cpp
  grammar, Ollama ``format``, OpenAI ``response_format``) cannot produce an illegal one; each action's
  template reply is offered as guidance, the graph's first successor named as the usual next step.
  Two progress rules narrow the legal set (never to nothing): an action repeated ``max_repeats``
  times in a row is not offered again, and goodbyes wait until a goal is reached (``end_after_goal``).
  A reply that does not parse (cut off by the token limit) falls back to the first legal action and
  its template, recorded as ``fallback`` in the turn.
- ``enforce=False``: the flowchart is only pasted into the system prompt (as sdialog does) and
  ``action`` is free text, so the two modes can be compared; the tracker still judges every action.

A ``query`` action calls the task's `QueryTool` with arguments decoded against the API's schema; the
call and its result become a ``query`` event, the outcome branch (success/failure) is resolved from
the result, and the agent then chooses again with the result in view. A user's yes/no after a
question resolves the answer branch; with ``clear_answers`` the user gives it as JSON ``{answer, utterance}``.
Reaching a terminal action (goodbye) ends the dialogue.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field

from roleplay.agents import Agent
from roleplay.conditions import StopCondition
from roleplay.dialog import Dialog, Event, StopReason, Turn
from roleplay.errors import ConfigError, StructuredOutputError
from roleplay.orchestrator import Orchestrator, TurnPolicy, round_robin
from roleplay.policy.answers import answer_of
from roleplay.policy.graph import NodeKind, describe, is_terminal, node_kind, to_dot
from roleplay.policy.tools import QueryResult, QueryTool
from roleplay.policy.tracker import FlowchartTracker
from roleplay.prompts import render
from roleplay.structured import complete_structured

MAX_QUERIES_PER_TURN = 1
UTTERANCE_MAX_CHARS = 300


class Policy(BaseModel):
    """Which agent follows which graph(s), with which tools, and whether legality is enforced."""

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    agent: str = Field(description="Name of the agent that follows the policy (e.g. 'System').")
    graphs: dict[str, nx.DiGraph] = Field(description="Task name -> policy graph; the first task starts.")
    tools: dict[str, QueryTool] = Field(default_factory=dict, description="Task name -> tool its query nodes call.")
    enforce: bool = Field(True, description="Constrain actions to the legal set (False: prompt-only guidance).")
    max_repeats: int | None = Field(2, ge=1, description="Enforced: an action taken this many times in a row is "
                                    "not offered again (anywhere-actions: once). None: no limit.")
    end_after_goal: bool = Field(True, description="Enforced: terminal actions (goodbye) are offered only once "
                                 "a goal was reached, or when nothing else is legal.")
    end_on_terminal: bool = Field(True, description="Only the policy agent's terminal action ends the dialogue; "
                                  "another agent's end signal is kept as metadata 'wants_end'.")
    clear_answers: bool = Field(True, description="When the policy agent has asked a yes/no question (its node "
                                "has answer branches), the other agent answers in JSON {answer: yes|no, "
                                "utterance}, so the branch is resolved from data instead of read from words.")

    @classmethod
    def single(cls, agent: str, graph: nx.DiGraph, tool: QueryTool | None = None, enforce: bool = True) -> Policy:
        """A one-task policy."""
        name = graph.graph.get("name") or "task"
        return cls(agent=agent, graphs={name: graph}, tools={name: tool} if tool else {}, enforce=enforce)

    def prompt_guidance(self) -> str:
        """What the policy agent's system prompt says about its flowchart(s) (prompt-only mode)."""
        return "\n".join(render("policy_flowchart", dot=to_dot(g), actions=describe(g)) for g in self.graphs.values())


def _choice_and_utterance(field: str, choices: Sequence[str] | None) -> dict[str, Any]:
    """JSON schema of a turn that picks ``field`` (from ``choices``; None: free text) and says an utterance."""
    choice: dict[str, Any] = {"type": "string", "enum": list(choices)} if choices is not None else {"type": "string"}
    return {
        "type": "object",
        "properties": {field: choice, "utterance": {"type": "string", "maxLength": UTTERANCE_MAX_CHARS}},
        "required": [field, "utterance"],
    }


def action_schema(actions: Sequence[str] | None) -> dict[str, Any]:
    """JSON schema of a policy turn; ``actions`` None leaves the action free (prompt-only mode)."""
    return _choice_and_utterance("action", actions)


ANSWER_SCHEMA = _choice_and_utterance("answer", ["yes", "no"])


class PolicyOrchestrator(Orchestrator):
    """An `Orchestrator` whose policy agent is driven by a `FlowchartTracker`."""

    def __init__(
        self,
        agents: Sequence[Agent],
        policy: Policy,
        stop: StopCondition | None = None,
        turn_policy: TurnPolicy = round_robin,
        first_speaker: str | None = None,
        on_turn: Callable[[Turn], None] | None = None,
    ):
        super().__init__(agents, stop, turn_policy, first_speaker, on_turn)
        if policy.agent not in self.agents:
            raise ConfigError(f"The policy follows agent {policy.agent!r}, which is not one of: "
                              f"{', '.join(self.agents)}. Set Policy(agent=...) to one of them.")
        if not policy.graphs:
            raise ConfigError("A policy needs at least one graph.")
        self.policy = policy
        self.tracker = FlowchartTracker(policy.graphs)

    def initialize(self, dialog: Dialog) -> None:
        super().initialize(dialog)
        self.tracker = FlowchartTracker(self.policy.graphs)

    async def step(self, dialog: Dialog) -> Turn:
        agent = self.next_speaker(dialog)
        if agent.name != self.policy.agent:
            turn = await super().step(dialog)
            if self.policy.end_on_terminal and turn.metadata.get("end"):
                turn.metadata.update(end=False, wants_end=True)
            return turn
        self._resolve_answer(dialog)
        heard = dialog.turns[self._heard[agent.name]:]
        result_note = ""
        spent = [0, 0]
        for attempt in range(MAX_QUERIES_PER_TURN + 1):
            options = self._options(allow_query=attempt < MAX_QUERIES_PER_TURN)
            legal = options if self.policy.enforce else None
            note = render("policy_turn" if self.policy.enforce else "policy_prompt_only_turn",
                          options=describe(self.tracker.graph, [o for o in options if o in self.tracker.graph])
                          if self.policy.enforce else "", first=options[0],
                          result=result_note, user=" and ".join(agent.other_names))
            reply = await agent.reply(heard, instruction=note, schema=action_schema(legal))
            spent[0] += reply.prompt_tokens
            spent[1] += reply.completion_tokens
            heard = []
            action, text, fallback = self._choice(reply.data, reply.text, options)
            task = self.tracker.owner(action) or self.tracker.task
            if _is_query(self.policy.graphs[task], action) and attempt < MAX_QUERIES_PER_TURN:
                result = await self._query(agent, dialog, action)
                agent.remember(f"(called {action}: {result.model_dump_json()})")
                result_note = f"Result of {action}: {json.dumps(result.items[:2] or result.error or 'nothing found')}\n"
                continue
            break
        previous_task = self.tracker.task
        step = self.tracker.advance(action)
        if step.task != previous_task:
            dialog.events.append(Event(type="select_task", turn=len(dialog.turns), data={"task": step.task}))
        turn = Turn(speaker=agent.name, text=text, action=action, metadata={
            "end": self.tracker.at_terminal() or reply.end,
            "legal": step.legal, "task": step.task, "allowed": step.allowed,
            "prompt_tokens": spent[0], "completion_tokens": spent[1],
            **({"fallback": True} if fallback else {}),
            **({"raw": reply.raw} if reply.raw.strip() != text else {}),
        })
        dialog.turns.append(turn)
        self._heard[agent.name] = len(dialog.turns)
        return turn

    def guidance(self, agent: Agent, dialog: Dialog) -> tuple[str | None, dict[str, Any] | None]:
        """A clear yes or no when the policy agent's question waits for one (`Policy.clear_answers`)."""
        if self.policy.clear_answers and dialog.turns and self.tracker.pending(NodeKind.ANSWER):
            return render("answer_turn", asker=self.policy.agent), ANSWER_SCHEMA
        return super().guidance(agent, dialog)

    def shape(self, turn: Turn, data: dict[str, Any] | None) -> None:
        """Lead a structured answer's utterance with its yes/no, so the transcript says what was decided."""
        answer = data.get("answer") if data else None
        if answer not in ("yes", "no"):
            raw = str(turn.metadata.get("raw", "")).strip()
            if not turn.text and raw and not raw.startswith("{"):  # a backend that ignored the schema
                turn.text = raw
            return
        turn.metadata["answer"] = answer
        if answer_of(turn.text) != answer:
            turn.text = f"{answer.capitalize()}, {turn.text}" if turn.text else f"{answer.capitalize()}."

    def _options(self, allow_query: bool = True) -> list[str]:
        """Legal actions on the current task, then (multi-task) those that switch to another task."""
        options = self.tracker.legal_actions()
        for task in self.tracker.graphs:
            if task != self.tracker.task:
                options += [a for a in self.tracker.legal_actions(task) if a not in options]
        if not allow_query:
            options = _keep(options, lambda a: not _is_query(self._graph_of(a), a))
        if self.policy.max_repeats is not None:
            options = _keep(options, lambda a: not self._repeated_too_often(a))
        if self.policy.end_after_goal and not self.tracker.completed():
            options = _keep(options, lambda a: not is_terminal(self._graph_of(a), a))
        return options

    def _graph_of(self, action: str) -> nx.DiGraph:
        return self.policy.graphs[self.tracker.owner(action) or self.tracker.task]

    def _repeated_too_often(self, action: str) -> bool:
        """True when the last ``limit`` spoken actions were all ``action`` (limit 1 for anywhere-actions)."""
        limit = 1 if self._graph_of(action).nodes[action].get("anywhere") else self.policy.max_repeats or 0
        spoken = [s.action for s in self.tracker.steps if not _is_query(self._graph_of(s.action), s.action)]
        return len(spoken) >= limit and all(a == action for a in spoken[-limit:])

    def _choice(self, data: dict[str, Any] | None, text: str, options: list[str]) -> tuple[str, str, bool]:
        """(action, utterance, fell back?) from the agent's parsed JSON."""
        action = str(data.get("action", "")).strip() if data else ""
        if action and (action in options or not self.policy.enforce) and text:
            return action, text, False
        fallback = action if action in options else options[0]
        graph = self.policy.graphs[self.tracker.owner(fallback) or self.tracker.task]
        template = graph.nodes[fallback].get("template", "") if fallback in graph else ""
        return fallback, text or template or fallback.replace("_", " "), True

    def _resolve_answer(self, dialog: Dialog) -> None:
        if not self.tracker.pending(NodeKind.ANSWER) or not dialog.turns:
            return
        last = dialog.turns[-1]
        answer = last.metadata.get("answer") or answer_of(last.text)
        if answer:
            self.tracker.resolve_when(NodeKind.ANSWER, answer)

    async def _query(self, agent: Agent, dialog: Dialog, action: str) -> QueryResult:
        """Call the task's tool with arguments decoded from the conversation; record it; resolve the outcome."""
        step = self.tracker.advance(action)
        tool = self.policy.tools.get(step.task)
        if tool is None:
            result = QueryResult(api=action, arguments={}, found=True)
        else:
            transcript = "\n".join(f"{t.speaker}: {t.text}" for t in dialog.turns[-12:])
            try:
                arguments, _, _ = await complete_structured(
                    agent.model, "You fill in API arguments from a conversation.",
                    render("query_arguments", transcript=transcript, api=tool.name), tool.arguments_schema())
            except StructuredOutputError as err:
                arguments = {}
                dialog.events.append(Event(type="retry", turn=len(dialog.turns), data={"error": str(err)}))
            result = tool(arguments)
        dialog.events.append(Event(type="query", turn=len(dialog.turns), data={
            "task": step.task, "action": action, "legal": step.legal, "arguments": result.arguments,
            "items": result.items, "total": result.total, "found": result.found, "error": result.error,
        }))
        self.tracker.resolve_when(NodeKind.OUTCOME, "found" if result.found else "empty")
        return result

    def finalize(self, dialog: Dialog, reason: StopReason | None) -> None:
        super().finalize(dialog, reason)
        steps = self.tracker.steps
        dialog.metadata["policy"] = {
            "mode": "enforced" if self.policy.enforce else "prompt_only",
            "tasks": list(self.policy.graphs),
            "path": [s.action for s in steps],
            "violations": [s.model_dump() for s in steps if not s.legal],
            "legal_rate": round(sum(s.legal for s in steps) / len(steps), 4) if steps else None,
            "completed": self.tracker.completed(),
        }


def _keep(options: list[str], allowed: Callable[[str], bool]) -> list[str]:
    """The options ``allowed`` keeps, or all of them if it keeps none (the agent must be able to act)."""
    kept = [a for a in options if allowed(a)]
    return kept or options


def _is_query(graph: nx.DiGraph, action: str) -> bool:
    return action in graph and node_kind(graph, action) == NodeKind.QUERY


def tools_for(graphs: Mapping[str, nx.DiGraph], make: Callable[[str], QueryTool | None]) -> dict[str, QueryTool]:
    """Tools for the tasks whose graphs have a query node."""
    tools = {}
    for task, graph in graphs.items():
        if any(d.get("kind") == NodeKind.QUERY.value for _, d in graph.nodes(data=True)):
            tool = make(task)
            if tool is not None:
                tools[task] = tool
    return tools
