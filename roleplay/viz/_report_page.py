"""The report page itself: charts, heatmaps, the embedded dialogue data, and the template that holds them."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from xml.etree import ElementTree as ET

import networkx as nx
from markupsafe import Markup

from roleplay.dialog import Dialog
from roleplay.evaluation import DialogMetrics
from roleplay.evaluation.groups import setup_name
from roleplay.policy.tracker import TrackerStep
from roleplay.viz._charts import bar_chart
from roleplay.viz._layout import layered_layout
from roleplay.viz._paths import graph_steps
from roleplay.viz.flowchart import flowchart_svg, path_overlay, policy_heatmap
from roleplay.viz.transcript import TEMPLATES, dialog_html, transcript_css

__all__ = ["Entry", "packed", "render_page"]


@dataclass
class Entry:
    """One dialogue with what the report knows about it."""

    dialog: Dialog
    graphs: dict[str, nx.DiGraph]
    setup: tuple[str, str]  # (variant, policy arm): `roleplay.evaluation.groups.setup_of`
    tasks: list[str]
    metrics: DialogMetrics | None = None
    steps: list[TrackerStep] = field(default_factory=list)
    judged_html: str = ""  # judges' scores and reasoning, persona rule flags (`roleplay.viz._judged`)


def _asset(name: str) -> str:
    return resources.files("roleplay.viz").joinpath(f"templates/{name}").read_text(encoding="utf-8")


def _charts(summary: Sequence[Mapping[str, Any]], variants: Sequence[Mapping[str, Any]],
            counts: Mapping[str, list[tuple[str, float]]]) -> list[Markup]:
    """Turn counts, stop reasons, adherence per task and per variant, text quality per variant."""
    charts = [bar_chart("Dialogues by turn count", [(f"{k} turns", v) for k, v in counts["turns"]]),
              bar_chart("Stop reasons", counts["stop"], colour="#0f172a")]
    tasks = [row for row in summary if row["task"] != "ALL"]
    several = len(variants) > 1
    for metric, colour in (("legal_rate", "#16a34a"), ("completion", "#9333ea")):
        if tasks:
            charts.append(bar_chart(f"{metric.replace('_', ' ')} per task",
                                    [(f"{row['task']} ({setup_name(row['variant'], row['arm'])})" if several
                                      else row["task"], row[metric]) for row in tasks], maximum=1.0, colour=colour))
        if summary:
            charts.append(bar_chart(f"{metric.replace('_', ' ')} per variant and arm",
                                    [(setup_name(row["variant"], row["arm"]), row.get(metric)) for row in variants],
                                    maximum=1.0, colour=colour))
    charts.append(bar_chart("distinct-2 per variant and arm (higher: less repetitive)",
                            [(setup_name(row["variant"], row["arm"]), row["distinct_2"]) for row in variants],
                            maximum=1.0, colour="#ea580c"))
    return [Markup(chart) for chart in charts]


def _record(index: int, entry: Entry, graph_index: Mapping[str, int], overlays: Mapping[str, str]) -> dict[str, Any]:
    """What the page's script needs to list, filter and open one dialogue."""
    dialog, metrics = entry.dialog, entry.metrics
    return {
        "i": index, "id": "" if dialog.id is None else str(dialog.id), "variant": setup_name(*entry.setup),
        "tasks": entry.tasks, "turns": len(dialog.turns),
        "stop": dialog.stop_reason.value if dialog.stop_reason else "none",
        "legal": metrics.legal_rate if metrics else None, "violations": metrics.violations if metrics else None,
        "completed": metrics.completed if metrics else None,
        "text": " ".join(f"{t.speaker} {t.text}" for t in dialog.turns).lower(),
        "html": dialog_html(dialog, style=False) + entry.judged_html,
        "paths": [[graph_index[task], overlays[task]] for task in entry.graphs],
    }


def _dialog_data(entries: Sequence[Entry], graphs: Mapping[str, nx.DiGraph]) -> dict[str, Any]:
    """Each graph's flowchart once, and per dialogue its transcript and its path overlay on each of its graphs."""
    layouts = {task: layered_layout(graph) for task, graph in graphs.items()}
    graph_index = {task: i for i, task in enumerate(graphs)}
    records = []
    for index, entry in enumerate(entries):
        overlays = {}
        for task, graph in entry.graphs.items():
            steps = graph_steps(graph, [s for s in entry.steps if s.task == task])  # free-text actions: not drawn
            overlays[task] = "".join(ET.tostring(e, encoding="unicode")
                                     for e in path_overlay(graph, layouts[task], steps))
        records.append(_record(index, entry, graph_index, overlays))
    flowcharts = [ET.tostring(flowchart_svg(graphs[t], layouts[t], title=t), encoding="unicode") for t in graphs]
    return {"graphs": flowcharts, "dialogs": records}


def _heatmaps(entries: Sequence[Entry], graphs: Mapping[str, nx.DiGraph],
              uncovered: Mapping[str, Sequence[tuple[str, str]]]) -> list[Markup]:
    """Each graph's heatmap, with the reachable edges no dialogue took (``uncovered``, by task) dashed red."""
    pictures = []
    for task, graph in graphs.items():
        paths = [[s for s in e.steps if s.task == task] for e in entries if task in e.graphs]
        pictures.append(Markup(policy_heatmap(graph, paths, title=f"{task}: visits over {len(paths)} dialogues",
                                              uncovered=uncovered.get(task, ())).svg))
    return pictures


def packed(data: Mapping[str, Any]) -> str:
    """JSON, gzipped and base64-encoded: a tenth of the size, and no character that could end a script element."""
    raw = json.dumps(data, separators=(",", ":")).encode("utf-8")
    return base64.b64encode(gzip.compress(raw, compresslevel=9, mtime=0)).decode("ascii")


def render_page(*, title: str, overview: Mapping[str, Any], summary: Sequence[Mapping[str, Any]],
                variants: Sequence[Mapping[str, Any]], entries: Sequence[Entry], graphs: Mapping[str, nx.DiGraph],
                counts: Mapping[str, list[tuple[str, float]]], notes: Sequence[str],
                judged: Sequence[Mapping[str, Any]] = (), coverage: Sequence[Mapping[str, Any]] = (),
                uncovered: Mapping[str, Sequence[tuple[str, str]]] | None = None) -> str:
    """The whole page as HTML text: styles, charts, heatmaps and data inline (``uncovered``: see `_heatmaps`)."""
    return TEMPLATES.get_template("report.html.j2").render(
        title=title, overview=overview, summary=summary, variants=variants, notes=notes, judged=judged,
        coverage=coverage,
        charts=_charts(summary, variants, counts), heatmaps=_heatmaps(entries, graphs, uncovered or {}),
        data=packed(_dialog_data(entries, graphs)), css=transcript_css() + _asset("report.css"),
        script=_asset("report.js"),
    )
