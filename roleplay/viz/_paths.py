"""The path a dialogue took on a policy graph, as the tracker judged it, and how often dialogues visited each part.

Pictures and the report draw what `roleplay.policy.tracker` decides, so a step drawn red is exactly a
step `roleplay evaluate` counts as a violation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import networkx as nx

from roleplay.dialog import Dialog
from roleplay.policy.graph import is_system
from roleplay.policy.tracker import FlowchartTracker, TrackerStep, replay

__all__ = ["Visits", "dialog_steps", "graph_steps", "judged_steps", "step_edges", "visits"]

PathLike = Dialog | Sequence[str] | Sequence[TrackerStep] | None


def dialog_steps(graphs: Mapping[str, nx.DiGraph], dialog: Dialog) -> list[TrackerStep]:
    """Every system action of ``dialog`` replayed on ``graphs`` (task -> graph), legal or not."""
    tracker = FlowchartTracker(dict(graphs))
    for _ in replay(tracker, dialog):
        pass
    return tracker.steps


def judged_steps(graph: nx.DiGraph, path: PathLike) -> list[TrackerStep]:
    """Every step of ``path`` judged on ``graph``, actions the graph does not have included (always illegal).

    ``path`` is a `Dialog` (replayed, so answers and query results pick the branch), a list of action
    names (judged in order, every branch open), or steps a tracker already made.
    """
    task = graph.graph.get("name") or "task"
    if path is None:
        return []
    if isinstance(path, Dialog):
        return dialog_steps({task: graph}, path)
    if all(isinstance(step, TrackerStep) for step in path):
        return list(path)  # type: ignore[arg-type]
    tracker = FlowchartTracker({task: graph})
    return [tracker.advance(str(action)) for action in path]


def graph_steps(graph: nx.DiGraph, path: PathLike) -> list[TrackerStep]:
    """The steps of ``path`` that a picture of ``graph`` can draw: those whose action is one of its nodes."""
    return [step for step in judged_steps(graph, path) if step.action in graph]


def step_edges(graph: nx.DiGraph, previous: str, action: str) -> list[tuple[str, str]]:
    """The graph edges a move from ``previous`` to ``action`` went along (through an outcome or answer node).

    Empty when the graph has no such route: an illegal jump, or a move to or back from an anywhere-action.
    """
    if graph.has_edge(previous, action):
        return [(previous, action)]
    for branch in graph.successors(previous):
        if not is_system(graph, branch) and graph.has_edge(branch, action):
            return [(previous, branch), (branch, action)]
    return []


@dataclass
class Visits:
    """How many times a set of dialogues went through each node and edge, and where they broke the policy."""

    nodes: Counter[str] = field(default_factory=Counter)
    edges: Counter[tuple[str, str]] = field(default_factory=Counter)
    violations: Counter[str] = field(default_factory=Counter)
    dialogs: int = 0


def visits(graph: nx.DiGraph, paths: Iterable[PathLike]) -> Visits:
    """Count node visits, edges taken and illegal steps over ``paths`` (dialogues, action lists or steps).

    An illegal step is counted at the node it went to, or, for an action the graph does not have (free
    text in prompt-only mode), at the node the dialogue left the graph from.
    """
    counts = Visits()
    for path in paths:
        counts.dialogs += 1
        previous: str | None = None
        for step in judged_steps(graph, path):
            if step.action not in graph:
                counts.violations[previous or graph.graph.get("start")] += 1
                continue
            counts.nodes[step.action] += 1
            if not step.legal:
                counts.violations[step.action] += 1
            for edge in (step_edges(graph, previous, step.action) if previous else []):
                counts.edges[edge] += 1
                if edge[1] != step.action:
                    counts.nodes[edge[1]] += 1
            previous = step.action
    return counts
