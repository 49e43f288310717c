"""Batch concurrency against local OpenAI-compatible servers (llama-cpp-python's), measured in one run.

Starts ``python -m llama_cpp.server`` on 127.0.0.1 with the embedded GGUF, runs 16 short
doctor-patient dialogues (4 turns, at most 32 tokens each) at concurrency 1, 4 and 8, and prints
dialogues/min and tokens/s, then stops the servers. Three set-ups:

- one server (2 threads): llama-cpp-python's server holds one model and runs one request at a time;
  concurrency only overlaps HTTP and client work with generation;
- a pool of 2 servers with 1 thread each, dialogue i sent to server i % 2 (two requests really run at
  once; this machine has 2 cores, so 2 is the useful pool size). This is what
  ``roleplay batch ... --base-url URL1 --base-url URL2`` does.

- one server (2 threads) with its prompt cache on (``--cache True``): it keeps the KV state of recent
  requests in RAM, so an agent's next turn evaluates only the new messages (what roleplay does
  in-process, but shared by all dialogues, so a dialogue's text may depend on the others).

All run with ``--interrupt_requests False``: by default the server *cancels* a running completion
when a new request arrives, which breaks any concurrent client.

    python bench/batch_concurrency.py [levels, default 1,4,8]
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from roleplay.backends.llamacpp import embedded_model_path
from roleplay.runs.batch import arun_batch
from roleplay.runs.jobs import batch_job
from roleplay.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
N = 16
CONCURRENCY = (1, 4, 8)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def servers(count: int, threads: int, cache: bool = False):
    """``count`` llama.cpp servers on 127.0.0.1; yields their base URLs."""
    procs, urls = [], []
    for _ in range(count):
        port = _free_port()
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(embedded_model_path()), "--host", "127.0.0.1",
             "--port", str(port), "--model_alias", "smollm", "--n_threads", str(threads), "--n_threads_batch",
             str(threads), "--interrupt_requests", "False", "--n_ctx", "4096", "--cache", str(cache)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        urls.append(f"http://127.0.0.1:{port}/v1")
    try:
        for url in urls:
            deadline = time.time() + 120
            while True:
                try:
                    urllib.request.urlopen(f"{url}/models", timeout=2)
                    break
                except OSError:
                    if time.time() > deadline:
                        raise
                    time.sleep(0.5)
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait()


def run(urls: list[str], concurrency: int, n: int = N) -> tuple[float, int]:
    """``n`` 4-turn dialogues of at most 32 tokens per turn; (seconds, completion tokens)."""
    scenario = load_scenario(ROOT / "scenarios" / "doctor_patient.yaml").model_copy(update={"max_tokens": 32})
    job = batch_job(scenario, model="openai:smollm", max_turns=4, servers=urls, api_key="local")
    with tempfile.TemporaryDirectory() as out:
        result = asyncio.run(arun_batch(job, n, out, seed=1, concurrency=concurrency, progress=False))
    assert result.done == n, result
    return result.seconds, result.tokens


def main() -> None:
    global CONCURRENCY
    if len(sys.argv) > 1:  # e.g. "1,8" to measure fewer levels
        CONCURRENCY = tuple(int(c) for c in sys.argv[1].split(","))
    setups = (("one server, 2 threads", 1, 2, False), ("pool of 2 servers, 1 thread each", 2, 1, False),
              ("one server, 2 threads, prompt cache", 1, 2, True))
    for label, count, threads, cache in setups:
        with servers(count, threads, cache) as urls:
            run(urls, 2, n=2)  # warm-up: load the weights' pages
            base = None
            for concurrency in CONCURRENCY:
                seconds, tokens = run(urls, concurrency)
                rate = N / seconds * 60
                base = base or rate
                print(f"{label:36} concurrency {concurrency}: {rate:5.1f} dialogues/min, {tokens / seconds:5.1f} "
                      f"tokens/s, x{rate / base:.2f} vs concurrency 1")


if __name__ == "__main__":
    main()
