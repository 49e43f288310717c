"""Batches over several local processes, so a client machine's cores keep up with a fast server.

One Python process tops out near a thousand turns a second: the engine's CPU per turn (agents, guards,
the durable save; see bench/engine_ceiling.py) and not the server sets the pace once a batching GPU
server answers hundreds of requests at once. `ProcessJob` is a batch ``make`` that hands each
``(id, seed)`` to the least busy of ``workers`` child processes and gets the finished dialogue back as
JSON, as `roleplay.runs.ray_executor.RayJob` does with Ray actors across a cluster. This process stays
the run folder's one writer: the lock, index, failures, retries and resume are the ordinary batch
engine's (`roleplay.runs.batch.arun_batch`).

The children are forked when the batch starts, so each inherits the job as it is (scenario, personas
and graphs parsed once) and opens its own HTTP clients. Dialogue ``id`` with seed ``seed + id`` is the
same dialogue in any process. A child that dies fails its dialogues in flight with `WorkerLost` (retried
like a transient failure, then listed in ``failures.jsonl``); when no child is left, `WorkersLost` stops
the batch. Ctrl-C is this process's to handle: the children ignore it and are stopped with the batch, and a
child whose parent is gone exits at once. Needs the ``fork`` start method (Linux, macOS).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import multiprocessing
import os
import signal
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from roleplay.dialog import Dialog
from roleplay.errors import ConfigError
from roleplay.runs._remote import WorkerLost, WorkersLost, carried, least_busy, rebuilt
from roleplay.runs.batch import BatchResult, MakeDialog, arun_batch

__all__ = ["STOP_SECONDS", "ProcessJob", "arun_process_batch", "worker_count"]

STOP_SECONDS = 10.0
"""How long a child may take to close its clients and exit at the end of a batch before it is terminated."""
_STOP = None
"""Sent to a child: no more dialogues; close your clients and exit."""


@dataclass
class _Child:
    """One worker process as the parent sees it: its pipe and the dialogues it was asked for, by ticket."""

    index: int
    process: Any  # multiprocessing's fork-context Process
    pipe: Connection
    waiting: dict[int, asyncio.Future[tuple[str, Any]]] = field(default_factory=dict)


class ProcessJob:
    """A batch ``make`` that runs each dialogue in one of ``workers`` forked child processes.

    Use it as ``async with`` (`arun_batch` does): entering forks the children, leaving stops them.
    ``make`` is the job the children run (e.g. `roleplay.runs.jobs.batch_job`); it is entered as an async context in
    each child, never in this process.
    """

    def __init__(self, make: MakeDialog, workers: int):
        if workers < 1:
            raise ConfigError(f"workers must be >= 1, got {workers}.")
        if "fork" not in multiprocessing.get_all_start_methods():
            raise ConfigError("Worker processes need the 'fork' start method, which this platform lacks; use "
                              "--executor local (or ray).")
        self.make, self.workers = make, workers
        self.children: list[_Child] = []
        self.dead: set[int] = set()
        self._tickets = itertools.count()

    async def __aenter__(self) -> ProcessJob:
        loop = asyncio.get_running_loop()
        context = multiprocessing.get_context("fork")
        for index in range(self.workers):
            mine, theirs = context.Pipe()
            inherited = [mine, *(child.pipe for child in self.children)]  # this side's ends: closed in the child
            process = context.Process(target=_serve, args=(self.make, theirs, inherited), daemon=True,
                                      name=f"roleplay-worker-{index}")
            process.start()
            theirs.close()
            child = _Child(index, process, mine)
            loop.add_reader(mine.fileno(), self._read, child)
            self.children.append(child)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        """Let the children close their clients and exit; after an error or Ctrl-C, terminate them."""
        loop = asyncio.get_running_loop()
        for child in self.children:
            if child.index not in self.dead:
                loop.remove_reader(child.pipe.fileno())
                if exc_type is None:
                    with contextlib.suppress(OSError):
                        child.pipe.send(_STOP)
                else:
                    child.process.terminate()
        await asyncio.to_thread(_join, [child.process for child in self.children])
        for child in self.children:
            child.pipe.close()

    async def __call__(self, dialog_id: Any, seed: int) -> Dialog:
        chosen = least_busy([len(child.waiting) for child in self.children], self.dead)
        if chosen is None:
            raise WorkersLost(f"All {self.workers} worker processes died. Look above for their errors (e.g. out of "
                              "memory), then rerun the same command to resume.")
        child = self.children[chosen]
        ticket = next(self._tickets)
        answer = child.waiting[ticket] = asyncio.get_running_loop().create_future()
        try:
            child.pipe.send((ticket, dialog_id, seed))
            kind, value = await answer
        except OSError:  # the pipe broke: the child is gone
            self._lost(child)
            raise self._lost_error(child) from None
        finally:
            child.waiting.pop(ticket, None)
        if kind == "error":
            raise rebuilt(*value)
        return Dialog.model_validate_json(value)

    def _read(self, child: _Child) -> None:
        """Hand each answer the child sent to the dialogue waiting for it."""
        try:
            while child.pipe.poll():
                ticket, kind, value = child.pipe.recv()
                answer = child.waiting.get(ticket)
                if answer is not None and not answer.done():
                    answer.set_result((kind, value))
        except (EOFError, OSError):
            self._lost(child)

    def _lost(self, child: _Child) -> None:
        """The child died: stop reading it, and fail every dialogue it was running."""
        if child.index in self.dead:
            return
        self.dead.add(child.index)
        asyncio.get_running_loop().remove_reader(child.pipe.fileno())
        child.process.join(timeout=1)
        for answer in child.waiting.values():
            if not answer.done():
                answer.set_exception(self._lost_error(child))

    def _lost_error(self, child: _Child) -> WorkerLost:
        code = child.process.exitcode
        how = f"exit code {code}" if code is not None and code >= 0 else \
            f"signal {signal.Signals(-code).name}" if code is not None else "no exit code yet"
        return WorkerLost(f"worker process {child.index} (pid {child.process.pid}) died ({how}); "
                          f"{self.workers - len(self.dead)} left")


def _join(processes: list[Any]) -> None:
    """Wait up to `STOP_SECONDS` for the children to exit, then terminate (and at last kill) the rest."""
    for process in processes:
        process.join(timeout=STOP_SECONDS)
    for process in processes:
        if process.is_alive():
            process.terminate()
            process.join(timeout=STOP_SECONDS)
        if process.is_alive():
            process.kill()
            process.join()


# --- the child ------------------------------------------------------------------------------------------

def _serve(make: MakeDialog, pipe: Connection, inherited: list[Connection]) -> None:
    """A child's life: run the dialogues the parent sends until it says stop (or is gone)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops the children
    for end in inherited:  # the parent's ends of the pipes: held here, the parent's death would go unseen
        end.close()
    asyncio.run(_answer(make, pipe))


