"""Policy graphs as SVG flowcharts: `draw_policy` (one dialogue's path, numbered) and `policy_heatmap`.

Both return a `Picture`, which a notebook shows inline and a report embeds as it is (plain SVG, no
scripts, no external fonts). Node kinds have their own colours and shapes, goals a green border,
anywhere-actions a dashed one; a legend under the graph says so. The SVG is built with
`xml.etree.ElementTree`, which escapes every label.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from xml.etree import ElementTree as ET

import networkx as nx

from roleplay._atomic import atomic_write_text
from roleplay.errors import ConfigError
from roleplay.policy.dot import checked_graph
from roleplay.policy.tracker import TrackerStep
from roleplay.viz._layout import Engine, Layout, connector, layered_layout
from roleplay.viz._legend import GOAL_STROKE, ILLEGAL_COLOUR, KINDS, PATH_COLOUR, heat_colour, legend
from roleplay.viz._paths import PathLike, Visits, judged_steps, step_edges, visits

__all__ = ["Picture", "draw_policy", "flowchart_svg", "path_overlay", "policy_heatmap"]

EDGE_COLOUR = "#94a3b8"
FONT = "font-family:DejaVu Sans,Helvetica,Arial,sans-serif"


class Picture:
    """An SVG drawing that displays inline in Jupyter and saves as a ``.svg`` file."""

    def __init__(self, svg: str):
        self.svg = svg

    def _repr_svg_(self) -> str:
        return self.svg

    def __str__(self) -> str:
        return self.svg

    def save(self, path: str | Path) -> Path:
        """Write the drawing to ``path`` (``.svg``), atomically."""
        target = Path(path)
        if target.suffix.lower() != ".svg":
            raise ConfigError(f"Cannot save a policy picture as {target.name!r}: only .svg is written. "
                              "Use a file name ending in .svg.")
        return atomic_write_text(target, self.svg)


def _svg(width: float, height: float, css_class: str) -> ET.Element:
    root = ET.Element("svg", xmlns="http://www.w3.org/2000/svg", width=f"{width:.0f}", height=f"{height:.0f}",
                      viewBox=f"0 0 {width:.0f} {height:.0f}", style=FONT, attrib={"class": css_class})
    defs = ET.SubElement(root, "defs")
    for name, colour in (("edge", EDGE_COLOUR), ("path", PATH_COLOUR), ("bad", ILLEGAL_COLOUR), ("heat", "#9a3412")):
        marker = ET.SubElement(defs, "marker", id=f"rp-arrow-{name}", viewBox="0 0 10 10", refX="9", refY="5",
                               markerWidth="9", markerHeight="9", markerUnits="userSpaceOnUse", orient="auto")
        ET.SubElement(marker, "path", d="M0,0 L10,5 L0,10 z", fill=colour)
    return root


def _edge(parent: ET.Element, d: str, colour: str, marker: str, width: float = 1.2, dash: str | None = None) -> None:
    attrs = {"d": d, "fill": "none", "stroke": colour, "stroke-width": f"{width:.1f}",
             "marker-end": f"url(#rp-arrow-{marker})"}
    if dash:
        attrs["stroke-dasharray"] = dash
    ET.SubElement(parent, "path", attrs)


def _nodes(parent: ET.Element, graph: nx.DiGraph, layout: Layout, fills: Mapping[str, str]) -> None:
    for node, box in layout.nodes.items():
        data = graph.nodes[node]
        fill, stroke, radius = KINDS.get(data.get("kind", "action"), KINDS["action"])
        group = ET.SubElement(parent, "g", {"data-node": str(node)})
        ET.SubElement(group, "title").text = str(data.get("template") or node)
        rect = {"x": f"{box.x - box.width / 2:.1f}", "y": f"{box.y - box.height / 2:.1f}", "rx": str(radius),
                "width": f"{box.width:.1f}", "height": f"{box.height:.1f}", "fill": fills.get(node, fill),
                "stroke": GOAL_STROKE if data.get("goal") else stroke,
                "stroke-width": "2.5" if data.get("goal") else "1.2"}
        if data.get("anywhere"):
            rect["stroke-dasharray"] = "5,3"
        ET.SubElement(group, "rect", rect)
        label = ET.SubElement(group, "text", x=f"{box.x:.1f}", y=f"{box.y + 4:.1f}", fill="#0f172a",
                              attrib={"text-anchor": "middle", "font-size": "12"})
        label.text = str(node)


def flowchart_svg(graph: nx.DiGraph, layout: Layout, *, fills: Mapping[str, str] | None = None,
                  edge_widths: Mapping[tuple[str, str], float] | None = None, heat: bool = False,
                  title: str | None = None, uncovered: bool = False) -> ET.Element:
    """The graph alone: edges, then nodes, then an empty ``<g class="rp-overlay">`` for a path, then the legend.

    ``uncovered``: the legend explains the dashed red line of a reachable edge no dialogue took.
    """
    legend_box, legend_width, legend_height = legend(layout.width, heat=heat, uncovered=uncovered)
    top = 24.0 if title else 0.0
    root = _svg(max(layout.width, legend_width), top + layout.height + legend_height, "rp-flowchart")
    if title:
        heading = ET.SubElement(root, "text", x="12", y="17", fill="#0f172a", attrib={"font-size": "14",
                                                                                   "font-weight": "bold"})
        heading.text = title
    body = ET.SubElement(root, "g", transform=f"translate(0,{top:.0f})")
    edges = ET.SubElement(body, "g", {"class": "rp-edges"})
    for (u, v), d in layout.edges.items():
        width = (edge_widths or {}).get((u, v))
        _edge(edges, d, "#c2410c" if width else EDGE_COLOUR, "heat" if width else "edge", width or 1.2)
    _nodes(ET.SubElement(body, "g", {"class": "rp-nodes"}), graph, layout, fills or {})
    ET.SubElement(body, "g", {"class": "rp-overlay"})
    legend_box.set("transform", f"translate(0,{top + layout.height:.0f})")
    root.append(legend_box)
    return root


def path_overlay(graph: nx.DiGraph, layout: Layout, steps: Sequence[TrackerStep]) -> list[ET.Element]:
    """The path drawn over a flowchart: taken edges, jumps off the graph, and each node's step numbers."""
    lines: list[tuple[str, str, str, str | None]] = []
    numbers: dict[str, list[int]] = {}
    bad_nodes: set[str] = set()
    for index, step in enumerate(steps):
        numbers.setdefault(step.action, []).append(index + 1)
        if not step.legal:
            bad_nodes.add(step.action)
        if not index:
            continue
        colour, marker = (PATH_COLOUR, "path") if step.legal else (ILLEGAL_COLOUR, "bad")
        taken = step_edges(graph, steps[index - 1].action, step.action)
        for edge in taken:
            lines.append((layout.edges[edge], colour, marker, None))
        if not taken:
            d = connector(layout.nodes[steps[index - 1].action], layout.nodes[step.action], curved=True)
            lines.append((d, colour, marker, "6,4"))
    group = ET.Element("g")
    for d, colour, marker, dash in lines:
        _edge(group, d, colour, marker, 2.6, dash)
    for node, indices in numbers.items():
        _badge(group, layout, node, _numbers_text(indices), ILLEGAL_COLOUR if node in bad_nodes else PATH_COLOUR)
    return list(group)


