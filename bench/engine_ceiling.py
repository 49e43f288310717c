"""Engine ceiling: roleplay's batch engine against a raw async HTTP loop on the same fast server, in one run.

Starts its own OpenAI-compatible stand-in for a batching GPU server on 127.0.0.1 (a raw asyncio HTTP/1.1
server in a child process: unlimited parallelism, every request answered after a fixed delay; it stops
with this script, or by itself if this script dies). Then, at each concurrency level c, the same
max(8, 3c) six-turn, two-party dialogues are run by three clients:

- raw, twice: a hand-written loop (see `raw_loop`), each dialogue a chain of 6 chat-completion POSTs
  sending the very requests roleplay sends (the two agents' system prompts, the kickoff line, each
  agent's growing history): what a thin client of the same conversation would do; once over aiohttp
  (one session) and once over httpx (sharded clients), and roleplay is compared with the faster;
- roleplay: `arun_batch` over `roleplay.runs.jobs.batch_job` with an ``openai:`` model (agents, orchestrator,
  guards, run folder and all), the wall time of loading the scenario and `arun_batch`;
- roleplay on ``--workers`` processes (`roleplay.runs.processes`, ``roleplay batch --executor processes``):
  the same batch with the dialogues spread over that many forked worker processes (at most one per
  dialogue in flight), this process writing the run folder.

Each level runs all three ``--repeats`` times, interleaved, and prints the medians. At the last level the
worker-process run is then taken apart, to show where the rest of the gap lies: once with the scenario's
degeneration guards off, and once with the guards off and no run folder (the job called directly, as
many at once, so no file, fsync, index or retry). The server's
replies are random sentences, as a model's would be: a fixed reply would make the degeneration
guards resample every turn.

It prints turns/s for each and roleplay's ratios to the faster raw loop, then the client's CPU ms per turn
against a zero-delay server (process CPU time over the run divided by turns, the worker processes' included;
the server's CPU is in its own process).

    python bench/engine_ceiling.py [--delay 0.2] [--levels 1,16,64,256] [--turns 6] [--repeats 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path

import aiohttp
import httpx
import yaml

from roleplay.agents import persona_system_prompt
from roleplay.prompts import render
from roleplay.runs.batch import arun_batch, batch_collector
from roleplay.runs.jobs import batch_job
from roleplay.runs.processes import ProcessJob
from roleplay.scenario import load_scenario

WORDS = ("morning evening doctor patient pain sleep water walk knee back head week month year coffee tea "
         "breakfast lunch dinner garden bicycle stairs office weekend family sister brother medicine tablet "
         "fever cough breath heart chest stomach diet salad bread running swimming yoga stretch ankle shoulder "
         "neck pillow window weather summer winter spring autumn music book movie train bus car city village "
         "river mountain beach holiday work desk screen phone letter appointment nurse clinic pharmacy").split()
SHARDS = 32  # httpx clients in the raw loop, each request to the least busy: its fastest set-up at 64 and 256


# --- the server (child process) -------------------------------------------------------------------------

def _reply(rng: random.Random) -> str:
    """A fresh sentence each time, as a real model gives: a fixed reply would trip the copy guard on every turn."""
    return f"{' '.join(rng.sample(WORDS, 12)).capitalize()}."


def _completion(model: str, text: str) -> bytes:
    return json.dumps({
        "id": "bench", "object": "chat.completion", "created": 0, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 50, "completion_tokens": 14, "total_tokens": 64},
    }).encode()


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    rng = random.Random(writer.get_extra_info("peername")[1])
    try:
        while True:
            header = await reader.readuntil(b"\r\n\r\n")
            length = next((int(line.split(b":", 1)[1]) for line in header.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            await reader.readexactly(length)
            if delay:
                await asyncio.sleep(delay)
            body = _completion("bench", _reply(rng))
            writer.write(f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                         "Connection: keep-alive\r\n\r\n".encode() + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def _serve(port: int, delay: float, parent: int) -> None:
    server = await asyncio.start_server(lambda r, w: _handle(r, w, delay), "127.0.0.1", port, backlog=4096)
    async with server:
        while os.getppid() == parent:  # stop by itself once the benchmark is gone
            await asyncio.sleep(0.5)


@contextmanager
def fake_server(delay: float):
    """A fixed-delay OpenAI-compatible server in a child process; yields its base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port), "--delay", str(delay),
                             "--parent", str(os.getpid())])
    try:
        for _ in range(600):  # a busy machine can take many seconds to start Python
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise SystemExit("the fake server did not start within 60 s")
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# --- the two clients ------------------------------------------------------------------------------------

