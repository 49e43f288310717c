"""Dialogues as a Ray Data dataset, for pipelines that already run on Ray.

    import roleplay.ray
    from roleplay.scenario import load_scenario

    job = batch_job(load_scenario("doctor_patient"), model="openai:m", servers=["http://{node_ip}:8000/v1"])
    roleplay.ray.dialogs_dataset(job, 100_000, seed=0).write_parquet("s3://bucket/dialogs")

Row ``i`` is dialogue ``i`` generated with seed ``seed + i`` (the same dialogue `roleplay batch` writes),
as an export row (`roleplay.runs.export.row`; ``fmt="openai"``: ``messages``, ``id``, ``seed``, ``model``,
``scenario``, ``personas``). A pool of ``workers`` Ray actors, each with its own copy of the job, generates
``concurrency`` dialogues at a time. A dataset has no failures file: a dialogue that still fails after
``attempts`` tries is left out and logged, so the dataset may hold fewer than ``n`` rows. For exactly
``n`` dialogues with resume, use ``roleplay batch --executor ray``. Importing this module does not
import Ray; calling `dialogs_dataset` without it raises a ConfigError saying how to install it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from roleplay._aio import run_sync
from roleplay.errors import ConfigError
from roleplay.runs.batch import generate_dialog, is_transient
from roleplay.runs.export import FORMATS, row
from roleplay.runs.jobs import ScenarioJob
from roleplay.runs.ray_executor import import_ray, node_job

if TYPE_CHECKING:
    import ray.data

logger = logging.getLogger(__name__)

__all__ = ["dialogs_dataset"]


def dialogs_dataset(job: ScenarioJob, n: int, seed: int = 0, *, fmt: str = "openai",
                    roles: Mapping[str, str] | None = None, workers: int = 2, concurrency: int = 4,
                    attempts: int = 3, num_cpus: float = 1.0) -> ray.data.Dataset:
    """A lazy `ray.data.Dataset` of dialogues ``0..n-1`` as export rows (see the module docstring).

    Args:
        job: the scenario job (`roleplay.runs.jobs.batch_job`); its server URLs may hold ``{node_ip}``.
        n: how many dialogues.
        seed: dialogue ``i`` uses ``seed + i``.
        fmt: the export row format: openai, hf, sharegpt or jsonl (the whole dialogue).
        roles: speaker -> chat role, as for ``roleplay export --roles``.
        workers: Ray actors generating dialogues.
        concurrency: dialogues in flight per actor.
        attempts: tries per dialogue on transient errors.
        num_cpus: CPUs each actor holds while the dataset runs: an in-process model wants one or more, a job
            that only waits on model servers little (0.25); Ray Data's own read tasks need a free CPU too.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"Unknown export format {fmt!r}; use one of: {', '.join(FORMATS)}.")
    if not isinstance(job, ScenarioJob):
        raise ConfigError(f"dialogs_dataset runs a scenario job (batch_job(...)), not {type(job)!r}.")
    if n < 1 or workers < 1 or concurrency < 1 or attempts < 1:
        raise ConfigError(f"n, workers, concurrency and attempts must be >= 1, got {n}, {workers}, {concurrency} "
                          f"and {attempts}.")
    ray = import_ray()
    return ray.data.range(n).map_batches(
        DialogRows, fn_constructor_args=(job, seed, fmt, dict(roles or {}), attempts), batch_size=concurrency,
        compute=ray.data.ActorPoolStrategy(size=workers), batch_format="numpy", num_cpus=num_cpus)


class DialogRows:
    """One Ray Data actor: a batch of ids in, their dialogues' export rows out (generated concurrently)."""

    def __init__(self, job: ScenarioJob, seed: int, fmt: str, roles: dict[str, str], attempts: int):
        self.job = node_job(job, import_ray().util.get_node_ip_address())
        self.seed, self.fmt, self.roles, self.attempts = seed, fmt, roles, attempts

    def __call__(self, batch: dict[str, Any]) -> Any:
        import pyarrow

        ids = [int(i) for i in batch["id"]]
        dialogs = run_sync(self._generate(ids))
        return pyarrow.Table.from_pylist([row(d, self.fmt, self.roles) for d in dialogs if d is not None])

    async def _generate(self, ids: list[int]) -> list[Any]:
        async with self.job:  # the HTTP clients live as long as this batch's event loop
            return await asyncio.gather(*(self._one(i) for i in ids))

    async def _one(self, dialog_id: int) -> Any:
        try:
            return await generate_dialog(self.job, dialog_id, self.seed + dialog_id, self.attempts, backoff=1.0)
        except Exception as err:  # noqa: BLE001 - a dataset has no failures file: the row is left out, and logged
            if isinstance(err, ConfigError) and not is_transient(err):
                raise  # a wrong model or scenario fails every row: stop the dataset
            logger.warning("dialogue %s (seed %s) failed after %s attempt(s), left out: %s: %s", dialog_id,
                           self.seed + dialog_id, self.attempts, type(err).__name__, err)
            return None
