"""Which policy-graph edges a dialogue went along, and which a dialogue can reach at all.

The reading of a saved dialogue that `roleplay.evaluation.coverage` counts and coverage-driven generation
(`roleplay.policy._steering`, `roleplay.runs.cover`) steers by, kept here so both layers share one rule.
Each legal step credits the edges it went along (`step_edges`):

- a step after a resolved outcome or answer (the query found nothing, the user said no) credits the
  edge into that branch and the edge out of it;
- a step through an unresolved branch credits the one route through a branch to the action; when
  several branches lead there it cannot tell which was taken, and credits none of them (``ambiguous``);
- an anywhere-action (``out_of_scope``) credits the action, not an edge (the graph draws none into it);
  the step after it credits the edge out of the anywhere-action when the graph has one (``out_of_scope ->
  query``), else it is judged from where the dialogue was before the detour;
- a branch resolved at the very end (the dialogue stopped after the query) credits the edge into it.

Illegal steps credit nothing. `reachable` is what the graph's own constraints let a dialogue reach.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import networkx as nx

from roleplay.dialog import Dialog
from roleplay.policy.graph import anywhere_actions, is_system, is_terminal, legal_actions
from roleplay.policy.tracker import FlowchartTracker, replay

__all__ = ["Edge", "dialog_edges", "reachable", "step_edges"]

Edge = tuple[str, str]


def reachable(graph: nx.DiGraph) -> tuple[set[str], set[Edge]]:
    """Nodes and edges a dialogue can reach from the start under the graph's own constraints.

    From the start (and the actions real dialogues opened with), along edges, never out of a terminal
    action (a goodbye ends the dialogue), and anywhere-actions from any non-terminal system node.
    """
    anywhere = anywhere_actions(graph)
    nodes = set(legal_actions(graph, None)) - set(anywhere)
    frontier = list(nodes)
    edges: set[Edge] = set()
    while frontier:
        node = frontier.pop()
        if is_system(graph, node) and is_terminal(graph, node):
            continue
        onward = list(graph.successors(node))
        if is_system(graph, node):
            nodes.update(anywhere)
            onward += [succ for a in anywhere for succ in graph.successors(a)]
            edges.update((a, succ) for a in anywhere for succ in graph.successors(a))
        edges.update((node, succ) for succ in graph.successors(node))
        for succ in onward:
            if succ not in nodes:
                nodes.add(succ)
                frontier.append(succ)
    return nodes, edges


def step_edges(graph: nx.DiGraph, previous: str | None, origin: str | None, action: str,
               before_detour: str | None) -> list[Edge] | None:
    """The edges a legal step from ``previous`` (resolved to ``origin``) to ``action`` went along; None: ambiguous.

    ``before_detour``: where the dialogue was before the anywhere-action ``previous`` (if it is one).
    """
    if graph.nodes[action].get("anywhere"):
        return []
    if previous is not None and graph.nodes[previous].get("anywhere"):
        if graph.has_edge(previous, action):
            return [(previous, action)]
        previous = origin = before_detour
    if previous is None:
        return []
    if origin is not None and origin != previous and graph.has_edge(previous, origin) \
            and graph.has_edge(origin, action):
        return [(previous, origin), (origin, action)]
    if graph.has_edge(previous, action):
        return [(previous, action)]
    routes = [b for b in graph.successors(previous) if not is_system(graph, b) and graph.has_edge(b, action)]
    if len(routes) == 1:
        return [(previous, routes[0]), (routes[0], action)]
    return None if routes else []


def dialog_edges(dialog: Dialog, graphs: Mapping[str, nx.DiGraph]) -> dict[str, dict[str, Any]]:
    """Per task: the nodes visited, edges taken (with repeats), and illegal/ambiguous steps (see the module)."""
    tracker = FlowchartTracker(dict(graphs))
    found: dict[str, dict[str, Any]] = {t: {"nodes": set(), "edges": [], "illegal": 0, "ambiguous": 0}
                                        for t in graphs}
    before_detour: dict[str, str | None] = {}  # task -> the action before the current anywhere-action
    last: dict[str, str | None] = {}
    for step, origin, _ in replay(tracker, dialog):
        graph, seen = graphs[step.task], found[step.task]
        previous = last.get(step.task)
        if previous not in graph:  # after an action off the graph (prompt-only), no edge leads on from it
            previous = None
        last[step.task] = step.action
        if not step.legal or step.action not in graph:
            seen["illegal"] += 1
            continue
        seen["nodes"].add(step.action)
        if graph.nodes[step.action].get("anywhere") and (previous is None
                                                        or not graph.nodes[previous].get("anywhere")):
            before_detour[step.task] = previous
        taken = step_edges(graph, previous, origin, step.action, before_detour.get(step.task))
        seen["ambiguous"] += taken is None
        for edge in taken or []:
            seen["edges"].append(edge)
            seen["nodes"].update(edge)
    for task, branch in tracker.resolution.items():  # resolved, then nothing more was done on the task
        position = tracker.position[task]
        if branch is not None and position is not None and graphs[task].has_edge(position, branch):
            found[task]["edges"].append((position, branch))
            found[task]["nodes"].add(branch)
    return found
