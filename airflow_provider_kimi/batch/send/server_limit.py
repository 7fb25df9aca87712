"""What the server says about the account's rate limit, and when a client may send next.

Kimi's answers carry ``X-RateLimit-Limit`` (requests a minute), ``X-RateLimit-Remaining`` and
``X-RateLimit-Reset``. Every client of one key in a process (the triggerer's shared async client,
a worker's sync client) reads them through one ``ServerRateLimit``: when the server says nothing
is left, callers wait for the reset instead of sending a request that would only earn a 429.
Because ``Remaining`` counts the whole key, workers and triggerers in other processes that share
the key keep under the limit together. Pure state over clock readings the caller passes in.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass

PROBE_HOLD_SECONDS = 1.0
"""After a reset, one request goes first; the rest wait this long or until its answer arrives."""
MAX_RESET_SECONDS = 120.0
"""A reset further off than this is not trusted (a wrong header must not stall a DAG for hours)."""
_EPOCH_FLOOR = 1_000_000_000.0
_DURATION = re.compile(
    r"^(?:(?P<h>\d+(?:\.\d+)?)h)?(?:(?P<m>\d+(?:\.\d+)?)m(?!s))?(?:(?P<s>\d+(?:\.\d+)?)s)?(?:(?P<ms>\d+)ms)?$"
)


@dataclass(frozen=True)
class RateLimitReading:
    """One answer's rate-limit headers; each is ``None`` when absent or unreadable."""

    limit: int | None
    remaining: int | None
    reset_seconds: float | None


def _int(value: str | None) -> int | None:
    try:
        return None if value is None else int(float(value))
    except ValueError:
        return None


def parse_reset(value: str | None, now_epoch: float) -> float | None:
    """Seconds until the reset: plain seconds, a unix time, or a duration such as ``1m30s``."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        match = _DURATION.match(text)
        if match is None or not any(match.groupdict().values()):
            return None
        parts = {k: float(v) for k, v in match.groupdict().items() if v}
        number = parts.get("h", 0) * 3600 + parts.get("m", 0) * 60 + parts.get("s", 0) + parts.get("ms", 0) / 1000
        return number
    if number >= _EPOCH_FLOOR:
        number -= now_epoch
    return max(0.0, number)


def read_rate_limit(headers: Mapping[str, str], now_epoch: float) -> RateLimitReading | None:
    """The rate-limit headers of an answer (names in any case); ``None`` when it has none."""
    lowered = {name.lower(): value for name, value in headers.items()}
    limit, remaining, reset = (
        lowered.get("x-ratelimit-limit"),
        lowered.get("x-ratelimit-remaining"),
        lowered.get("x-ratelimit-reset"),
    )
    if limit is None and remaining is None and reset is None:
        return None
    return RateLimitReading(_int(limit), _int(remaining), parse_reset(reset, now_epoch))


class ServerRateLimit:
    """The latest word of the server on one key's budget; thread-safe.

    ``claim(now)`` is asked before each send and answers ``(wait, ticket)``: a wait of 0 means
    send now (a known remaining count is spent locally, so concurrent senders do not all take the
    last slot), a positive one how long to wait before asking again. The sender keeps the ticket
    while its request is out and hands it back with the answer's reading to ``observe``.

    Answers arrive out of order: one sent before others were counted reports more left than there
    is. So a reading can always lower the count, but raise it only when it answers the request
    sent last, after which nothing else was sent. When nothing is left, the reset is waited for,
    then one request goes to find out while the others hold.
    """

    def __init__(self) -> None:
        self.limit: int | None = None
        self._learned = False
        self._remaining: int | None = None
        self._reset_at = float("-inf")
        self._ticket = 0
        self._lock = threading.Lock()

    def observe(self, reading: RateLimitReading | None, now: float, ticket: int | None = None) -> None:
        """Take in the headers (``None``: there were none) of the answer to ``ticket``, read at ``now``."""
        with self._lock:
            self._learned = True
            if reading is None:
                return
            if reading.limit is not None and reading.limit > 0:
                self.limit = reading.limit
            if reading.remaining is None:
                return
            remaining = max(0, reading.remaining)
            known = self._remaining
            if known is None or remaining <= known or ticket == self._ticket:
                reset = reading.reset_seconds if reading.reset_seconds is not None else PROBE_HOLD_SECONDS
                self._remaining = remaining
                self._reset_at = now + min(reset, MAX_RESET_SECONDS)

    def claim(self, now: float) -> tuple[float, int]:
        """``(seconds to wait, ticket)``; a wait of 0 means go now, spending one request of the budget."""
        with self._lock:
            if not self._learned or self._remaining == 0:
                if now < self._reset_at:
                    return self._reset_at - now, 0
                # Nothing heard yet, or the window has moved on: one request goes first and finds out.
                self._reset_at = now + PROBE_HOLD_SECONDS
            elif self._remaining is not None:
                self._remaining -= 1
            self._ticket += 1
            return 0.0, self._ticket


_BY_KEY: dict[str, ServerRateLimit] = {}
_BY_KEY_LOCK = threading.Lock()


def server_limit_for(api_key: str, base_url: str) -> ServerRateLimit:
    """The process's shared view of one key's rate limit at one server (the key is kept hashed only)."""
    name = hashlib.sha256(f"{base_url}\0{api_key}".encode()).hexdigest()
    with _BY_KEY_LOCK:
        limit = _BY_KEY.get(name)
        if limit is None:
            limit = _BY_KEY[name] = ServerRateLimit()
        return limit
