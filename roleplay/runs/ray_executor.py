"""Batches on a Ray cluster: the dialogues run in Ray actors, the run folder keeps its one writer (this process).

The driver runs the ordinary batch engine (`roleplay.runs.batch.arun_batch`): the folder lock, the
index, ``failures.jsonl``, retries and resume are the local ones. Only its ``make`` differs: a `RayJob`
hands each ``(id, seed)`` to the least busy of ``workers`` actors and gets the finished dialogue back
as JSON (or the error, rebuilt here as the same exception class). Each actor builds its own copy of the
scenario job (personas, generator, HTTP clients) with ``concurrency`` dialogues in flight, so dialogue
``id`` with seed ``seed + id`` is the same dialogue on any node as in the local executor.

What moves over the network: the scenario job once per actor, then ids in and dialogues out. A server
URL may hold ``{node_ip}``, replaced on each node by that node's address, so every actor talks to its
node-local model server (``--base-url http://{node_ip}:8000/v1``). A killed actor is restarted by Ray
(up to `ACTOR_RESTARTS` times); the dialogues it was running are retried like any transient failure,
and rerunning the same command finishes whatever is still missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from pathlib import Path
from types import ModuleType
from typing import Any

from roleplay.dialog import Dialog
from roleplay.errors import BackendUnavailableError, ConfigError
from roleplay.runs._remote import WorkerLost, WorkersLost, carried, least_busy, rebuilt
from roleplay.runs.batch import BatchResult, arun_batch
from roleplay.runs.jobs import ScenarioJob, batch_job

__all__ = ["ACTOR_RESTARTS", "NODE_IP", "RayJob", "RayWorkersLost", "WorkerLost", "arun_ray_batch", "connect",
           "import_ray"]

NODE_IP = "{node_ip}"
"""In a server URL: the address of the node the actor runs on (a node-local model server)."""
ACTOR_RESTARTS = 3
"""How often Ray restarts an actor that died (killed, out of memory, its process crashed)."""


class RayWorkersLost(WorkersLost):
    """Every Ray actor of the batch died for good: nothing is left to run the dialogues."""


def import_ray() -> ModuleType:
    """The ``ray`` module, or a ConfigError saying how to install it."""
    try:
        import ray
    except ImportError as err:
        raise BackendUnavailableError("Running on Ray needs the 'ray' package: pip install 'roleplay-sim[ray]' "
                                      "(or use --executor local).") from err
    return ray


def connect(address: str | None) -> bool:
    """Join the Ray cluster at ``address`` (None: ``RAY_ADDRESS`` or a new local one); True if this call started Ray.

    A session already open in this process (a notebook, a test) is used as it is.
    """
    ray = import_ray()
    if address and address not in ("auto", "local"):
        _check_reachable(address)
    if ray.is_initialized():
        return False
    local = {} if address or os.environ.get("RAY_ADDRESS") else {"include_dashboard": False}
    try:
        ray.init(address=address, logging_level=logging.WARNING, **local)
    except (ConnectionError, ValueError, RuntimeError) as err:
        raise ConfigError(f"Cannot join the Ray cluster at {address or 'RAY_ADDRESS'}: {err}. Start it with "
                          "'ray start --head' and pass its address with --ray-address HOST:PORT.") from err
    return True


def _check_reachable(address: str) -> None:
    """Fail fast (not after Ray's long connection retries) when nothing listens at ``address``."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ConfigError(f"--ray-address {address!r} is not HOST:PORT (or ray://HOST:PORT, or auto); pass the "
                          "address 'ray start --head' printed, e.g. 10.0.0.5:6379.")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as err:
        raise ConfigError(f"No Ray cluster answers at {address} ({err.strerror or err}). Start one with "
                          "'ray start --head', or check the address and the firewall.") from err


def node_job(job: ScenarioJob, node_ip: str) -> ScenarioJob:
    """A fresh copy of ``job`` for one node: its own HTTP clients, ``{node_ip}`` in server URLs made ``node_ip``."""
    servers = [url.replace(NODE_IP, node_ip) for url in job.servers]
    return batch_job(job.scenario, model=job.model, max_turns=job.max_turns, servers=servers, **job.backend_options)