def conversation_prompts(scenario_path: Path) -> tuple[list[str], str, str]:
    """The two agents' system prompts and the director's notes roleplay sends for this scenario.

    The kickoff goes with the first turn, the subject with every later one; neither stays in a history.
    The raw loop sends the very same requests, so the comparison measures the engine, not prompt length.
    """
    generator = load_scenario(scenario_path).generator()
    agents = generator.agents
    prompts = [persona_system_prompt(spec.name, spec.persona, [(o.name, o.persona) for o in agents if o is not spec],
                                     generator.dialogue_details) for spec in agents]
    kickoff = render("kickoff", situation="", other_names=agents[1].name)  # the bench's personas have no situation
    return prompts, kickoff, render("subject", subject=generator.dialogue_details)


RAW_CLIENTS = ("httpx", "aiohttp")


async def raw_loop(url: str, dialogues: int, turns: int, concurrency: int, prompts: tuple[list[str], str, str],
                   client: str = "aiohttp") -> int:
    """Chains of ``turns`` chat-completion POSTs, ``concurrency`` chains at once; returns the turns done.

    Each dialogue is two histories, as roleplay's two agents keep them: the speaker's own system prompt, what
    it heard as user messages and what it said as assistant messages; each answer goes to both. ``client``
    is the HTTP library (`RAW_CLIENTS`), each in its fastest set-up here (see `_aiohttp_post`, `_httpx_post`).
    """
    systems, kickoff, subject = prompts
    gc.freeze()  # as arun_batch does: this process's imported heap stays out of the collector's scans
    try:
        async with AsyncExitStack() as stack:
            post = await (_aiohttp_post if client == "aiohttp" else _httpx_post)(url, stack)
            return await _chains(post, dialogues, turns, concurrency, systems, kickoff, subject)
    finally:
        gc.unfreeze()


async def _aiohttp_post(url: str, stack: AsyncExitStack):
    """One aiohttp session, no connection limit: the cheapest client per request measured here."""
    session = await stack.enter_async_context(aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)))
    endpoint, headers = f"{url}/chat/completions", {"Content-Type": "application/json"}

    async def post(body: dict) -> dict:
        async with session.post(endpoint, data=json.dumps(body).encode(), headers=headers) as response:
            return json.loads(await response.read())
    return post


async def _httpx_post(url: str, stack: AsyncExitStack):
    """`SHARDS` httpx clients, each request to the least busy: httpcore checks every idle connection of a
    client on each request, and one client (or requests dealt round-robin) would be slower at 64 and 256."""
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    ssl_context = httpx.create_ssl_context()  # one for all clients (30 ms of CPU each)
    clients = [await stack.enter_async_context(httpx.AsyncClient(base_url=url, limits=limits, timeout=120,
                                                                 verify=ssl_context))
               for _ in range(SHARDS)]
    in_flight = [0] * SHARDS

    async def post(body: dict) -> dict:
        shard = min(range(SHARDS), key=in_flight.__getitem__)
        in_flight[shard] += 1
        try:
            return (await clients[shard].post("chat/completions", json=body)).json()
        finally:
            in_flight[shard] -= 1
    return post


async def _chains(post, dialogues: int, turns: int, concurrency: int, systems: list[str], kickoff: str,
                  subject: str) -> int:
    queue = list(range(dialogues))

    async def worker() -> int:
        done = 0
        while queue:
            seed = queue.pop()
            histories = [[{"role": "system", "content": system}] for system in systems]
            for index in range(turns):
                speaker, listener = histories[index % 2], histories[1 - index % 2]
                note = {"role": "user", "content": kickoff if index == 0 else subject}
                answer = await post({"model": "bench", "temperature": 0.7, "seed": seed, "max_tokens": 80,
                                     "messages": [*speaker, note]})
                text = answer["choices"][0]["message"]["content"]
                speaker.append({"role": "assistant", "content": text})
                listener.append({"role": "user", "content": text})
                done += 1
        return done
    return sum(await asyncio.gather(*(worker() for _ in range(concurrency))))


