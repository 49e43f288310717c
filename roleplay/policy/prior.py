"""A data-driven policy prior: how often humans took each legal next action, and steering by it.

Edges of a mined graph count how often real dialogues took them (``count``); a node's ``starts``
counts the dialogues that opened with it. `probabilities` turns the counts of the edges leaving where
the dialogue is into add-alpha smoothed probabilities over the legal options (an option reached
through an unresolved branch, the query's outcome or the user's yes/no, counts the edges from each
branch). `weigh` then adapts them to the dialogue so far: an action already taken is less likely
again (``revisit``, twice over right after itself: the goal-aware user answered, so asking again is
rare), and the closing actions ("anything else?", goodbye) are ``closing_boost`` times likelier once
the goal is reached and as many times less likely before it: human counts out of an action mix
dialogues that close there with ones that go on, and closing before the goal leaves the user unserved.
`narrow` says what the model is offered:

- ``none``: the options as the graph orders them (no prior);
- ``rank``: all options, most human-like first, each with its share;
- ``nucleus``: the most likely options that together hold ``mass`` of the probability; the model picks
  among the human-plausible ones (``mass`` 0 is ``argmax``, 1 is ``rank``);
- ``sample``: one option drawn from the prior (seeded); the model only words it;
- ``argmax``: the single most likely option; the model only words it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Literal

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field

from roleplay.policy.graph import NodeKind, is_system, is_terminal, node_kind

__all__ = ["PRIOR_MODES", "Prior", "PriorMode", "closing_actions", "narrow", "option_count", "probabilities",
           "weigh"]

PriorMode = Literal["none", "rank", "nucleus", "sample", "argmax"]
PRIOR_MODES: tuple[str, ...] = ("none", "rank", "nucleus", "sample", "argmax")


class Prior(BaseModel):
    """How the human transition counts steer the policy agent's choice."""

    model_config = ConfigDict(extra="forbid")

    mode: PriorMode = Field("none", description="none | rank | nucleus | sample | argmax (see the module).")
    mass: float = Field(0.6, ge=0.0, le=1.0, description="nucleus: offer the likeliest options holding this mass.")
    smoothing: float = Field(0.5, ge=0.0, description="Add-alpha smoothing of the counts per source node.")
    revisit: float = Field(0.6, ge=0.0, le=1.0, description="Weight factor per earlier visit of the same action. "
                           "Wizards alone would want 1.0 (bench/star_prior_fit.py); 0.6 keeps a simulated user's "
                           "unclear or contrary answers from looping the agent where a wizard would move on.")
    closing_boost: float = Field(2.0, ge=1.0, description="Closing actions' weight times this once the goal is "
                                 "reached, divided by it before (the likeliest for the wizards of both folds, "
                                 "bench/star_prior_fit.py).")


def option_count(graph: nx.DiGraph, origin: str | None, action: str) -> int:
    """How often humans went from ``origin`` (None: the start of a dialogue) to ``action``.

    The edge's count, or, through unresolved branches (outcome/answer nodes), the counts of the edges
    from each branch to ``action``.
    """
    if origin is None:
        return int(graph.nodes[action].get("starts", 0)) if action in graph else 0
    if graph.has_edge(origin, action):
        return int(graph.edges[origin, action].get("count", 0))
    return sum(int(graph.edges[b, action].get("count", 0)) for b in graph.successors(origin)
               if not is_system(graph, b) and graph.has_edge(b, action))


def probabilities(graph: nx.DiGraph, origin: str | None, options: Sequence[str],
                  smoothing: float = 0.5) -> dict[str, float]:
    """Smoothed share of each option among the human transitions from ``origin`` (uniform without counts)."""
    counts = {a: option_count(graph, origin, a) + smoothing for a in options}
    total = sum(counts.values())
    if total <= 0:
        return {a: 1 / len(options) for a in options} if options else {}
    return {a: c / total for a, c in counts.items()}


def closing_actions(graph: nx.DiGraph) -> set[str]:
    """The actions that close a dialogue: terminal ones (goodbye) and the globals that lead to them."""
    start = graph.graph.get("start")
    return {n for n in graph if is_system(graph, n) and (is_terminal(graph, n) or (
        node_kind(graph, n) == NodeKind.GLOBAL and n != start and not graph.nodes[n].get("anywhere")))}


def weigh(graph: nx.DiGraph, origin: str | None, options: Sequence[str], path: Sequence[str], prior: Prior,
          goal_reached: bool) -> list[tuple[str, float]]:
    """The options with their prior probability adapted to the dialogue so far, likeliest first."""
    base = probabilities(graph, origin, options, prior.smoothing)
    closing = closing_actions(graph)
    boost = prior.closing_boost if goal_reached else 1 / prior.closing_boost
    repeats = {a: path.count(a) + (path[-1:] == [a]) for a in options}  # saying it again at once counts twice
    weights = {a: p * prior.revisit ** repeats[a] * (boost if a in closing else 1.0) for a, p in base.items()}
    total = sum(weights.values()) or 1.0
    return sorted(((a, w / total) for a, w in weights.items()), key=lambda item: -item[1])


def narrow(weighted: Sequence[tuple[str, float]], prior: Prior, rng: random.Random) -> list[str]:
    """The options to offer, by the prior's mode (``weighted``: likeliest first, as `weigh` gives them)."""
    actions = [a for a, _ in weighted]
    if prior.mode in ("none", "rank") or not actions:
        return actions
    if prior.mode == "argmax":
        return actions[:1]
    if prior.mode == "sample":
        return rng.choices(actions, weights=[w for _, w in weighted])
    kept, mass = [], 0.0
    for action, weight in weighted:
        kept.append(action)
        mass += weight
        if mass >= prior.mass:
            break
    return kept
