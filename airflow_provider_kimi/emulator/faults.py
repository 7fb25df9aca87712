"""Seeded fault injection on ``/v1``: rate limits, server errors, dropped connections, slowness.

It wraps the whole ASGI app, outside Starlette's own middleware, so that it sees the server's raw
``send``: a dropped connection must close the socket without any HTTP response (an exception
inside the app would only become a 500), and with uvicorn the connection's transport is reachable
through that ``send``.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import threading
from typing import Any

from airflow_provider_kimi.emulator.settings import FAULT_KINDS, EmulatorSettings
from airflow_provider_kimi.emulator.stats import EmulatorStats

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Any
Send = Any
ASGIApp = Any


class FaultPlan:
    """Draws the fault (or none) for each ``/v1`` call from a seeded RNG: same seed, same schedule."""

    def __init__(self, faults: dict[str, float], seed: int | None) -> None:
        self._faults = [(kind, faults.get(kind, 0.0)) for kind in FAULT_KINDS]
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        """True when any kind of fault has a share above zero."""
        return any(share > 0 for _, share in self._faults)

    def draw(self) -> str | None:
        with self._lock:
            roll = self._rng.random()
        for kind, share in self._faults:
            if roll < share:
                return kind
            roll -= share
        return None


async def _send_json(send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def _swallow(message: Message) -> None:
    """A ``send`` that discards the answer: the work is done, the client never hears of it."""


def drop_connection(send: Send) -> bool:
    """Close the client's socket without answering; False when the server does not allow it."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if cycle is None or transport is None:
        return False
    transport.abort()
    # Tell uvicorn the client is gone, so it neither logs nor tries to send a 500.
    cycle.disconnected = True
    return True


class FaultInjector:
    """ASGI wrapper that answers a share of ``/v1`` calls with a fault instead of the app."""

    def __init__(self, app: ASGIApp, settings: EmulatorSettings, stats: EmulatorStats) -> None:
        self.app = app
        self.settings = settings
        self.stats = stats
        self.plan = FaultPlan(settings.faults, settings.seed)

    def set_faults(self, faults: dict[str, float], seed: int | None = None) -> None:
        """Change the schedule of a running server: an outage in the middle of a run, then recovery."""
        unknown = set(faults) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {FAULT_KINDS}")
        self.plan = FaultPlan(faults, seed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1") or not self.plan.active:
            await self.app(scope, receive, send)
            return
        kind = self.plan.draw()
        if kind is not None:
            self.stats.count_fault(kind)
        if kind == "429":
            retry_after = self.settings.retry_after_seconds
            await _send_json(
                send,
                429,
                {"error": {"type": "rate_limit_reached_error", "message": "rate limit reached, retry later"}},
                [
                    (b"retry-after", str(math.ceil(retry_after)).encode()),
                    (b"retry-after-ms", str(round(retry_after * 1000)).encode()),
                ],
            )
        elif kind == "500":
            await _send_json(send, 500, {"error": {"type": "server_error", "message": "internal server error"}}, [])
        elif kind == "lost":
            await self.app(scope, receive, _swallow)
            if not drop_connection(send):
                raise ConnectionAbortedError("lost answer (fault injection)")
        elif kind == "drop":
            if not drop_connection(send):
                # Without access to the socket the nearest thing is an answer-less failure.
                raise ConnectionAbortedError("dropped connection (fault injection)")
        else:
            if kind == "slow":
                await asyncio.sleep(self.settings.slow_seconds)
            await self.app(scope, receive, send)
