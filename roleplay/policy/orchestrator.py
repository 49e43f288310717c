"""Keeping one agent on its policy graph at run time: `PolicyOrchestrator`.

Each turn of the policy agent (the STAR "System") is a few named steps:

1. resolve the other agent's yes/no if the agent's last question waits for one (`_resolve_answer`);
2. choose the options: the `FlowchartTracker`'s legal actions narrowed by progress rules (`options`),
   then ordered and narrowed by the human prior (`Policy.prior`, `roleplay.policy.prior`);
3. ask the agent for its ``{"action"}`` alone (`_ask`): enforced, ``action`` is an enum of the
   options; prompt-only, the flowchart is in its system prompt and ``action`` is free text, so the two
   modes can be compared while the tracker judges every action. A reply without a usable action falls
   back to the first option, recorded as ``fallback``; the JSON choice leaves the agent's memory;
4. a ``query`` action runs through the `ToolEnvironment` (`_run_tool`): the call becomes a ``query``
   event, its outcome branch (success/failure) is resolved, and the agent chooses again with the
   result in view (at most `MAX_QUERIES_PER_TURN` calls per turn);
5. ask for the words of the chosen action (`_say`): a plain turn told the action and its example reply,
   through `guarded_reply` like every other agent's turn (near-copy, role confusion, prompt leak, cut-off;
   a resample redoes only the words, so the action stays the legal one chosen). No character cap cuts
   them: a turn the token limit cut is trimmed to whole sentences with a `Trim` record, and words that
   stay unusable (empty or unfinished after the guards) become the action's template (``words_fallback``);
6. advance the tracker and record the turn (`_record_action`). A terminal action (goodbye) ends the dialogue.

The other agent speaks as in any `Orchestrator`, except that it answers a pending yes/no question in
JSON when ``Policy.clear_answers`` (`request_for`; an offer of what a happy goal-aware user came for is
accepted, `GoalUser.settled_answer`), and its own end signal is kept as ``wants_end``.
With ``Policy.user_goal`` it is a goal-aware user (`roleplay.policy.user`): each turn's note says what
it wants, the fact just asked for, or (once served or refused) to thank and close; its `GoalUser` (goal
and `UserState`) is kept in its turns' metadata and the dialogue's (``user``), and goodbyes wait for its
closing turn, so a dialogue ends naturally: the user closes, the policy agent says goodbye.

"Goal reached" has one source, `goal_reached` (the user state's ``served``): the tracker reached a goal of
every task, as many times as the user's ``rounds``. It lets goodbyes through (``end_after_goal``) and makes
the prior favour closing; while rounds are left the user asks for the next one, and the prior's revisit
discount counts only the current round's actions (a new round repeats the steps of the last).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

from roleplay.agents import Agent, Reply
from roleplay.conditions import StopCondition
from roleplay.dialog import Dialog, Event, StopReason, Turn
from roleplay.errors import ConfigError, StructuredOutputError
from roleplay.guards import guarded_reply
from roleplay.orchestrator import Orchestrator, TurnPolicy, TurnRequest, round_robin
from roleplay.policy._answers import answer_of
from roleplay.policy._options import graph_of, is_query, offered_actions
from roleplay.policy._steering import Steering
from roleplay.policy._turns import AnswerRequest, action_note, action_schema, answer_request, result_note, say_note
from roleplay.policy.config import Policy
from roleplay.policy.environment import ToolEnvironment
from roleplay.policy.graph import NodeKind, check_graph
from roleplay.policy.prior import narrow, weigh
from roleplay.policy.tools import QueryResult
from roleplay.policy.tracker import FlowchartTracker
from roleplay.policy.user import GoalUser
from roleplay.sentences import is_complete

logger = logging.getLogger(__name__)

__all__ = ["MAX_QUERIES_PER_TURN", "Policy", "PolicyOrchestrator", "action_schema"]

MAX_QUERIES_PER_TURN = 1


class Choice(NamedTuple):
    """The action a policy reply chose, and whether it fell back to the first option."""

    action: str
    fallback: bool


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
        steer: Steering | None = None,
    ):
        super().__init__(agents, stop, turn_policy, first_speaker, on_turn)
        if policy.agent not in self.agents:
            raise ConfigError(f"The policy follows agent {policy.agent!r}, which is not one of: "
                              f"{', '.join(self.agents)}. Set Policy(agent=...) to one of them.")
        if not policy.graphs:
            raise ConfigError("A policy needs at least one graph.")
        for graph in policy.graphs.values():
            check_graph(graph, warn=False)
        self.policy = policy
        self.steer = steer  # coverage-driven generation: see roleplay.policy._steering
        self.environment = ToolEnvironment(policy.tools)
        self.tracker = FlowchartTracker(policy.graphs)
        self.user = GoalUser(policy.user_goal)
        self.round_start = 0
        self.rng = random.Random(0)

    def initialize(self, dialog: Dialog) -> None:
        super().initialize(dialog)
        self.tracker = FlowchartTracker(self.policy.graphs)
        self.round_start = 0
        self.rng = random.Random(f"{dialog.seed}:prior")
        if self.steer is not None:
            self.policy = self.steer.start(self.policy)  # this dialogue's copy, if the steering changed the user
        self.user = GoalUser(self.policy.user_goal)

    async def step(self, dialog: Dialog, agent: Agent) -> Turn:
        if agent.name == self.policy.agent:
            return await self._policy_turn(dialog, agent)
        stage = self.user.stage()
        turn = await super().step(dialog, agent)
        wants_end = bool(turn.metadata.get("end"))
        if self.policy.end_on_terminal and wants_end:
            turn.metadata.update(end=False, wants_end=True)
        state = self.user.hear_self(turn.text, wants_end, stage)
        if state is not None:
            turn.metadata["user_state"] = state
            turn.metadata["end"] = turn.metadata["end"] or self.user.state.hung_up  # it hangs up: no goodbye follows
        return turn

    def request_for(self, agent: Agent, dialog: Dialog) -> TurnRequest:
        """The other agent's request: the goal-aware user's note, and a clear yes or no when needed.

        The note comes with `Policy.user_goal`; the yes/no when the policy agent's question waits for one
        (`Policy.clear_answers`).
        """
        steered, detour = self.steer.user_turn(self.tracker, self.user.state, len(dialog.turns)) if self.steer \
            else (None, False)
        note = self._user_note(dialog, detour)
        opening = self.first_turn_note(agent, dialog, situation=not note)  # a goal note says what the user wants
        if self.policy.clear_answers and dialog.turns and self.tracker.pending(NodeKind.ANSWER):
            decided = steered or self.user.settled_answer(self.tracker.offer_pending())
            answer = answer_request(self.policy.agent, agent.model.options.max_tokens, decided)
            return AnswerRequest("\n".join(filter(None, [note, answer.instruction])), answer.schema)
        return TurnRequest("\n".join(filter(None, [opening, note])) or None)

    def _user_note(self, dialog: Dialog, out_of_scope: bool = False) -> str:
        """The goal-aware user's note; ``out_of_scope``: this turn also asks something out of scope (steering)."""
        last = next((t.action for t in reversed(dialog.turns) if t.speaker == self.policy.agent), None)
        looked_up = next((e.data.get("arguments") or {} for e in reversed(dialog.events)
                          if e.type == "query" and e.turn == len(dialog.turns) - 1), {})  # for the last turn
        return self.user.note(self.policy.agent, last, looked_up, out_of_scope)

    def goal_reached(self) -> bool:
        """Whether the request is served: a goal of every task reached, once per round the user wants."""
        return self.user.state.served

    def options(self, allow_query: bool = True) -> list[str]:
        """The actions offered to the policy agent now (see `offered_actions`), before the prior."""
        return offered_actions(self.tracker, self.policy, self.goal_reached(), allow_query,
                               user_closed=self.user.closed, must_end=self.user.must_end)

    def steered(self, options: list[str], may_query: bool = True, turns: int = 0
                ) -> tuple[list[str], dict[str, float] | None]:
        """``options`` ordered and narrowed by the prior (enforced mode), with their shares to show.

        A `Steering` (coverage-driven generation) makes the prior's choice where its plan has an action.
        """
        planned = self.steer.action(self.tracker, self.user.state, may_query, options, turns) if self.steer else None
        if planned is not None:
            return [planned], None
        prior = self.policy.prior
        if prior.mode == "none" or not self.policy.enforce:
            return options, None
        weighted = weigh(self.tracker.graph, self.tracker.origin(), options, self.tracker.path[self.round_start:],
                         prior, self.goal_reached())
        offered = narrow(weighted, prior, self.rng)
        return offered, {a: w for a, w in weighted if a in offered}

    async def _policy_turn(self, dialog: Dialog, agent: Agent) -> Turn:
        started = time.perf_counter()
        self._resolve_answer(dialog)
        heard, note, replies = self.unheard(agent, dialog), "", []
        for attempt in range(MAX_QUERIES_PER_TURN + 1):
            may_query = attempt < MAX_QUERIES_PER_TURN
            options, shares = self.steered(self.options(allow_query=may_query), may_query, len(dialog.turns))
            replies.append(await self._ask(agent, heard, options, note, shares))
            heard = []  # the agent has now heard them; a second ask adds only the tool result
            choice = self._choice(replies[-1], options)
            if not (may_query and is_query(graph_of(self.tracker, choice.action), choice.action)):
                agent.forget_last_reply()  # the JSON choice is not a turn: its words come next
                break
            result = await self._run_tool(agent, dialog, choice.action)
            agent.remember(f"(called {choice.action}: {result.brief()})")
            note = result_note(choice.action, result)
        replies.append(await self._say(agent, dialog, choice.action, note))
        return self._record_action(dialog, agent, choice, replies, started)

    async def _say(self, agent: Agent, dialog: Dialog, action: str, result: str) -> Reply:
        """The words of ``action``: a plain turn, guarded like any other (a resample keeps the action)."""
        graph = graph_of(self.tracker, action)
        note = say_note(graph, action, result, agent.other_names)
        template = graph.nodes[action].get("template") if action in graph else None
        return await guarded_reply(agent, dialog.turns, [], may_say=template, prefix_speakers=len(self.agents) > 2,
                                   instruction=note)

    async def _ask(self, agent: Agent, heard: Sequence[Turn], options: list[str], result: str,
                   shares: dict[str, float] | None = None) -> Reply:
        """Ask the policy agent for its action alone, offering ``options`` (its words come from `_say`)."""
        enforce = self.policy.enforce
        note = action_note(self.tracker.graph, options, enforce, result, agent.other_names,
                           shares if len(options) > 1 else None)
        schema = action_schema(options if enforce else None, agent.model.options.max_tokens)
        return await agent.reply(heard, instruction=note, schema=schema)

    def _choice(self, reply: Reply, options: list[str]) -> Choice:
        """The action of ``reply``, or the first option if it has no usable one."""
        action = str(reply.data.get("action", "")).strip() if reply.data else ""
        if action and (action in options or not self.policy.enforce):
            return Choice(action, False)
        if reply.data is not None and not isinstance(reply.data.get("action"), str):
            # Whole JSON without an action: the backend ignores the schema it is sent, and every turn would fall
            # back. That is a failure, as the docs say; cut-off JSON (no data) and an illegal action (a model held
            # to no enum) still fall back, recorded as `fallback`.
            raise StructuredOutputError(f"{self.policy.agent}'s model answered {reply.raw[:120]!r}, which is not of "
                                        f"the action schema it was sent (an 'action' among {', '.join(options)}): "
                                        "the backend ignores constrained output. Use a server that supports "
                                        "response_format/format, or a model that follows JSON schemas.", reply.raw)
        logger.info("%s gave no usable action (%r); falling back to %s", self.policy.agent, action, options[0])
        return Choice(options[0], True)

    def _words(self, action: str, said: Reply) -> tuple[str, bool]:
        """What the agent says for ``action``: its words, or the action's template when they are unusable."""
        if said.text.strip() and is_complete(said.text):
            return said.text, False
        graph = graph_of(self.tracker, action)
        template = graph.nodes[action].get("template", "") if action in graph else ""
        if not template and said.text.strip():
            return said.text, False  # nothing better to say; the guard's record shows the problem
        logger.info("%s said no usable words for %s (%r); saying its template", self.policy.agent, action, said.text)
        return template or action.replace("_", " "), True

    def _resolve_answer(self, dialog: Dialog) -> None:
        """Follow the yes or no branch the other agent's last turn gave, if a question waits for one."""
        if not self.tracker.pending(NodeKind.ANSWER) or not dialog.turns:
            return
        last = dialog.turns[-1]
        answer = last.metadata.get("answer") or answer_of(last.text)
        if answer:
            self.tracker.resolve_when(NodeKind.ANSWER, answer)

    async def _run_tool(self, agent: Agent, dialog: Dialog, action: str) -> QueryResult:
        """Take the query ``action`` through the environment; record the call and resolve its outcome."""
        step = self.tracker.advance(action)
        call = await self.environment.call(step.task, action, agent.model, dialog.turns)
        if call.extraction_error is not None:
            dialog.events.append(Event(type="retry", turn=len(dialog.turns), data={"error": call.extraction_error}))
        result = self._steered_result(call.result, len(dialog.turns))
        dialog.events.append(Event(type="query", turn=len(dialog.turns), data={
            "task": step.task, "action": action, "legal": step.legal, "arguments": result.arguments,
            "items": result.items, "total": result.total, "found": result.found, "error": result.error,
            **({"steered": True} if result is not call.result else {}),  # coverage-driven (policy._steering)
        }))
        self.tracker.resolve_when(NodeKind.OUTCOME, "found" if result.found else "empty")
        return result

    def _steered_result(self, result: QueryResult, turns: int) -> QueryResult:
        """The tool's result, found nothing when the steering's plan wants the empty outcome (a failed booking)."""
        wanted = self.steer.outcome(self.tracker, self.user.state, turns) if self.steer else None
        if self.steer is None or wanted is None or wanted == ("found" if result.found else "empty"):
            return result
        if wanted == "empty":
            result = QueryResult(api=result.api, arguments=result.arguments, error="nothing matches")
        self.steer.note_outcome(turns, wanted, applied=wanted == "empty")  # an empty result is not made found
        return result

    def _record_action(self, dialog: Dialog, agent: Agent, choice: Choice, replies: Sequence[Reply],
                       started: float) -> Turn:
        """Advance the tracker by the chosen action (noting a task switch) and record the turn."""
        previous_task, origin = self.tracker.task, self.tracker.origin()
        refused = origin is not None and self.tracker.graph.nodes[origin].get("when") == "empty"
        step = self.tracker.advance(choice.action)
        self._count_goals()
        self.user.state.refusals += refused and not self.user.state.served
        if step.task != previous_task:
            dialog.events.append(Event(type="select_task", turn=len(dialog.turns), data={"task": step.task}))
        said = replies[-1]
        text, words_fallback = self._words(choice.action, said)
        if words_fallback:
            agent.remember(text)
        turn = Turn(speaker=agent.name, text=text, action=choice.action, metadata={
            "end": self.tracker.at_terminal() or said.end,
            "legal": step.legal, "task": step.task, "allowed": step.allowed,
            **({"fallback": True} if choice.fallback else {}),
            **({"words_fallback": True} if words_fallback else {}),
            **said.metadata,
        })
        return self._record(dialog, agent, turn, replies, started)

    def _count_goals(self) -> None:
        """Update the user's goals and served flag; a goal reached with rounds left starts a new round."""
        if self.user.served_rounds(self.tracker.goal_arrivals(), self.tracker.served(self.user.rounds)):
            self.round_start = len(self.tracker.steps)

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
            "prior": self.policy.prior.mode if self.policy.enforce else "none",
        }
        if self.steer is not None:
            dialog.metadata["coverage_target"] = self.steer.report(dialog, self.policy.graphs)
        user = self.user.record()
        if user is not None:
            dialog.metadata["user"] = user
