"""How human-like are simulated STAR dialogues? Held-out fidelity of three set-ups, same scenarios and seeds.

Picks one happy single-task dialogue per task (``--n`` of them, round-robin over the tasks), and runs
each scenario on graphs mined *without* its fold (2-fold by id, as ``bench/star_graphs.py``), so no
scenario was seen by the graphs or the prior's counts. Three set-ups, one run, seed = the dialogue id:

- ``realistic``: enforced, with the human prior (``--prior``) and the goal-aware user;
- ``enforced``: enforced, no prior, the plain user (the tracker alone);
- ``prompt_only``: the flowchart only in the prompt (the baseline).

Each is judged on the same held-out graphs against the real dialogue of the same id, and one table is
printed: legal %, completion, share ended by max_turns, user-quit-before-goal, action-sequence
similarity to the real wizard, and the generated/real length ratio. For scale it also prints how similar
real wizards are to each other (each scenario's real path against the other happy single-task dialogues
of its task) and what a policy that replays a *training-fold* path of the task would score (`bounds`):
a random one, the most central one (medoid), and, as an oracle upper bound of that family, the one
closest to the real path. Outputs stay in ``--out`` (one run folder per set-up, resumable);
``--score-only`` scores what the folders hold without generating.

    python bench/star_fidelity.py --star-path ../shared/star --n 24 --out runs/bench_fidelity --concurrency 2
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter, defaultdict
from pathlib import Path

from rapidfuzz.distance import Levenshtein

from roleplay.datasets.star._format import scenario_tasks
from roleplay.datasets.star._loader import STAR, fold_of
from roleplay.datasets.star.generate import agenerate_star_batch
from roleplay.evaluation import evaluate_dialog, evaluate_folder, sequence_similarity, table
from roleplay.policy.prior import PRIOR_MODES

SETUPS = {
    "realistic": {"enforce": True, "goal_user": True},
    "enforced": {"enforce": True, "prior": "none"},
    "prompt_only": {"enforce": False, "prior": "none"},
}


def pick_scenarios(n: int) -> list[int]:
    """``n`` happy single-task dialogue ids, one per task in turn (task order: name), lowest ids first."""
    by_task: dict[str, list[int]] = defaultdict(list)
    for dialog_id in STAR.readable_ids():
        scenario = STAR.get_dialog_scenario(dialog_id)
        if scenario.get("Happy") and not scenario.get("MultiTask") and len(scenario_tasks(scenario)) == 1:
            by_task[scenario_tasks(scenario)[0]].append(dialog_id)
    ids: list[int] = []
    while len(ids) < n and any(by_task.values()):
        for task in sorted(by_task):
            if by_task[task] and len(ids) < n:
                ids.append(by_task[task].pop(0))
    return ids


def human_agreement(ids: list[int]) -> float:
    """Mean action-sequence similarity of each scenario's real path to the other real paths of its task."""
    def path(dialog_id: int) -> list[str]:
        dialog = STAR.get_dialog(dialog_id)
        return evaluate_dialog(dialog, {t: STAR.get_task_graph(t) for t in scenario_tasks(dialog.scenario)}).path
    scores = []
    for dialog_id in ids:
        task = scenario_tasks(STAR.get_dialog_scenario(dialog_id))[0]
        others = [i for i in STAR.find_ids(task, happy=True, multitask=False) if i != dialog_id]
        mine = path(dialog_id)
        scores += [sum(sequence_similarity(mine, path(i)) for i in others) / len(others)] if others else []
    return sum(scores) / len(scores)


def real_path(dialog_id: int, held_out: int) -> list[str]:
    """The real wizard's action path, judged on the graphs mined without ``held_out``."""
    dialog = STAR.get_dialog(dialog_id)
    graphs = {t: STAR.get_task_graph(t, held_out=held_out) for t in scenario_tasks(dialog.scenario)}
    return evaluate_dialog(dialog, graphs).path


def bounds(ids: list[int]) -> dict[str, float]:
    """Mean similarity to the real path of a training-fold path of the task: random, medoid, oracle-best.

    Training fold: the happy single-task dialogues of the task outside the scenario's fold (a scenario
    whose task has none there is left out).
    """
    scores: dict[str, list[float]] = defaultdict(list)
    for dialog_id in ids:
        fold, task = fold_of(dialog_id), scenario_tasks(STAR.get_dialog_scenario(dialog_id))[0]
        train = [real_path(i, fold) for i in STAR.find_ids(task, happy=True, multitask=False) if fold_of(i) != fold]
        if not train:
            continue
        mine = real_path(dialog_id, fold)
        medoid = max(train, key=lambda t: sum(sequence_similarity(t, u) for u in train))
        similarities = [sequence_similarity(mine, t) for t in train]
        scores["random"].append(sum(similarities) / len(similarities))
        scores["medoid"].append(sequence_similarity(mine, medoid))
        scores["oracle"].append(max(similarities))
    return {name: sum(values) / len(values) for name, values in scores.items()} | {"scenarios": len(scores["oracle"])}


def _mean_similarity(path: list[str], others: list[list[str]], itself: list[str] | None = None) -> float:
    """Mean similarity of ``path`` to ``others`` (``itself``, the same object, left out)."""
    scores = [sequence_similarity(path, other) for other in others if other is not itself]
    return sum(scores) / len(scores) if scores else 0.0


