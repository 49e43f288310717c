"""Steering one dialogue towards policy edges no dialogue has taken yet (coverage-driven generation).

A `Steering` is given a task and target edges (the first is *the* target, chosen by
`roleplay.runs.cover`; the others, still uncovered, are chased after it while turns are left). At each
decision the simulation legitimately controls it plans, on a `PlanModel` of the orchestrator's own rules,
the fewest moves that take a target and then end the dialogue served (or, when the target rules that
out, only take it), and follows the plan's first move:

- the system's action, where the prior would choose: the planned action is offered alone, as the
  ``sample`` prior offers its draw (the enum still holds only legal actions; the tracker judges it);
- the tool's result: a query the plan wants to find nothing answers nothing (a failed booking);
- the user's yes/no to the system's question, and an out-of-scope question from the user on the turn
  before the system's planned out-of-scope answer;
- the user's behaviour: a goal-aware user drawn to leave before being served stays (`Steering.start`).

When the dialogue leaves the plan (the model's words, the user's own behaviours), it plans again from
where it is. Once no target is left in reach, it plans the fewest turns to end the dialogue served, so
the chase does not leave it short of turns; with no such plan either, the prior decides as usual.
Nothing is forced past the graph: whether the target was reached is read from the finished dialogue
(`roleplay.policy.edges.dialog_edges`) and recorded with every override in ``metadata["coverage_target"]``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import networkx as nx

from roleplay.dialog import Dialog
from roleplay.policy.config import Policy
from roleplay.policy.edges import Edge, dialog_edges
from roleplay.policy.graph import NodeKind
from roleplay.policy.planning import TURN_LIMIT, Move, PlanModel, PlanState, PlanStep
from roleplay.policy.tracker import FlowchartTracker
from roleplay.policy.user import UserState

__all__ = ["PlanCache", "Steering", "graph_key", "plan_model"]

PlanCache = dict[tuple[str, bool, int, int, int | None, bool], PlanModel]
"""Plan models by (`graph_key`, policy settings): a run's dialogues share their searches' memo."""


def graph_key(graph: nx.DiGraph) -> str:
    """A fingerprint of ``graph``'s name, nodes and edges with their attributes (equal graphs, equal keys)."""
    nodes = sorted((str(n), sorted(map(str, d.items()))) for n, d in graph.nodes(data=True))
    edges = sorted((str(u), str(v), sorted(map(str, d.items()))) for u, v, d in graph.edges(data=True))
    return hashlib.sha256(repr((graph.graph.get("name"), nodes, edges)).encode()).hexdigest()


def plan_model(graph: nx.DiGraph, policy: Policy | None = None, cache: PlanCache | None = None) -> PlanModel:
    """The `PlanModel` of ``graph`` under ``policy``'s settings (default: a goal-aware user served once)."""
    goal = policy.user_goal if policy is not None else None
    key = (graph_key(graph), policy is None or goal is not None, goal.rounds if goal else 1,
           (goal.patience if goal.happy else 1) if goal else 2,
           policy.max_repeats if policy is not None else 2, policy.end_after_goal if policy is not None else True)
    if cache is not None and key in cache:
        return cache[key]
    model = PlanModel(graph, goal_user=key[1], rounds=key[2], patience=key[3], max_repeats=key[4],
                      end_after_goal=key[5])
    if cache is not None:
        cache[key] = model
    return model


