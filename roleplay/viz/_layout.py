"""Where each node and edge of a policy graph goes in a top-down flowchart: `Layout` and `layered_layout`.

Graphviz ``dot`` draws the best flowcharts, so it is used when its binary is on PATH. Without it, a
layered layout is computed with networkx: edges that go back in depth-first order are set aside so
the rest is acyclic, each node sits on the layer of its longest path from a root
(`networkx.topological_generations`), nodes inside a layer are ordered by where their parents are, and
edges are straight when they go down, curved to the side when they go back or sideways.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import warnings
from dataclasses import dataclass
from typing import Literal

import networkx as nx

__all__ = ["Box", "Layout", "connector", "layered_layout"]

Engine = Literal["auto", "dot", "networkx"]
CHAR_WIDTH = 7.2
NODE_HEIGHT = 30.0
SMALL_KINDS = ("outcome", "answer")
LAYER_GAP = 70.0
NODE_GAP = 24.0
MARGIN = 20.0


@dataclass(frozen=True)
class Box:
    """A node's centre and size, in SVG pixels (y grows downwards)."""

    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Layout:
    """Node boxes, one SVG path (``d`` attribute) per edge, and the drawing's size."""

    nodes: dict[str, Box]
    edges: dict[tuple[str, str], str]
    width: float
    height: float
    engine: str


def node_size(graph: nx.DiGraph, node: str) -> tuple[float, float]:
    """Width and height of a node's box: wide enough for its label."""
    small = graph.nodes[node].get("kind") in SMALL_KINDS
    width = len(str(node)) * CHAR_WIDTH + (16 if small else 24)
    return width, NODE_HEIGHT * (0.8 if small else 1.0)


def layered_layout(graph: nx.DiGraph, engine: Engine = "auto") -> Layout:
    """A top-down flowchart layout of ``graph``: graphviz ``dot`` when installed (or asked for), else networkx."""
    if engine == "dot" or (engine == "auto" and shutil.which("dot")):
        try:
            return _dot_layout(graph)
        except (OSError, subprocess.SubprocessError, ValueError, KeyError) as err:
            if engine == "dot":
                raise
            warnings.warn(f"graphviz dot failed ({err}); using the networkx layout instead.", stacklevel=2)
    return _networkx_layout(graph)


def _dot_source(graph: nx.DiGraph) -> str:
    lines = ["digraph G {", "  graph [rankdir=TB, nodesep=0.3, ranksep=0.45];", "  node [shape=box, fixedsize=true];"]
    for node in graph:
        width, height = node_size(graph, node)
        lines.append(f"  {_dot_id(node)} [width={width / 72:.3f}, height={height / 72:.3f}];")
    lines += [f"  {_dot_id(u)} -> {_dot_id(v)};" for u, v in graph.edges]
    return "\n".join([*lines, "}"])


def _dot_id(node: object) -> str:
    """A DOT double-quoted ID (DOT strings take JSON's backslash escapes for quotes)."""
    return json.dumps(str(node), ensure_ascii=False)


def _dot_layout(graph: nx.DiGraph) -> Layout:
    done = subprocess.run(["dot", "-Tjson"], input=_dot_source(graph), capture_output=True, text=True,
                          timeout=60, check=True)
    data = json.loads(done.stdout)
    _, _, right, top = (float(v) for v in data["bb"].split(","))

    def flip(x: str, y: str) -> tuple[float, float]:  # dot's y grows upwards
        return float(x) + MARGIN, top - float(y) + MARGIN

    nodes, names = {}, {}
    for obj in data.get("objects", []):
        x, y = flip(*obj["pos"].split(","))
        name = obj["name"]
        names[obj["_gvid"]] = name
        nodes[name] = Box(x, y, float(obj["width"]) * 72, float(obj["height"]) * 72)
    edges = {}
    for edge in data.get("edges", []):
        end, *points = edge["pos"].split(" ")
        tip = flip(*end[2:].split(",")) if end.startswith("e,") else None
        if tip is None:
            points = [end, *points]
        coords = [flip(*p.split(",")) for p in points]
        d = f"M{_pt(coords[0])} C" + " ".join(_pt(p) for p in coords[1:])
        edges[(names[edge["tail"]], names[edge["head"]])] = d + (f" L{_pt(tip)}" if tip else "")
    return Layout(nodes, edges, right + 2 * MARGIN, top + 2 * MARGIN, "dot")


