"""The HTTP clients of one run: one per server, shared by every agent and dialogue, closed at the end.

Building an HTTP client costs far more than a request (an SSL context loads the CA bundle: ~30 ms of
CPU), and one client per agent per dialogue also means no connection is ever reused. A `ClientPool`
is created by whoever runs the dialogues (a batch job, or a model used on its own) and handed to
`get_backend`; backends ask it for their server's client by a key (backend, URL, settings). It is
explicit state owned by the run, not a module-level singleton: clients are bound to the event loop
that made them, so they must not outlive the run.

    async with ClientPool() as pool:
        doctor = get_backend("openai:m", base_url=url, pool=pool)
        patient = get_backend("openai:m", base_url=url, pool=pool)   # same connection pool
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

Client = TypeVar("Client")


class ClientPool:
    """Clients by key, made on first use; `aclose` (or leaving ``async with``) closes them all."""

    def __init__(self) -> None:
        self._clients: dict[Hashable, Any] = {}
        self._closers: list[Callable[[], Awaitable[Any]]] = []
        self.created = 0  # how many clients were built: one per distinct server and settings

    def client(self, key: Hashable, make: Callable[[], Client], close: Callable[[Client], Awaitable[Any]]) -> Client:
        """The client for ``key``, built by ``make()`` the first time; ``close(client)`` runs at `aclose`."""
        if key not in self._clients:
            built = make()
            self._clients[key] = built
            self._closers.append(lambda: close(built))
            self.created += 1
        return self._clients[key]

    def __len__(self) -> int:
        """How many clients are open."""
        return len(self._clients)

    async def aclose(self) -> None:
        """Close every client (the pool can be used again afterwards; it builds new ones)."""
        closers, self._closers = self._closers, []
        self._clients.clear()
        for close in closers:
            await close()

    async def __aenter__(self) -> ClientPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


__all__ = ["ClientPool"]
