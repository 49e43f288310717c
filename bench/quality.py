"""Text quality of the shipped doctor_patient scenario on the embedded model, guards off vs on.

Each seed is played twice in a row (guards off, then on), so both arms see the same seeds and the same
machine load; the table is `roleplay.evaluation.text_report`'s, one row per arm, plus seconds per turn
and their ratio. Dialogues are saved under --out/{off,on}/ (``roleplay evaluate`` reads them).
With --star, it also has the embedded model write STAR dialogue 1 from its description.

    PYTHONPATH=$PWD python bench/quality.py --seeds 20 --turns 10
    PYTHONPATH=$PWD python bench/quality.py --seeds 0 --star /work/shared/star
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path

from roleplay.dialog import Dialog
from roleplay.evaluation import table, text_report
from roleplay.guards import Guards
from roleplay.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
ARMS = {"off": Guards(enabled=False), "on": Guards()}


async def play(seeds: list[int], turns: int, out: Path) -> dict[str, list[Dialog]]:
    scenario = load_scenario(ROOT / "scenarios" / "doctor_patient.yaml")
    dialogs: dict[str, list[Dialog]] = {arm: [] for arm in ARMS}
    for seed in seeds:
        for arm, guards in ARMS.items():
            started = time.perf_counter()
            dialog = await scenario.generator(max_turns=turns, guards=guards).agenerate(seed=seed, id=seed)
            dialog.metadata["variant"] = {"guards": arm}
            dialog.to_file(out / arm / f"{seed}.json")
            dialogs[arm].append(dialog)
            print(f"seed {seed} guards {arm}: {len(dialog)} turns in {time.perf_counter() - started:.1f}s", flush=True)
    return dialogs


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
    args = parser.parse_args()
    if args.threads:  # the embedded backend sizes its thread pool from os.cpu_count(); this bench only
        os.cpu_count = lambda: args.threads
    if args.seeds:
        seeds = list(range(args.first_seed, args.first_seed + args.seeds))
        dialogs = asyncio.run(play(seeds, args.turns, args.out))
        rows = {arm: text_report(found)["summary"][-1] | {"variant": f"guards {arm}"} for arm, found in dialogs.items()}
        print()
        print(table(list(rows.values())))
        print()
        print("\n".join(floor(rows)))
    if args.star:
        asyncio.run(star_description(args.star))


if __name__ == "__main__":
    main()
