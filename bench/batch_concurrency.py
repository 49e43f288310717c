"""Batch concurrency against local OpenAI-compatible servers (llama.cpp's own, via xllamacpp), in one run.

Starts llama.cpp servers inside this process (`roleplay.backends.llama_server.LlamaServer`, each with its
HTTP listener on 127.0.0.1 at a free port) serving the embedded GGUF, runs 16 short doctor-patient
dialogues (4 turns, at most 32 tokens each) through the ``openai:`` backend over HTTP at concurrency 1, 4
and 8, and prints dialogues/min and tokens/s, then stops the servers. Three set-ups:

- one server, 2 threads, 1 slot: one request decoded at a time; concurrency only overlaps HTTP and client
  work with generation (and lets requests of the same role meet the server's prompt cache back to back);
- one server, 2 threads, 8 slots: llama.cpp decodes up to 8 requests together (continuous batching);
- a pool of 2 servers, 1 thread and 1 slot each, dialogue i sent to server i % 2 (what
  ``roleplay batch ... --base-url URL1 --base-url URL2`` does; this machine has 2 cores).

llama.cpp's server keeps each slot's prompt cache on for HTTP clients (``cache_prompt`` defaults to true),
so a dialogue's text may depend on the dialogues that ran before it on the same slot.

    python bench/batch_concurrency.py [levels, default 1,4,8]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from roleplay.backends.llama_server import LlamaServer, embedded_model_path
from roleplay.runs.batch import arun_batch
from roleplay.runs.jobs import batch_job
from roleplay.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
N = 16
CONCURRENCY = (1, 4, 8)
SLOT_CONTEXT = 2048


@contextmanager
def servers(count: int, threads: int, slots: int = 1) -> Iterator[list[str]]:
    """``count`` llama.cpp servers in this process, listening on 127.0.0.1; yields their base URLs."""
    started = [LlamaServer(embedded_model_path(), SLOT_CONTEXT, slots, threads) for _ in range(count)]
    try:
        yield [f"{server.url}/v1" for server in started]
    finally:
        for server in started:
            server.close()


def run(urls: list[str], concurrency: int, n: int = N) -> tuple[float, int]:
    """``n`` 4-turn dialogues of at most 32 tokens per turn; (seconds, completion tokens)."""
    scenario = load_scenario(ROOT / "scenarios" / "doctor_patient.yaml").model_copy(update={"max_tokens": 32})
    job = batch_job(scenario, model="openai:smollm", max_turns=4, servers=urls, api_key="local")
    with tempfile.TemporaryDirectory() as out:
        result = asyncio.run(arun_batch(job, n, out, seed=1, concurrency=concurrency, progress=False))
    assert result.done == n, result
    return result.seconds, result.tokens


def main() -> None:
    levels = tuple(int(c) for c in sys.argv[1].split(",")) if len(sys.argv) > 1 else CONCURRENCY  # e.g. "1,8"
    setups = (("one server, 2 threads, 1 slot", 1, 2, 1), ("one server, 2 threads, 8 slots", 1, 2, 8),
              ("pool of 2 servers, 1 thread each", 2, 1, 1))
    for label, count, threads, slots in setups:
        with servers(count, threads, slots) as urls:
            run(urls, 2, n=2)  # warm-up: load the weights' pages
            base = None
            for concurrency in levels:
                seconds, tokens = run(urls, concurrency)
                rate = N / seconds * 60
                base = base or rate
                print(f"{label:34} concurrency {concurrency}: {rate:5.1f} dialogues/min, {tokens / seconds:5.1f} "
                      f"tokens/s, x{rate / base:.2f} vs concurrency {levels[0]}", flush=True)


if __name__ == "__main__":
    main()
