"""One async Kimi client per connection and event loop, shared by every wait in a triggerer.

A triggerer can hold thousands of deferred waits. A client per wait would open a connection per
wait and let each one spend the account's request budget as if it were alone. Here every wait of
one connection id in one event loop leases the same :class:`SharedAsyncClient`: one
``AsyncOpenAI`` (so a few pooled HTTP connections) whose paced transport keeps one
``RequestBudget`` from the connection's ``max_requests_per_minute`` and one pause that a 429 seen
by any wait imposes on all of them. The client closes when its last lease ends; the budget stays
for the loop's lifetime, so a client rebuilt later still keeps to the schedule.

How a connection id becomes settings is the caller's (the hook reads Airflow's connection): the
registry is given that function.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from typing import TypeVar

from openai import AsyncOpenAI

from airflow_provider_kimi.batch.send import RequestBudget, concurrent_requests_for
from airflow_provider_kimi.client.factory import KimiClientFactory
from airflow_provider_kimi.client.settings import KimiClientSettings

T = TypeVar("T")
Resolve = Callable[[str], Awaitable[KimiClientSettings]]


class SharedAsyncClient:
    """An ``AsyncOpenAI`` client whose every request goes through the connection's shared budget.

    The pacing, the in-flight limit and the retries are its transport's (see
    :mod:`airflow_provider_kimi.batch.send`), so any call through :attr:`client` keeps to them;
    :meth:`call` is the same call, said where it is made.
    """

    def __init__(
        self,
        conn_id: str,
        settings: KimiClientSettings,
        budget: RequestBudget,
        client: AsyncOpenAI | None = None,
    ) -> None:
        self.conn_id = conn_id
        self.settings = settings
        self.budget = budget
        self.client = client if client is not None else KimiClientFactory(settings).async_client(budget=budget)
        self.max_in_flight = concurrent_requests_for(settings.max_requests_per_minute)
        self.users = 0

    async def call(self, request: Callable[[AsyncOpenAI], Awaitable[T]]) -> T:
        """``await request(client)``: paced, gated and retried by the client's transport."""
        return await request(self.client)

    async def aclose(self) -> None:
        """Close the HTTP connections (only once no lease uses the client)."""
        await self.client.close()


class _LoopClients:
    """The shared clients and budgets of one event loop, by connection id."""

    def __init__(self) -> None:
        self.clients: dict[str, SharedAsyncClient] = {}
        self.budgets: dict[str, RequestBudget] = {}
        self.locks: dict[str, asyncio.Lock] = {}
        self.closing: set[asyncio.Task[None]] = set()


_BY_LOOP: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClients] = weakref.WeakKeyDictionary()


def loop_clients() -> _LoopClients:
    """The registry of the running event loop."""
    loop = asyncio.get_running_loop()
    registry = _BY_LOOP.get(loop)
    if registry is None:
        registry = _BY_LOOP[loop] = _LoopClients()
    return registry


async def acquire(conn_id: str, resolve: Resolve) -> SharedAsyncClient:
    """Lease the shared client of ``conn_id`` in this event loop, building it on first use.

    ``resolve`` turns the id into settings once per client (without blocking the loop); a lookup
    that fails raises here and is tried afresh by the next caller. Pair with :func:`release`.
    """
    registry = loop_clients()
    shared = registry.clients.get(conn_id)
    if shared is None:
        # One lookup at a time per connection; the callers queued behind it find the client built.
        lock = registry.locks.setdefault(conn_id, asyncio.Lock())
        async with lock:
            shared = registry.clients.get(conn_id)
            if shared is None:
                settings = await resolve(conn_id)
                budget = registry.budgets.get(conn_id)
                if budget is None or budget.configured_per_minute != settings.max_requests_per_minute:
                    budget = registry.budgets[conn_id] = RequestBudget(settings.max_requests_per_minute)
                factory = KimiClientFactory(settings)
                client = await asyncio.to_thread(factory.async_client, budget=budget)
                shared = registry.clients[conn_id] = SharedAsyncClient(conn_id, settings, budget, client)
    shared.users += 1
    return shared


def release(shared: SharedAsyncClient) -> None:
    """End a lease; the last one closes the client in the background.

    Synchronous, so it is safe in a ``finally`` of a cancelled trigger.
    """
    shared.users -= 1
    if shared.users > 0:
        return
    registry = loop_clients()
    if registry.clients.get(shared.conn_id) is shared:
        del registry.clients[shared.conn_id]
    task = asyncio.get_running_loop().create_task(shared.aclose())
    registry.closing.add(task)
    task.add_done_callback(registry.closing.discard)
