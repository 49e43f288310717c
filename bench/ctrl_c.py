"""Ctrl-C latency of `roleplay run` on the embedded model: seconds from SIGINT to exit, mid-dialogue.

Run: .venv/bin/python bench/ctrl_c.py [--trials 5]
Each trial starts `roleplay run doctor_patient --max-turns 30`, waits for the first printed turn (the
model is then evaluating the next prompt or generating), sends SIGINT after a varying delay, and times
the exit. Prints each latency, the exit code (130 expected), whether any file was left in --out, and
the median and maximum.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def one_trial(trial: int, out: Path) -> float:
    """Seconds from SIGINT to exit for one interrupted run."""
    command = [sys.executable, "-m", "roleplay", "run", "doctor_patient", "--seed", str(trial), "--max-turns", "30",
               "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("["):
            break
    time.sleep(0.1 + 0.3 * (trial % 4))  # land in prompt evaluation as well as in generation
    start = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    seconds = time.monotonic() - start
    left = sorted(p.name for p in out.iterdir()) if out.exists() else []
    print(f"trial {trial}: {seconds:.2f} s, exit {proc.returncode}, files left: {left or 'none'}, "
          f"traceback: {'Traceback' in err}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        latencies = [one_trial(i, Path(tmp) / f"out{i}") for i in range(args.trials)]
    print(f"median {statistics.median(latencies):.2f} s, max {max(latencies):.2f} s over {len(latencies)} trials")


if __name__ == "__main__":
    main()
