"""Dialogue-policy graphs: which system action may follow which, as a `networkx.DiGraph`.

A node is an action label; its attributes say what it is:

- ``kind``: ``action`` (the system says something), ``query`` (the system calls a tool), ``global``
  (greeting, goodbye, "anything else?", out of scope), ``outcome`` (a tool result: ``query_success``,
  ``available``...) or ``answer`` (what the user said to a question: ``yes``/``no``). The first three
  are *system* nodes, chosen by the agent; outcome and answer nodes are resolved from what happened.
- ``template``: the example reply for the action (guidance for the agent, not a script).
- ``when`` (outcome and answer nodes): the result it stands for, ``found``/``empty`` or ``yes``/``no``.
- ``goal``: reaching it completes the task. ``anywhere``: the action may be taken from any system
  node and the conversation then resumes where it was (``out_of_scope``).

Edges carry ``source`` (``dict``/``rule``/``mined``/``dot``) and ``count`` (how often real
dialogues took them, for mined edges). The graph's ``start`` attribute names the first action.
The same graphs are written to and read from DOT, so users can write their own policies
(``scenarios/doctor_intake.dot``); `check_graph` validates them at load time.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from enum import Enum
from pathlib import Path

import networkx as nx

from roleplay._atomic import atomic_write_text
from roleplay.errors import PolicyGraphError


class NodeKind(str, Enum):
    """What a policy-graph node stands for."""

    ACTION = "action"
    QUERY = "query"
    GLOBAL = "global"
    OUTCOME = "outcome"
    ANSWER = "answer"


SYSTEM_KINDS = frozenset({NodeKind.ACTION, NodeKind.QUERY, NodeKind.GLOBAL})
_EDGE_PRIORITY = {"dict": 0, "dot": 0, "rule": 1, "mined": 2}


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
    """Everything the system may do after ``node`` (None: at the start), anywhere-actions last."""
    if node is None:
        start = graph.graph["start"]
        actions = [start, *(a for a in next_actions(graph, start) if a != start)]
    else:
        actions = next_actions(graph, node, resolution)
    return [*actions, *(a for a in anywhere_actions(graph) if a not in actions)]


def branches(graph: nx.DiGraph, node: str, kind: NodeKind) -> list[str]:
    """The outcome (or answer) nodes that follow ``node``: what must be resolved after it."""
    return [s for s in graph.successors(node) if node_kind(graph, s) == kind]


def is_terminal(graph: nx.DiGraph, node: str) -> bool:
    """True when nothing but anywhere-actions, or ``node`` again, can follow ``node`` (a goodbye)."""
    return is_system(graph, node) and not [a for a in next_actions(graph, node) if a != node]


def mean_out_degree(graph: nx.DiGraph) -> float:
    """Mean number of legal next system actions over the non-terminal system nodes (tightness)."""
    sizes = [len(legal_actions(graph, n)) for n in graph if is_system(graph, n) and not is_terminal(graph, n)]
    return sum(sizes) / len(sizes) if sizes else 0.0


def check_graph(graph: nx.DiGraph, path: str | Path | None = None) -> nx.DiGraph:
    """Validate a policy graph: known start, known kinds; warn about nodes no path reaches.

    Raises:
        PolicyGraphError: the start node is missing or unknown, or a node has an unknown kind.
    """
    start = graph.graph.get("start")
    if not start:
        raise PolicyGraphError("The graph names no start node. Add `graph [start=<first action>]` to the DOT file.",
                               path=path)
    if start not in graph:
        raise PolicyGraphError(f"Unknown start node {start!r}; nodes are: {', '.join(sorted(graph))}. "
                               "Fix `graph [start=...]`.", node=start, path=path)
    kinds = {k.value for k in NodeKind}
    for node, data in graph.nodes(data=True):
        if data.get("kind", NodeKind.ACTION.value) not in kinds:
            raise PolicyGraphError(f"Node {node!r} has unknown kind {data.get('kind')!r}; use one of "
                                   f"{', '.join(sorted(kinds))}.", node=node, path=path)
    reachable = {start} | nx.descendants(graph, start)
    for anywhere in anywhere_actions(graph):
        reachable |= {anywhere} | nx.descendants(graph, anywhere)
    unreachable = sorted(set(graph) - reachable)
    if unreachable:
        where = f"{path}: " if path else ""
        warnings.warn(f"{where}nodes not reachable from start {start!r}: {', '.join(unreachable)}. "
                      "Add edges to them or remove them.", PolicyGraphWarning, stacklevel=2)
    return graph


def _unquote(value: object) -> str:
    text = str(value)
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1].replace('\\"', '"').replace("\\n", "\n")
    return text


def _truthy(value: object) -> bool:
    return _unquote(value).lower() in ("true", "1", "yes")


def read_dot(path: str | Path) -> nx.DiGraph:
    """Read a policy graph from a DOT file (via pydot) and validate it.

    Node attributes: ``kind``, ``template``, ``goal``, ``anywhere``, ``when`` (which result an outcome
    or answer node stands for: ``found``/``empty``, ``yes``/``no``); graph attribute ``start``.

    Raises:
        PolicyGraphError: the file is missing, is not DOT, or the graph is invalid.
    """
    path = Path(path)
    if not path.is_file():
        raise PolicyGraphError("No such DOT file. Check the path.", path=path)
    import pydot

    try:
        parsed = pydot.graph_from_dot_data(path.read_text(encoding="utf-8"))
    except Exception as err:  # noqa: BLE001 - pydot raises pyparsing errors of several kinds
        raise PolicyGraphError(f"Not valid DOT: {err}. Fix the syntax (see scenarios/doctor_intake.dot).",
                               path=path) from err
    if not parsed:
        raise PolicyGraphError("Not valid DOT: no graph found. Fix the syntax (see scenarios/doctor_intake.dot).",
                               path=path)
    dot = parsed[0]
    attrs = {k: _unquote(v) for k, v in dot.get_attributes().items()}
    for statement in dot.get_node_list():  # `graph [start=...]` comes back as a node named "graph"
        if statement.get_name() == "graph":
            attrs.update({k: _unquote(v) for k, v in statement.get_attributes().items()})
    raw = nx.nx_pydot.from_pydot(dot)
    graph = nx.DiGraph(name=_unquote(dot.get_name()) or path.stem, start=attrs.get("start", ""))
    for node, data in raw.nodes(data=True):
        node = _unquote(node)
        if node in ("node", "edge", "graph"):
            continue
        graph.add_node(node, kind=_unquote(data.get("kind", NodeKind.ACTION.value)),
                       template=_unquote(data.get("template", "")),
                       goal=_truthy(data.get("goal", False)), anywhere=_truthy(data.get("anywhere", False)))
        if "when" in data:
            graph.nodes[node]["when"] = _unquote(data["when"])
    for u, v, data in raw.edges(data=True):
        graph.add_edge(_unquote(u), _unquote(v), source=_unquote(data.get("source", "dot")),
                       count=int(_unquote(data.get("count", 0))))
    for node in graph:
        graph.nodes[node].setdefault("kind", NodeKind.ACTION.value)
    return check_graph(graph, path)


def _quote(value: object) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(graph: nx.DiGraph, compact: bool = False) -> str:
    """The graph as DOT text, in a stable order, readable back with `read_dot`.

    ``compact`` (for prompts) leaves out templates and edge provenance, and the kind of plain actions.
    """
    lines = [f"digraph {_quote(graph.graph.get('name', 'policy'))} {{",
             f"  graph [start={_quote(graph.graph['start'])}];"]
    for node, data in sorted(graph.nodes(data=True)):
        if compact:
            flags = [f"kind={data['kind']}"] if data.get("kind", "action") != "action" else []
            flags += [f"{flag}=true" for flag in ("goal", "anywhere") if data.get(flag)]
            if flags:
                lines.append(f"  {node} [{', '.join(flags)}];")
            continue
        attrs = [f"kind={_quote(data.get('kind', 'action'))}", f"template={_quote(data.get('template', ''))}"]
        attrs += [f"{flag}=true" for flag in ("goal", "anywhere") if data.get(flag)]
        if data.get("when"):
            attrs.append(f"when={_quote(data['when'])}")
        lines.append(f"  {_quote(node)} [{', '.join(attrs)}];")
    for u, v, data in sorted(graph.edges(data=True)):
        if compact:
            lines.append(f"  {u} -> {v};")
            continue
        attrs = [f"source={_quote(data.get('source', 'dot'))}"]
        if data.get("count"):
            attrs.append(f"count={int(data['count'])}")
        lines.append(f"  {_quote(u)} -> {_quote(v)} [{', '.join(attrs)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_dot(graph: nx.DiGraph, path: str | Path) -> Path:
    """Write the graph as DOT, atomically."""
    return atomic_write_text(Path(path), to_dot(graph))


def describe(graph: nx.DiGraph, actions: Iterable[str] | None = None) -> str:
    """One line per action, ``- name: template``, for prompts."""
    chosen = actions if actions is not None else [n for n in graph if is_system(graph, n)]
    return "\n".join(f"- {a}: {graph.nodes[a].get('template') or a.replace('_', ' ')}" for a in chosen)
