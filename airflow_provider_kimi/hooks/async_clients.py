"""One async Kimi client per connection and event loop, shared by every wait in a triggerer.

A triggerer can hold thousands of deferred waits. A client per wait would open a connection per
wait and let each one spend the account's request budget as if it were alone. Here every wait of
one connection id in one event loop leases the same ``SharedAsyncClient``: one ``AsyncOpenAI``
(so a few pooled HTTP connections), one ``RequestBudget`` from the connection's
``max_requests_per_minute``, and one backoff that a 429 seen by any wait imposes on all of them.
The client closes when its last lease ends; the budget stays for the loop's lifetime, so a
client rebuilt later still keeps to the schedule.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, TypeVar

import openai
from openai import AsyncOpenAI

from airflow_provider_kimi.batch.polling import RequestBudget, concurrent_requests_for
from airflow_provider_kimi.client.factory import KimiClientFactory
from airflow_provider_kimi.client.settings import KimiClientSettings
from airflow_provider_kimi.client.translate import is_transient
from airflow_provider_kimi.hooks.kimi import KimiBatchHook

if TYPE_CHECKING:
    from airflow_provider_kimi.hooks.poller import BatchPoller

T = TypeVar("T")

RETRY_BASE_SECONDS = 0.5
RETRY_MAX_SECONDS = 8.0


def retry_after_seconds(err: openai.APIStatusError) -> float | None:
    """The server's ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date), if any."""
    headers = err.response.headers
    try:
        if (ms := headers.get("retry-after-ms")) is not None:
            return float(ms) / 1000
        if (value := headers.get("retry-after")) is None:
            return None
        try:
            return float(value)
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class SharedAsyncClient:
    """An ``AsyncOpenAI`` client whose calls go through a shared budget and concurrency gate.

    Call the API through :meth:`call` so each attempt spends the budget: the client itself is
    built with ``max_retries=0`` and :meth:`call` retries instead, up to the connection's
    ``max_retries``.
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
        # No SDK retries: :meth:`call` retries, so every attempt spends the budget.
        self.client = (
            client if client is not None else KimiClientFactory(settings).async_client(max_retries=0, budget=budget)
        )
        self.max_in_flight = concurrent_requests_for(settings.max_requests_per_minute)
        self._gate = asyncio.Semaphore(self.max_in_flight)
        self.users = 0
        self.poller: BatchPoller | None = None

    async def call(self, request: Callable[[AsyncOpenAI], Awaitable[T]]) -> T:
        """Send ``request(client)`` when the budget allows; retry what the wait core calls transient.

        A 429 pauses every caller of the budget (for its ``retry-after`` when given); other
        transient failures back off privately.
        """
        loop = asyncio.get_running_loop()
        attempts = self.settings.max_retries + 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            async with self._gate:
                sent_at = await self._wait_for_slot(loop)
                try:
                    result = await request(self.client)
                except openai.RateLimitError as err:
                    self.budget.rate_limited(loop.time(), sent_at, retry_after_seconds(err))
                    if last:
                        raise
                    continue
                except Exception as err:
                    if last or not is_transient(err):
                        raise
                else:
                    self.budget.succeeded()
                    return result
            # Outside the gate, so a wait that backs off holds no connection.
            pause = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2**attempt)
            await asyncio.sleep(pause * random.uniform(0.75, 1.0))
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _wait_for_slot(self, loop: asyncio.AbstractEventLoop) -> float:
        """Sleep until this caller's send time; claim a new one if a 429 paused everyone meanwhile."""
        while True:
            at = self.budget.reserve(loop.time())
            delay = at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if not self.budget.is_paused(loop.time()):
                return at

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


def _loop_clients() -> _LoopClients:
    loop = asyncio.get_running_loop()
    registry = _BY_LOOP.get(loop)
    if registry is None:
        registry = _BY_LOOP[loop] = _LoopClients()
    return registry


async def acquire_client(conn_id: str) -> SharedAsyncClient:
    """Lease the shared client of ``conn_id`` in this event loop, building it on first use.

    The connection is read once per client (without blocking the loop); a lookup that fails
    raises here and is tried afresh by the next caller. Pair with :func:`release_client`.
    """
    registry = _loop_clients()
    shared = registry.clients.get(conn_id)
    if shared is None:
        # One lookup at a time per connection; the callers queued behind it find the client built.
        lock = registry.locks.setdefault(conn_id, asyncio.Lock())
        async with lock:
            shared = registry.clients.get(conn_id)
            if shared is None:
                settings = await KimiBatchHook(kimi_conn_id=conn_id).aget_settings()
                budget = registry.budgets.get(conn_id)
                if budget is None or budget.configured_per_minute != settings.max_requests_per_minute:
                    budget = registry.budgets[conn_id] = RequestBudget(settings.max_requests_per_minute)
                factory = KimiClientFactory(settings)
                client = await asyncio.to_thread(factory.async_client, max_retries=0, budget=budget)
                shared = registry.clients[conn_id] = SharedAsyncClient(conn_id, settings, budget, client)
    shared.users += 1
    return shared


def release_client(shared: SharedAsyncClient) -> None:
    """End a lease; the last one closes the client in the background.

    Synchronous, so it is safe in a ``finally`` of a cancelled trigger.
    """
    shared.users -= 1
    if shared.users > 0:
        return
    registry = _loop_clients()
    if registry.clients.get(shared.conn_id) is shared:
        del registry.clients[shared.conn_id]
    task = asyncio.get_running_loop().create_task(shared.aclose())
    registry.closing.add(task)
    task.add_done_callback(registry.closing.discard)


@asynccontextmanager
async def shared_client(conn_id: str) -> AsyncIterator[SharedAsyncClient]:
    """``async with shared_client(conn_id) as shared: await shared.call(...)``."""
    shared = await acquire_client(conn_id)
    try:
        yield shared
    finally:
        release_client(shared)
