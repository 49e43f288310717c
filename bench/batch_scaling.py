"""Batch scaling on an instant scripted backend: wall time and peak memory for n = 10, 100, 1000.

Each n runs in its own process (so peak RSS is that run's), 4-turn doctor-patient dialogues at
concurrency 8, written to a temp folder. Linear time means a flat per-dialogue time; flat memory
means the batch keeps no transcript after writing it.

    python bench/batch_scaling.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import asyncio, json, resource, sys, time
from roleplay import backends
from roleplay.backends.scripted import scripted_model
from roleplay.runs.batch import arun_batch
from roleplay.scenario import load_scenario
backends.register_backend("instant", lambda model, o: scripted_model(fn=lambda r: "Fine, thank you.", seed=o.seed))
scenario = load_scenario(sys.argv[3])
async def make(index, seed):
    return await scenario.generator(model="instant", max_turns=4).agenerate(seed=seed, id=index)
started = time.perf_counter()
result = asyncio.run(arun_batch(make, int(sys.argv[1]), sys.argv[2], concurrency=8, progress=False))
print(json.dumps({"seconds": time.perf_counter() - started, "done": result.done,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    rows = []
    for n in (10, 100, 1000):
        with tempfile.TemporaryDirectory() as out:
            child = subprocess.run([sys.executable, "-c", CHILD, str(n), out, str(ROOT / "scenarios" /
                                    "doctor_patient.yaml")], capture_output=True, text=True, check=True)
        row = json.loads(child.stdout)
        rows.append((n, row))
        print(f"n={n:5}: {row['seconds']:7.2f} s, {1000 * row['seconds'] / n:6.2f} ms per dialogue, "
              f"peak RSS {row['peak_rss_mb']:.0f} MB")
    (n0, first), (n1, last) = rows[0], rows[-1]
    print(f"per-dialogue time n={n1} / n={n0}: {(last['seconds'] / n1) / (first['seconds'] / n0):.2f} "
          f"(1.0 = linear); peak RSS n={n1} / n={n0}: {last['peak_rss_mb'] / first['peak_rss_mb']:.2f}")


if __name__ == "__main__":
    main()
