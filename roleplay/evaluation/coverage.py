"""Policy coverage of a run folder: which nodes, edges and branches of its policy graph(s) the dialogues exercised.

Adherence (`roleplay.evaluation.adherence`) asks "was each step legal?"; coverage asks "did the data exercise
the whole policy?". Each dialogue's system actions are replayed through a `FlowchartTracker` (`replay`, the
same reading of a saved dialogue that adherence and the report use), and every legal step credits the
graph edges it went along:

- a step after a resolved outcome or answer (the query found nothing, the user said no) credits the
  edge into that branch and the edge out of it;
- a step through an unresolved branch credits the one route through a branch to the action; when
  several branches lead there it cannot tell which was taken, and credits none of them (counted as
  ``ambiguous``; the picture's `roleplay.viz.paths.step_edges` draws the first instead);
- an anywhere-action (``out_of_scope``) credits the action, not an edge (the graph draws none), and the
  step back from it is judged from where the dialogue was before the detour;
- a branch resolved at the very end (the dialogue stopped after the query) credits the edge into it.

Illegal steps credit nothing. *Reachable* follows the graph's own constraints: from the start (and the
actions real dialogues opened with), along edges, never out of a terminal action (a goodbye ends the
dialogue), and anywhere-actions from any non-terminal system node. It does not know a scenario's data:
a branch the data rule out (a query that always finds something) still counts as reachable.

Numbers per task: ``nodes``, ``edges``, ``outcome_branches`` and ``answer_branches`` (the edges into
outcome/answer nodes) and ``anywhere`` (anywhere-actions taken), each as covered / reachable, plus the
uncovered reachable edges and the edges nothing can reach.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import networkx as nx
from pydantic import BaseModel, Field

from roleplay.dialog import Dialog
from roleplay.policy.graph import NodeKind, anywhere_actions, is_system, is_terminal, legal_actions, node_kind
from roleplay.policy.tracker import FlowchartTracker, replay
from roleplay.runs.folder import RunFolder

__all__ = ["CoverageCounts", "TaskCoverage", "coverage_of", "coverage_rows", "dialog_edges", "folder_coverage",
           "reachable", "task_coverage", "uncovered_rows"]

Edge = tuple[str, str]


class CoverageCounts(BaseModel):
    """How much of one kind of thing was covered, of what is reachable (and of what exists)."""

    covered: int
    reachable: int
    total: int

    @property
    def rate(self) -> float | None:
        """The share covered: covered / reachable (None: nothing is reachable)."""
        return round(self.covered / self.reachable, 4) if self.reachable else None


class TaskCoverage(BaseModel):
    """Coverage of one task's policy graph by a set of dialogues."""

    task: str
    dialogs: int = Field(description="Dialogues that followed this graph.")
    nodes: CoverageCounts
    edges: CoverageCounts
    outcome_branches: CoverageCounts
    answer_branches: CoverageCounts
    anywhere: CoverageCounts
    illegal_steps: int = Field(description="Steps that were not legal (they credit nothing).")
    ambiguous_steps: int = Field(description="Legal steps through an unresolved branch the tracker could not pick.")
    edge_visits: dict[str, int] = Field(description="'from -> to': how many times dialogues took each edge.")
    uncovered_edges: list[dict[str, Any]] = Field(description="Reachable edges no dialogue took (from, to, source).")
    unreachable_edges: list[dict[str, Any]] = Field(description="Edges no dialogue can take under the graph.")
    uncovered_nodes: list[str]


def reachable(graph: nx.DiGraph) -> tuple[set[str], set[Edge]]:
    """Nodes and edges a dialogue can reach from the start under the graph's own constraints (see the module doc)."""
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


def dialog_edges(dialog: Dialog, graphs: Mapping[str, nx.DiGraph]) -> dict[str, dict[str, Any]]:
    """Per task: the nodes visited, edges taken (with repeats), anywhere-actions taken, and illegal/ambiguous steps."""
    tracker = FlowchartTracker(dict(graphs))
    found: dict[str, dict[str, Any]] = {t: {"nodes": set(), "edges": [], "illegal": 0, "ambiguous": 0}
                                        for t in graphs}
    before_detour: dict[str, str | None] = {}  # task -> the action before the current anywhere-action
    last: dict[str, str | None] = {}
    for step, origin, _ in replay(tracker, dialog):
        graph, seen = graphs[step.task], found[step.task]
        previous = last.get(step.task)
        last[step.task] = step.action
        if not step.legal or step.action not in graph:
            seen["illegal"] += 1
            continue
        seen["nodes"].add(step.action)
        if graph.nodes[step.action].get("anywhere"):
            if previous is None or not graph.nodes[previous].get("anywhere"):
                before_detour[step.task] = previous
            continue
        if previous is not None and graph.nodes[previous].get("anywhere"):
            previous, origin = before_detour.get(step.task), before_detour.get(step.task)
        if previous is None:
            continue
        taken = _edges_of(graph, previous, origin, step.action)
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