def write_scenario(folder: Path, turns: int, guards: bool = True) -> Path:
    """A two-party scenario with inline personas and an ``openai:`` model (the URL comes per run)."""
    path = folder / ("bench.yaml" if guards else "bench-unguarded.yaml")
    path.write_text(yaml.safe_dump({
        "name": "engine_ceiling", "model": "openai:bench", "first_speaker": "Doctor",
        "dialogue_details": "A short visit to a family doctor.",
        "agents": [{"name": "Doctor", "persona": {"name": "Doctor", "role": "family doctor"}},
                   {"name": "Patient", "persona": {"name": "Patient", "role": "patient"}}],
        "stop": {"max_turns": turns, "end_signal": True}, "temperature": 0.7, "max_tokens": 80,
        "guards": {"enabled": guards},
    }), encoding="utf-8")
    return path


async def roleplay_loop(url: str, scenario_path: Path, dialogues: int, concurrency: int, out: Path,
                        workers: int = 1) -> int:
    """`arun_batch` over the scenario's batch job, in this process or on ``workers`` processes; the turns done."""
    job = batch_job(load_scenario(scenario_path), servers=[url])
    make = ProcessJob(job, workers) if workers > 1 else job
    result = await arun_batch(make, dialogues, out, concurrency=concurrency, progress=False, attempts=1)
    if result.failed:
        raise SystemExit(f"{result.failed} dialogues failed; see {out / 'failures.jsonl'}")
    return result.turns


async def job_loop(url: str, scenario_path: Path, dialogues: int, concurrency: int, workers: int = 1) -> int:
    """The same dialogues through the batch job alone, ``concurrency`` at once: no run folder (no file, fsync,
    index line, retry or progress), inside `batch_collector` as `arun_batch` is. The turns done."""
    job = batch_job(load_scenario(scenario_path), servers=[url])
    make = ProcessJob(job, workers) if workers > 1 else job
    pending = iter(range(dialogues))

    async def worker() -> int:
        return sum([len((await make(dialog_id, dialog_id)).turns) for dialog_id in pending])
    with batch_collector():
        async with make:
            return sum(await asyncio.gather(*(worker() for _ in range(concurrency))))


