"""What every executor that runs dialogues outside this process shares (Ray actors, local worker processes).

The driver keeps the run folder and the retry policy; a worker runs ``make(id, seed)`` and sends back the
dialogue as JSON or the error as data (`carried`), rebuilt on this side as the same exception class
(`rebuilt`), so `roleplay.runs.batch.is_transient` and ``failures.jsonl`` treat it as if it had been raised
here. A worker that dies fails its dialogues in flight with `WorkerLost` (retried like a transient failure);
when none is left, `WorkersLost` stops the batch.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from typing import Any

from roleplay.errors import ConfigError, RunError
from roleplay.runs.batch import DialogFailed

__all__ = ["Carried", "WorkerLost", "WorkersLost", "carried", "least_busy", "rebuilt"]

Carried = tuple[type[BaseException], tuple[Any, ...], dict[str, Any]]


class WorkerLost(DialogFailed):
    """The worker running a dialogue died or is restarting; the dialogue is retried like a transient failure."""


class WorkersLost(ConfigError):
    """Every worker of the batch died for good: nothing is left to run the dialogues."""


def carried(err: BaseException) -> Carried:
    """``err`` as (class, args, attributes): picklable even when its ``__init__`` takes other arguments than args."""
    described = (type(err), err.args, dict(vars(err)))
    try:
        pickle.dumps(described)
    except Exception:  # noqa: BLE001 - an attribute that cannot travel: keep the class name and the message
        return RunError, (f"{type(err).__name__}: {err}",), {}
    return described


def rebuilt(cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]) -> BaseException:
    """The exception `carried` described, with its class, message and attributes (what pickle's copyreg does)."""
    err = cls.__new__(cls)
    err.args = args
    err.__dict__.update(state)
    return err


def least_busy(in_flight: Sequence[int], dead: set[int]) -> int | None:
    """The live worker with the fewest dialogues in flight (None when every worker is dead)."""
    live = [i for i in range(len(in_flight)) if i not in dead]
    return min(live, key=in_flight.__getitem__) if live else None
