"""The legend under every flowchart (what node shapes, borders and line colours mean) and the heat colour scale."""

from __future__ import annotations

from typing import TypedDict
from xml.etree import ElementTree as ET

__all__ = ["heat_colour", "legend"]

HEAT_STOPS = ((0.0, (255, 247, 236)), (0.5, (253, 174, 107)), (1.0, (217, 72, 1)))
ROW_HEIGHT = 22.0
KINDS = {  # kind -> (fill, stroke, corner radius); the flowchart draws nodes with the same values
    "action": ("#ffffff", "#475569", 3),
    "query": ("#e0f2fe", "#0369a1", 0),
    "global": ("#f1f5f9", "#64748b", 14),
    "outcome": ("#fef9c3", "#a16207", 12),
    "answer": ("#f3e8ff", "#7e22ce", 12),
}
GOAL_STROKE = "#15803d"
PATH_COLOUR = "#2563eb"
ILLEGAL_COLOUR = "#dc2626"


def heat_colour(fraction: float) -> str:
    """A colour from pale (0.0: rarely visited) to dark orange (1.0: the most visited)."""
    fraction = min(max(fraction, 0.0), 1.0)
    for (low, low_rgb), (high, high_rgb) in zip(HEAT_STOPS, HEAT_STOPS[1:], strict=False):
        if fraction <= high:
            t = (fraction - low) / (high - low)
            return "#" + "".join(f"{round(a + (b - a) * t):02x}" for a, b in zip(low_rgb, high_rgb, strict=True))
    return "#d94801"


def _text(parent: ET.Element, x: float, y: float, text: str) -> None:
    ET.SubElement(parent, "text", x=f"{x:.1f}", y=f"{y:.1f}", fill="#334155", attrib={"font-size": "11"}).text = text


def _sample_box(group: ET.Element, fill: str, stroke: str, radius: int, dash: str | None = None,
                width: str = "1.2") -> None:
    attrs = {"x": "0", "y": "-9", "width": "22", "height": "14", "rx": str(min(radius, 7)), "fill": fill,
             "stroke": stroke, "stroke-width": width}
    if dash:
        attrs["stroke-dasharray"] = dash
    ET.SubElement(group, "rect", attrs)


def _sample_line(group: ET.Element, colour: str, dash: str | None = None) -> None:
    attrs = {"x1": "0", "y1": "-2", "x2": "22", "y2": "-2", "stroke": colour, "stroke-width": "2.6"}
    if dash:
        attrs["stroke-dasharray"] = dash
    ET.SubElement(group, "line", attrs)


class _Sample(TypedDict, total=False):
    """How a legend entry's sample is drawn: a box (fill, stroke, corner radius), a line, or the heat gradient."""

    box: tuple[str, str, int]
    line: str
    gradient: bool
    dash: str
    width: str


def _samples(heat: bool, uncovered: bool = False) -> list[tuple[str, _Sample]]:
    """(label, how to draw its sample) for each legend entry."""
    items: list[tuple[str, _Sample]] = [(kind, {"box": style}) for kind, style in KINDS.items()]
    items += [("goal", {"box": ("#ffffff", GOAL_STROKE, 3), "width": "2.5"}),
              ("anywhere", {"box": ("#ffffff", "#64748b", 3), "dash": "5,3"})]
    if heat:
        items += [("visits: few → many", {"gradient": True}),
                  ("✗n: illegal steps into, or off the graph from, here", {"box": (ILLEGAL_COLOUR,) * 2 + (7,)})]
        items += [("reachable, never taken", {"line": ILLEGAL_COLOUR, "dash": "6,4"})] if uncovered else []
    else:
        items += [("path (step numbers)", {"line": PATH_COLOUR}), ("illegal step", {"line": ILLEGAL_COLOUR}),
                  ("no such edge", {"line": ILLEGAL_COLOUR, "dash": "6,4"})]
    return items


def _draw_sample(group: ET.Element, sample: _Sample) -> None:
    if "line" in sample:
        _sample_line(group, sample["line"], sample.get("dash"))
    elif sample.get("gradient"):
        for step in range(5):
            ET.SubElement(group, "rect", x=str(step * 5), y="-9", width="5", height="14", fill=heat_colour(step / 4))
    else:
        _sample_box(group, *sample["box"], dash=sample.get("dash"), width=sample.get("width", "1.2"))


def legend(width: float, heat: bool = False, uncovered: bool = False) -> tuple[ET.Element, float, float]:
    """The legend as an SVG group, wrapped to ``width`` (at least 520 px), and its width and height.

    ``uncovered``: a heatmap that draws the reachable edges no dialogue took says what their line means.
    """
    group = ET.Element("g", {"class": "rp-legend"})
    limit, x, y = max(width, 520.0), 12.0, ROW_HEIGHT
    widest = 0.0
    for label, sample in _samples(heat, uncovered):
        item_width = 30 + 6.6 * len(label) + 14
        if x + item_width > limit and x > 12:
            x, y = 12.0, y + ROW_HEIGHT
        item = ET.SubElement(group, "g", transform=f"translate({x:.1f},{y:.1f})")
        _draw_sample(item, sample)
        _text(item, 28, 2, label)
        x += item_width
        widest = max(widest, x)
    return group, max(width, widest), y + 10