class Steering:
    """Steers one dialogue of one task towards ``targets`` (see the module); ``max_turns``: the dialogue's cap."""

    def __init__(self, task: str, targets: Sequence[Edge], kind: str = "edges", max_turns: int | None = None,
                 cache: PlanCache | None = None):
        if not targets:
            raise ValueError("A steering needs at least one target edge.")
        self.task, self.kind, self.max_turns, self.cache = task, kind, max_turns, cache
        self.target: Edge = tuple(targets[0])  # type: ignore[assignment]
        self.targets: list[Edge] = [tuple(t) for t in targets]  # type: ignore[misc]
        self.pending = list(self.targets)
        self.model: PlanModel | None = None
        self.plan: list[PlanStep] = []
        self.completable: bool | None = None
        self.log: list[dict[str, Any]] = []

    def start(self, policy: Policy) -> Policy:
        """Bind to the dialogue's policy (its graph of ``task``, its settings); the policy this dialogue runs.

        A goal-aware user who planned to leave before being served (``ends_early``) stays this time: the
        user's behaviour is the simulation's to choose, and leaving would end the dialogue short of its
        target (recorded in the log).
        """
        graph = policy.graphs.get(self.task)
        self.model = plan_model(graph, policy, self.cache) if graph is not None and policy.enforce else None
        self.plan, self.log, self.pending, self.completable = [], [], list(self.targets), None
        goal = policy.user_goal
        if self.model is None or goal is None or not goal.wants("ends_early"):
            return policy
        self._note(0, "dropped_behaviour", "ends_early")
        kept = [b for b in goal.behaviours if b.kind != "ends_early"]
        return policy.model_copy(update={"user_goal": goal.model_copy(update={"behaviours": kept})})

    def action(self, tracker: FlowchartTracker, user: UserState, may_query: bool, options: Sequence[str],
               turns: int) -> str | None:
        """The action to offer alone, if the plan has one among ``options``."""
        move = self._move(tracker, user, "system" if may_query else "after_query", turns)
        if move is None or move.value not in options:
            return None
        self._note(turns, "action", move.value)
        return move.value

    def outcome(self, tracker: FlowchartTracker, user: UserState, turns: int) -> str | None:
        """The outcome the plan wants from the query just taken: ``found``, ``empty``, or None (no preference)."""
        move = self._move(tracker, user, "outcome", turns)
        if move is None or move.value is None:
            return None
        return str(tracker.graph.nodes[move.value].get("when") or "") or None

    def user_turn(self, tracker: FlowchartTracker, user: UserState, turns: int) -> tuple[str | None, bool]:
        """For the user's turn: the yes/no the plan wants (None: either), and whether to ask out of scope."""
        move = self._move(tracker, user, "user", turns)
        if move is None:
            return None, False
        answer = tracker.graph.nodes[move.value].get("when") if move.kind == "answer" and move.value else None
        following = self.plan[0].move if self.plan else None
        detour = following is not None and following.kind == "act" and following.value is not None and bool(
            tracker.graph.nodes[following.value].get("anywhere"))
        if answer:
            self._note(turns, "answer", answer)
        if detour and following is not None:
            self._note(turns, "out_of_scope", following.value)
        return answer, detour

    def note_outcome(self, turns: int, wanted: str, applied: bool) -> None:
        """Record the outcome the plan wanted, and whether the tool's result was changed to it."""
        self._note(turns, "outcome", wanted, applied=applied)

    def report(self, dialog: Dialog, graphs: Mapping[str, nx.DiGraph]) -> dict[str, Any]:
        """What ``metadata["coverage_target"]`` records: the target, whether the dialogue took it, the overrides."""
        taken = set(dialog_edges(dialog, graphs).get(self.task, {}).get("edges", [])) if self.task in graphs \
            else set()
        return {"kind": self.kind, "task": self.task, "edge": list(self.target), "reached": self.target in taken,
                "completable": self.completable,
                "also_covered": sorted(f"{u} -> {v}" for u, v in set(self.targets[1:]) & taken),
                "steered": self.log}

    def _move(self, tracker: FlowchartTracker, user: UserState, phase: str, turns: int) -> Move | None:
        """The plan's move from where the dialogue is (planned again when it left the plan)."""
        if self.model is None or tracker.task != self.task:
            return None
        state = self._state(tracker, user, phase)
        if not self.plan or self.plan[0].state != state:
            self.plan = self._replan(state, turns)
        if not self.plan or self.plan[0].state != state:
            return None
        step = self.plan.pop(0)
        if any(t in step.edges for t in self.pending):  # taken (as planned): plan afresh for the next target
            self.pending = [t for t in self.pending if t not in step.edges]
            self.plan = []
        return step.move

    def _replan(self, state: PlanState, turns: int) -> list[PlanStep]:
        """Plan to the target (once taken, to the nearest other target), ending served if it can.

        With no target left in reach, the plan ends the dialogue served in the turns left ([] if it cannot).
        """
        assert self.model is not None
        left = (self.max_turns - turns) if self.max_turns is not None else TURN_LIMIT
        while self.pending:
            chasing = self.target in self.pending
            targets = {self.target} if chasing else set(self.pending)
            plan = self.model.plan(state, targets, finish=True, turns=left)
            if chasing and self.completable is None:
                self.completable = plan is not None  # the first plan says whether the target lets it end served
            if plan is None and chasing:
                plan = self.model.plan(state, targets, finish=False, turns=left)
            if plan is not None:
                return plan
            self.pending = [t for t in self.pending if t not in targets]  # out of reach from here
        return self.model.plan(state, (), finish=True, turns=left) or []

    def _state(self, tracker: FlowchartTracker, user: UserState, phase: str) -> PlanState:
        """The `PlanState` of a running dialogue (see `PlanModel` for what each field counts)."""
        assert self.model is not None
        task, graph = self.task, tracker.graphs[self.task]
        said = [s.action for s in tracker.steps if s.task == task and s.action in graph
                and graph.nodes[s.action].get("kind") != NodeKind.QUERY.value]
        times = next((i for i, a in enumerate(reversed(said)) if a != said[-1]), len(said)) if said else 0
        return PlanState(phase=phase, position=tracker.position[task], resolution=tracker.resolution[task],
                         detour=tracker.before_detour(task), last_said=said[-1] if said else None,
                         said_times=min(times, 2), goals=min(tracker.goal_arrivals(), self.model.rounds),
                         closings=min(user.closing_turns, 2), refusals=min(user.refusals, self.model.patience))

    def _note(self, turns: int, what: str, value: str | None, **more: Any) -> None:
        self.log.append({"turn": turns, what: value, **more})