def _numbers_text(indices: Sequence[int]) -> str:
    shown = ",".join(str(i) for i in indices[:4])
    return shown + ("…" if len(indices) > 4 else "")


def _badge(parent: ET.Element, layout: Layout, node: str, text: str, colour: str) -> None:
    box = layout.nodes[node]
    width = 8 + 6.5 * len(text)
    x, y = box.x + box.width / 2 - width / 2, box.y - box.height / 2 - 6
    ET.SubElement(parent, "rect", x=f"{x - width / 2:.1f}", y=f"{y - 8:.1f}", width=f"{width:.1f}", height="15",
                  rx="7", fill=colour)
    label = ET.SubElement(parent, "text", x=f"{x:.1f}", y=f"{y + 3.5:.1f}", fill="#ffffff",
                          attrib={"text-anchor": "middle", "font-size": "10", "font-weight": "bold"})
    label.text = text


def _picture(root: ET.Element) -> Picture:
    return Picture(ET.tostring(root, encoding="unicode"))


def _title(graph: nx.DiGraph, title: str | None, suffix: str) -> str:
    return title if title is not None else f"{graph.graph.get('name') or 'policy'}{suffix}"


def draw_policy(graph: nx.DiGraph, path: PathLike = None, *, title: str | None = None,
                engine: Engine = "auto") -> Picture:
    """A layered flowchart of ``graph``; with ``path`` (a `Dialog` or action names), the path numbered in order.

    Taken steps are blue, illegal ones red (a red dashed line when the graph has no such edge).
    ``engine`` picks the layout: graphviz ``dot`` if installed (``auto``), or ``networkx`` (no binary needed).
    """
    layout = layered_layout(checked_graph(graph, "draw_policy's graph"), engine)
    judged = judged_steps(graph, path)
    steps = [step for step in judged if step.action in graph]
    off_graph = len(judged) - len(steps)
    suffix = f": path of {len(steps)} steps" if path is not None else ""
    note = f" (and {off_graph} actions the graph does not have)" if off_graph else ""
    root = flowchart_svg(graph, layout, title=_title(graph, title, suffix) + note)
    root.find(".//g[@class='rp-overlay']").extend(path_overlay(graph, layout, steps))  # type: ignore[union-attr]
    return _picture(root)


def heat_styles(counts: Visits) -> tuple[dict[str, str], dict[tuple[str, str], float]]:
    """Node fills and edge widths for visit counts (darker and wider: visited more)."""
    top = max(counts.nodes.values(), default=0) or 1
    top_edge = max(counts.edges.values(), default=0) or 1
    fills = {node: heat_colour(n / top) for node, n in counts.nodes.items()}
    widths = {edge: 1.2 + 5.0 * n / top_edge for edge, n in counts.edges.items()}
    return fills, widths


def policy_heatmap(graph: nx.DiGraph, dialogs: Iterable[PathLike], *, title: str | None = None,
                   engine: Engine = "auto", uncovered: Iterable[tuple[str, str]] = ()) -> Picture:
    """``graph`` with nodes and edges coloured by how often ``dialogs`` visited them; violations marked red.

    ``uncovered``: edges drawn as dashed red lines (`roleplay.evaluation.coverage`'s reachable edges no dialogue
    took), so what the data never exercised shows on the flowchart.
    """
    counts = visits(checked_graph(graph, "policy_heatmap's graph"), dialogs)
    layout = layered_layout(graph, engine)
    fills, widths = heat_styles(counts)
    missing = [edge for edge in uncovered if edge in layout.edges]
    root = flowchart_svg(graph, layout, fills=fills, edge_widths=widths, heat=True, uncovered=bool(missing),
                         title=_title(graph, title, f": visits over {counts.dialogs} dialogues"))
    overlay = root.find(".//g[@class='rp-overlay']")
    for edge in missing:
        _edge(overlay, layout.edges[edge], ILLEGAL_COLOUR, "bad", 2.0, "6,4")  # type: ignore[arg-type]
    for node, n in counts.violations.items():
        _badge(overlay, layout, node, f"✗{n}", ILLEGAL_COLOUR)  # type: ignore[arg-type]
    return _picture(root)
