"""How much of the STAR policy graphs do the ``sample`` prior and ``--cover edges`` cover? Per task, scripted proxy.

Issue 33's floor: with the same 100 dialogues per task, coverage-driven generation (`roleplay.runs.cover`,
``roleplay star generate --cover edges``) against ``roleplay star generate``'s default set-up (calibrated
``sample`` prior, goal-aware users with STAR's behaviour rates). Both arms play the happy single-task
scenarios of one fold, each on the graph mined without that fold (held out), ``--per-task-dialogs``
dialogues per task (each scenario under several seeds, as ``bench/star_realism.py`` plays them, whose
scripted proxy and scenario choice this reuses). The cover arm runs on the batch engine with a `CoverJob`
(wave 1: each target depends on every dialogue before it) into a temporary run folder.

Coverage is `roleplay.evaluation.coverage` (the numbers of ``roleplay coverage``). Two denominators:
``coverable``, the edges reachable *under the scenario's constraints* (`PlanModel.coverable`: the
orchestrator's rules: goodbyes wait for the goal and the user's closing turn, one query a turn, clear
yes/no answers...), which the floor is about, and ``reachable``, the graph's own constraints only
(`roleplay.policy.edges.reachable`). Legal rate and completion come from the tracker; the cover arm's
completion is also given over the dialogues whose target lets them end served (``completion_allowed``:
the target's plan could end served, or the dialogue had no target left to aim at), with how many
dialogues had a target (``targeted``) and how many took it (``reached``).

    nice -n 10 python bench/coverage.py --star-path ../shared/star --per-task-dialogs 100
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from typing import Any

from star_realism import SETUPS, generate, pick_scenarios, proxy_reply, runs_for

from roleplay import backends
from roleplay.backends.scripted import scripted_model
from roleplay.datasets.star._loader import STAR
from roleplay.datasets.star.generate import agenerate_star
from roleplay.dialog import Dialog
from roleplay.evaluation import evaluate_dialog, table
from roleplay.evaluation.coverage import coverage_of
from roleplay.policy.planning import PlanModel
from roleplay.runs.batch import arun_batch
from roleplay.runs.cover import CoverJob
from roleplay.runs.folder import RunFolder


async def covered(task: str, runs: list[tuple[int, int]], max_turns: int, fold: int) -> list[Dialog]:
    """The cover arm: ``runs`` (scenario id, seed) as one coverage-driven batch, in run order."""
    graph = STAR.get_task_graph(task, held_out=fold)

    async def make(index: int, _seed: int, steer: Any = None) -> Dialog:
        dialog_id, seed = runs[index]
        return await agenerate_star(dialog_id, model="proxy", goal_user=True, held_out=True, seed=seed,
                                    max_turns=max_turns, steer=steer, **SETUPS["default"])

    with tempfile.TemporaryDirectory() as out:
        job = CoverJob(make, range(len(runs)), lambda _: {task: graph}, "edges", out, max_turns=max_turns)
        await arun_batch(job, len(runs), out, concurrency=1, progress=False)
        return sorted(RunFolder(out).load_dialogs(), key=lambda d: int(d.id))


def arm_row(task: str, arm: str, dialogs: list[Dialog], fold: int) -> dict[str, Any]:
    """One arm's coverage (of the coverable and of the reachable edges), legal rate and completion on ``task``."""
    graph = STAR.get_task_graph(task, held_out=fold)
    [cover] = coverage_of((d, {task: graph}) for d in dialogs)
    taken = {tuple(edge.split(" -> ")) for edge in cover.edge_visits}
    coverable = PlanModel(graph).coverable()
    metrics = [evaluate_dialog(d, {task: graph}) for d in dialogs]
    aims = [d.metadata.get("coverage_target") for d in dialogs]
    allowed = [m.completed for m, aim in zip(metrics, aims, strict=True) if not aim or aim.get("completable")]
    return {"task": task, "arm": arm, "dialogs": len(dialogs),
            "coverable": f"{len(taken & coverable)}/{len(coverable)}",
            "coverable_rate": round(len(taken & coverable) / len(coverable), 3),
            "reachable_rate": cover.edges.rate,
            "branches": f"{cover.outcome_branches.covered + cover.answer_branches.covered}/"
                        f"{cover.outcome_branches.reachable + cover.answer_branches.reachable}",
            "legal": round(statistics.fmean(m.legal_rate or 0.0 for m in metrics), 4),
            "completion": round(statistics.fmean(m.completed for m in metrics), 3),
            "completion_allowed": round(statistics.fmean(allowed), 3) if allowed and any(aims) else None,
            "targeted": sum(bool(a) for a in aims), "reached": sum(bool(a and a.get("reached")) for a in aims)}


def summary(rows: list[dict[str, Any]], arm: str) -> str:
    mine = [r for r in rows if r["arm"] == arm]
    rates = [r["coverable_rate"] for r in mine]
    reach = [r["reachable_rate"] for r in mine if r["reachable_rate"] is not None]
    done = [r["completion_allowed"] for r in mine if r["completion_allowed"] is not None]
    return (f"{arm}, {len(mine)} tasks: coverable-edge coverage mean {statistics.fmean(rates):.3f} "
            f"(min {min(rates):.3f}), reachable-edge coverage mean {statistics.fmean(reach):.3f}, legal min "
            f"{min(r['legal'] for r in mine):.4f}, completion mean "
            f"{statistics.fmean(r['completion'] for r in mine):.3f}"
            + (f", completion where the target allows it {statistics.fmean(done):.3f} (min {min(done):.3f})"
               if done else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--star-path", required=True)
    parser.add_argument("--per-task-dialogs", type=int, default=100, help="Generated dialogues per task and arm")
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
        sampled = asyncio.run(generate(runs, "proxy", SETUPS["default"], args.max_turns, task))
        steered = asyncio.run(covered(task, runs, args.max_turns, args.fold))
        rows += [arm_row(task, "sample", sampled, args.fold), arm_row(task, "cover", steered, args.fold)]
        print(table(rows[-2:]), flush=True)
    print(table(rows))
    print(summary(rows, "sample"))
    print(summary(rows, "cover"))
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
