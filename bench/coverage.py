"""How much of the STAR policy graphs does the ``sample`` prior cover? Per task, with the scripted proxy.

The baseline half of issue 33's floor: ``roleplay star generate``'s default set-up (calibrated ``sample``
prior, goal-aware users with STAR's behaviour rates) on the happy single-task scenarios of one fold,
each run on the graph mined without that fold (held out), ``--per-task-dialogs`` dialogues per task
(each scenario under several seeds, as ``bench/star_realism.py`` plays them, whose scripted proxy and
scenario choice this reuses). Coverage is `roleplay.evaluation.coverage` (the numbers of ``roleplay
coverage``): edges taken of those reachable from the start under the graph's own constraints, the
outcome and answer branches, and the legal rate and completion from the tracker. ``--cover edges``
(coverage-driven generation) is not built yet, so there is no second arm to compare with.

    nice -n 10 python bench/coverage.py --star-path ../shared/star --per-task-dialogs 100
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from star_realism import SETUPS, generate, pick_scenarios, proxy_reply, runs_for

from roleplay import backends
from roleplay.backends.scripted import scripted_model
from roleplay.datasets.star.format import scenario_tasks
from roleplay.datasets.star.loader import STAR
from roleplay.evaluation import evaluate_dialog, table
from roleplay.evaluation.coverage import coverage_of


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--star-path", required=True)
    parser.add_argument("--per-task-dialogs", type=int, default=100, help="Generated dialogues per task")
    parser.add_argument("--scenarios", type=int, default=8, help="Scenarios per task (played under more seeds)")
    parser.add_argument("--fold", type=int, default=0, help="Scenarios of this fold, graphs mined without it")
    parser.add_argument("--max-turns", type=int, default=30)
    parser.add_argument("--tasks", type=int, default=None, help="Only the first N tasks (a quick look)")
    args = parser.parse_args()
    STAR.set_path(args.star_path)
    backends.register_backend("proxy", lambda model, options: scripted_model(fn=proxy_reply, seed=options.seed))
    by_task = dict(list(pick_scenarios(args.scenarios, args.fold).items())[:args.tasks])
    rows, started = [], time.perf_counter()
    for task, ids in by_task.items():
        runs = runs_for({task: ids}, args.per_task_dialogs)[:args.per_task_dialogs]
        dialogs = asyncio.run(generate(runs, "proxy", SETUPS["default"], args.max_turns, task))
        graph = STAR.get_task_graph(task, held_out=args.fold)
        [covered] = coverage_of((d, {task: graph}) for d in dialogs if scenario_tasks(d.scenario) == [task])
        metrics = [evaluate_dialog(d, {task: graph}) for d in dialogs]
        rows.append({"task": task, "dialogs": len(dialogs), "edges": f"{covered.edges.covered}/"
                     f"{covered.edges.reachable}", "edge_coverage": covered.edges.rate,
                     "outcome": f"{covered.outcome_branches.covered}/{covered.outcome_branches.reachable}",
                     "answer": f"{covered.answer_branches.covered}/{covered.answer_branches.reachable}",
                     "nodes": covered.nodes.rate,
                     "legal": round(statistics.fmean(m.legal_rate or 0.0 for m in metrics), 4),
                     "completion": round(statistics.fmean(m.completed for m in metrics), 3)})
        print(table(rows[-1:]), flush=True)
    rates = [r["edge_coverage"] for r in rows if r["edge_coverage"] is not None]
    print(table(rows))
    print(f"sample prior, {len(rows)} tasks: mean reachable-edge coverage {statistics.fmean(rates):.3f}, "
          f"min {min(rates):.3f}, max {max(rates):.3f}; {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
