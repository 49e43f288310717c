"""A data-driven policy prior: how often humans took each legal next action, and steering by it.

Edges of a mined graph count how often real dialogues took them (``count``); a node's ``starts``
counts the dialogues that opened with it. `probabilities` turns the counts of the edges leaving where
the dialogue is into add-alpha smoothed probabilities over the legal options (an option reached
through an unresolved branch, the query's outcome or the user's yes/no, counts the edges from each
branch), calibrated for corpora by two more numbers: ``backoff`` mixes in how often humans took each
option from anywhere (its unigram count), more where the dialogue is at a node with few counts
(weight ``n / (n + backoff)`` on the node's own counts, ``n`` their total), so an unseen state does not
fall back to uniform; ``temperature`` then flattens (above 1) or sharpens (below 1) the shares, as a
language model's temperature does. `weigh` then adapts them to the dialogue so far: an action already
taken is less likely again (``revisit``, twice over right after itself: the goal-aware user answered, so asking again is
rare), and the closing actions ("anything else?", goodbye) are ``closing_boost`` times likelier once
the goal is reached and as many times less likely before it: human counts out of an action mix
dialogues that close there with ones that go on, and closing before the goal leaves the user unserved.
`narrow` says what the model is offered:

- ``none``: the options as the graph orders them (no prior);
- ``rank``: all options, most human-like first, each with its share;
- ``nucleus``: the most likely options that together hold ``mass`` of the probability; the model picks
  among the human-plausible ones (``mass`` 0 is ``argmax``, 1 is ``rank``);
- ``sample``: one option drawn from the prior (seeded); the model only words it. The default of
  ``roleplay star generate`` and of DOT policies whose edges carry counts (`default_mode`): a corpus
  of sampled dialogues varies its paths the way the humans' do, where ``argmax`` plays one path per
  task (bench/star_realism.py);
- ``argmax``: the single most likely option; the model only words it.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from typing import Literal

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field

from roleplay.policy.graph import NodeKind, is_system, is_terminal, node_kind

__all__ = ["PRIOR_MODES", "Prior", "PriorMode", "adapt", "closing_actions", "default_mode", "has_counts", "narrow",
           "option_count", "probabilities", "shares", "unigram_count", "weigh"]

PriorMode = Literal["none", "rank", "nucleus", "sample", "argmax"]
PRIOR_MODES: tuple[str, ...] = ("none", "rank", "nucleus", "sample", "argmax")


class Prior(BaseModel):
    """How the human transition counts steer the policy agent's choice.

    The numbers' defaults were fitted on STAR's mining folds (docs/star.md): by held-out likelihood of the
    wizards' choices (bench/star_prior_fit.py: smoothing 0.25 and temperature 1 are the likeliest in both
    folds) and by corpus metrics of sampled dialogues on fold-0 scenarios (bench/star_realism.py: a light
    back-off, 0.1, and revisit 0.8 keep the paths as long as the humans' with the lowest bigram JSD; the
    likelihood alone would take back-off 1 and revisit 1, which shorten sampled paths and let argmax loop).
    """

    model_config = ConfigDict(extra="forbid")

    mode: PriorMode = Field("none", description="none | rank | nucleus | sample | argmax (see the module).")
    mass: float = Field(0.6, ge=0.0, le=1.0, description="nucleus: offer the likeliest options holding this mass.")
    smoothing: float = Field(0.25, ge=0.0, description="Add-alpha smoothing of the counts per source node.")
    backoff: float = Field(0.1, ge=0.0, description="Weight of the options' counts from anywhere (unigram) "
                           "against the node's own: n / (n + backoff) on the node's, n its total count.")
    temperature: float = Field(1.0, gt=0.0, description="Shares to the power 1/temperature, renormalised: "
                               "above 1 flattens, below 1 sharpens.")
    revisit: float = Field(0.8, ge=0.0, le=1.0, description="Weight factor per earlier visit of the same action. "
                           "Wizards alone would want 1.0 (bench/star_prior_fit.py); below 1 keeps a simulated "
                           "user's unclear or contrary answers from looping the agent where a wizard would move on.")
    closing_boost: float = Field(2.0, ge=1.0, description="Closing actions' weight times this once the goal is "
                                 "reached, divided by it before (the likeliest for the wizards of both folds, "
                                 "bench/star_prior_fit.py).")


def has_counts(graphs: Iterable[nx.DiGraph]) -> bool:
    """Whether any edge of ``graphs`` carries a positive ``count`` (human transitions to steer by)."""
    return any(int(d.get("count", 0) or 0) > 0 for graph in graphs for _, _, d in graph.edges(data=True))


def default_mode(graphs: Iterable[nx.DiGraph]) -> PriorMode:
    """``sample`` for graphs whose edges carry counts, else ``none`` (nothing to steer by)."""
    return "sample" if has_counts(graphs) else "none"


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


def unigram_count(graph: nx.DiGraph, action: str) -> int:
    """How often humans took ``action`` at all: the counts of the edges into it plus the dialogues it opened."""
    if action not in graph:
        return 0
    return int(graph.nodes[action].get("starts", 0)) + sum(int(d.get("count", 0))
                                                          for _, _, d in graph.in_edges(action, data=True))


def shares(counts: Sequence[float], unigrams: Sequence[float], prior: Prior) -> list[float]:
    """Calibrated probabilities from an option list's counts here (``counts``) and from anywhere (``unigrams``).

    Add-``smoothing`` shares of each, mixed with weight ``n / (n + backoff)`` on the local ones (no
    back-off: the local ones alone), then raised to ``1 / temperature`` and renormalised. Uniform when
    nothing is counted and nothing smoothed.
    """
    if not counts:
        return []
    def normalised(values: Sequence[float]) -> list[float]:
        total = sum(values)
        return [v / total for v in values] if total > 0 else [1 / len(values)] * len(values)
    local = normalised([c + prior.smoothing for c in counts])
    seen = sum(counts)
    if prior.backoff > 0:
        weight = seen / (seen + prior.backoff)
        anywhere = normalised([u + prior.smoothing for u in unigrams])
        local = [weight * p + (1 - weight) * q for p, q in zip(local, anywhere, strict=True)]
    if prior.temperature != 1.0:
        local = normalised([p ** (1 / prior.temperature) for p in local])
    return local


def probabilities(graph: nx.DiGraph, origin: str | None, options: Sequence[str],
                  smoothing: float | Prior = 0.5) -> dict[str, float]:
    """Calibrated share of each option among the human transitions from ``origin`` (see `shares`).

    ``smoothing``: a `Prior` (all its calibration), or just the add-alpha smoothing (no back-off, temperature 1).
    """
    prior = smoothing if isinstance(smoothing, Prior) else Prior(smoothing=smoothing, backoff=0.0)
    counts = [option_count(graph, origin, a) for a in options]
    unigrams = [unigram_count(graph, a) for a in options] if prior.backoff > 0 else [0] * len(options)
    return dict(zip(options, shares(counts, unigrams, prior), strict=True))


def closing_actions(graph: nx.DiGraph) -> set[str]:
    """The actions that close a dialogue: terminal ones (goodbye) and the globals that lead to them."""
    start = graph.graph.get("start")
    return {n for n in graph if is_system(graph, n) and (is_terminal(graph, n) or (
        node_kind(graph, n) == NodeKind.GLOBAL and n != start and not graph.nodes[n].get("anywhere")))}


def adapt(base: Sequence[float], repeats: Sequence[int], closing: Sequence[bool], prior: Prior,
          goal_reached: bool) -> list[float]:
    """``base`` adapted to the dialogue so far: ``revisit`` per repeat, closing boosted or damped; renormalised."""
    boost = prior.closing_boost if goal_reached else 1 / prior.closing_boost
    weights = [p * prior.revisit ** r * (boost if c else 1.0) for p, r, c in zip(base, repeats, closing, strict=True)]
    total = sum(weights) or 1.0
    return [w / total for w in weights]


def weigh(graph: nx.DiGraph, origin: str | None, options: Sequence[str], path: Sequence[str], prior: Prior,
          goal_reached: bool) -> list[tuple[str, float]]:
    """The options with their prior probability adapted to the dialogue so far, likeliest first."""
    base = probabilities(graph, origin, options, prior)
    closing = closing_actions(graph)
    repeats = [path.count(a) + (list(path[-1:]) == [a]) for a in options]  # saying it again at once counts twice
    adapted = adapt([base[a] for a in options], repeats, [a in closing for a in options], prior, goal_reached)
    return sorted(zip(options, adapted, strict=True), key=lambda item: -item[1])


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