def _pt(point: tuple[float, float]) -> str:
    return f"{point[0]:.1f},{point[1]:.1f}"


def layers(graph: nx.DiGraph) -> list[list[str]]:
    """Nodes by layer, each layer ordered to keep edges short (start node first when the graph has one)."""
    start = graph.graph.get("start")
    roots = [start] if start in graph else []
    roots += [n for n in graph if graph.in_degree(n) == 0 and n not in roots]
    order: dict[str, int] = {}
    for root in [*roots, *graph]:
        if root not in order:
            for node in nx.dfs_preorder_nodes(graph, root):
                order.setdefault(node, len(order))
    forward = nx.DiGraph()
    forward.add_nodes_from(sorted(graph, key=order.__getitem__))
    forward.add_edges_from((u, v) for u, v in graph.edges if order[u] < order[v])
    rows = [list(generation) for generation in nx.topological_generations(forward)]
    slot = {node: i for i, node in enumerate(rows[0])} if rows else {}
    for row in rows[1:]:
        def parent_mean(node: str) -> float:
            parents = [slot[p] for p in forward.predecessors(node) if p in slot]
            return sum(parents) / len(parents) if parents else math.inf
        row.sort(key=parent_mean)
        slot.update({node: i for i, node in enumerate(row)})
    return rows


def _networkx_layout(graph: nx.DiGraph) -> Layout:
    rows = layers(graph)
    sizes = {node: node_size(graph, node) for node in graph}
    row_widths = [sum(sizes[n][0] for n in row) + NODE_GAP * (len(row) - 1) for row in rows]
    width = max(row_widths, default=0.0) + 2 * MARGIN
    nodes = {}
    for depth, (row, row_width) in enumerate(zip(rows, row_widths, strict=True)):
        x = (width - row_width) / 2
        for node in row:
            w, h = sizes[node]
            nodes[node] = Box(x + w / 2, MARGIN + NODE_HEIGHT / 2 + depth * LAYER_GAP, w, h)
            x += w + NODE_GAP
    edges = {(u, v): connector(nodes[u], nodes[v], curved=graph.has_edge(v, u)) for u, v in graph.edges}
    height = MARGIN * 2 + NODE_HEIGHT + max(len(rows) - 1, 0) * LAYER_GAP
    return Layout(nodes, edges, width, height, "networkx")


def connector(tail: Box, head: Box, curved: bool = False) -> str:
    """SVG path from ``tail`` to ``head``: straight down to the next layer, else curved to the right of travel."""
    if tail is head:
        top = tail.y - tail.height / 2
        return (f"M{_pt((tail.x + 8, top))} C{_pt((tail.x + 30, top - 30))} "
                f"{_pt((tail.x - 30, top - 30))} {_pt((tail.x - 8, top))}")
    if not curved and 0 < head.y - tail.y <= LAYER_GAP * 1.5:
        return f"M{_pt((tail.x, tail.y + tail.height / 2))} L{_pt((head.x, head.y - head.height / 2))}"
    dx, dy = head.x - tail.x, head.y - tail.y
    length = math.hypot(dx, dy) or 1.0
    bend = 28.0 + 0.15 * length
    control = ((tail.x + head.x) / 2 - dy / length * bend, (tail.y + head.y) / 2 + dx / length * bend)
    return f"M{_pt(_clip(tail, control))} Q{_pt(control)} {_pt(_clip(head, control))}"


def _clip(box: Box, toward: tuple[float, float]) -> tuple[float, float]:
    """Where the line from ``box``'s centre towards ``toward`` leaves the box."""
    dx, dy = toward[0] - box.x, toward[1] - box.y
    scale = min(box.width / 2 / abs(dx) if dx else math.inf, box.height / 2 / abs(dy) if dy else math.inf)
    return (box.x + dx * scale, box.y + dy * scale) if scale < math.inf else (box.x, box.y)
