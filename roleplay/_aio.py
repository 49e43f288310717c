"""One sync entry point over the async core, safe inside Jupyter's running event loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from synchronous code.

    With no loop running, this is ``asyncio.run``. Inside a running loop (a notebook cell), the coroutine
    runs on a fresh loop in a worker thread, so ``generator.generate()`` works in Jupyter too. Clients are
    created per dialogue inside the coroutine, so no async client is shared between the two loops.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="roleplay-sync") as pool:
        return pool.submit(asyncio.run, coro).result()
