"""Seeing simulations: transcripts (HTML and terminal), policy flowcharts with the path taken, and HTML reports.

- `Dialog._repr_html_` and ``roleplay show`` use `roleplay.viz.transcript`;
- `draw_policy` and `policy_heatmap` draw policy graphs as SVG (`roleplay.viz.flowchart`);
- `write_report` (``roleplay report``) writes one self-contained HTML page for a run folder.
"""

from roleplay.viz.flowchart import Picture, draw_policy, policy_heatmap
from roleplay.viz.report import write_report
from roleplay.viz.transcript import dialog_html

__all__ = ["Picture", "dialog_html", "draw_policy", "policy_heatmap", "write_report"]