def fold_wide(report: dict) -> dict[str, float]:
    """One scenario is one draw of its task: score each generated path against the whole held-out fold.

    ``generated``: mean similarity of a scenario's generated path to every happy single-task dialogue of
    its task in its fold (none of them was mined). ``hindsight``: the same for the best single path a
    policy could say for the task, picked *knowing those dialogues* (among every real path of the task
    and the generated one; a real path is not scored against itself): an upper bound for any policy
    whose path does not depend on the dialogue's own details.
    """
    generated, hindsight = [], []
    for dialog in report["dialogs"]:
        dialog_id, task = int(dialog["id"]), dialog["tasks"][0]
        fold, everyone = fold_of(dialog_id), STAR.find_ids(task, happy=True, multitask=False)
        paths = {i: real_path(i, fold) for i in everyone}
        held = [paths[i] for i in everyone if fold_of(i) == fold]
        generated.append(_mean_similarity(dialog["path"], held))
        hindsight.append(max([generated[-1], *(_mean_similarity(paths[i], held, itself=paths[i])
                                               for i in everyone)]))
    return {"generated": sum(generated) / len(generated), "hindsight": sum(hindsight) / len(hindsight)}


def differences(report: dict) -> str:
    """Per scenario: similarity and generated/real length; overall: the actions most often inserted and missed."""
    inserted: Counter[str] = Counter()
    missed: Counter[str] = Counter()
    lines = []
    for dialog in sorted(report["dialogs"], key=lambda d: int(d["id"])):
        generated, real = dialog["path"], real_path(int(dialog["id"]), fold_of(int(dialog["id"])))
        for op in Levenshtein.editops(generated, real):
            if op.tag == "delete":
                inserted[generated[op.src_pos]] += 1
            elif op.tag == "insert":
                missed[real[op.dest_pos]] += 1
            else:
                inserted[generated[op.src_pos]] += 1
                missed[real[op.dest_pos]] += 1
        lines.append(f"{dialog['id']}:{dialog['tasks'][0]} {sequence_similarity(generated, real):.2f} "
                     f"({len(generated)}/{len(real)})")
    top = lambda counts: ", ".join(f"{a} {n}" for a, n in counts.most_common(6))  # noqa: E731
    return "  ".join(lines) + f"\n  inserted: {top(inserted)}\n  missed: {top(missed)}"


def row(name: str, report: dict) -> dict:
    summary, comparison = report["summary"][-1], report["comparison"]
    return {"setup": name, "dialogs": summary["dialogs"], "legal": summary["legal_rate"],
            "completion": summary["completion"], "max_turns_ended": summary["ended_by_max_turns"],
            "user_quit_before_goal": summary["user_quit_before_goal"],
            "similarity": comparison["action_sequence_similarity"],
            "length_ratio": comparison["length_ratio"]["mean"],
            "ratio_in_0.8-1.25": comparison["length_ratio"]["within_0.8_1.25"],
            "turns": summary["turns"], "path": summary["path_length"],
            "real_path": comparison["real_path_length"]["mean"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--star-path", required=True)
    parser.add_argument("--n", type=int, default=24)
    parser.add_argument("--max-turns", type=int, default=24)
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--prior", choices=PRIOR_MODES, default="argmax")
    parser.add_argument("--setups", default=",".join(SETUPS), help="Comma-separated subset of: " + ", ".join(SETUPS))
    parser.add_argument("--out", default="runs/bench_fidelity")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp CPU threads (in-process models)")
    parser.add_argument("--score-only", action="store_true", help="Score the set-ups' folders, generate nothing")
    args = parser.parse_args()
    STAR.set_path(args.star_path)
    ids = pick_scenarios(args.n)
    print(f"{len(ids)} scenarios (id: fold): {', '.join(f'{i}: {fold_of(i)}' for i in ids)}")
    graphs_for = lambda d: {t: STAR.get_task_graph(t, held_out=fold_of(d.id)) for t in scenario_tasks(d.scenario)}  # noqa: E731
    rows = []
    for name in args.setups.split(","):
        setup = {"prior": args.prior, **SETUPS[name], **({"threads": args.threads} if args.threads else {})}
        out = Path(args.out) / name
        started = time.perf_counter()
        if not args.score_only:
            asyncio.run(agenerate_star_batch(ids, out, "roleplay", args.model, max_turns=args.max_turns,
                                             held_out=True, concurrency=args.concurrency, progress=False, **setup))
        report = evaluate_folder(out, graphs_for, real=lambda d: STAR.get_dialog(d.id))
        rows.append(row(name, report))
        wide = fold_wide(report)
        print(f"{name}: {time.perf_counter() - started:.0f} s this run; similarity (generated/real actions) per "
              f"scenario:\n  {differences(report)}\n  against every held-out happy single-task dialogue of the "
              f"task: {wide['generated']:.3f}; best single path per task in hindsight: {wide['hindsight']:.3f}",
              flush=True)
    print(table(rows))
    print(f"real wizards vs each other (same task, happy single-task): similarity {human_agreement(ids):.3f}")
    reference = bounds(ids)
    print(f"replaying a training-fold path of the task ({reference['scenarios']} scenarios whose task has one): "
          f"random {reference['random']:.3f}, medoid {reference['medoid']:.3f}, "
          f"oracle (the closest to the real path) {reference['oracle']:.3f}")


if __name__ == "__main__":
    main()
