"""Fit the prior's parameters by held-out likelihood on the mining folds: temperature, back-off, smoothing,
revisit factor and closing boost.

`roleplay.policy.prior` turns human transition counts into shares (`shares`: add-``smoothing``, ``backoff`` to
how often each option was taken anywhere, ``temperature``) and adapts them to the dialogue so far (`adapt`:
``revisit``, ``closing_boost``). This picks the values under which real wizards' choices are most likely
*on dialogues the counts were not mined from*, never touching the evaluation fold: for each outer fold
``f`` (held out, as ``bench/star_fidelity.py`` and ``bench/star_realism.py`` evaluate it), the mining
dialogues (fold != f, `roleplay.datasets.star._loader.fold_of`) are split in two inner halves by id
(``(id // 20) % 2``); graphs are mined on one half and every legal wizard step of the other half scores
the log-probability the prior gave the action the wizard took, both ways round. Each step's counts are
read once, so the grid costs arithmetic only. The last line per fold scores the chosen and the former
defaults on the held-out fold itself (graphs mined on the whole mining fold), as a check.

    python bench/star_prior_fit.py --star-path ../shared/star
"""

from __future__ import annotations

import argparse
import itertools
import math
from collections.abc import Callable
from typing import NamedTuple

from roleplay.datasets.star._format import scenario_tasks
from roleplay.datasets.star._loader import FOLDS, STAR, fold_of
from roleplay.policy.prior import Prior, adapt, closing_actions, option_count, shares, unigram_count
from roleplay.policy.tracker import FlowchartTracker, replay

TEMPERATURES = (0.7, 0.85, 1.0, 1.2, 1.5)
BACKOFFS = (0.0, 0.1, 0.25, 1.0, 4.0)
SMOOTHINGS = (0.1, 0.25, 0.5, 1.0)
REVISITS = (0.4, 0.6, 0.8, 1.0)
BOOSTS = (1.0, 2.0, 4.0)
FORMER = Prior(smoothing=0.5, backoff=0.0, temperature=1.0, revisit=0.6, closing_boost=2.0)


class Step(NamedTuple):
    """One legal wizard step, with everything the prior needs, read once."""

    counts: list[int]
    unigrams: list[int]
    repeats: list[int]
    closing: list[bool]
    reached: bool
    chosen: int


def steps(mine: Callable[[int], bool], score: Callable[[int], bool]) -> list[Step]:
    """The legal wizard steps of the dialogues ``score`` accepts, on graphs mined from those ``mine`` accepts."""
    graphs = STAR.dataset.mine_graphs(mine)
    closing = {task: closing_actions(graph) for task, graph in graphs.items()}
    found = []
    for dialog in STAR.iter_dialogs(progress=False):
        if not score(int(dialog.id)):
            continue
        tasks = {t: graphs[t] for t in scenario_tasks(dialog.scenario) if t in graphs}
        if not tasks:
            continue
        tracker, reached = FlowchartTracker(tasks), False
        for step, origin, _ in replay(tracker, dialog):
            graph = tasks[step.task]
            if step.legal and step.index > 0 and origin in graph:
                path, options = tracker.path[:-1], step.allowed
                found.append(Step([option_count(graph, origin, a) for a in options],
                                  [unigram_count(graph, a) for a in options],
                                  [path.count(a) + (path[-1:] == [a]) for a in options],
                                  [a in closing[step.task] for a in options], reached, options.index(step.action)))
            reached = tracker.completed()
    return found


def log_likelihood(found: list[Step], prior: Prior) -> float:
    """Mean log-probability of the wizards' actions under ``prior``."""
    total = 0.0
    for s in found:
        probability = adapt(shares(s.counts, s.unigrams, prior), s.repeats, s.closing, prior, s.reached)[s.chosen]
        total += math.log(max(probability, 1e-12))
    return total / len(found)


def grid() -> list[Prior]:
    return [Prior(temperature=t, backoff=b, smoothing=s, revisit=r, closing_boost=c)
            for t, b, s, r, c in itertools.product(TEMPERATURES, BACKOFFS, SMOOTHINGS, REVISITS, BOOSTS)]


def show(prior: Prior) -> str:
    return (f"temperature {prior.temperature}, backoff {prior.backoff}, smoothing {prior.smoothing}, "
            f"revisit {prior.revisit}, closing_boost {prior.closing_boost}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--star-path", required=True)
    args = parser.parse_args()
    STAR.set_path(args.star_path)
    candidates, default = grid(), Prior()
    for held_out in range(FOLDS):
        mining = lambda i, f=held_out: fold_of(i) != f  # noqa: E731
        halves = [lambda i, h=h, m=mining: m(i) and (i // 20) % 2 == h for h in (0, 1)]
        inner = steps(halves[0], halves[1]) + steps(halves[1], halves[0])
        scores = {i: log_likelihood(inner, prior) for i, prior in enumerate(candidates)}
        ranked = sorted(scores, key=scores.__getitem__, reverse=True)
        print(f"fold {held_out} held out: {len(inner)} inner-held-out wizard steps of the mining fold")
        for i in ranked[:5]:
            print(f"  {scores[i]:.4f}  {show(candidates[i])}")
        print(f"  former defaults: {log_likelihood(inner, FORMER):.4f}; current defaults: "
              f"{log_likelihood(inner, default):.4f}")
        outer = steps(mining, lambda i, f=held_out: fold_of(i) == f)
        best = log_likelihood(outer, candidates[ranked[0]])
        print(f"  check on the held-out fold ({len(outer)} steps): best-inner {best:.4f}, current defaults "
              f"{log_likelihood(outer, default):.4f}, former {log_likelihood(outer, FORMER):.4f}", flush=True)


if __name__ == "__main__":
    main()
