"""A batch on the embedded model: concurrency 1 vs 8, and roleplay vs the raw engine, in one run.

16 doctor_patient dialogues x 6 turns (guards as shipped), played by `run_batch` at concurrency 1 (one
server, every thread) and at 8 (as `roleplay batch` runs it: min(8, CPUs) single-slot copies of the server,
the threads shared out), then the requests roleplay sent at 8, recorded, answered by the engine alone on
the same copies, 8 at a time: the ratio roleplay / raw is roleplay's own overhead. It also checks that
both concurrencies gave the same dialogues.

With --before-python and --before-path, the same arms also run in another checkout and venv (the
llama-cpp-python engine before the switch), after this one, in the same invocation: one table.

    PYTHONPATH=$PWD nice -n 10 .venv/bin/python bench/embedded_batch.py \\
        --before-python /work/main/.venv/bin/python --before-path /tmp/engine_before

Floors (issue 29): concurrency 8 >= 1.2 x concurrency 1 (tokens/s), and roleplay at 8 >= 0.9 x raw.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from roleplay.backends import llamacpp
from roleplay.dialog import Dialog
from roleplay.runs.batch import run_batch
from roleplay.runs.jobs import batch_job
from roleplay.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
DIALOGUES, TURNS, WIDE = 16, 6, 8
NO_LIMIT = 86400.0
"""Seconds a request may take: a day, as under load a limit would cut dialogues (the scenario's is off too)."""
NEW_ENGINE = hasattr(llamacpp, "PROCESS_SERVERS")  # False in a checkout before the switch (llama-cpp-python)


def arm(concurrency: int, out: Path, options: dict[str, Any]) -> dict[str, float]:
    """One batch; returns wall seconds, completion tokens and turns."""
    scenario = load_scenario(ROOT / "scenarios" / "doctor_patient.yaml")
    scenario = scenario.model_copy(update={"stop": scenario.stop.model_copy(update={"timeout": None})})
    job = batch_job(scenario, max_turns=TURNS, **options)
    started = time.perf_counter()
    result = run_batch(job, DIALOGUES, out, seed=0, concurrency=concurrency, progress=False)
    seconds = time.perf_counter() - started
    dialogs = [Dialog.from_file(p) for p in (out / "dialogs").glob("*.json")]
    assert result.done == DIALOGUES and len(dialogs) == DIALOGUES, result
    return {"seconds": seconds, "tokens": sum(d.metadata["completion_tokens"] for d in dialogs),
            "turns": sum(len(d) for d in dialogs)}


def recording(requests: list[dict[str, Any]]) -> None:
    """Record every request roleplay sends to the engine (this process only)."""
    if NEW_ENGINE:
        run = llamacpp.LlamaCppClient._run

        async def recorded(self: Any, request: dict[str, Any]) -> dict[str, Any]:
            requests.append(request)
            return await run(self, request)
        llamacpp.LlamaCppClient._run = recorded
    else:
        complete = llamacpp.LlamaCppClient._complete

        def recorded_old(self: Any, kwargs: dict[str, Any], stop: Any) -> dict[str, Any]:
            requests.append({**kwargs, "logits_processor": None})
            return complete(self, {**kwargs}, stop)
        llamacpp.LlamaCppClient._complete = recorded_old


def raw(requests: list[dict[str, Any]], options: dict[str, Any]) -> dict[str, float]:
    """The recorded requests answered by the engine alone; 8 at a time on the server, one at a time before."""
    path = llamacpp.embedded_model_path()
    if NEW_ENGINE:
        import threading

        server = llamacpp.PROCESS_SERVERS.server(path, llamacpp.DEFAULT_CONTEXT, 1, options["threads"],
                                                 replicas=options["replicas"])
        stop = threading.Event()
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=WIDE) as pool:
            answers = list(pool.map(lambda request: server.chat(request, stop), requests))
        tokens = sum(a["usage"].get("completion_tokens", 0) for a in answers)
    else:
        llama, lock = llamacpp.shared_llama(path, llamacpp.DEFAULT_CONTEXT)
        started, tokens = time.perf_counter(), 0
        for kwargs in requests:  # the no-repeat processor is roleplay's own code: the raw engine runs without it
            request = {k: v for k, v in kwargs.items() if k != "logits_processor"}
            with lock:
                llama.reset()
                tokens += llama.create_chat_completion(**request)["usage"]["completion_tokens"]
    return {"seconds": time.perf_counter() - started, "tokens": tokens, "requests": len(requests)}


