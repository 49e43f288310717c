"""`batch_collector`: the garbage-collector settings of a run of many dialogues, handed back as found."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["YOUNG_COLLECTION", "batch_collector"]

YOUNG_COLLECTION = 50_000
"""Allocations between two young-generation collections during a batch (CPython's default is 700)."""


@contextmanager
def batch_collector() -> Iterator[None]:
    """Keep the garbage collector from rescanning what the dialogues in flight hold, for the run.

    `arun_batch` runs inside it; so can any other loop of many dialogues at once (bench/engine_ceiling.py).

    A batch allocates fast, and each collection walked objects again and again: with 256 dialogues in
    flight, 15-20% of the client's CPU (bench/engine_ceiling.py). Two settings, both handed back as found:
    `gc.freeze` moves what exists before the run (modules, the scenario, the job) to the permanent
    generation, and the young generation is collected every `YOUNG_COLLECTION` allocations instead of 700,
    so a turn's short-lived objects are freed by reference counting before any scan and far fewer of the
    in-flight dialogues' objects are promoted and rescanned. Cyclic garbage waits a little longer (at most
    that many objects).
    """
    with _COLLECTOR.lock:  # batches in several threads of a process: the first in sets, the last out restores
        if _COLLECTOR.depth == 0:
            _COLLECTOR.found = (gc.get_threshold(), gc.get_freeze_count() > 0)
            if not _COLLECTOR.found[1]:  # a caller's own freeze is theirs: neither frozen again nor unfrozen
                gc.freeze()
            gc.set_threshold(YOUNG_COLLECTION, *_COLLECTOR.found[0][1:])
        _COLLECTOR.depth += 1
    try:
        yield
    finally:
        with _COLLECTOR.lock:
            _COLLECTOR.depth -= 1
            if _COLLECTOR.depth == 0:
                gc.set_threshold(*_COLLECTOR.found[0])
                if not _COLLECTOR.found[1]:
                    gc.unfreeze()


class _CollectorState:
    """What `batch_collector` found, and how many batches of this process are inside it (gc is per process)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.found: tuple[tuple[int, ...], bool] = ((700, 10, 10), False)


_COLLECTOR = _CollectorState()
