"""Do synthetic STAR corpora look like the human one as a whole? Paths and users compared as distributions.

Scenarios: the happy single-task STAR dialogues whose wizard said at least 3 labelled actions, up to
``--per-task`` per task (lowest ids first), from both folds; each runs on graphs mined without its own
fold (`fold_of`, 2-fold by id, as ``bench/star_fidelity.py``), with users' behaviour rates mined without
it too, so the human reference (the real dialogues of those scenarios) was never seen by what generated.
A task with fewer than ``--min-per-task`` such scenarios (STAR has 1 to 5 for some) plays each of them
under more seeds (the id, then id + 100000 k), so every task has at least that many generated dialogues.
Set-ups, one run, seed = the dialogue id:

- ``argmax``: the realistic set-up of ``bench/star_fidelity.py`` (enforced, argmax prior, goal-aware user);
- ``sample``: the same with the former uncalibrated sampling prior (temperature 1, no back-off);
- ``default``: what ``roleplay star generate`` does now: the calibrated ``sample`` prior (`Prior()`'s
  fitted defaults, bench/star_prior_fit.py) and users with behaviours drawn from STAR's rates.

The model is a scripted proxy (``--model proxy``): the System words whatever single action the prior drew
(argmax and sample leave it no choice, so the path is the model's too), the User follows its note (says
the fact asked for, plays its behaviour, closes when told). ``--embedded N`` also runs the default on N
scenarios (one per task in turn) with the embedded model, for completion and endings.

Corpus metrics (`roleplay.evaluation.corpus`, the same as ``roleplay compare``): action-bigram JSD to the
humans beside the JSD between two disjoint human samples of the same sizes (`against_reference`: each
repeat splits the humans in halves A, B and compares a sample of the corpus with B's size and mix of
tasks, and B, with A); the share of distinct paths in such a sample beside B's; the mean path length and
the 1-D Wasserstein distance of the length distributions; and, from the tracker on the held-out graphs,
legal rate, completion, share ended by max_turns. Determinism: a few dialogues run twice must be identical.

    nice -n 10 python bench/star_realism.py --star-path ../shared/star --per-task 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import time
from collections import Counter, defaultdict

from tqdm.auto import tqdm

from roleplay import backends
from roleplay.backends.scripted import ScriptedRequest, example_of, scripted_model
from roleplay.datasets.star._format import scenario_tasks
from roleplay.datasets.star._loader import STAR, fold_of
from roleplay.datasets.star.generate import agenerate_star
from roleplay.dialog import Dialog
from roleplay.evaluation import evaluate_dialog, table
from roleplay.evaluation.corpus import action_paths, against_reference, bigram_jsd, distinct_share, wasserstein_1d
from roleplay.policy.prior import Prior

FORMER_SAMPLE = Prior(mode="sample", smoothing=0.5, backoff=0.0, temperature=1.0, revisit=0.6, closing_boost=2.0)
SETUPS = {
    "argmax": {"prior": "argmax", "behaviours": False},
    "sample": {"prior": FORMER_SAMPLE, "behaviours": False},
    "default": {"prior": "sample", "behaviours": True},
}
SWEEP = [(r, b) for r in (0.6, 0.8, 1.0) for b in (2.0, 4.0)]
"""revisit x closing_boost: what held-out likelihood cannot fit (the simulated user is not a wizard's user)."""
_ASKED = re.compile(r"asks for your (.+?): it is (.+?)\.(?:\s|$)")


def proxy_reply(request: ScriptedRequest) -> str:
    """The scripted proxy: the System takes its first offered action; the User follows its director's note."""
    props = (request.schema or {}).get("properties", {})
    if "action" in props:
        action = props["action"]["enum"][0] if "enum" in props["action"] else "hello"
        return json.dumps({"action": action, "utterance": f"({action.replace('_', ' ')})"})
    if request.schema:  # a yes/no answer (the first allowed) or a tool's arguments
        return json.dumps(example_of(request.schema))
    note = request.last
    if "say goodbye" in note and "Do not say goodbye" not in note:
        return "Thanks, that is all I need. Goodbye!"
    asked, details = _ASKED.search(note), re.search(r"Your details: (.*?)\.(?:\n|$)", note)
    parts = []
    if "thing it cannot help with" in note:
        parts.append("Also, can you tell me a joke?")
    if "Say very little" in note:
        return "Hmm."
    if "give all your details" in note and details:
        parts.append(f"I need help. {details.group(1)}.")
    elif "give" in note and "wrongly" in note and asked:
        parts.append(f"It is something else... sorry, I mean {asked.group(2)}.")
    elif "thinking of changing" in note and asked:
        parts.append(f"Maybe I should change that... no, keep {asked.group(2)}.")
    elif asked:
        parts.append(f"My {asked.group(1)} is {asked.group(2)}.")
    else:
        parts.append("I would like some help with my request, please.")
    return " ".join(parts)


def pick_scenarios(per_task: int, fold: int | None = None) -> dict[str, list[int]]:
    """Task -> up to ``per_task`` happy single-task dialogue ids whose wizard said at least 3 labelled actions."""
    by_task: dict[str, list[int]] = defaultdict(list)
    for dialog in STAR.iter_dialogs(progress=False, happy=True, multitask=False):
        tasks = scenario_tasks(dialog.scenario)
        if fold is not None and fold_of(dialog.id) != fold:
            continue
        if len(tasks) == 1 and len(action_paths([dialog])[0]) >= 3 and len(by_task[tasks[0]]) < per_task:
            by_task[tasks[0]].append(int(dialog.id))
    return dict(sorted(by_task.items()))


def runs_for(by_task: dict[str, list[int]], at_least: int) -> list[tuple[int, int]]:
    """(dialogue id, seed) to generate: each scenario with seed = id, and more seeds where a task has few."""
    runs = []
    for ids in by_task.values():
        rounds = -(-at_least // len(ids))  # ceil
        runs += [(i, i + 100_000 * k) for k in range(rounds) for i in ids]
    return runs


async def generate(runs: list[tuple[int, int]], model: str, setup: dict, max_turns: int,
                   desc: str) -> list[Dialog]:
    dialogs = []
    for dialog_id, seed in tqdm(runs, desc=desc, unit="dialog", leave=False):
        dialogs.append(await agenerate_star(dialog_id, model=model, goal_user=True, held_out=True, seed=seed,
                                            max_turns=max_turns, **setup))
    return dialogs


def _paths(items: list[tuple[str, tuple[str, ...]]]) -> list[tuple[str, ...]]:
    return [path for _, path in items]


def corpus_row(name: str, dialogs: list[Dialog], humans: list[Dialog], repeats: int) -> dict:
    """The corpus metrics of ``dialogs`` against ``humans`` and the tracker's view of them on held-out graphs."""
    paths, human_paths = action_paths(dialogs), action_paths(humans)
    items = [(scenario_tasks(d.scenario)[0], p) for d, p in zip(dialogs, paths, strict=True)]
    human_items = [(scenario_tasks(d.scenario)[0], p) for d, p in zip(humans, human_paths, strict=True)]
    task = lambda item: item[0]  # noqa: E731
    score, baseline = against_reference(items, human_items, lambda a, b: bigram_jsd(_paths(a), _paths(b)),
                                        seed=0, repeats=repeats, key=task)
    distinct, human_distinct = against_reference(items, human_items, lambda a, _: distinct_share(_paths(a)),
                                                 seed=0, repeats=repeats, key=task)
    metrics = [evaluate_dialog(d, {t: STAR.get_task_graph(t, held_out=fold_of(d.id))
                                   for t in scenario_tasks(d.scenario)}) for d in dialogs]
    lengths, human_lengths = [len(p) for p in paths], [len(p) for p in human_paths]
    return {"setup": name, "dialogs": len(dialogs), "bigram_jsd": round(score, 3),
            "human_baseline": round(baseline, 3), "jsd_ratio": round(score / baseline, 2),
            "distinct": round(distinct, 3), "human_distinct": round(human_distinct, 3),
            "mean_len": round(statistics.fmean(lengths), 2), "human_len": round(statistics.fmean(human_lengths), 2),
            "len_w1": round(wasserstein_1d(lengths, human_lengths), 2),
            "legal": round(statistics.fmean(m.legal_rate or 0.0 for m in metrics), 4),
            "completion": round(statistics.fmean(m.completed for m in metrics), 3),
            "max_turns_ended": round(statistics.fmean(m.ended_by_max_turns for m in metrics), 3)}


def behaviour_shares(dialogs: list[Dialog]) -> str:
    """How many users played each behaviour (from metadata['user'])."""
    played = Counter(kind for d in dialogs for kind in set(d.metadata.get("user", {}).get("played", [])))
    planned = Counter(b["kind"] for d in dialogs for b in d.metadata.get("user", {}).get("goal", {}).get(
        "behaviours", []))
    return ", ".join(f"{k} {played[k]}/{planned[k]}" for k in sorted(planned)) or "none"


def same(a: Dialog, b: Dialog) -> bool:
    return [(t.speaker, t.text, t.action) for t in a.turns] == [(t.speaker, t.text, t.action) for t in b.turns]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--star-path", required=True)
    parser.add_argument("--per-task", type=int, default=8)
    parser.add_argument("--min-per-task", type=int, default=6, help="Generated dialogues per task at least")
    parser.add_argument("--max-turns", type=int, default=30)
    parser.add_argument("--model", default="proxy", help="proxy (the scripted proxy) or a model string")
    parser.add_argument("--setups", default=",".join(SETUPS))
    parser.add_argument("--embedded", type=int, default=0, help="Also run the default on this many scenarios "
                                                                 "with the embedded model (completion, endings)")
    parser.add_argument("--repeats", type=int, default=50, help="Random half-splits of the humans per JSD")
    parser.add_argument("--fold", type=int, default=None, help="Only the scenarios of this fold (fit on one, "
                                                                "check on the other)")
    parser.add_argument("--sweep", action="store_true", help="Instead of the set-ups: the default with each "
                                                             "revisit x closing_boost of SWEEP")
    args = parser.parse_args()
    STAR.set_path(args.star_path)
    backends.register_backend("proxy", lambda model, options: scripted_model(fn=proxy_reply, seed=options.seed))
    by_task = pick_scenarios(args.per_task, args.fold)
    ids = [i for chosen in by_task.values() for i in chosen]
    runs = runs_for(by_task, args.min_per_task)
    short = {t: len(c) for t, c in by_task.items() if len(c) < args.min_per_task}
    folds = dict(Counter(fold_of(i) for i in ids))
    print(f"{len(ids)} scenarios (human dialogues), {len(by_task)} tasks, folds {folds}; {len(runs)} dialogues "
          f"per set-up; tasks with fewer than {args.min_per_task} scenarios, played under more seeds: "
          f"{short or 'none'}")
    humans = [STAR.get_dialog(i) for i in ids]
    rows, started = [], time.perf_counter()
    if args.sweep:
        for revisit, boost in SWEEP:
            setup = {"prior": Prior(mode="sample", revisit=revisit, closing_boost=boost), "behaviours": True}
            dialogs = asyncio.run(generate(runs, args.model, setup, args.max_turns, f"{revisit}/{boost}"))
            rows.append(corpus_row(f"revisit {revisit}, boost {boost}", dialogs, humans, args.repeats))
            print(table(rows[-1:]), flush=True)
        print(table(rows))
        return
    for name in filter(None, args.setups.split(",")):
        dialogs = asyncio.run(generate(runs, args.model, SETUPS[name], args.max_turns, name))
        rows.append(corpus_row(name, dialogs, humans, args.repeats))
        step = max(1, len(runs) // 6)
        again = asyncio.run(generate(runs[::step], args.model, SETUPS[name], args.max_turns, name))
        deterministic = all(same(a, b) for a, b in zip(again, dialogs[::step], strict=True))
        print(f"{name}: {time.perf_counter() - started:.0f} s; same seed, same dialogue: {deterministic}; "
              f"behaviours played/planned: {behaviour_shares(dialogs)}", flush=True)
    if rows:
        print(table(rows))
    if args.embedded:
        chosen = [c[k] for k in range(args.per_task) for c in by_task.values() if k < len(c)][: args.embedded]
        dialogs = asyncio.run(generate([(i, i) for i in chosen], "embedded", SETUPS["default"], args.max_turns,
                                       "embedded"))
        row = corpus_row("default (embedded)", dialogs, [STAR.get_dialog(i) for i in chosen], args.repeats)
        print(table([{k: row[k] for k in ("setup", "dialogs", "legal", "completion", "max_turns_ended",
                                          "mean_len", "human_len")}]))


if __name__ == "__main__":
    main()
