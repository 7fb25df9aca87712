"""Account rate limits per API key: requests a minute and requests in flight, as Kimi's tiers set.

Kimi limits each account by tier (concurrency / requests per minute: Tier0 1 / 3, Tier1 50 / 200,
Tier2 100 / 500, Tier3 200 / 5,000, Tier4 400 / 5,000, Tier5 1,000 / 10,000). Over a limit the
call gets 429 ``rate_limit_reached_error`` with a ``retry-after``; every answer carries
``X-RateLimit-Limit`` (requests a minute), ``X-RateLimit-Remaining`` (left in the current window)
and ``X-RateLimit-Reset`` (whole seconds until a request leaves the window and frees a slot).

Kimi does not say whether its minute is fixed or sliding: the stricter sliding window is used,
counting only calls that were let through. Whether Files and Batches calls count is not
documented either; here every ``/v1`` call counts.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from airflow_provider_kimi.emulator.faults import ASGIApp, Message, Receive, Scope, Send
from airflow_provider_kimi.emulator.stats import EmulatorStats


@dataclass
class Verdict:
    """What the limiter decided for one call, and the header values to answer with."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int
    retry_after: int = 0
    reason: str = ""

    def headers(self) -> list[tuple[bytes, bytes]]:
        headers = [
            (b"x-ratelimit-limit", str(self.limit).encode()),
            (b"x-ratelimit-remaining", str(self.remaining).encode()),
            (b"x-ratelimit-reset", str(self.reset_seconds).encode()),
        ]
        if not self.allowed:
            headers.append((b"retry-after", str(self.retry_after).encode()))
        return headers


class KeyLimiter:
    """Sliding-window request counts and in-flight counts per key; thread-safe, clock injectable."""

    def __init__(
        self,
        requests_per_minute: int | None,
        concurrency: int | None,
        window_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.requests_per_minute = requests_per_minute
        self.concurrency = concurrency
        self.window = window_seconds
        self.clock = clock
        self._sent: dict[str, deque[float]] = {}
        self._in_flight: dict[str, int] = {}
        self._lock = threading.Lock()

    def configure(self, requests_per_minute: int | None, concurrency: int | None, window_seconds: float) -> None:
        """New limits for a running server; the calls counted so far are forgotten."""
        with self._lock:
            self.requests_per_minute = requests_per_minute
            self.concurrency = concurrency
            self.window = window_seconds
            self._sent.clear()

    @property
    def limits(self) -> bool:
        """Whether any limit is set (without one, calls pass uncounted)."""
        return self.requests_per_minute is not None or self.concurrency is not None

    def acquire(self, key: str) -> Verdict:
        """Let a call of ``key`` through (and count it) or refuse it; release an allowed one when done."""
        with self._lock:
            now = self.clock()
            sent = self._sent.setdefault(key, deque())
            while sent and sent[0] <= now - self.window:
                sent.popleft()
            limit = self.requests_per_minute
            in_flight = self._in_flight.get(key, 0)
            if limit is not None and len(sent) >= limit:
                wait = self._reset(sent, now)
                return Verdict(False, limit, 0, wait, max(1, wait), f"{limit} requests per minute")
            if self.concurrency is not None and in_flight >= self.concurrency:
                shown = limit if limit is not None else 0
                remaining = max(0, shown - len(sent))
                return Verdict(False, shown, remaining, self._reset(sent, now), 1, f"{self.concurrency} concurrent")
            sent.append(now)
            self._in_flight[key] = in_flight + 1
            shown = limit if limit is not None else 0
            return Verdict(True, shown, max(0, shown - len(sent)), self._reset(sent, now))

    def release(self, key: str) -> None:
        """An allowed call has been answered."""
        with self._lock:
            self._in_flight[key] = max(0, self._in_flight.get(key, 1) - 1)

    def _reset(self, sent: deque[float], now: float) -> int:
        """Whole seconds until the oldest counted call leaves the window (0 when none is counted)."""
        return math.ceil(max(0.0, sent[0] + self.window - now)) if sent else 0


def _key_of(scope: Scope) -> str:
    header: bytes = dict(scope["headers"]).get(b"authorization", b"")
    return header.decode("latin-1").partition(" ")[2].strip()


class RateLimiter:
    """ASGI wrapper applying a ``KeyLimiter`` to every ``/v1`` call and adding the headers."""

    def __init__(self, app: ASGIApp, limiter: KeyLimiter, stats: EmulatorStats) -> None:
        self.app = app
        self.limiter = limiter
        self.stats = stats

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1") or not self.limiter.limits:
            await self.app(scope, receive, send)
            return
        key = _key_of(scope)
        verdict = self.limiter.acquire(key)
        if not verdict.allowed:
            self.stats.count_rate_limited()
            await self._refuse(send, verdict)
            return
        headers = verdict.headers() if self.limiter.requests_per_minute is not None else []

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start" and headers:
                message = {**message, "headers": [*message.get("headers", []), *headers]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            self.limiter.release(key)

    async def _refuse(self, send: Send, verdict: Verdict) -> None:
        message = (
            f"Your account has reached its rate limit ({verdict.reason}); "
            f"please retry after {verdict.retry_after} seconds"
        )
        payload = json.dumps({"error": {"type": "rate_limit_reached_error", "message": message}}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
        if self.limiter.requests_per_minute is not None:
            headers += verdict.headers()
        else:
            headers.append((b"retry-after", str(verdict.retry_after).encode()))
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
