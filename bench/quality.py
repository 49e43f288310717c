"""Text quality of the shipped doctor_patient scenario on the embedded model, guards off vs on.

Both arms play the same seeds at the same time, one process each, so they share the machine's load.
The table is `roleplay.evaluation.text_report`'s, one row per arm, with seconds per turn; then the
issue's floor, checked on the guards-on arm, and whether the dialogue is the scenario's: per speaker, the
share of dialogues where it used a topic word in its first turns (`roleplay.evaluation.topic`; the
scenario's ``topic:`` list). Dialogues are saved under --out/{off,on}/ (``roleplay evaluate`` reads them).
--compare DIR adds the dialogues of an earlier run (another checkout's, same seeds) as rows, measured
with this checkout's code and topic list: before vs after a change.
With --star, it also has the embedded model write STAR dialogue 1 from its description.

    PYTHONPATH=$PWD python bench/quality.py --seeds 20 --turns 10
    PYTHONPATH=$PWD python bench/quality.py --seeds 20 --compare runs/bench_quality_before
    PYTHONPATH=$PWD python bench/quality.py --seeds 0 --star /work/shared/star
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from roleplay.dialog import Dialog
from roleplay.evaluation import table, text_report
from roleplay.evaluation.topic import topic_start, topic_terms
from roleplay.guards import Guards
from roleplay.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parent.parent
ARMS = {"off": Guards(enabled=False), "on": Guards()}


def scenario() -> Scenario:
    """The shipped doctor_patient scenario, without its wall-clock limit.

    Under load a limit would cut dialogues, the guarded arm (slower) more often.
    """
    found = load_scenario(ROOT / "scenarios" / "doctor_patient.yaml")
    return found.model_copy(update={"stop": found.stop.model_copy(update={"timeout": None})})


def play_arm(arm: str, seeds: list[int], turns: int, out: Path, threads: int | None) -> list[Path]:
    """Play every seed with one arm's guards, in this (worker) process; returns the saved files.

    No per-request time limit (a day): under load one would cut dialogues, as the scenario's does.
    """
    played = scenario()
    options = {"request_timeout": 86400.0, **({"threads": threads} if threads else {})}
    saved = []
    for seed in seeds:
        started = time.perf_counter()
        generator = played.generator(max_turns=turns, guards=ARMS[arm], **options)
        dialog = asyncio.run(generator.agenerate(seed=seed, id=seed))
        dialog.metadata["variant"] = {"guards": arm}
        saved.append(dialog.to_file(out / arm / f"{seed}.json"))
        print(f"seed {seed} guards {arm}: {len(dialog)} turns in {time.perf_counter() - started:.1f}s", flush=True)
    return saved


def play(seeds: list[int], turns: int, out: Path, threads: int | None, workers: int,
         arms: list[str]) -> dict[str, list[Dialog]]:
    """The arms side by side, ``workers`` processes each (seeds dealt round-robin), sharing the machine's load."""
    shares = [seeds[i::workers] for i in range(workers)]
    with ProcessPoolExecutor(max_workers=len(arms) * workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {arm: [pool.submit(play_arm, arm, share, turns, out, threads) for share in shares] for arm in arms}
        return {arm: sorted((Dialog.from_file(p) for f in found for p in f.result()), key=lambda d: int(d.id or 0))
                for arm, found in futures.items()}


def floor(rows: dict[str, dict]) -> list[str]:
    """The issue's floor, checked on the guards-on arm."""
    on, off = rows["on"], rows.get("off")
    cost = []
    if off is not None:
        ratio = on["seconds_per_turn"] / off["seconds_per_turn"]
        cost = [f"seconds per turn on/off <= 1.4: {ratio <= 1.4} ({ratio:.2f})"]
    return [
        f"near-copy turns 0: {on['near_copy_rate'] == 0} ({on['near_copy_rate']})",
        f"role confusion <= 2%: {on['role_confusion_rate'] <= 0.02} ({on['role_confusion_rate']})",
        f"cut-off turns 0: {on['cut_off_rate'] == 0} ({on['cut_off_rate']})",
        f"mean distinct-2 >= 0.80: {on['distinct_2'] >= 0.8} ({on['distinct_2']})",
        f"no dialogue below 0.60: {on['distinct_2_min'] >= 0.6} ({on['distinct_2_min']})",
        *cost,
        *against_before(rows),
    ]


def against_before(rows: dict[str, dict]) -> list[str]:
    """With --compare: the guards-on arm's distinct-2 must not fall, and how far the on-topic measures moved."""
    before, on = rows.get("before on"), rows["on"]
    if before is None:
        return []
    return [f"distinct-2 not below before: {on['distinct_2'] >= before['distinct_2']} "
            f"({before['distinct_2']} -> {on['distinct_2']})",
            *(f"{key}: {before[key]} -> {on[key]}" for key in ("topic_start_rate", "on_topic_rate"))]


def earlier(folder: Path, seeds: list[int], topic: list[str]) -> dict[str, list[Dialog]]:
    """An earlier run's dialogues of these seeds per arm, given this scenario's topic words (None if absent)."""
    found = {}
    for arm in ARMS:
        dialogs = [Dialog.from_file(folder / arm / f"{seed}.json") for seed in seeds
                   if (folder / arm / f"{seed}.json").exists()]
        for dialog in dialogs:
            dialog.scenario = {**(dialog.scenario if isinstance(dialog.scenario, dict) else {}), "topic": topic}
        found[arm] = dialogs
    return found


def on_topic(dialogs: dict[str, list[Dialog]]) -> list[str]:
    """Per arm and speaker: in how many dialogues it used a topic word in its first turns."""
    lines = []
    for arm, found in dialogs.items():
        started: dict[str, list[bool]] = defaultdict(list)
        for dialog in found:
            for speaker, on in topic_start(dialog, topic_terms(dialog)).items():
                started[speaker].append(on)
        shares = ", ".join(f"{speaker} {sum(on)}/{len(on)}" for speaker, on in sorted(started.items()))
        lines.append(f"{arm}: topic word in a speaker's first 2 turns: {shares}")
    return lines


async def star_description(star: Path) -> None:
    from roleplay.datasets.star._loader import STAR
    from roleplay.datasets.star.generate import agenerate_star

    STAR.set_path(star)
    started = time.perf_counter()
    dialog = await agenerate_star(1, "description", "embedded")
    print(f"\nSTAR dialogue 1, description mode: {len(dialog)} turns, speakers {dialog.speakers}, "
          f"{time.perf_counter() - started:.1f}s")
    print(dialog)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=20, help="Seeds 0..N-1.")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "bench_quality")
    parser.add_argument("--star", type=Path, default=None, help="STAR folder: also write STAR dialogue 1.")
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp threads of the doctor_patient arms "
                        "(default: every core). On a shared machine 1 keeps threads from spinning while they wait "
                        "for each other.")
    parser.add_argument("--workers", type=int, default=1, help="Processes per arm.")
    parser.add_argument("--arms", default="off,on", help="Which arms to play: 'on' alone halves the work when the "
                        "guards' cost (on/off) is not the question.")
    parser.add_argument("--compare", type=Path, default=None, help="An earlier run's --out folder: its dialogues "
                        "of the same seeds are measured too, as 'before' rows.")
    args = parser.parse_args()
    if args.seeds:
        seeds = list(range(args.first_seed, args.first_seed + args.seeds))
        arms = [arm for arm in args.arms.split(",") if arm in ARMS]
        if "on" not in arms:
            parser.error("--arms must include 'on' (the floor is checked on it).")
        dialogs = play(seeds, args.turns, args.out, args.threads, args.workers, arms)
        if args.compare:
            before = earlier(args.compare, seeds, scenario().topic)
            dialogs = {**{f"before {arm}": found for arm, found in before.items() if found}, **dialogs}
        rows = {arm: text_report(found)["summary"][-1] | {"variant": f"guards {arm}"} for arm, found in dialogs.items()}
        print()
        print(table(list(rows.values())))
        print()
        print("\n".join(floor(rows)))
        print("\n".join(on_topic(dialogs)))
    if args.star:
        asyncio.run(star_description(args.star))


if __name__ == "__main__":
    main()
