"""Dialogue-policy graphs: which system action may follow which, as a `networkx.DiGraph`.

A node is an action label; its attributes say what it is:

- ``kind``: ``action`` (the system says something), ``query`` (the system calls a tool), ``global``
  (greeting, goodbye, "anything else?", out of scope), ``outcome`` (a tool result: ``query_success``,
  ``available``...) or ``answer`` (what the user said to a question: ``yes``/``no``). The first three
  are *system* nodes, chosen by the agent; outcome and answer nodes are resolved from what happened.
- ``template``: the example reply for the action (guidance for the agent, not a script).
- ``when`` (outcome and answer nodes): the result it stands for, ``found``/``empty`` or ``yes``/``no``.
- ``goal``: reaching it completes the task. ``anywhere``: the action may be taken from any system
  node and the conversation then resumes where it was (``out_of_scope``). ``terminal``: the action
  ends the dialogue even if edges lead on (real wizards sometimes went on after a goodbye); an
  action nothing but itself or anywhere-actions can follow is terminal anyway.

Edges carry ``source`` (``dict``/``rule``/``mined``/``pooled``/``dot``) and ``count`` (how often real
dialogues took them, for mined edges). The graph's ``start`` attribute names the first action.
The same graphs are written to and read from DOT (`roleplay.policy.dot`, re-exported here), so users
can write their own policies (``scenarios/doctor_intake.dot``); `check_graph` validates them fully at
load time (start, kinds, edge counts) and warns about unreachable nodes and cycles that never reach a goal.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from enum import Enum
from pathlib import Path

import networkx as nx

from roleplay.errors import PolicyGraphError
from roleplay.policy.dot import edge_count, parse_dot, to_dot, write_dot  # to_dot, write_dot: re-exported

__all__ = ["SYSTEM_KINDS", "NodeKind", "PolicyGraphWarning", "add_action", "anywhere_actions", "branches",
           "check_graph", "describe", "goal_nodes", "goalless_cycles", "is_system", "is_terminal",
           "legal_actions", "mean_out_degree", "new_graph", "next_actions", "node_kind", "read_dot", "steps_to_goal",
           "to_dot", "write_dot"]


class NodeKind(str, Enum):
    """What a policy-graph node stands for."""

    ACTION = "action"
    QUERY = "query"
    GLOBAL = "global"
    OUTCOME = "outcome"
    ANSWER = "answer"


SYSTEM_KINDS = frozenset({NodeKind.ACTION, NodeKind.QUERY, NodeKind.GLOBAL})
_EDGE_PRIORITY = {"dict": 0, "dot": 0, "rule": 1, "mined": 2, "pooled": 3}
_OBSERVED = frozenset({"mined", "pooled"})
"""Edge sources that record what dialogues did rather than what the flowchart draws."""


class PolicyGraphWarning(UserWarning):
    """A policy graph loads but looks wrong (for example, nodes no path reaches)."""


def new_graph(name: str, start: str) -> nx.DiGraph:
    """An empty policy graph called ``name`` whose first action will be ``start``."""
    return nx.DiGraph(name=name, start=start)


def add_action(
    graph: nx.DiGraph,
    node: str,
    kind: NodeKind | str = NodeKind.ACTION,
    template: str = "",
    *,
    goal: bool = False,
    anywhere: bool = False,
) -> None:
    """Add (or update) a node with its kind, template reply and flags."""
    graph.add_node(node, kind=NodeKind(kind).value, template=template, goal=goal, anywhere=anywhere)


def node_kind(graph: nx.DiGraph, node: str) -> NodeKind:
    """The kind of ``node``; raises `PolicyGraphError` listing the nodes if it is not in the graph."""
    if node not in graph:
        raise PolicyGraphError(
            f"Policy graph {graph.graph.get('name', '')!r} has no node {node!r}. "
            f"Its nodes are: {', '.join(sorted(graph))}.", node=node,
        )
    return NodeKind(graph.nodes[node].get("kind", NodeKind.ACTION.value))


def is_system(graph: nx.DiGraph, node: str) -> bool:
    """True for nodes the system agent chooses (actions, queries, globals)."""
    return node_kind(graph, node) in SYSTEM_KINDS


def anywhere_actions(graph: nx.DiGraph) -> list[str]:
    """Actions legal from every system node (``out_of_scope``)."""
    return sorted(n for n, data in graph.nodes(data=True) if data.get("anywhere"))


def goal_nodes(graph: nx.DiGraph) -> list[str]:
    """Nodes whose visit completes the task."""
    return sorted(n for n, data in graph.nodes(data=True) if data.get("goal"))


def steps_to_goal(graph: nx.DiGraph, node: str) -> int | None:
    """Fewest flowchart edges from ``node`` to a goal node (None: none is reachable).

    Only the flowchart's own edges count (not ``mined`` or ``pooled`` ones: what some wizard once did),
    so the distance says where the flowchart leads, not where a detour happens to go.
    """
    flowchart = nx.subgraph_view(graph, filter_edge=lambda u, v: graph.edges[u, v].get("source") not in _OBSERVED)
    distances = nx.single_source_shortest_path_length(flowchart, node)
    return min((distances[g] for g in goal_nodes(graph) if g in distances), default=None)


def _ordered_successors(graph: nx.DiGraph, node: str) -> list[str]:
    def rank(succ: str) -> tuple[int, int, str]:
        edge = graph.edges[node, succ]
        return _EDGE_PRIORITY.get(edge.get("source", "dot"), 3), -int(edge.get("count", 0)), succ

    return sorted(graph.successors(node), key=rank)


def next_actions(graph: nx.DiGraph, node: str, resolution: str | None = None) -> list[str]:
    """System actions reachable from ``node`` through its edges, best first.

    Outcome and answer nodes in between are passed through: when ``resolution`` names one of them
    (the query failed, the user said no), only that branch is followed; otherwise every branch is.
    Anywhere-actions are not included (see `legal_actions`).
    """
    found: dict[str, int] = {}  # action -> rank of the first edge on its path (dict < rule < mined)
    seen = {node}
    frontier: list[tuple[str, int | None]] = [(node, None)]
    while frontier:
        current, rank = frontier.pop(0)
        for succ in _ordered_successors(graph, current):
            edge_rank = rank if rank is not None else _EDGE_PRIORITY.get(graph.edges[current, succ].get("source"), 0)
            if is_system(graph, succ):
                found.setdefault(succ, edge_rank)
            elif succ not in seen and (resolution is None or succ == resolution
                                       or not _is_branch_sibling(graph, current, succ, resolution)):
                seen.add(succ)
                frontier.append((succ, edge_rank))
    return sorted(found, key=lambda action: found[action])  # stable: BFS order within a rank


def _is_branch_sibling(graph: nx.DiGraph, parent: str, branch: str, resolution: str) -> bool:
    """True when ``resolution`` is another outcome/answer branch of ``parent`` (so ``branch`` is not taken)."""
    return resolution in graph.successors(parent) and not is_system(graph, resolution) and branch != resolution


def legal_actions(graph: nx.DiGraph, node: str | None, resolution: str | None = None) -> list[str]:
    """Everything the system may do after ``node`` (None: at the start), anywhere-actions last.

    At the start: the start node, what may follow it, and any action real dialogues opened with (``starts``).
    """
    if node is None:
        start = graph.graph["start"]
        opened = sorted((n for n, data in graph.nodes(data=True) if data.get("starts") and is_system(graph, n)),
                        key=lambda n: -graph.nodes[n]["starts"])
        actions = list(dict.fromkeys([start, *next_actions(graph, start), *opened]))
    else:
        actions = next_actions(graph, node, resolution)
    return [*actions, *(a for a in anywhere_actions(graph) if a not in actions)]


def branches(graph: nx.DiGraph, node: str, kind: NodeKind) -> list[str]:
    """The outcome (or answer) nodes that follow ``node``: what must be resolved after it."""
    return [s for s in graph.successors(node) if node_kind(graph, s) == kind]


def is_terminal(graph: nx.DiGraph, node: str) -> bool:
    """True for a goodbye: a node marked ``terminal``, or one nothing but anywhere-actions (or itself) follows."""
    return is_system(graph, node) and (bool(graph.nodes[node].get("terminal"))
                                       or not [a for a in next_actions(graph, node) if a != node])


def mean_out_degree(graph: nx.DiGraph) -> float:
    """Mean number of legal next system actions over the non-terminal system nodes (tightness)."""
    sizes = [len(legal_actions(graph, n)) for n in graph if is_system(graph, n) and not is_terminal(graph, n)]
    return sum(sizes) / len(sizes) if sizes else 0.0


def check_graph(graph: nx.DiGraph, path: str | Path | None = None, warn: bool = True) -> nx.DiGraph:
    """Validate a policy graph fully, so a bad one fails at load and not in the middle of a run.

    With ``warn``, also warns (`PolicyGraphWarning`) about nodes no path reaches and about cycles that can
    never reach a goal: worth a look when a graph is written, noise when every run re-checks it.

    Raises:
        PolicyGraphError: the start node is missing, unknown or not an action; a node has an unknown kind;
            an edge has a ``count`` that is not a whole number.
    """
    start = _check_start(graph, path)
    kinds = {k.value for k in NodeKind}
    for node, data in graph.nodes(data=True):
        if data.get("kind", NodeKind.ACTION.value) not in kinds:
            raise PolicyGraphError(f"Node {node!r} has unknown kind {data.get('kind')!r}; use one of "
                                   f"{', '.join(sorted(kinds))}.", node=node, path=path)
    for u, v, data in graph.edges(data=True):
        edge_count(u, v, data.get("count", 0), path)
    if not is_system(graph, start):
        raise PolicyGraphError(f"The start node {start!r} is an {node_kind(graph, start).value} node, which the "
                               "agent cannot take; point `graph [start=...]` at an action (kind action, query or "
                               "global).", node=start, path=path)
    if warn:
        _warn_about_shape(graph, start, path)
    return graph


def _warn_about_shape(graph: nx.DiGraph, start: str, path: str | Path | None) -> None:
    where = f"{path}: " if path else ""
    unreachable = sorted(set(graph) - _reachable(graph, graph))
    if unreachable:
        warnings.warn(f"{where}nodes not reachable from start {start!r}: {', '.join(unreachable)}. "
                      "Add edges to them or remove them.", PolicyGraphWarning, stacklevel=3)
    for cycle in goalless_cycles(graph):
        warnings.warn(f"{where}the cycle {', '.join(cycle)} never reaches a goal, so a dialogue can go round it "
                      "forever without completing. Mark a goal (goal=true) reachable from it, or add an edge out "
                      "of it to one.", PolicyGraphWarning, stacklevel=3)


def _check_start(graph: nx.DiGraph, path: str | Path | None) -> str:
    start = graph.graph.get("start")
    if not start:
        raise PolicyGraphError("The graph names no start node. Add `graph [start=<first action>]` to the DOT file.",
                               path=path)
    if start not in graph:
        raise PolicyGraphError(f"Unknown start node {start!r}; nodes are: {', '.join(sorted(graph))}. "
                               "Fix `graph [start=...]`.", node=start, path=path)
    return str(start)


def _reachable(graph: nx.DiGraph, within: nx.DiGraph) -> set[str]:
    """Nodes of ``within`` reachable from the start or an anywhere-action (themselves included)."""
    roots = [n for n in [graph.graph["start"], *anywhere_actions(graph)] if n in within]
    return set(roots).union(*(nx.descendants(within, root) for root in roots))


def goalless_cycles(graph: nx.DiGraph) -> list[list[str]]:
    """Cycles a dialogue can enter before any goal and never leave for one (each as sorted node names).

    A cycle after a goal (``anything_else`` and back) is fine: the task is already complete; so is a
    terminal action repeated (goodbye, goodbye): it ends the dialogue.
    """
    goals = set(goal_nodes(graph))
    before_goals = graph.subgraph(n for n in graph if n not in goals)
    cycles = []
    for component in nx.strongly_connected_components(before_goals.subgraph(_reachable(graph, before_goals))):
        node = next(iter(component))
        if len(component) == 1 and (not graph.has_edge(node, node) or is_terminal(graph, node)):
            continue
        onward = set(component).union(*(nx.descendants(graph, n) for n in component))
        if not onward & goals:
            cycles.append(sorted(component))
    return sorted(cycles)


def read_dot(path: str | Path) -> nx.DiGraph:
    """Read a policy graph from a DOT file (see `roleplay.policy.dot.parse_dot`) and validate it.

    Raises:
        PolicyGraphError: the file is missing, is not DOT, or the graph is invalid.
    """
    graph = parse_dot(path)
    for node in graph:
        graph.nodes[node].setdefault("kind", NodeKind.ACTION.value)
    return check_graph(graph, path)


def describe(graph: nx.DiGraph, actions: Iterable[str] | None = None,
             shares: Mapping[str, float] | None = None) -> str:
    """One line per action, ``- name: template``, for prompts.

    With ``shares``, the share of human agents who took each action here is beside its name
    (``- name (human agents: 40%): template``).
    """
    chosen = actions if actions is not None else [n for n in graph if is_system(graph, n)]
    lines = []
    for action in chosen:
        taken = f" (human agents: {shares.get(action, 0.0):.0%})" if shares else ""
        lines.append(f"- {action}{taken}: {graph.nodes[action].get('template') or action.replace('_', ' ')}")
    return "\n".join(lines)
