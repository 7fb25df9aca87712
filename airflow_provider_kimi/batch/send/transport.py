"""The paced transport: every request of a client goes through one :class:`~.pacer.Pacer`, sync or async.

It sits where httpx lets a client's sending be replaced (its transport, under connection pooling):
the SDK is built with no retries of its own, and each try of each request, sync or async, waits
its turn, is sent, and has its answer read by the pacer. The two classes only sleep and send.

A request whose body cannot be sent twice (a stream that cannot rewind) is sent once; so is a
request the caller marked with :data:`SEND_ONCE_HEADER` (a create whose answer may be lost after
Kimi acted on it: the caller looks for what it made instead). The header never leaves the process.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx2

from airflow_provider_kimi.batch.send.pacer import Pacer

SEND_ONCE_HEADER = "x-kimi-send-once"
"""A request carrying this header (any value) is never sent twice by the transport."""

SEND_ONCE = {SEND_ONCE_HEADER: "1"}
"""``extra_headers=SEND_ONCE`` on an SDK call: send it once, whatever the connection's retries."""


def _rewinds(value: Any) -> bool:
    if value is None or isinstance(value, (str, bytes)):
        return True
    seekable = getattr(value, "seekable", None)
    try:
        return bool(callable(seekable) and seekable())
    except (OSError, ValueError):
        return False


def replayable(request: httpx2.Request) -> bool:
    """Whether the request's body can be sent again: bytes, or a form whose files can seek back."""
    stream = request.stream
    if isinstance(stream, httpx2.ByteStream):
        return True
    fields = getattr(stream, "fields", None)  # a multipart form: each file is read from its start
    return fields is not None and all(_rewinds(getattr(field, "file", None)) for field in fields)


def _tries(pacer: Pacer, request: httpx2.Request) -> int:
    """How many tries this request may take, and forget the send-once mark before it is sent."""
    once = request.headers.pop(SEND_ONCE_HEADER, None) is not None
    return 1 if once or not replayable(request) else pacer.retries + 1


class PacedTransport(httpx2.BaseTransport):
    """A sync transport that sends through ``inner`` (the SDK's own) at the pace of ``pacer``."""

    def __init__(self, inner: httpx2.BaseTransport, pacer: Pacer, sleep: Callable[[float], None] = time.sleep) -> None:
        self.inner = inner
        self.pacer = pacer
        self._sleep = sleep
        self._lock = threading.Lock()

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        tries = _tries(self.pacer, request)
        for attempt in range(tries):
            ticket, sent_at = self._wait_for_turn()
            try:
                response = self.inner.handle_request(request)
            except httpx2.TransportError:
                verdict = self.pacer.unanswered(attempt=attempt, last=attempt == tries - 1, draw=random.random())
                if not verdict.retry:
                    raise
                self._sleep(verdict.delay)
                continue
            with self._lock:
                verdict = self.pacer.answered(
                    response.status_code,
                    response.headers,
                    attempt=attempt,
                    last=attempt == tries - 1,
                    sent_at=sent_at,
                    ticket=ticket,
                    now=time.monotonic(),
                    now_epoch=time.time(),
                    draw=random.random(),
                )
            if not verdict.retry:
                return response
            response.close()
            self._sleep(verdict.delay)
        raise AssertionError("unreachable: the last try returns or raises")

    def _wait_for_turn(self) -> tuple[int, float]:
        with self._lock:
            at = self.pacer.reserve(time.monotonic())
        while True:
            self._sleep(max(0.0, at - time.monotonic()))
            now = time.monotonic()
            with self._lock:
                turn = self.pacer.turn(now)
            if turn.ticket is not None:
                return turn.ticket, now
            at = turn.again_at

    def close(self) -> None:
        self.inner.close()


class InFlightGate:
    """How many requests one async client keeps out at once, shared by all of its transports."""

    def __init__(self, max_in_flight: int) -> None:
        self.max_in_flight = max_in_flight
        self._semaphore: asyncio.Semaphore | None = None

    @property
    def semaphore(self) -> asyncio.Semaphore:
        if self._semaphore is None:  # made on first use, in the loop that sends
            self._semaphore = asyncio.Semaphore(self.max_in_flight)
        return self._semaphore


class AsyncPacedTransport(httpx2.AsyncBaseTransport):
    """The async twin of :class:`PacedTransport`, with at most ``gate.max_in_flight`` requests out at once.

    A request waits for its turn inside the gate, so no more than ``max_in_flight`` hold slots of
    the budget at once; a request backing off after a failure waits outside it.
    """

    def __init__(self, inner: httpx2.AsyncBaseTransport, pacer: Pacer, gate: InFlightGate) -> None:
        self.inner = inner
        self.pacer = pacer
        self.gate = gate

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        tries = _tries(self.pacer, request)
        for attempt in range(tries):
            async with self.gate.semaphore:
                ticket, sent_at = await self._wait_for_turn()
                try:
                    response = await self.inner.handle_async_request(request)
                except httpx2.TransportError:
                    verdict = self.pacer.unanswered(attempt=attempt, last=attempt == tries - 1, draw=random.random())
                    if not verdict.retry:
                        raise
                else:
                    verdict = self.pacer.answered(
                        response.status_code,
                        response.headers,
                        attempt=attempt,
                        last=attempt == tries - 1,
                        sent_at=sent_at,
                        ticket=ticket,
                        now=time.monotonic(),
                        now_epoch=time.time(),
                        draw=random.random(),
                    )
                    if not verdict.retry:
                        return response
                    await response.aclose()
            # Outside the gate, so a request that backs off holds no connection.
            await asyncio.sleep(verdict.delay)
        raise AssertionError("unreachable: the last try returns or raises")

    async def _wait_for_turn(self) -> tuple[int, float]:
        at = self.pacer.reserve(time.monotonic())
        while True:
            delay = at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            now = time.monotonic()
            turn = self.pacer.turn(now)
            if turn.ticket is not None:
                return turn.ticket, now
            at = turn.again_at

    async def aclose(self) -> None:
        await self.inner.aclose()
