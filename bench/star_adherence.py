"""Tracker-enforced vs prompt-only role-play on STAR scenarios, on one model, in one run.

Picks ``--n`` happy single-task dialogues spread over the ``--tasks`` tasks with the most of them,
generates one synthetic dialogue per scenario in each mode (seed = dialogue id), and prints the
adherence table of each mode plus the ratio. Outputs stay in ``--out`` (two run folders, resumable:
rerun to finish; ``--concurrency`` as for `roleplay star generate`).

    python bench/star_adherence.py --star-path ../shared/star --n 20 --tasks 5 --out runs/bench_star
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import defaultdict
from pathlib import Path

from roleplay.datasets.star._format import scenario_tasks
from roleplay.datasets.star._loader import STAR
from roleplay.datasets.star.generate import agenerate_star_batch
from roleplay.evaluation import evaluate_folder, table


def pick_scenarios(n: int, tasks: int) -> list[int]:
    """``n`` happy single-task dialogue ids, round-robin over the ``tasks`` best-represented tasks."""
    by_task: dict[str, list[int]] = defaultdict(list)
    for dialog_id in STAR.dialog_ids():
        scenario = STAR.get_dialog_scenario(dialog_id)
        if scenario.get("Happy") and not scenario.get("MultiTask"):
            by_task[scenario_tasks(scenario)[0]].append(dialog_id)
    chosen_tasks = sorted(by_task, key=lambda t: (-len(by_task[t]), t))[:tasks]
    ids: list[int] = []
    while len(ids) < n and any(by_task[t] for t in chosen_tasks):
        for task in chosen_tasks:
            if by_task[task] and len(ids) < n:
                ids.append(by_task[task].pop(0))
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--star-path", required=True)
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--tasks", type=int, default=5)
    parser.add_argument("--max-turns", type=int, default=16)
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--out", default="runs/bench_star")
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    STAR.set_path(args.star_path)
    ids = pick_scenarios(args.n, args.tasks)
    print(f"{len(ids)} scenarios: {ids}")
    graphs_for = lambda d: {t: STAR.get_task_graph(t) for t in scenario_tasks(d.scenario)}  # noqa: E731
    results = {}
    for mode, enforce in (("enforced", True), ("prompt_only", False)):
        out = Path(args.out) / mode
        started = time.perf_counter()
        asyncio.run(agenerate_star_batch(ids, out, "roleplay", args.model, enforce=enforce, max_turns=args.max_turns,
                                         concurrency=args.concurrency))
        report = evaluate_folder(out, graphs_for, real=lambda d: STAR.get_dialog(d.id))
        results[mode] = report["summary"][-1]
        print(f"\n== {mode} ({time.perf_counter() - started:.0f} s this run) ==")
        print(table(report["summary"]))
        print("vs real STAR:", report["comparison"])
    enforced, prompt_only = results["enforced"], results["prompt_only"]
    print("\nlegal-transition rate enforced / prompt-only:",
          f"{enforced['legal_rate']} / {prompt_only['legal_rate']}")
    print("completion enforced / prompt-only:", f"{enforced['completion']} / {prompt_only['completion']}")


if __name__ == "__main__":
    main()