class DialogWorker:
    """The body of one Ray actor: its own scenario job; ``generate`` returns the dialogue or the error as data."""

    def __init__(self, job: ScenarioJob):
        self.job = node_job(job, import_ray().util.get_node_ip_address())

    async def generate(self, dialog_id: Any, seed: int) -> tuple[str, Any]:
        """``("dialog", json)`` or ``("error", (class, args, attributes))``: any exception can cross to the driver."""
        try:
            dialog = await self.job(dialog_id, seed)
        except Exception as err:  # noqa: BLE001 - every failure goes back to the driver's retry policy
            return "error", carried(err)
        return "dialog", dialog.model_dump_json()

    async def close(self) -> None:
        """Close the actor's HTTP clients."""
        await self.job.pool.aclose()


class RayJob:
    """A batch ``make`` (`roleplay.runs.batch.MakeDialog`) that runs each dialogue in one of ``workers`` Ray actors.

    Use it as ``async with`` (`arun_batch` does): entering starts the actors, leaving stops them. Ray must
    be connected first (`connect`). ``actors`` is public so a caller can watch or kill them.
    """

    def __init__(self, job: ScenarioJob, workers: int, concurrency: int):
        if not isinstance(job, ScenarioJob):
            raise ConfigError(f"The Ray executor runs a scenario job (batch_job(...)), not {type(job)!r}.")
        if workers < 1 or concurrency < 1:
            raise ConfigError(f"workers and concurrency must be >= 1, got {workers} and {concurrency}.")
        self.job, self.workers, self.concurrency = job, workers, concurrency
        self.actors: list[Any] = []
        self.in_flight: list[int] = []
        self.dead: set[int] = set()

    async def __aenter__(self) -> RayJob:
        ray = import_ray()
        actor = ray.remote(DialogWorker).options(max_concurrency=self.concurrency, max_restarts=ACTOR_RESTARTS,
                                                 scheduling_strategy="SPREAD")
        self.actors = [actor.remote(self.job) for _ in range(self.workers)]
        self.in_flight = [0] * self.workers
        return self

    async def __aexit__(self, *exc: object) -> None:
        ray = import_ray()
        live = [a for i, a in enumerate(self.actors) if i not in self.dead]
        closing = asyncio.gather(*(a.close.remote() for a in live), return_exceptions=True)
        with contextlib.suppress(asyncio.TimeoutError):  # an actor that cannot close its clients is killed all the same
            await asyncio.wait_for(closing, timeout=10)
        for a in live:
            ray.kill(a)

    async def __call__(self, dialog_id: Any, seed: int) -> Dialog:
        ray = import_ray()
        chosen = self._least_busy()
        self.in_flight[chosen] += 1
        try:
            kind, value = await self.actors[chosen].generate.remote(dialog_id, seed)
        except ray.exceptions.ActorDiedError as err:
            self.dead.add(chosen)
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise WorkerLost(f"Ray actor {chosen} died for good ({reason}); {self._live()} left") from None
        except ray.exceptions.RayActorError as err:  # unavailable: restarting, or its node is unreachable
            raise WorkerLost(f"Ray actor {chosen} is unavailable ({type(err).__name__})") from None
        finally:
            self.in_flight[chosen] -= 1
        if kind == "error":
            raise rebuilt(*value)
        return Dialog.model_validate_json(value)

    def _least_busy(self) -> int:
        chosen = least_busy(self.in_flight, self.dead)
        if chosen is None:
            raise RayWorkersLost(f"All {len(self.actors)} Ray actors died for good. Check the workers' logs "
                                 "(/tmp/ray/session_latest/logs on each node), then rerun the same command to resume.")
        return chosen

    def _live(self) -> int:
        return len(self.actors) - len(self.dead)


async def arun_ray_batch(job: ScenarioJob, n: int, out: str | Path, *, address: str | None = None,
                         workers: int | None = None, concurrency: int = 4, **options: Any) -> BatchResult:
    """`arun_batch` with the dialogues run by Ray actors; this process writes the run folder.

    Args:
        job: the scenario job (`roleplay.runs.jobs.batch_job`); its server URLs may hold ``{node_ip}``.
        n: how many dialogues (ids 0..n-1).
        out: the run folder, as for `arun_batch`.
        address: the Ray cluster (``HOST:PORT``, ``ray://HOST:PORT``, ``auto``); None: ``RAY_ADDRESS``, else
            a new local one (shut down at the end).
        workers: how many actors (default: one per live node).
        concurrency: dialogues in flight per actor.
        options: the other `arun_batch` options (seed, attempts, params, force, ...).
    """
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}.")
    ray = import_ray()
    started = connect(address)
    try:
        count = workers or sum(1 for node in ray.nodes() if node.get("Alive"))
        return await arun_batch(RayJob(job, count, concurrency), n, out, concurrency=count * concurrency, **options)
    finally:
        if started:
            ray.shutdown()
