"""Batches over local worker processes: the same dialogues as in one process, errors and deaths, no orphans, CLI."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from executors import SCENARIO, batch_cli, dialogs_of, index_ids

from roleplay import Dialog, Turn
from roleplay.backends import known_backends, register_backend
from roleplay.backends.scripted import scripted_model
from roleplay.errors import BackendError, BackendUnreachableError, ConfigError
from roleplay.runs._remote import WorkersLost
from roleplay.runs.batch import arun_batch
from roleplay.runs.jobs import batch_job
from roleplay.runs.processes import ProcessJob, arun_process_batch
from roleplay.scenario import load_scenario

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parent.parent
UNREACHABLE_SEED = 112


def seeded_factory(model, options):
    """Replies that depend on the seed and on what was heard; one seed cannot reach its server."""
    def script(request):
        if options.seed == UNREACHABLE_SEED:
            raise BackendUnreachableError("openai", "http://127.0.0.1:9", "connection refused")
        name = request.system.split(".")[0].removeprefix("You are ")
        return f"{name} (seed {options.seed}, pid-independent) turn {sum(r == 'user' for r, _, _ in request.messages)}."
    return scripted_model(fn=script, seed=options.seed)


if "procseeded" not in known_backends():  # the children are forked: they inherit the registry
    register_backend("procseeded", seeded_factory)


def job():
    return batch_job(load_scenario(SCENARIO), model="procseeded", max_turns=4)




async def test_worker_processes_make_the_dialogues_of_one_process(tmp_path):
    local = await arun_batch(job(), 12, tmp_path / "local", seed=100, concurrency=4, progress=False)
    spread = await arun_process_batch(job(), 12, tmp_path / "procs", workers=3, concurrency=2, seed=100, progress=False)
    assert (local.done, spread.done, spread.failed) == (12, 12, 0)
    assert dialogs_of(tmp_path / "procs") == dialogs_of(tmp_path / "local")
    assert dialogs_of(tmp_path / "procs")[5][:2] == (5, 105)
    assert "(seed 105" in dialogs_of(tmp_path / "procs")[5][2][0][1]
    assert index_ids(tmp_path / "procs") == list(range(12))


async def test_a_childs_error_comes_back_as_its_class(tmp_path):
    """Retried and listed exactly as when raised in this process."""
    local = await arun_batch(job(), 3, tmp_path / "local", seed=111, attempts=2, backoff=0, progress=False)
    spread = await arun_process_batch(job(), 3, tmp_path / "procs", workers=2, seed=111, attempts=2, backoff=0,
                                      progress=False)
    assert (local.done, local.failed) == (spread.done, spread.failed) == (2, 1)
    assert (tmp_path / "local" / "failures.jsonl").read_text() == (tmp_path / "procs" / "failures.jsonl").read_text()


class RecordingJob:
    """A job that notes which processes opened it and can die or fail on chosen ids."""

    def __init__(self, folder: Path, die_on=(), fail_on=(), delay=0.0):
        self.folder, self.die_on, self.fail_on, self.delay = folder, set(die_on), set(fail_on), delay

    async def __aenter__(self):
        (self.folder / f"entered-{os.getpid()}").touch()
        return self

    async def __aexit__(self, *exc):
        (self.folder / f"closed-{os.getpid()}").touch()

    async def __call__(self, dialog_id, seed):
        await asyncio.sleep(self.delay)
        if dialog_id in self.die_on:
            os._exit(3)
        if dialog_id in self.fail_on:
            raise BackendError("openai", "the server answered 400", status_code=400)
        return Dialog(turns=[Turn(speaker="A", text=f"dialogue {dialog_id}, pid {os.getpid()}.")], seed=seed)


async def test_each_child_opens_the_job_and_this_process_never_does(tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    result = await arun_process_batch(RecordingJob(marks), 8, tmp_path / "b", workers=2, progress=False)
    assert result.done == 8
    entered = {p.name.split("-")[1] for p in marks.glob("entered-*")}
    closed = {p.name.split("-")[1] for p in marks.glob("closed-*")}
    assert len(entered) == 2 and closed == entered and str(os.getpid()) not in entered
    texts = [Dialog.from_file(p).turns[0].text for p in (tmp_path / "b" / "dialogs").iterdir()]
    pids = {text.split("pid ")[1].rstrip(".") for text in texts}
    assert pids == entered  # both children ran dialogues


async def test_a_dead_child_fails_its_dialogue_and_the_others_go_on(tmp_path):
    out = tmp_path / "b"
    result = await arun_process_batch(RecordingJob(tmp_path, die_on={3}, fail_on={5}), 10, out, workers=2,
                                      concurrency=1, attempts=1, progress=False)
    assert (result.done, result.failed) == (8, 2)
    failures = {f["id"]: f["error"] for f in map(json.loads, (out / "failures.jsonl").read_text().splitlines())}
    assert failures[3].startswith("WorkerLost: worker process ") and "died (exit code 3); 1 left" in failures[3]
    assert failures[5].startswith("BackendError:")
    assert index_ids(out) == [0, 1, 2, 4, 6, 7, 8, 9]


async def test_no_child_left_stops_the_batch(tmp_path):
    with pytest.raises(WorkersLost, match="All 1 worker processes died"):
        await arun_process_batch(RecordingJob(tmp_path, die_on={0, 1}), 4, tmp_path / "b", workers=1, concurrency=1,
                                 attempts=1, progress=False)
    assert WorkersLost.__mro__[1] is ConfigError


async def test_cancelling_the_batch_stops_the_children(tmp_path):
    make = ProcessJob(RecordingJob(tmp_path, delay=30), workers=2)
    run = asyncio.create_task(arun_batch(make, 4, tmp_path / "b", concurrency=4, progress=False))
    while not make.children or not all(child.waiting for child in make.children):
        await asyncio.sleep(0.01)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert not any(child.process.is_alive() for child in make.children)
    assert not (tmp_path / "b" / "index.jsonl").exists() or index_ids(tmp_path / "b") == []


def test_children_exit_when_their_parent_is_killed(tmp_path):
    """No orphan keeps running (and holding the run folder's lock) after the batch process is killed."""
    script = f"""
import asyncio, sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from test_processes import RecordingJob
from roleplay.runs.processes import ProcessJob
from roleplay.runs.batch import arun_batch
from pathlib import Path
async def main():
    make = ProcessJob(RecordingJob(Path({str(tmp_path)!r}), delay=60), workers=2)
    run = asyncio.create_task(arun_batch(make, 4, Path({str(tmp_path / 'b')!r}), concurrency=4, progress=False))
    while not make.children or not all(child.waiting for child in make.children):
        await asyncio.sleep(0.01)
    print(" ".join(str(child.process.pid) for child in make.children), flush=True)
    await run
asyncio.run(main())
"""
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    children = [int(pid) for pid in parent.stdout.readline().split()]
    assert len(children) == 2
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in children):
        assert time.monotonic() < deadline, "a worker process outlived its parent"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie (exited, not yet reaped by init) is not running
        return stat.read().split(")")[-1].split()[0] != "Z"


def test_workers_must_be_positive():
    with pytest.raises(ConfigError, match="workers must be >= 1, got 0"):
        ProcessJob(job(), workers=0)



def test_cli_processes_executor(tmp_path):
    result = batch_cli("--out", str(tmp_path / "b"), "-m", "procseeded", "--executor", "processes", "--workers", "2")
    assert result.exit_code == 0, result.output
    assert "concurrency 4 in each of 2 worker processes" in result.output
    assert "3 done, 0 skipped, 0 failed" in result.output
    assert index_ids(tmp_path / "b") == [0, 1, 2]


def test_cli_bad_backend_in_a_child_is_a_clear_error(tmp_path):
    result = batch_cli("--out", str(tmp_path / "b"), "-m", "nosuch:x", "--executor", "processes", "--workers", "1")
    assert result.exit_code == 1
    assert "Error: Unknown backend 'nosuch'" in result.output and "Traceback" not in result.output
