"""Policy graphs as DOT text: `parse_dot` reads a file's nodes, edges and attributes, `to_dot` writes them.

DOT is how users write their own policies (``scenarios/doctor_intake.dot``); `roleplay.policy.graph`
gives the attributes their meaning and validates what is read (`read_dot`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import networkx as nx

from roleplay._atomic import atomic_write_text
from roleplay.errors import PolicyGraphError

__all__ = ["edge_count", "parse_dot", "to_dot", "write_dot"]


def edge_count(u: str, v: str, value: object, path: str | Path | None = None) -> int:
    """An edge's ``count`` as a whole number; `PolicyGraphError` naming the edge if it is not one."""
    try:
        count = int(_unquote(value)) if not isinstance(value, bool) else -1
    except ValueError:
        count = -1
    if count < 0:
        raise PolicyGraphError(f"Edge {u} -> {v} has count={_unquote(value)!r}; count is how many dialogues took "
                               f"the edge, a whole number: write `{u} -> {v} [count=3]` or leave it out.",
                               node=u, path=path)
    return count


def _unquote(value: object) -> str:
    text = str(value)
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1].replace('\\"', '"').replace("\\n", "\n")
    return text


def _truthy(value: object) -> bool:
    return _unquote(value).lower() in ("true", "1", "yes")


def parse_dot(path: str | Path) -> nx.DiGraph:
    """Read a policy graph's nodes, edges and attributes from a DOT file (via pydot), without judging it.

    Node attributes: ``kind``, ``template``, ``goal``, ``anywhere``, ``terminal``, ``when`` (which result an outcome
    or answer node stands for: ``found``/``empty``, ``yes``/``no``), ``starts`` (how many dialogues
    opened with it); edge attributes ``source`` and ``count``; graph attribute ``start``.
    `roleplay.policy.graph.read_dot` validates the result.

    Raises:
        PolicyGraphError: the file is missing or is not DOT, or an edge count is not a whole number.
    """
    path = Path(path)
    if not path.is_file():
        raise PolicyGraphError("No such DOT file. Check the path.", path=path)
    dot = _pydot_graph(path)
    raw = nx.nx_pydot.from_pydot(dot)
    graph = nx.DiGraph(name=_unquote(dot.get_name()) or path.stem, start=_graph_attributes(dot).get("start", ""))
    for node, data in raw.nodes(data=True):
        node = _unquote(node)
        if node not in ("node", "edge", "graph"):
            graph.add_node(node, **_node_attributes(node, data, path))
    for u, v, data in raw.edges(data=True):
        graph.add_edge(_unquote(u), _unquote(v), source=_unquote(data.get("source", "dot")),
                       count=edge_count(_unquote(u), _unquote(v), data.get("count", 0), path))
    return graph


def _pydot_graph(path: Path) -> Any:
    import pydot

    try:
        parsed = pydot.graph_from_dot_data(path.read_text(encoding="utf-8"))
    except Exception as err:  # noqa: BLE001 - pydot raises pyparsing errors of several kinds
        raise PolicyGraphError(f"Not valid DOT: {err}. Fix the syntax (see scenarios/doctor_intake.dot).",
                               path=path) from err
    if not parsed:
        raise PolicyGraphError("Not valid DOT: no graph found. Fix the syntax (see scenarios/doctor_intake.dot).",
                               path=path)
    if len(parsed) > 1:
        raise PolicyGraphError(f"The file holds {len(parsed)} graphs; a policy graph file holds one. Keep one graph "
                               "per file and point each scenario at its own.", path=path)
    return parsed[0]


def _graph_attributes(dot: Any) -> dict[str, str]:
    attrs = {k: _unquote(v) for k, v in dot.get_attributes().items()}
    for statement in dot.get_node_list():  # `graph [start=...]` comes back as a node named "graph"
        if statement.get_name() == "graph":
            attrs.update({k: _unquote(v) for k, v in statement.get_attributes().items()})
    return attrs


def _node_attributes(node: str, data: dict[str, Any], path: Path) -> dict[str, Any]:
    attrs: dict[str, Any] = {"template": _unquote(data.get("template", "")), "goal": _truthy(data.get("goal", False)),
                             "anywhere": _truthy(data.get("anywhere", False))}
    if _truthy(data.get("terminal", False)):
        attrs["terminal"] = True
    attrs |= {key: _unquote(data[key]) for key in ("kind", "when") if key in data}
    if "starts" in data:
        attrs["starts"] = _starts(node, data["starts"], path)
    return attrs


def _starts(node: str, value: object, path: Path) -> int:
    """A node's ``starts`` as a whole number; `PolicyGraphError` naming the node if it is not one."""
    text = _unquote(value)
    if not text.isdigit():
        raise PolicyGraphError(f"Node {node} has starts={text!r}; starts is how many dialogues opened with it, a "
                               f"whole number: write `{node} [starts=3]` or leave it out.", node=node, path=path)
    return int(text)


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
            flags += [f"{flag}=true" for flag in ("goal", "anywhere", "terminal") if data.get(flag)]
            if flags:
                lines.append(f"  {node} [{', '.join(flags)}];")
            continue
        attrs = [f"kind={_quote(data.get('kind', 'action'))}", f"template={_quote(data.get('template', ''))}"]
        attrs += [f"{flag}=true" for flag in ("goal", "anywhere", "terminal") if data.get(flag)]
        if data.get("when"):
            attrs.append(f"when={_quote(data['when'])}")
        if data.get("starts"):
            attrs.append(f"starts={int(data['starts'])}")
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
