"""Text quality of the shipped doctor_patient scenario on the embedded model, guards off vs on.

Both arms play the same seeds at the same time, one process each, so they share the machine's load.
The table is `roleplay.evaluation.text_report`'s, one row per arm, with seconds per turn; then the
issue's floor, checked on the guards-on arm. Dialogues are saved under --out/{off,on}/ (``roleplay
evaluate`` reads them).
With --star, it also has the embedded model write STAR dialogue 1 from its description.

    PYTHONPATH=$PWD python bench/quality.py --seeds 20 --turns 10
    PYTHONPATH=$PWD python bench/quality.py --seeds 0 --star /work/shared/star
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from roleplay.dialog import Dialog
from roleplay.evaluation import table, text_report
from roleplay.guards import Guards
from roleplay.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
ARMS = {"off": Guards(enabled=False), "on": Guards()}


def use_threads(threads: int | None) -> None:
    """The embedded backend sizes its thread pool from os.cpu_count(); set it for this process only."""
    if threads:
        os.cpu_count = lambda: threads


def play_arm(arm: str, seeds: list[int], turns: int, out: Path, threads: int | None) -> list[Path]:
    """Play every seed with one arm's guards, in this (worker) process; returns the saved files."""
    use_threads(threads)
    scenario = load_scenario(ROOT / "scenarios" / "doctor_patient.yaml")
    # no wall-clock limit: under load it would cut dialogues, the guarded arm (slower) more often
    scenario = scenario.model_copy(update={"stop": scenario.stop.model_copy(update={"timeout": None})})
    saved = []
    for seed in seeds:
        started = time.perf_counter()
        generator = scenario.generator(max_turns=turns, guards=ARMS[arm])
        dialog = asyncio.run(generator.agenerate(seed=seed, id=seed))
        dialog.metadata["variant"] = {"guards": arm}
        saved.append(dialog.to_file(out / arm / f"{seed}.json"))
        print(f"seed {seed} guards {arm}: {len(dialog)} turns in {time.perf_counter() - started:.1f}s", flush=True)
    return saved


def play(seeds: list[int], turns: int, out: Path, threads: int | None, workers: int) -> dict[str, list[Dialog]]:
    """Both arms side by side, ``workers`` processes each (seeds dealt round-robin), sharing the machine's load."""
    shares = [seeds[i::workers] for i in range(workers)]
    with ProcessPoolExecutor(max_workers=len(ARMS) * workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {arm: [pool.submit(play_arm, arm, share, turns, out, threads) for share in shares] for arm in ARMS}
        return {arm: sorted((Dialog.from_file(p) for f in found for p in f.result()), key=lambda d: int(d.id or 0))
                for arm, found in futures.items()}


def floor(rows: dict[str, dict]) -> list[str]:
    """The issue's floor, checked on the guards-on arm."""
    on, off = rows["on"], rows["off"]
    ratio = on["seconds_per_turn"] / off["seconds_per_turn"]
    return [
        f"near-copy turns 0: {on['near_copy_rate'] == 0} ({on['near_copy_rate']})",
        f"role confusion <= 2%: {on['role_confusion_rate'] <= 0.02} ({on['role_confusion_rate']})",
        f"cut-off turns 0: {on['cut_off_rate'] == 0} ({on['cut_off_rate']})",
        f"mean distinct-2 >= 0.80: {on['distinct_2'] >= 0.8} ({on['distinct_2']})",
        f"no dialogue below 0.60: {on['distinct_2_min'] >= 0.6} ({on['distinct_2_min']})",
        f"seconds per turn on/off <= 1.4: {ratio <= 1.4} ({ratio:.2f})",
    ]


async def star_description(star: Path) -> None:
    from roleplay.datasets.star.generate import agenerate_star
    from roleplay.datasets.star.loader import STAR

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
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: every core). On "
                        "a machine shared with other jobs, 1 avoids threads spinning while waiting for each other.")
    parser.add_argument("--workers", type=int, default=1, help="Processes per arm.")
    args = parser.parse_args()
    if args.seeds:
        seeds = list(range(args.first_seed, args.first_seed + args.seeds))
        dialogs = play(seeds, args.turns, args.out, args.threads, args.workers)
        rows = {arm: text_report(found)["summary"][-1] | {"variant": f"guards {arm}"} for arm, found in dialogs.items()}
        print()
        print(table(list(rows.values())))
        print()
        print("\n".join(floor(rows)))
    if args.star:
        use_threads(args.threads)
        asyncio.run(star_description(args.star))


if __name__ == "__main__":
    main()