def _cpu_seconds() -> float:
    """CPU time of this process and of its children that ended (worker processes; the server lives on)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


async def timed(run) -> tuple[int, float, float]:
    """(turns, wall seconds, client CPU seconds) of one awaited run."""
    wall, cpu = time.perf_counter(), _cpu_seconds()
    turns = await run
    return turns, time.perf_counter() - wall, _cpu_seconds() - cpu


# --- the measurement ------------------------------------------------------------------------------------

async def measure(delay: float, levels: list[int], turns: int, repeats: int, workers: int, work: Path) -> None:
    scenario = write_scenario(work, turns)
    prompts = conversation_prompts(scenario)
    with fake_server(delay) as url:
        for client in RAW_CLIENTS:  # warm-up: imports, first connections
            await timed(raw_loop(url, 4, turns, 4, prompts, client))
        await timed(roleplay_loop(url, scenario, 4, 4, work / "warm"))
        spread = f"roleplay x{workers}"
        print(f"fixed delay {delay * 1000:.0f} ms, {turns}-turn dialogues; ratio = roleplay / the faster raw loop; "
              f"{spread} = roleplay on {workers} worker processes")
        for level in levels:
            dialogues = max(8, 3 * level)  # several dialogues per worker: start-up costs are amortized
            rates: dict[str, list[float]] = {name: [] for name in (*RAW_CLIENTS, "roleplay", spread)}
            for attempt in range(repeats):  # interleaved, so a burst of load on the machine hits every client
                for client in RAW_CLIENTS:
                    raw_turns, raw_wall, _ = await timed(raw_loop(url, dialogues, turns, level, prompts, client))
                    rates[client].append(raw_turns / raw_wall)
                for name, processes in (("roleplay", 1), (spread, min(workers, level))):
                    out = work / f"c{level}-{attempt}-{name.replace(' ', '')}"
                    rp_turns, rp_wall, _ = await timed(roleplay_loop(url, scenario, dialogues, level, out, processes))
                    rates[name].append(rp_turns / rp_wall)
            median = {name: statistics.median(values) for name, values in rates.items()}
            raw_best = max(median[client] for client in RAW_CLIENTS)
            raw_text = ", ".join(f"raw {client} {median[client]:7.1f}" for client in RAW_CLIENTS)
            print(f"concurrency {level:>3}: {raw_text}, roleplay {median['roleplay']:7.1f}, {spread} "
                  f"{median[spread]:7.1f} turns/s; ratio {median['roleplay'] / raw_best:.2f}, {spread} "
                  f"{median[spread] / raw_best:.2f}  ({dialogues} dialogues, {rp_turns} turns; median of {repeats})")
        await taken_apart(url, scenario, write_scenario(work, turns, guards=False), prompts, levels[-1], turns,
                          repeats, workers, work)
    with fake_server(0.0) as url:
        dialogues = 100
        cpu = {}
        for client in RAW_CLIENTS:
            await timed(raw_loop(url, 4, turns, 4, prompts, client))
            raw_turns, _, raw_cpu = await timed(raw_loop(url, dialogues, turns, 16, prompts, client))
            cpu[f"raw {client}"] = raw_cpu / raw_turns
        rp_turns, _, rp_cpu = await timed(roleplay_loop(url, scenario, dialogues, 16, work / "cpu"))
        cpu["roleplay"] = rp_cpu / rp_turns
        rp_turns, _, rp_cpu = await timed(roleplay_loop(url, scenario, dialogues, 16, work / "cpu-spread", workers))
        cpu[f"roleplay x{workers}"] = rp_cpu / rp_turns
        print(f"zero delay, concurrency 16, {dialogues} dialogues: client CPU per turn: "
              + ", ".join(f"{name} {seconds * 1000:.2f} ms" for name, seconds in cpu.items()))


async def taken_apart(url: str, scenario: Path, unguarded: Path, prompts: tuple[list[str], str, str], level: int,
                      turns: int, repeats: int, workers: int, work: Path) -> None:
    """Roleplay on ``workers`` processes at ``level``: whole, without guards, and without guards or run folder."""
    dialogues = max(8, 3 * level)
    runs = {"raw aiohttp": lambda attempt: raw_loop(url, dialogues, turns, level, prompts),
            "whole": lambda attempt: roleplay_loop(url, scenario, dialogues, level, work / f"whole-{attempt}", workers),
            "guards off": lambda attempt: roleplay_loop(url, unguarded, dialogues, level, work / f"bare-{attempt}",
                                                        workers),
            "guards off, no run folder": lambda attempt: job_loop(url, unguarded, dialogues, level, workers)}
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for attempt in range(repeats):
        for name, run in runs.items():
            done, wall, _ = await timed(run(attempt))
            rates[name].append(done / wall)
    median = {name: statistics.median(values) for name, values in rates.items()}
    raw = median.pop("raw aiohttp")
    print(f"taken apart, concurrency {level}, roleplay x{workers}, ratio to raw aiohttp {raw:.1f} turns/s of the "
          "same run: " + ", ".join(f"{name} {rate / raw:.2f}" for name, rate in median.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.2, help="Seconds the server waits before answering.")
    parser.add_argument("--levels", default="1,16,64,256", help="Concurrency levels, comma-separated.")
    parser.add_argument("--turns", type=int, default=6, help="Turns per dialogue.")
    parser.add_argument("--repeats", type=int, default=3, help="Runs per level and client, interleaved; the "
                        "median is printed.")
    parser.add_argument("--workers", type=int, default=2, help="Worker processes of the second roleplay client "
                        "(at most one per dialogue in flight).")
    parser.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--parent", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        asyncio.run(_serve(args.serve, args.delay, args.parent))
        return
    with tempfile.TemporaryDirectory() as work:
        levels = [int(x) for x in args.levels.split(",") if x]
        asyncio.run(measure(args.delay, levels, args.turns, args.repeats, args.workers, Path(work)))


if __name__ == "__main__":
    main()
