"""Ray overhead: the local executor against the Ray executor (2 actors), same work on the same 2 servers, one run.

Starts two of engine_ceiling.py's fixed-latency OpenAI-compatible servers on 127.0.0.1 (imported, not
copied) and a local Ray session (2 CPUs; see tests/test_ray.py for where Ray listens). The scenario is
engine_ceiling's two-party one with the degeneration guards off (the server always sends the same reply,
which the guards would resample).
Both executors run the same N dialogues with the same total concurrency over the pool of the two servers
(dialogue i on server i mod 2): locally, `arun_batch` over the scenario job; on Ray, `arun_batch` over a
`RayJob` with 2 actors of concurrency/2 each. Actor start-up and HTTP connections are warmed up first and
not timed (a fixed cost per run, printed apart). It prints:

- wall time of each, and the Ray overhead per dialogue: (Ray wall - local wall) / N;
- the driver's CPU per dialogue under Ray (receiving the JSON, writing the file and index line): with one
  writer, 1000 / that is the most dialogues per second any cluster can deliver into one run folder;
- one actor round trip carrying a dialogue's JSON (what the network moves per dialogue), sequential;
- the throughput per server, for the paper estimate in bench/RESULTS.md.

    PYTHONPATH=$PWD python bench/ray_executor.py [--n 96] [--concurrency 16] [--delay 0.1] [--turns 6]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from pathlib import Path

import ray
import yaml
from engine_ceiling import fake_server, write_scenario

from roleplay.runs.batch import arun_batch
from roleplay.runs.jobs import batch_job
from roleplay.runs.ray_executor import RayJob
from roleplay.scenario import load_scenario


def unguarded_scenario(folder: Path, turns: int) -> Path:
    """engine_ceiling's scenario with the guards off: the fake server's one fixed reply is the point."""
    path = write_scenario(folder, turns)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    path.write_text(yaml.safe_dump({**data, "guards": {"enabled": False}}), encoding="utf-8")
    return path


async def timed_batch(make, n: int, out: Path, concurrency: int) -> tuple[float, float, int]:
    """(wall s, this process's CPU s, turns) of one `arun_batch` whose ``make`` is already started."""
    async def call(dialog_id, seed):  # a plain function: arun_batch does not enter or leave ``make`` again
        return await make(dialog_id, seed)

    wall, cpu = time.perf_counter(), time.process_time()
    result = await arun_batch(call, n, out, concurrency=concurrency, progress=False, attempts=1)
    if result.failed:
        raise SystemExit(f"{result.failed} dialogues failed; see {out / 'failures.jsonl'}")
    return time.perf_counter() - wall, time.process_time() - cpu, result.turns


async def local_run(scenario: Path, servers: list[str], n: int, concurrency: int, work: Path):
    async with batch_job(load_scenario(scenario), servers=servers) as job:
        await timed_batch(job, concurrency, work / "local-warm", concurrency)
        return await timed_batch(job, n, work / "local", concurrency)


async def ray_run(scenario: Path, servers: list[str], n: int, concurrency: int, work: Path):
    started = time.perf_counter()
    async with RayJob(batch_job(load_scenario(scenario), servers=servers), 2, concurrency // 2) as make:
        await timed_batch(make, concurrency, work / "ray-warm", concurrency)
        startup = time.perf_counter() - started
        return startup, await timed_batch(make, n, work / "ray", concurrency)


@ray.remote
class Echo:
    async def echo(self, payload: str) -> str:
        return payload


async def round_trip_ms(payload: str, calls: int = 200) -> float:
    """Median ms of one sequential actor call carrying ``payload`` there and back."""
    echo = Echo.remote()
    await echo.echo.remote(payload)
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        await echo.echo.remote(payload)
        times.append(time.perf_counter() - start)
    ray.kill(echo)
    return statistics.median(times) * 1000


async def measure(args: argparse.Namespace, work: Path) -> None:
    scenario = unguarded_scenario(work, args.turns)
    with fake_server(args.delay) as one, fake_server(args.delay) as two:
        servers = [one, two]
        local_wall, _, turns = await local_run(scenario, servers, args.n, args.concurrency, work)
        startup, (ray_wall, driver_cpu, ray_turns) = await ray_run(scenario, servers, args.n, args.concurrency, work)
    dialog_json = next((work / "ray" / "dialogs").glob("*.json")).read_text(encoding="utf-8")
    trip = await round_trip_ms(dialog_json)
    n = args.n
    print(f"{n} dialogues of {args.turns} turns, 2 servers with {args.delay * 1000:.0f} ms per reply, total "
          f"concurrency {args.concurrency} (Ray: 2 actors x {args.concurrency // 2})")
    print(f"local executor: {local_wall:.2f} s ({turns} turns); Ray executor: {ray_wall:.2f} s ({ray_turns} turns); "
          f"Ray start-up and warm-up (not in the wall times): {startup:.1f} s")
    print(f"Ray overhead per dialogue: {(ray_wall - local_wall) / n * 1000:+.1f} ms wall "
          f"(ratio Ray/local {ray_wall / local_wall:.2f})")
    print(f"driver CPU per dialogue under Ray: {driver_cpu / n * 1000:.2f} ms (one writer's ceiling: "
          f"{n / driver_cpu:.0f} dialogues/s); actor round trip with a {len(dialog_json)}-byte dialogue: "
          f"{trip:.2f} ms")
    print(f"per server (local executor): {n / local_wall / 2:.2f} dialogues/s, {turns / local_wall / 2:.1f} turns/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=96, help="Dialogues per executor.")
    parser.add_argument("--concurrency", type=int, default=16, help="Total dialogues in flight (even).")
    parser.add_argument("--delay", type=float, default=0.1, help="Seconds each server waits before answering.")
    parser.add_argument("--turns", type=int, default=6, help="Turns per dialogue.")
    args = parser.parse_args()
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    try:
        with tempfile.TemporaryDirectory() as work:
            asyncio.run(measure(args, Path(work)))
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
