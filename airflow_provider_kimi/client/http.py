"""HTTP clients that read the server's rate-limit headers and wait for its reset when none is left.

The logic lives in ``batch.server_limits.ServerRateLimit``; here it is hooked into the openai
SDK's HTTP client as event hooks: before a request, wait while the key has nothing left; after an
answer, note what the server said. One ``ServerRateLimit`` serves every client of one key and
base URL in the process, sync and async alike.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from openai import DefaultAsyncHttpxClient, DefaultHttpxClient

from airflow_provider_kimi.batch.server_limits import ServerRateLimit, read_rate_limit

_BY_KEY: dict[str, ServerRateLimit] = {}
_BY_KEY_LOCK = threading.Lock()


def server_limit_for(api_key: str, base_url: str) -> ServerRateLimit:
    """The process's shared view of one key's rate limit at one server."""
    name = hashlib.sha256(f"{base_url}\0{api_key}".encode()).hexdigest()
    with _BY_KEY_LOCK:
        limit = _BY_KEY.get(name)
        if limit is None:
            limit = _BY_KEY[name] = ServerRateLimit()
        return limit


class _Tickets:
    """The ticket each request in flight was sent with, until its answer is read."""

    def __init__(self) -> None:
        self._by_request: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def give(self, request: Any, ticket: int) -> None:
        with self._lock:
            self._by_request[request] = ticket

    def take(self, request: Any) -> int | None:
        with self._lock:
            return self._by_request.pop(request, None)


def _observer(
    limit: ServerRateLimit, tickets: _Tickets, on_limit: Callable[[int], None] | None
) -> Callable[[Any], None]:
    def observe(response: Any) -> None:
        reading = read_rate_limit(response.headers, time.time())
        limit.observe(reading, time.monotonic(), tickets.take(response.request))
        if on_limit is not None and reading is not None and reading.limit is not None and reading.limit > 0:
            on_limit(reading.limit)

    return observe


def sync_http_client(limit: ServerRateLimit, timeout: float) -> DefaultHttpxClient:
    """The openai SDK's default sync HTTP client, waiting for the server's reset when needed."""
    tickets = _Tickets()
    observe = _observer(limit, tickets, None)

    def wait(request: Any) -> None:
        while True:
            delay, ticket = limit.claim(time.monotonic())
            if delay <= 0:
                tickets.give(request, ticket)
                return
            time.sleep(delay)

    return DefaultHttpxClient(timeout=timeout, event_hooks={"request": [wait], "response": [observe]})


def async_http_client(
    limit: ServerRateLimit, timeout: float, on_limit: Callable[[int], None] | None = None
) -> DefaultAsyncHttpxClient:
    """The async twin of :func:`sync_http_client`; ``on_limit`` hears each announced limit."""
    tickets = _Tickets()
    observe = _observer(limit, tickets, on_limit)

    async def wait(request: Any) -> None:
        while True:
            delay, ticket = limit.claim(time.monotonic())
            if delay <= 0:
                tickets.give(request, ticket)
                return
            await asyncio.sleep(delay)

    async def observed(response: Any) -> None:
        observe(response)

    return DefaultAsyncHttpxClient(timeout=timeout, event_hooks={"request": [wait], "response": [observed]})
