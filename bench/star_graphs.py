"""How right are the reconstructed STAR policy graphs? Acceptance of real wizard transitions, and tightness.

For each graph layer (the raw dict; dict + naming rules; + mined transitions) it prints the share of
consecutive system actions of the real dialogues that the graphs accept (replayed by the tracker,
queries included) and the mean number of legal next actions per node. Mined graphs are measured
in-sample (mined on all dialogues, as shipped) and held out (2-fold by dialogue id: mined on one
half, measured on the other). It also prints the issue's baseline: label pairs the dict accepts.

The tightness table then trades acceptance of *held-out* transitions against the out-degree of the
graphs they were judged on (mined on the other fold, legal next actions counting global ones), for
min_count 1–3, for probability-thresholded graphs (min_count 1, mined edges below a share of their
source's transitions dropped: `prune_rare`) and with the transitions other tasks' dialogues took between
labels a task shares with them (`pool_across_tasks`).

    python bench/star_graphs.py --star-path ../shared/star
"""

from __future__ import annotations

import argparse
import statistics

from roleplay.datasets.star._format import scenario_tasks
from roleplay.datasets.star._graphs import (
    acceptance,
    add_mined,
    base_graph,
    count_transitions,
    mine_transitions,
    pool_across_tasks,
    prune_rare,
)
from roleplay.datasets.star._loader import STAR, fold_of
from roleplay.policy.graph import mean_out_degree


def graphs(rules: bool = True, mined_on=None, min_count: int = 1, min_share: float = 0.0, pooled: bool = False):
    built = {t: base_graph(t, STAR.get_task(t), rules=rules) for t in STAR.tasks()}
    if mined_on is not None:
        add_mined(built, mine_transitions(built, mined_on), min_count, STAR.templates())
        if pooled:
            pool_across_tasks(built)
        count_transitions(built, mined_on)
        for graph in built.values():
            prune_rare(graph, min_share)
    return built


def label_pairs_accepted_by_dict(dialogs) -> float:
    """The baseline the issue quotes: consecutive ActionLabels (a, b) with dict[a] == b, single-task dialogues."""
    accepted = total = 0
    for dialog in dialogs:
        tasks = scenario_tasks(dialog.scenario)
        if len(tasks) != 1:
            continue
        chain = STAR.get_task(tasks[0])["graph"]
        labels = [t.action for t in dialog.turns if t.action]
        total += len(labels) - 1 if labels else 0
        accepted += sum(chain.get(a) == b for a, b in zip(labels, labels[1:], strict=False))
    return accepted / total


def degree(built) -> float:
    return statistics.fmean(mean_out_degree(g) for g in built.values())


def report(name: str, built, dialogs) -> None:
    accepted, total = acceptance(built, dialogs)
    print(f"{name:44} accepts {accepted / total:6.1%} of {total} transitions; mean legal next actions "
          f"{degree(built):.2f}")


def held_out(dialogs, min_count: int = 1, min_share: float = 0.0, pooled: bool = False) -> tuple[float, float]:
    """(acceptance of each fold's transitions by graphs mined on the other, their mean out-degree)."""
    halves = [[d for d in dialogs if fold_of(d.id) == k] for k in (0, 1)]
    built = [graphs(mined_on=halves[k], min_count=min_count, min_share=min_share, pooled=pooled) for k in (0, 1)]
    judged = [acceptance(built[k], halves[1 - k]) for k in (0, 1)]
    return sum(j[0] for j in judged) / sum(j[1] for j in judged), statistics.fmean(degree(b) for b in built)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--star-path", required=True)
    args = parser.parse_args()
    STAR.set_path(args.star_path)
    dialogs = STAR.get_dialogs()
    print(f"baseline: the dict accepts {label_pairs_accepted_by_dict(dialogs):.1%} of consecutive action-label "
          "pairs (single-task dialogues)")
    report("dict only", graphs(rules=False), dialogs)
    report("dict + rules", graphs(), dialogs)
    for min_count in (1, 2, 3):
        report(f"dict + rules + mined (min_count={min_count}), in-sample", graphs(mined_on=dialogs,
                                                                                   min_count=min_count), dialogs)
    print("\ntightness on held-out folds (2-fold by id): graph mined on one fold, judged on the other")
    print(f"{'graph':44} {'held-out acceptance':>20} {'mean legal next actions':>24}")
    settings = [(f"min_count={m}", m, 0.0, False) for m in (1, 2, 3)]
    settings += [(f"min_count=1, mined edges with share >= {s:.0%}", 1, s, False) for s in (0.02, 0.05, 0.10, 0.20)]
    settings += [(f"min_count={m} + pooled across tasks", m, 0.0, True) for m in (1, 2)]
    settings += [("min_count=1 + pooled, share >= 5%", 1, 0.05, True)]
    for name, min_count, min_share, pooled in settings:
        accepted, out_degree = held_out(dialogs, min_count, min_share, pooled)
        print(f"{name:44} {accepted:>20.1%} {out_degree:>24.2f}")


if __name__ == "__main__":
    main()
