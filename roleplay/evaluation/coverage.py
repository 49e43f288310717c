"""Policy coverage of a run folder: which nodes, edges and branches of its policy graph(s) the dialogues exercised.

Adherence (`roleplay.evaluation.adherence`) asks "was each step legal?"; coverage asks "did the data exercise
the whole policy?". Each dialogue's system actions are replayed through a `FlowchartTracker` (`replay`, the
same reading of a saved dialogue that adherence and the report use), and every legal step credits the
graph edges it went along, by the rule of `roleplay.policy.edges` (shared with coverage-driven generation):
through a resolved branch, the one route through an unresolved one (several: ``ambiguous``, none
credited), anywhere-actions as actions and the edge out of them when the graph draws one.

*Reachable* follows the graph's own constraints (`roleplay.policy.edges.reachable`): from the start,
along edges, never out of a terminal action, anywhere-actions from any non-terminal system node. It does
not know a scenario's data: a branch the data rule out (a query that always finds something) still counts.

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
from roleplay.policy.edges import Edge, dialog_edges, reachable
from roleplay.policy.graph import NodeKind, anywhere_actions, node_kind
from roleplay.runs.folder import RunFolder

__all__ = ["CoverageCounts", "TaskCoverage", "coverage_of", "coverage_rows", "dialog_edges", "folder_coverage",
           "reachable", "task_coverage", "uncovered_rows"]


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