def measure(threads: int | None) -> dict[str, Any]:
    """Every arm of this checkout's engine."""
    options = {"request_timeout": NO_LIMIT, "threads": threads or llamacpp.usable_cpus()} if NEW_ENGINE else {}
    # concurrency 8 as `roleplay batch` runs it: min(8, CPUs) single-slot copies of the server, threads shared out
    wide_options = {**options, "replicas": min(WIDE, llamacpp.usable_cpus())} if NEW_ENGINE else {}
    with tempfile.TemporaryDirectory() as tmp:
        one = arm(1, Path(tmp) / "c1", options)
        requests: list[dict[str, Any]] = []
        recording(requests)
        wide = arm(WIDE, Path(tmp) / "c8", wide_options)
        same = texts(Path(tmp) / "c1") == texts(Path(tmp) / "c8")
    alone = raw(requests, wide_options)
    return {"engine": "xllamacpp (llama.cpp server in process)" if NEW_ENGINE else "llama-cpp-python (before)",
            "c1": one, "c8": wide, "raw": alone, "same_dialogues": same}


def texts(out: Path) -> dict[str, list[str]]:
    """Each dialogue's turn texts, by file name."""
    return {p.name: [t.text for t in Dialog.from_file(p)] for p in (out / "dialogs").glob("*.json")}


def row(found: dict[str, Any]) -> str:
    c1, c8, bare = found["c1"], found["c8"], found["raw"]
    rate = {k: found[k]["tokens"] / found[k]["seconds"] for k in ("c1", "c8", "raw")}
    return (f"| {found['engine']} | {rate['c1']:.1f} | {c1['turns'] / c1['seconds']:.2f} | {rate['c8']:.1f} | "
            f"{c8['turns'] / c8['seconds']:.2f} | {rate['c8'] / rate['c1']:.2f} | {rate['raw']:.1f} "
            f"({bare['requests']} requests) | {rate['c8'] / rate['raw']:.2f} |")


def main() -> None:
    global DIALOGUES, TURNS
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="Print this checkout's figures as JSON only.")
    parser.add_argument("--dialogues", type=int, default=DIALOGUES)
    parser.add_argument("--turns", type=int, default=TURNS)
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: every core); on a "
                        "shared machine 1 keeps threads from spinning while they wait for each other.")
    parser.add_argument("--before-python", help="The Python of the venv before the switch.")
    parser.add_argument("--before-path", help="The checkout before the switch (its PYTHONPATH).")
    args = parser.parse_args()
    DIALOGUES, TURNS = args.dialogues, args.turns
    found = measure(args.threads)
    if args.json:
        print(json.dumps(found))
        return
    rows = [found]
    if args.before_python and args.before_path:
        env = {**os.environ, "PYTHONPATH": args.before_path}
        done = subprocess.run([args.before_python, str(Path(__file__).resolve()), "--json", "--dialogues",
                               str(DIALOGUES), "--turns", str(TURNS)], env=env,
                              capture_output=True, text=True, check=True, cwd=args.before_path)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"{DIALOGUES} doctor_patient dialogues x {TURNS} turns, embedded model, {llamacpp.usable_cpus()} CPUs, "
          f"{args.threads or llamacpp.usable_cpus()} llama.cpp threads")
    print("| engine | c1 tokens/s | c1 turns/s | c8 tokens/s | c8 turns/s | c8/c1 | raw tokens/s | roleplay c8/raw |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(row(r) for r in rows))
    rate = {k: found[k]["tokens"] / found[k]["seconds"] for k in ("c1", "c8", "raw")}
    print(f"floor c8 >= 1.2 x c1: {rate['c8'] >= 1.2 * rate['c1']} ({rate['c8'] / rate['c1']:.2f})")
    print(f"floor roleplay >= 0.9 x raw: {rate['c8'] >= 0.9 * rate['raw']} ({rate['c8'] / rate['raw']:.2f})")
    print(f"same dialogues at concurrency 1 and {WIDE}: {found['same_dialogues']}")


if __name__ == "__main__":
    main()
