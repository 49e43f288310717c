"""Which actions the policy agent is offered this turn: the tracker's legal set, narrowed by progress rules.

Two rules keep an enforced agent moving (never narrowing the set to nothing): an action repeated
``max_repeats`` times in a row is not offered again (anywhere-actions: once), and goodbyes wait until a
goal is reached (``end_after_goal``) and, with a goal-aware user, until it has said its closing turn
(and once it has closed twice, only goodbyes are offered).
A second query in the same turn is not offered either.
"""

from __future__ import annotations

from collections.abc import Callable

import networkx as nx

from roleplay.policy.config import Policy
from roleplay.policy.graph import NodeKind, is_terminal, node_kind
from roleplay.policy.tracker import FlowchartTracker

__all__ = ["graph_of", "is_query", "offered_actions"]


def offered_actions(tracker: FlowchartTracker, policy: Policy, goal_reached: bool, allow_query: bool = True,
                    user_closed: bool = True, must_end: bool = False) -> list[str]:
    """Legal actions on the current task, then (multi-task) those that switch task, narrowed by the rules.

    ``user_closed`` False (a goal-aware user has not said its closing turn yet) holds goodbyes back too;
    ``must_end`` (it has closed twice) offers only the goodbyes, if any is legal. ``goal_reached``: the
    orchestrator's verdict (every round the user wants served) lets goodbyes through with ``end_after_goal``.
    """
    options = tracker.legal_actions()
    for task in tracker.graphs:
        if task != tracker.task:
            options += [a for a in tracker.legal_actions(task) if a not in options]
    if not allow_query:
        options = _keep(options, lambda a: not is_query(graph_of(tracker, a), a))
    if policy.max_repeats is not None:
        options = _keep(options, lambda a: not _repeated_too_often(tracker, a, policy.max_repeats or 0))
    goodbyes = [a for a in options if is_terminal(graph_of(tracker, a), a)]
    if must_end and goodbyes:
        return goodbyes
    if (policy.end_after_goal and not goal_reached) or not user_closed:
        options = _keep(options, lambda a: a not in goodbyes)
    return options


def graph_of(tracker: FlowchartTracker, action: str) -> nx.DiGraph:
    """The graph of the task ``action`` belongs to (the current task's if none has it)."""
    return tracker.graphs[tracker.owner(action) or tracker.task]


def is_query(graph: nx.DiGraph, action: str) -> bool:
    """True when ``action`` is a query node of ``graph`` (the agent calls a tool)."""
    return action in graph and node_kind(graph, action) == NodeKind.QUERY


def _repeated_too_often(tracker: FlowchartTracker, action: str, limit: int) -> bool:
    """True when the last ``limit`` spoken actions were all ``action`` (limit 1 for anywhere-actions)."""
    if graph_of(tracker, action).nodes[action].get("anywhere"):
        limit = 1
    spoken = [s.action for s in tracker.steps if not is_query(graph_of(tracker, s.action), s.action)]
    return len(spoken) >= limit and all(a == action for a in spoken[-limit:])


def _keep(options: list[str], allowed: Callable[[str], bool]) -> list[str]:
    """The options ``allowed`` keeps, or all of them if it keeps none (the agent must be able to act)."""
    kept = [a for a in options if allowed(a)]
    return kept or options
