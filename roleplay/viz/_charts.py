"""Small inline SVG bar charts for reports: no plotting library, no script, readable in any browser."""

from __future__ import annotations

from collections.abc import Sequence
from xml.etree import ElementTree as ET

__all__ = ["bar_chart"]

BAR_HEIGHT = 18.0
LABEL_CHARS = 28
CHART_WIDTH = 460.0


def _clipped(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[:LABEL_CHARS - 1] + "…"


def bar_chart(title: str, bars: Sequence[tuple[str, float | None]], *, maximum: float | None = None,
              colour: str = "#2563eb", digits: int = 2) -> str:
    """Horizontal bars, one per (label, value); a None value is drawn as "n/a". Returns the SVG as text."""
    label_width = 7.0 * min(LABEL_CHARS, max((len(label) for label, _ in bars), default=4)) + 10
    top = max([maximum or 0.0, *(v for _, v in bars if v is not None)]) or 1.0
    plot_width = CHART_WIDTH - label_width - 60
    height = 28 + BAR_HEIGHT * 1.3 * len(bars) + 6
    root = ET.Element("svg", xmlns="http://www.w3.org/2000/svg", width=f"{CHART_WIDTH:.0f}", height=f"{height:.0f}",
                      viewBox=f"0 0 {CHART_WIDTH:.0f} {height:.0f}", role="img", attrib={"class": "rp-chart"})
    ET.SubElement(root, "title").text = title
    ET.SubElement(root, "text", x="4", y="16", attrib={"font-size": "13", "font-weight": "bold", "fill": "#0f172a"}
                  ).text = title
    for row, (label, value) in enumerate(bars):
        y = 28 + row * BAR_HEIGHT * 1.3
        ET.SubElement(root, "text", x=f"{label_width - 6:.0f}", y=f"{y + 13:.1f}", fill="#334155",
                      attrib={"font-size": "11", "text-anchor": "end"}).text = _clipped(label)
        width = plot_width * (value or 0.0) / top
        ET.SubElement(root, "rect", x=f"{label_width:.0f}", y=f"{y:.1f}", width=f"{max(width, 0.5):.1f}",
                      height=f"{BAR_HEIGHT:.0f}", fill=colour if value is not None else "#cbd5e1")
        shown = "n/a" if value is None else (f"{value:.{digits}f}" if isinstance(value, float) else str(value))
        ET.SubElement(root, "text", x=f"{label_width + width + 4:.1f}", y=f"{y + 13:.1f}", fill="#0f172a",
                      attrib={"font-size": "11"}).text = shown
    return ET.tostring(root, encoding="unicode")
