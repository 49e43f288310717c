"""How right are the reconstructed STAR policy graphs? Acceptance of real wizard transitions, and tightness.

For each graph layer (the raw dict; dict + naming rules; + mined transitions) it prints the share of
consecutive system actions of the real dialogues that the graphs accept (replayed by the tracker,
queries included) and the mean number of legal next actions per node. Mined graphs are measured
in-sample (mined on all dialogues, as shipped) and held out (2-fold by dialogue id: mined on one
half, measured on the other). It also prints the issue's baseline: label pairs the dict accepts.

    python bench/star_graphs.py --star-path ../shared/star
"""

from __future__ import annotations

import argparse
import statistics

from roleplay.datasets.star.format import scenario_tasks
from roleplay.datasets.star.graphs import acceptance, add_mined, base_graph, mine_transitions
from roleplay.datasets.star.loader import STAR
from roleplay.policy.graph import mean_out_degree


def graphs(rules: bool = True, mined_on=None, min_count: int = 1):
    built = {t: base_graph(t, STAR.get_task(t), rules=rules) for t in STAR.tasks()}
    if mined_on is not None:
        add_mined(built, mine_transitions(built, mined_on), min_count, STAR.templates())
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


def report(name: str, built, dialogs) -> None:
    accepted, total = acceptance(built, dialogs)
    degree = statistics.fmean(mean_out_degree(g) for g in built.values())
    print(f"{name:44} accepts {accepted / total:6.1%} of {total} transitions; mean legal next actions {degree:.2f}")


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
        halves = [[d for d in dialogs if (int(d.id) // 10) % 2 == k] for k in (0, 1)]
        held = [acceptance(graphs(mined_on=halves[k], min_count=min_count), halves[1 - k]) for k in (0, 1)]
        accepted, total = sum(h[0] for h in held), sum(h[1] for h in held)
        print(f"{'   same, held out (2-fold by id)':44} accepts {accepted / total:6.1%} of {total} transitions")


if __name__ == "__main__":
    main()
