"""Fit the prior's parameters on the mining dialogues: smoothing, revisit factor and closing boost.

`roleplay.policy.prior.weigh` turns the human transition counts into shares (add-``smoothing``) and adapts
them to the dialogue so far with two numbers: ``revisit`` (an action taken before is that much less
likely again) and ``closing_boost`` (closing actions likelier after the goal, less likely before).
Rather than set them by hand, this picks the values under which the real wizards' choices are most
likely: each mining dialogue is replayed on graphs mined from the same fold, and every legal step
scores the log-probability `weigh` gave the action the wizard took. It is done per fold (mined and
scored on the dialogues *outside* the held-out fold), so a default that both folds agree on was never
fitted on the dialogues it is judged on. The counts are scored on the dialogues they were mined from,
so in-sample likelihood always wants less smoothing: the smoothing rows cannot choose it, and the
default (0.5) stays; revisit and boost are chosen per smoothing row.

    python bench/star_prior_fit.py --star-path ../shared/star
"""

from __future__ import annotations

import argparse
import itertools
import math

from roleplay.datasets.star.format import scenario_tasks
from roleplay.datasets.star.loader import FOLDS, STAR, fold_of
from roleplay.policy.prior import Prior, weigh
from roleplay.policy.tracker import FlowchartTracker, replay

SMOOTHINGS = (0.1, 0.25, 0.5, 1.0, 2.0)
REVISITS = (0.4, 0.6, 0.8, 0.9, 1.0)
BOOSTS = (1.0, 2.0, 4.0, 8.0)


def steps(held_out: int) -> list[tuple]:
    """(graph, origin, options, path before, goal reached before, action) of every legal wizard step."""
    found = []
    for dialog in STAR.iter_dialogs(progress=False):
        if fold_of(dialog.id) == held_out:
            continue
        graphs = {t: STAR.get_task_graph(t, held_out=held_out) for t in scenario_tasks(dialog.scenario)}
        if not graphs:
            continue
        tracker = FlowchartTracker(graphs)
        reached = False
        for step, origin, _ in replay(tracker, dialog):
            if step.legal and step.index > 0 and origin in graphs[step.task]:
                found.append((graphs[step.task], origin, step.allowed, tracker.path[:-1], reached, step.action))
            reached = tracker.completed()
    return found


def log_likelihood(found: list[tuple], prior: Prior) -> float:
    total = 0.0
    for graph, origin, options, path, reached, action in found:
        shares = dict(weigh(graph, origin, options, path, prior, reached))
        total += math.log(max(shares.get(action, 0.0), 1e-12))
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--star-path", required=True)
    args = parser.parse_args()
    STAR.set_path(args.star_path)
    default = Prior()
    for held_out in range(FOLDS):
        found = steps(held_out)
        scores = {(s, r, b): log_likelihood(found, Prior(smoothing=s, revisit=r, closing_boost=b)) / len(found)
                  for s, r, b in itertools.product(SMOOTHINGS, REVISITS, BOOSTS)}
        best = max(scores, key=scores.__getitem__)
        mine = (default.smoothing, default.revisit, default.closing_boost)
        print(f"fold {held_out} held out: {len(found)} wizard steps; best smoothing {best[0]}, revisit {best[1]}, "
              f"closing_boost {best[2]}: mean log-likelihood {scores[best]:.4f} (defaults {mine}: "
              f"{scores.get(mine, float('nan')):.4f}; hand-set 0.5/0.6/8.0: {scores[(0.5, 0.6, 8.0)]:.4f})")
        for s in SMOOTHINGS:
            print(f"  smoothing {s}: best", max(((r, b, round(v, 4)) for (s2, r, b), v in scores.items() if s2 == s),
                                                 key=lambda x: x[2]))


if __name__ == "__main__":
    main()
