"""Policy graphs as DOT text: `parse_dot` reads a file's nodes, edges and attributes, `to_dot` writes them.

DOT is how users write their own policies (``scenarios/doctor_intake.dot``); `roleplay.policy.graph`
gives the attributes their meaning and validates what is read (`read_dot`).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import networkx as nx

from roleplay._atomic import as_path, atomic_write_text
from roleplay._checked import checked
from roleplay.errors import PolicyGraphError
from roleplay.resources import find_graph

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


NODE_ATTRIBUTES = ("kind", "template", "goal", "anywhere", "terminal", "when", "starts")
EDGE_ATTRIBUTES = ("source", "count")
GRAPH_ATTRIBUTES = ("start",)
FLAGS = ("goal", "anywhere", "terminal")
WHEN = ("found", "empty", "yes", "no", "done", "correct", "incorrect", "noanswer", "info_missing")
"""What ``when`` may say: an outcome node stands for ``found``/``empty`` (a query's result), an answer node for
``yes``/``no``/``done`` (`roleplay.policy._answers`) or one of STAR's other answer labels."""
_DRAWING = {  # Graphviz's own attributes, for drawing: allowed anywhere, and ignored
    "label", "xlabel", "shape", "style", "color", "fillcolor", "fontcolor", "fontname", "fontsize", "tooltip", "width",
    "height", "penwidth", "comment", "url", "href", "peripheries", "group", "pos", "weight", "constraint", "dir",
    "arrowhead", "arrowtail", "arrowsize", "minlen", "headlabel", "taillabel", "rankdir", "nodesep", "ranksep",
    "splines", "bgcolor", "size", "ratio", "compound", "newrank", "labelloc", "labeljust", "concentrate", "dpi",
    "margin", "pad", "ordering", "layout", "overlap", "rank", "center", "charset", "fixedsize", "orientation",
}
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no", "")


def parse_dot(path: str | Path) -> nx.DiGraph:
    """Read a policy graph's nodes, edges and attributes from a DOT file (via pydot), checking each attribute.

    Node attributes: ``kind``, ``template``, ``goal``, ``anywhere``, ``terminal`` (true/false), ``when`` (which
    result an outcome or answer node stands for: ``found``/``empty``, ``yes``/``no``), ``starts`` (how many
    dialogues opened with it); edge attributes ``source`` and ``count``; graph attribute ``start``. Graphviz's
    drawing attributes (``label``, ``color``...) are allowed and ignored; any other name is an error with a
    suggestion (``gaol`` -> ``goal``). Nodes and edges inside ``subgraph { }`` blocks are read as the others.
    `roleplay.policy.graph.read_dot` validates the graph's shape.

    Raises:
        PolicyGraphError: the file is missing or is not DOT, an undirected ``graph``, an unknown attribute, or a
            value that is not one of its kind (``goal=maybe``, ``when=perhaps``, ``count=abc``).
    """
    path = find_graph(as_path(path, "A policy graph (a .dot file)"))  # or a bundled graph's name
    if path.is_dir():
        raise PolicyGraphError("is a folder, but a DOT file is needed. Give the path of one .dot file.", path=path)
    if not path.is_file():
        raise PolicyGraphError("No such DOT file. Check the path, or give a bundled graph's name (doctor_intake, "
                               "bank_support, or a STAR task such as bank_balance).", path=path)
    dot = _pydot_graph(path)
    if dot.get_type() != "digraph":
        raise PolicyGraphError("The graph is undirected (`graph`); a policy graph says which action may follow "
                               "which: write `digraph` and `->` edges.", path=path)
    attributes = _graph_attributes(dot, path)
    graph = nx.DiGraph(name=_unquote(dot.get_name()) or path.stem, start=attributes.get("start", ""))
    for block in _blocks(dot):
        for statement in block.get_node_list():
            name = statement.get_name()
            if name in ("node", "edge", "graph"):  # a default-attribute statement (a quoted "edge" is a node)
                continue
            node = _unquote(name)
            graph.add_node(node, **_node_attributes(node, statement.get_attributes(), path))
        for edge in block.get_edge_list():
            u, v = _endpoint(edge.get_source(), path), _endpoint(edge.get_destination(), path)
            data = edge.get_attributes()
            _check_names(data, EDGE_ATTRIBUTES, f"Edge {u} -> {v}", path)
            for node in (u, v):
                if node not in graph:
                    graph.add_node(node, **_node_attributes(node, {}, path))
            graph.add_edge(u, v, source=_unquote(data.get("source", "dot")),
                           count=edge_count(u, v, data.get("count", 0), path))
    return graph


def _blocks(dot: Any) -> list[Any]:
    """The graph and every ``subgraph`` in it, nested ones included."""
    found = [dot]
    for sub in dot.get_subgraph_list():
        found += _blocks(sub)
    return found


def _endpoint(value: object, path: Path) -> str:
    if not isinstance(value, str):
        raise PolicyGraphError("An edge goes to or from a `{ ... }` group; write one edge per pair of actions "
                               "(`a -> b; a -> c;`).", path=path)
    return _unquote(value.split(":")[0] if not value.startswith('"') else value)


def _pydot_graph(path: Path) -> Any:
    import pydot

    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: an editor's byte-order mark is fine
    except UnicodeDecodeError as err:
        raise PolicyGraphError(f"not a UTF-8 text file (byte {err.start} cannot be decoded); a DOT file is text "
                               "saved as UTF-8.", path=path) from err
    try:
        parsed = pydot.graph_from_dot_data(text)
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


def _graph_attributes(dot: Any, path: Path) -> dict[str, str]:
    attrs = dict(dot.get_attributes())
    for statement in dot.get_node_list():  # `graph [start=...]` comes back as a node named "graph"
        if statement.get_name() == "graph":
            attrs.update(statement.get_attributes())
    _check_names(attrs, GRAPH_ATTRIBUTES, "The graph", path)
    return {k: _unquote(v) for k, v in attrs.items()}


def _check_names(data: dict[str, Any], known: tuple[str, ...], owner: str, path: Path, node: str | None = None) -> None:
    """`PolicyGraphError` for an attribute name that is neither roleplay's (``known``) nor Graphviz's."""
    for name in data:
        if name in known or name.lower() in _DRAWING:
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f"Did you mean '{close[0]}'? " if close else ""
        raise PolicyGraphError(f"{owner} has an unknown attribute '{name}'. {hint}Known: {', '.join(known)} (and "
                               "Graphviz's drawing attributes such as label or color).", node=node, path=path)


def _flag(node: str, name: str, value: object, path: Path) -> bool:
    text = _unquote(value).strip().lower()
    if text not in _TRUE + _FALSE:
        raise PolicyGraphError(f"Node {node} has {name}={_unquote(value)!r}; {name} is true or false.", node=node,
                               path=path)
    return text in _TRUE


def _node_attributes(node: str, data: dict[str, Any], path: Path) -> dict[str, Any]:
    _check_names(data, NODE_ATTRIBUTES, f"Node {node}", path, node)
    attrs: dict[str, Any] = {"template": _unquote(data.get("template", ""))}
    attrs |= {flag: _flag(node, flag, data.get(flag, False), path) for flag in ("goal", "anywhere")}
    if _flag(node, "terminal", data.get("terminal", False), path):
        attrs["terminal"] = True
    attrs |= {key: _unquote(data[key]) for key in ("kind", "when") if key in data}
    if "when" in attrs and attrs["when"] not in WHEN:
        raise PolicyGraphError(f"Node {node} has when={attrs['when']!r}; when is one of {', '.join(WHEN)} (found/empty "
                               "for an outcome node, yes/no/done for an answer node).", node=node, path=path)
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


def checked_graph(graph: object, what: str) -> nx.DiGraph:
    """``graph`` if it is a policy graph (a networkx DiGraph with a start node), else a PolicyGraphError."""
    policy: nx.DiGraph = checked(graph, nx.DiGraph, what, "read one with roleplay.policy.read_dot('graph.dot')")
    if policy.graph.get("start") not in policy:
        raise PolicyGraphError(f"{what} has no start node (graph attribute 'start'); read it with read_dot, "
                               "which checks it, or set graph.graph['start'].")
    return policy


def to_dot(graph: nx.DiGraph, compact: bool = False) -> str:
    """The graph as DOT text, in a stable order, readable back with `read_dot`.

    ``compact`` (for prompts) leaves out templates and edge provenance, and the kind of plain actions.
    """
    checked_graph(graph, "to_dot's graph")
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
    return atomic_write_text(as_path(path, "write_dot's path (a .dot file)"), to_dot(graph))