async def _answer(make: MakeDialog, pipe: Connection) -> None:
    loop = asyncio.get_running_loop()
    requests: asyncio.Queue[tuple[int, Any, int] | None] = asyncio.Queue()

    def readable() -> None:
        try:
            while pipe.poll():
                requests.put_nowait(pipe.recv())
        except (EOFError, OSError):
            os._exit(0)  # the parent is gone: nobody will take the answers, and the run folder's lock must go too

    loop.add_reader(pipe.fileno(), readable)
    running: set[asyncio.Task[None]] = set()
    entered = make if isinstance(make, AbstractAsyncContextManager) else contextlib.nullcontext()
    async with entered:
        while (request := await requests.get()) is not _STOP:
            task = asyncio.create_task(_one(make, pipe, *request))
            running.add(task)
            task.add_done_callback(running.discard)
        if running:
            await asyncio.wait(running)
    loop.remove_reader(pipe.fileno())


async def _one(make: MakeDialog, pipe: Connection, ticket: int, dialog_id: Any, seed: int) -> None:
    """Run one dialogue and send back its JSON, or its error as data."""
    try:
        answer: tuple[str, Any] = ("dialog", (await make(dialog_id, seed)).model_dump_json())
    except Exception as err:  # noqa: BLE001 - every failure goes back to the parent's retry policy
        answer = ("error", carried(err))
    try:
        pipe.send((ticket, *answer))
    except OSError:  # the parent is gone
        os._exit(0)


def worker_count(workers: int | None) -> int:
    """How many worker processes a batch starts: ``workers``, or one per core when it is None."""
    return workers or os.cpu_count() or 1


async def arun_process_batch(make: MakeDialog, n: int, out: str | Path, *, workers: int | None = None,
                             concurrency: int = 4, **options: Any) -> BatchResult:
    """`arun_batch` with the dialogues run by ``workers`` child processes (default: one per core).

    Args:
        make: the job (`roleplay.runs.jobs.batch_job`), run in every child.
        n: how many dialogues (ids 0..n-1).
        out: the run folder, as for `arun_batch`; this process writes it.
        workers: how many child processes.
        concurrency: dialogues in flight per child.
        options: the other `arun_batch` options (seed, attempts, params, force, ...).
    """
    count = worker_count(workers)
    return await arun_batch(ProcessJob(make, count), n, out, concurrency=count * concurrency, **options)