def _edges_of(graph: nx.DiGraph, previous: str, origin: str | None, action: str) -> list[Edge] | None:
    """The edges a legal move from ``previous`` (resolved to ``origin``) to ``action`` took; None: ambiguous."""
    if origin is not None and origin != previous and graph.has_edge(previous, origin) \
            and graph.has_edge(origin, action):
        return [(previous, origin), (origin, action)]
    if graph.has_edge(previous, action):
        return [(previous, action)]
    routes = [b for b in graph.successors(previous) if not is_system(graph, b) and graph.has_edge(b, action)]
    if len(routes) == 1:
        return [(previous, routes[0]), (routes[0], action)]
    return None if routes else []


def task_coverage(task: str, graph: nx.DiGraph, visits: Iterable[Mapping[str, Any]]) -> TaskCoverage:
    """Coverage of ``graph`` by the per-dialogue results of `dialog_edges` for ``task``."""
    nodes_seen: set[str] = set()
    edge_visits: Counter[Edge] = Counter()
    dialogs = illegal = ambiguous = 0
    for visit in visits:
        dialogs += 1
        nodes_seen |= visit["nodes"]
        edge_visits.update(visit["edges"])
        illegal += visit["illegal"]
        ambiguous += visit["ambiguous"]
    reach_nodes, reach_edges = reachable(graph)
    anywhere = set(anywhere_actions(graph))

    def counts(items: Iterable[Any], reach: set[Any], covered: set[Any]) -> CoverageCounts:
        items = set(items)
        return CoverageCounts(covered=len(covered & items & reach), reachable=len(items & reach), total=len(items))

    def branch_edges(kind: NodeKind) -> set[Edge]:
        return {(u, v) for u, v in graph.edges if node_kind(graph, v) == kind}

    covered_edges = set(edge_visits)
    return TaskCoverage(
        task=task, dialogs=dialogs,
        nodes=counts(graph.nodes, reach_nodes, nodes_seen),
        edges=counts(graph.edges, reach_edges, covered_edges),
        outcome_branches=counts(branch_edges(NodeKind.OUTCOME), reach_edges, covered_edges),
        answer_branches=counts(branch_edges(NodeKind.ANSWER), reach_edges, covered_edges),
        anywhere=counts(anywhere, reach_nodes, nodes_seen),
        illegal_steps=illegal, ambiguous_steps=ambiguous,
        edge_visits={f"{u} -> {v}": n for (u, v), n in sorted(edge_visits.items())},
        uncovered_edges=[_edge_row(graph, u, v) for u, v in sorted(reach_edges - covered_edges)],
        unreachable_edges=[_edge_row(graph, u, v) for u, v in sorted(set(graph.edges) - reach_edges)],
        uncovered_nodes=sorted(reach_nodes - nodes_seen),
    )


def _edge_row(graph: nx.DiGraph, u: str, v: str) -> dict[str, Any]:
    return {"from": u, "to": v, "source": graph.edges[u, v].get("source", "dot")}


def coverage_of(followed: Iterable[tuple[Dialog, Mapping[str, nx.DiGraph]]]) -> list[TaskCoverage]:
    """Coverage per task of dialogues, each with the graphs it followed (task -> graph; empty: skipped)."""
    graphs: dict[str, nx.DiGraph] = {}
    per_task: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for dialog, its_graphs in followed:
        if not its_graphs:
            continue
        graphs.update(its_graphs)
        for task, visit in dialog_edges(dialog, its_graphs).items():
            per_task[task].append(visit)
    return [task_coverage(task, graphs[task], per_task[task]) for task in sorted(per_task)]


def folder_coverage(folder: str | Path, graphs_for: Callable[[Dialog], Mapping[str, nx.DiGraph]]) -> list[TaskCoverage]:
    """Coverage per task of every dialogue in ``folder``; ``graphs_for`` gives a dialogue's graphs (task -> graph).

    A dialogue for which ``graphs_for`` returns no graph is skipped (it followed no policy).
    """
    return coverage_of((dialog, dict(graphs_for(dialog))) for dialog in RunFolder(folder).iter_dialogs())


def coverage_rows(report: Iterable[TaskCoverage]) -> list[dict[str, Any]]:
    """One summary row per task: dialogues, then ``covered/reachable`` and the rate for each measure."""
    rows = []
    for task in report:
        row: dict[str, Any] = {"task": task.task, "dialogs": task.dialogs}
        for name in ("nodes", "edges", "outcome_branches", "answer_branches", "anywhere"):
            counts: CoverageCounts = getattr(task, name)
            row[name] = f"{counts.covered}/{counts.reachable}"
            row[f"{name}_rate"] = counts.rate
        row["illegal_steps"] = task.illegal_steps
        rows.append(row)
    return rows


def uncovered_rows(report: Iterable[TaskCoverage], shown: int = 30) -> list[dict[str, Any]]:
    """One row per task for a report: edges covered/reachable, its rate, and the first ``shown`` edges never taken."""
    rows = []
    for task in report:
        edges = [f"{e['from']} → {e['to']}" for e in task.uncovered_edges]
        more = f" … and {len(edges) - shown} more" if len(edges) > shown else ""
        rows.append({"task": task.task, "dialogs": task.dialogs,
                     "edges": f"{task.edges.covered}/{task.edges.reachable}", "edge_coverage": task.edges.rate,
                     "branches": f"{task.outcome_branches.covered + task.answer_branches.covered}/"
                                 f"{task.outcome_branches.reachable + task.answer_branches.reachable}",
                     "never_taken": ", ".join(edges[:shown]) + more or "none"})
    return rows
