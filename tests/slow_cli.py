"""A `roleplay` command line with a slow scripted backend (``--model slow``), to kill, interrupt or race in tests."""

import os
import signal
import subprocess
import time
from pathlib import Path

SCRIPT = """
import sys, time
from roleplay import backends
from roleplay.backends.scripted import auto_reply, scripted_model
def factory(model, options):
    def script(request):
        time.sleep({sleep})
        return auto_reply(request) if request.schema else f"turn at seed {{options.seed}}."
    return scripted_model(fn=script, seed=options.seed)
backends.register_backend("slow", factory)
from roleplay.cli import cli
cli(sys.argv[1:])
"""


def slow_cli(folder: Path, sleep: float = 0.05) -> Path:
    """Write the script into ``folder``; run it as ``python <script> <roleplay arguments>``."""
    script = folder / "slow_roleplay.py"
    script.write_text(SCRIPT.format(sleep=sleep))
    return script


def wait_for_lines(path: Path, count: int, timeout: float = 300) -> None:
    """Return once ``path`` has at least ``count`` lines (or after ``timeout`` seconds)."""
    deadline = time.time() + timeout
    while time.time() < deadline and (not path.is_file() or len(path.read_text().splitlines()) < count):
        time.sleep(0.02)


def kill_9_then_rerun(args: list[str], out: Path, finished: int) -> tuple[int, subprocess.CompletedProcess]:
    """Run ``args``, SIGKILL it once ``finished`` dialogues are indexed in ``out``, then run it again to the end.

    Returns how many dialogue files were in place after the kill, and the rerun.
    """
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_lines(out / "index.jsonl", finished)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = len(list((out / "dialogs").glob("*.json")))
    return before, subprocess.run(args, capture_output=True, text=True, timeout=300)
