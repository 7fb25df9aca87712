"""How the requests of one account share its budget: a send schedule, and the pause after a 429.

Pure arithmetic over clock readings the caller passes in (no Airflow, no openai, no asyncio), so
every rule here is testable without sleeping.

Budget: Kimi counts requests per account per minute (Tier1: 200). The budget hands out send
times spaced ``(60 + WINDOW_MARGIN_SECONDS) / requests_per_minute`` apart (a virtual schedule, as
in GCRA): the margin keeps every 60 s window the server counts within the limit even when
requests reach it up to a second later or earlier than they were scheduled. A 429 pauses every
caller of the budget together, for the server's ``retry-after`` when it sends one, otherwise along
:data:`~airflow_provider_kimi.batch.wait.backoff.RATE_LIMIT_BACKOFF`, one step further for each
rate-limited request that was sent after the previous pause began.
"""

from __future__ import annotations

import math

from airflow_provider_kimi.batch.errors import KimiValueError
from airflow_provider_kimi.batch.wait.backoff import RATE_LIMIT_BACKOFF

WINDOW_MARGIN_SECONDS = 1.0
FIRST_RATE_LIMIT_PAUSE_SECONDS = RATE_LIMIT_BACKOFF.first
MAX_RATE_LIMIT_PAUSE_SECONDS = RATE_LIMIT_BACKOFF.cap

# In-flight requests per shared client: few enough that one process holds "a few" connections,
# enough to carry the budget at a slow service (8 at 250 ms each is about 1,900 calls a minute).
MIN_CONCURRENT_REQUESTS = 2
MAX_CONCURRENT_REQUESTS = 8


def concurrent_requests_for(requests_per_minute: float) -> int:
    """How many requests one shared client keeps in flight (and so how many connections it opens).

    Enough to spend the budget when each call takes up to half a second, within
    ``MIN_CONCURRENT_REQUESTS``..``MAX_CONCURRENT_REQUESTS``; an unlimited budget gets the most.
    """
    if requests_per_minute <= 0:
        return MAX_CONCURRENT_REQUESTS
    return max(MIN_CONCURRENT_REQUESTS, min(MAX_CONCURRENT_REQUESTS, math.ceil(requests_per_minute / 120)))


def _spacing(requests_per_minute: float) -> float:
    """Seconds between send times: the limit's share of a minute plus the window margin."""
    return (60.0 + WINDOW_MARGIN_SECONDS) / requests_per_minute if requests_per_minute > 0 else 0.0


class RequestBudget:
    """The send schedule every poll of one connection shares (see the module doc).

    ``requests_per_minute`` of 0 means no limit: only a 429's pause then delays callers.
    Times are readings of one monotonic clock, supplied by the caller.
    """

    def __init__(self, requests_per_minute: float) -> None:
        if requests_per_minute < 0:
            raise KimiValueError("requests_per_minute must be >= 0 (0 means no limit)")
        self.requests_per_minute = requests_per_minute
        self.configured_per_minute = requests_per_minute
        self.spacing = _spacing(requests_per_minute)
        self._next_slot = -math.inf
        self.paused_until = -math.inf
        self._pause_started = -math.inf
        self.strikes = 0

    def reserve(self, now: float) -> float:
        """Claim the next send time (>= ``now``) and return it."""
        at = self.next_free(now)
        self._next_slot = at + self.spacing
        return at

    def next_free(self, now: float) -> float:
        """The earliest send time a caller could claim at ``now`` (nothing is claimed)."""
        return max(now, self._next_slot, self.paused_until)

    def adopt_limit(self, requests_per_minute: float) -> None:
        """Keep to the limit the server announced (when the connection set none of its own).

        The slot already handed out keeps its time; the ones after it are spaced anew.
        """
        if requests_per_minute <= 0 or requests_per_minute == self.requests_per_minute:
            return
        old_spacing = self.spacing
        self.requests_per_minute = requests_per_minute
        self.spacing = _spacing(requests_per_minute)
        if self._next_slot != -math.inf:
            self._next_slot += self.spacing - old_spacing

    def is_paused(self, now: float) -> bool:
        """Whether a 429 asked every caller to hold off at ``now``."""
        return now < self.paused_until

    def rate_limited(self, now: float, sent_at: float, retry_after: float | None = None) -> float:
        """Record a 429 for a request sent at ``sent_at``; return when callers may send again.

        Requests already in flight when a pause began answer 429 too: they extend nothing and
        do not make the next pause longer.
        """
        if sent_at >= self._pause_started:
            self.strikes += 1
            self._pause_started = now
        if retry_after is not None and retry_after >= 0:
            pause = min(retry_after, MAX_RATE_LIMIT_PAUSE_SECONDS)
        else:
            pause = RATE_LIMIT_BACKOFF.delay(self.strikes - 1)
        self.paused_until = max(self.paused_until, now + pause)
        return self.paused_until

    def succeeded(self) -> None:
        """A request went through: the next 429 starts the backoff afresh."""
        self.strikes = 0
