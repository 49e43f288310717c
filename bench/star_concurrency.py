"""`roleplay star generate` at concurrency 1 and 4 against a pool of local llama.cpp servers, in one run.

Starts 2 single-thread, single-slot llama.cpp servers (xllamacpp's HTTP listener on 127.0.0.1, inside this
process, as `bench/batch_concurrency.py` does) with the embedded GGUF, picks ``--n`` happy single-task STAR
scenarios, runs the real CLI command at each concurrency into a fresh folder, prints the commands, the
seconds and the speed-up, checks both folders hold the same dialogues (ids, seeds, turns), then stops the
servers.

    python bench/star_concurrency.py --star-path ../shared/star [--n 8] [--max-turns 6]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from batch_concurrency import servers
from star_adherence import pick_scenarios

from roleplay.datasets.star._loader import STAR


def generate(star_path: str, ids: list[int], urls: list[str], concurrency: int, out: Path, max_turns: int) -> float:
    """Run `roleplay star generate` once; its wall time in seconds."""
    command = [sys.executable, "-c", "from roleplay.cli import main; main()", "star", "generate",
               "--star-path", star_path, "--out", str(out), "-m", "openai:smollm", "--max-turns", str(max_turns),
               "--concurrency", str(concurrency), *[a for i in ids for a in ("--id", str(i))],
               *[a for url in urls for a in ("--base-url", url)]]
    print("$ roleplay", " ".join(command[3:]).replace(star_path, "<star>"), flush=True)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    print(done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr, flush=True)
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return seconds


def same_dialogues(a: Path, b: Path) -> bool:
    """Both folders hold the same dialogue files (ids, seeds and turns)."""
    def load(folder: Path) -> dict[str, object]:
        dialogs = {p.name: json.loads(p.read_text()) for p in (folder / "dialogs").glob("*.json")}
        return {name: (d["id"], d["seed"], [(t["speaker"], t["text"], t["action"]) for t in d["turns"]])
                for name, d in dialogs.items()}
    return load(a) == load(b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--star-path", required=True)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--max-turns", type=int, default=6)
    args = parser.parse_args()
    STAR.set_path(args.star_path)
    ids = pick_scenarios(args.n, args.n)
    print(f"{len(ids)} scenarios: {ids}")
    with servers(2, 1) as urls, tempfile.TemporaryDirectory() as tmp:
        generate(args.star_path, ids[:2], urls, 2, Path(tmp) / "warm", 2)  # load the weights' pages
        timings = {c: generate(args.star_path, ids, urls, c, Path(tmp) / f"c{c}", args.max_turns) for c in (1, 4)}
        identical = same_dialogues(Path(tmp) / "c1", Path(tmp) / "c4")
    for concurrency, seconds in timings.items():
        print(f"concurrency {concurrency}: {seconds:6.1f} s, {len(ids) / seconds * 60:5.1f} dialogues/min")
    print(f"speed-up concurrency 4 / concurrency 1: x{timings[1] / timings[4]:.2f}; same dialogues: {identical}")


if __name__ == "__main__":
    main()
