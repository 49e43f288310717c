"""A small model of what an enforced `PolicyOrchestrator` allows, searched for a way to a policy edge.

Coverage-driven generation (`roleplay.policy._steering`) needs to know how a dialogue can come to take an
edge no dialogue took yet, and whether it can at all. `PlanModel` replays the orchestrator's own rules
on one task's graph, abstractly: the tracker's legal actions (`legal_actions`, detours back from an
anywhere-action), the progress rules of `roleplay.policy._options` (no action a third time in a row, an
anywhere-action not twice; at most one query a turn; goodbyes only once the goal is reached and the
goal-aware user has said its closing turn, and only goodbyes once it has closed twice; the plan opens
with the graph's start action, as the flowchart draws it, though the tracker would let a dialogue skip
it), goal arrivals
and refusals as `UserState` counts them (its closing turn follows once served or refused ``patience``
times), and the user's clear yes/no resolving a question's ``yes``/``no`` branch (other answer branches
stay unresolved). A `PlanState` is where a dialogue is between two decisions; a `Move` is a decision the
simulation may take there: the system's action, the tool's outcome branch, the user's yes/no.
Each move credits the edges `roleplay.policy.edges.step_edges` credits, so what the model can reach is
what `roleplay coverage` can count.

`PlanModel.plan` is a breadth-first search for the fewest moves that take one of the target edges (and,
with ``finish``, then end the dialogue served); `PlanModel.coverable` is every edge some run can take:
the edges reachable *under the scenario's constraints*, the denominator coverage-driven generation aims at.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import networkx as nx

from roleplay.policy.edges import Edge, step_edges
from roleplay.policy.graph import NodeKind, branches, is_terminal, legal_actions, node_kind

__all__ = ["Move", "PlanModel", "PlanState", "PlanStep"]

TURN_LIMIT = 200
"""Dialogue turns a plan may use when the run sets no max_turns."""
CLEAR_ANSWERS = ("yes", "no")
"""The answers a user's clear JSON answer resolves (`roleplay.policy._turns.AnswerRequest`); other answer branches
(a trivia answer's ``correct``) stay unresolved, so only a step with one route through them credits them."""


@dataclass(frozen=True)
class PlanState:
    """Where a dialogue is on one task between two decisions (``phase``: whose decision comes next)."""

    phase: str = "system"  # system | outcome (of the query just taken) | after_query | user
    position: str | None = None
    resolution: str | None = None
    detour: str | None = None  # where the dialogue was before its current anywhere-action
    last_said: str | None = None  # the last action said (queries are not said)
    said_times: int = 0  # how many times in a row it was said (at most 2 counted)
    goals: int = 0  # goal arrivals, at most the user's rounds
    closings: int = 0  # the user's closing turns, at most 2 counted
    refusals: int = 0  # times the system said it could not (after an empty outcome), at most patience
    ended: bool = False


@dataclass(frozen=True)
class Move:
    """A decision the simulation takes: the system's action, the tool's outcome, the user's yes/no.

    ``kind``: ``act``, ``branch``, ``answer``, or ``user`` (the user speaks; nothing to decide).
    """

    kind: str
    value: str | None = None


@dataclass(frozen=True)
class PlanStep:
    """One move of a plan, the state it is taken from, and the edges it credits."""

    move: Move
    state: PlanState
    edges: tuple[Edge, ...]


class PlanModel:
    """The orchestrator's rules on one task's ``graph`` for a run's policy settings (see the module)."""

    def __init__(self, graph: nx.DiGraph, *, goal_user: bool = True, rounds: int = 1, patience: int = 2,
                 max_repeats: int | None = 2, end_after_goal: bool = True):
        self.graph = graph
        self.goal_user, self.rounds, self.patience = goal_user, rounds, patience
        self.max_repeats, self.end_after_goal = max_repeats, end_after_goal
        self._legal = cache(self._legal_uncached)
        self._terminal = frozenset(n for n in graph if node_kind(graph, n) != NodeKind.OUTCOME
                                   and node_kind(graph, n) != NodeKind.ANSWER and is_terminal(graph, n))
        self.moves = cache(self._moves)  # type: ignore[method-assign]  # a state's moves never change

    def served(self, state: PlanState) -> bool:
        """Whether the user's request is served (a goal reached once per round)."""
        return state.goals >= self.rounds

    def moves(self, state: PlanState) -> list[tuple[Move, PlanState, tuple[Edge, ...]]]:
        """Every decision possible at ``state``: the move, the state it leads to, the edges it credits."""
        return self._moves(state)

    def _moves(self, state: PlanState) -> list[tuple[Move, PlanState, tuple[Edge, ...]]]:
        if state.ended:
            return []
        if state.phase == "outcome":
            assert state.position is not None, "an outcome follows a query"
            outcomes = branches(self.graph, state.position, NodeKind.OUTCOME)
            return [(Move("branch", b), replace(state, phase="after_query", resolution=b), ()) for b in outcomes] \
                or [(Move("branch"), replace(state, phase="after_query"), ())]
        if state.phase == "user":
            return self._user_moves(state)
        may_query = state.phase == "system"
        found = []
        for action in self.offered(state, may_query):
            edges = tuple(step_edges(self.graph, state.position, state.resolution or state.position, action,
                                     state.detour) or ())
            if may_query and self._is_query(action):
                after = replace(state, phase="outcome", position=action, resolution=None,
                                detour=self._detour(state, action))
                found.append((Move("act", action), after, edges))
            else:
                found.append((Move("act", action), self._said(state, action), edges))
        return found

    def offered(self, state: PlanState, may_query: bool) -> list[str]:
        """The actions the orchestrator offers at ``state`` (`roleplay.policy._options.offered_actions`)."""
        options = list(self._legal(state.position, state.resolution, state.detour))
        if state.position is None:  # a plan opens as the flowchart does (a greeting), not with a shortcut
            options = _keep(options, lambda a: a == self.graph.graph.get("start"))
        if not may_query:
            options = _keep(options, lambda a: not self._is_query(a))
        if self.max_repeats is not None:
            options = _keep(options, lambda a: not self._repeated(state, a))
        goodbyes = [a for a in options if a in self._terminal]
        if self.goal_user and state.closings > 1 and goodbyes:
            return goodbyes
        if (self.end_after_goal and not self.served(state)) or (self.goal_user and not state.closings):
            options = _keep(options, lambda a: a not in goodbyes)
        return options

    def plan(self, start: PlanState, targets: Collection[Edge], finish: bool, turns: int = TURN_LIMIT
             ) -> list[PlanStep] | None:
        """The fewest moves from ``start`` that take one of ``targets`` (with ``finish``: then end served).

        No ``targets``: the fewest moves to end served. None when no run of at most ``turns`` dialogue turns
        does. Ties go to the graph's own order of options.
        """
        first = (start, not targets)
        came: dict[tuple[PlanState, bool], tuple[tuple[PlanState, bool], PlanStep] | None] = {first: None}
        spent = {first: 0}
        queue = deque([first])
        while queue:
            key = queue.popleft()
            state, hit = key
            if hit and (not finish or (state.ended and self.served(state))):
                return _path(came, key)
            for move, after, edges in self.moves(state):
                onward = (after, hit or any(e in targets for e in edges))
                cost = spent[key] + (move.kind != "branch" and after.phase != "outcome")  # a query is no turn
                if onward not in came and cost <= turns:
                    came[onward], spent[onward] = (key, PlanStep(move, state, edges)), cost
                    queue.append(onward)
        return None

    def coverable(self) -> set[Edge]:
        """Every edge some run from the start can take: reachable under the scenario's constraints."""
        seen, edges = {PlanState()}, set[Edge]()
        queue = deque(seen)
        while queue:
            for _, after, credited in self.moves(queue.popleft()):
                edges.update(credited)
                if after not in seen:
                    seen.add(after)
                    queue.append(after)
        return edges

    def _user_moves(self, state: PlanState) -> list[tuple[Move, PlanState, tuple[Edge, ...]]]:
        """The user's turn: it closes once served or refused enough; it answers a pending yes/no either way."""
        closes = self.goal_user and (state.closings > 0 or self.served(state) or state.refusals >= self.patience)
        after = replace(state, phase="system", closings=min(state.closings + closes, 2))
        pending = branches(self.graph, state.position, NodeKind.ANSWER) \
            if state.position is not None and state.resolution is None else []
        clear = [b for b in pending if self.graph.nodes[b].get("when") in CLEAR_ANSWERS]
        moves: list[tuple[Move, PlanState, tuple[Edge, ...]]] = [
            (Move("answer", b), replace(after, resolution=b), ()) for b in clear]
        if {self.graph.nodes[b].get("when") for b in clear} != set(CLEAR_ANSWERS):  # some answer resolves nothing
            moves.append((Move("user"), after, ()))
        return moves

    def _said(self, state: PlanState, action: str) -> PlanState:
        """The state after the system says ``action`` (goals, refusals, repeats; a goodbye ends the dialogue)."""
        data = self.graph.nodes[action]
        previous_goal = state.position is not None and self.graph.nodes[state.position].get("goal") \
            and not branches(self.graph, state.position, NodeKind.ANSWER)
        goals = min(state.goals + bool(data.get("goal") and not previous_goal), self.rounds)
        origin = state.resolution or state.position
        refused = origin is not None and self.graph.nodes[origin].get("when") == "empty" and goals < self.rounds
        times = min(state.said_times + 1, 2) if action == state.last_said else 1
        return PlanState(phase="user", position=action, detour=self._detour(state, action), last_said=action,
                         said_times=times, goals=goals, closings=state.closings,
                         refusals=min(state.refusals + refused, self.patience),
                         ended=not data.get("anywhere") and action in self._terminal)

    def _detour(self, state: PlanState, action: str) -> str | None:
        anywhere = self.graph.nodes[action].get("anywhere")
        if anywhere and (state.position is None or not self.graph.nodes[state.position].get("anywhere")):
            return state.position
        return state.detour

    def _repeated(self, state: PlanState, action: str) -> bool:
        limit = 1 if self.graph.nodes[action].get("anywhere") else self.max_repeats or 0
        return action == state.last_said and state.said_times >= limit

    def _is_query(self, action: str) -> bool:
        return node_kind(self.graph, action) == NodeKind.QUERY

    def _legal_uncached(self, position: str | None, resolution: str | None, detour: str | None) -> tuple[str, ...]:
        """The tracker's legal actions (`FlowchartTracker.legal_actions`)."""
        actions = legal_actions(self.graph, position, resolution)
        if position is not None and self.graph.nodes[position].get("anywhere"):
            actions += [a for a in legal_actions(self.graph, detour) if a not in actions]
        return tuple(actions)


def _keep(options: list[str], allowed: Callable[[str], bool]) -> list[str]:
    """The options ``allowed`` keeps, or all of them if it keeps none (as `roleplay.policy._options` does)."""
    kept = [a for a in options if allowed(a)]
    return kept or options


def _path(came: dict[Any, Any], key: tuple[PlanState, bool]) -> list[PlanStep]:
    """The steps that led to ``key``, first first."""
    steps: list[PlanStep] = []
    while came[key] is not None:
        key, step = came[key]
        steps.append(step)
    return steps[::-1]
