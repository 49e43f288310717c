"""Seeing simulations: transcripts (HTML and terminal), policy flowcharts with the path taken, and HTML reports."""

from roleplay.viz.flowchart import Picture, draw_policy, policy_heatmap

__all__ = ["Picture", "draw_policy", "policy_heatmap"]
