"""Prompt tokens llama.cpp evaluates per call on the embedded model, against the prompt's length, in one run.

Two agents take turns on one in-process server, and each call's prompt is the whole conversation so far.
With ``cache_prompt`` llama.cpp's server reuses the tokens a slot (or its RAM cache of idle slots) holds,
so a call evaluates only the rest: the job roleplay's own per-agent KV cache (``AgentPrefixCache``,
deleted with the switch to xllamacpp) did before. roleplay sends ``cache_prompt: false``
(`roleplay.backends.llamacpp.PROMPT_CACHE` says why); this counts both. Counts, not timings: the
machine's load does not move them. Dialogues at concurrency 1 and 8 (16 agents for 8 slots).

    PYTHONPATH=$PWD .venv/bin/python bench/prefix_cache.py [dialogues, default 8] [turns, default 6]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from roleplay.backends import llamacpp
from roleplay.runs.batch import run_batch
from roleplay.runs.jobs import batch_job
from roleplay.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
COUNTS = {"calls": 0, "prompt": 0, "evaluated": 0}


def counting() -> None:
    """Add every llama.cpp request's prompt length and evaluated tokens to `COUNTS`."""
    run = llamacpp.LlamaCppClient._run

    async def counted(self: Any, request: dict[str, Any]) -> dict[str, Any]:
        answer = await run(self, request)
        COUNTS["calls"] += 1
        COUNTS["prompt"] += int(answer["usage"].get("prompt_tokens", 0))
        COUNTS["evaluated"] += int(answer["timings"].get("prompt_n", 0))
        return answer
    llamacpp.LlamaCppClient._run = counted


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    turns = int(sys.argv[2]) if len(sys.argv) > 2 else 6
    counting()
    job = batch_job(load_scenario(ROOT / "scenarios" / "doctor_patient.yaml"), max_turns=turns, slots=8)
    print(f"{count} doctor_patient dialogues x {turns} turns, embedded, 8 slots")
    print("| prompt cache | concurrency | llama.cpp requests | prompt tokens per request | evaluated per request "
          "| evaluated share |")
    print("|---|---|---|---|---|---|")
    for cache in (False, True):
        llamacpp.PROMPT_CACHE = cache
        for concurrency in (1, 8):
            COUNTS.update(calls=0, prompt=0, evaluated=0)
            with tempfile.TemporaryDirectory() as out:
                run_batch(job, count, out, seed=100 * concurrency, concurrency=concurrency, progress=False)
            calls = max(COUNTS["calls"], 1)
            print(f"| {'on' if cache else 'off'} | {concurrency} | {COUNTS['calls']} | "
                  f"{COUNTS['prompt'] / calls:.0f} | {COUNTS['evaluated'] / calls:.0f} | "
                  f"{COUNTS['evaluated'] / max(COUNTS['prompt'], 1):.2f} |")


if __name__ == "__main__":
    main()
