"""Every decision about sending one request, for the sync and the async transport alike. Pure.

A request waits for its slot in the connection's :class:`~.budget.RequestBudget` (the schedule
that keeps an account's waits under its rate limit together), then for the server's word
(:class:`~.server_limit.ServerRateLimit`: nothing left until the reset), then goes. Its answer
is read once: the rate-limit headers update the server's word (and, when the connection set no
budget, the budget adopts the limit the server announces); a 429 pauses every caller of the
budget, for the server's ``Retry-After`` or along the rate-limit backoff; no answer, 408, 409 or
a 5xx is sent again after :data:`~airflow_provider_kimi.batch.wait.backoff.RETRY_BACKOFF`, up to
``retries`` times (the transport counts the tries); anything else is the caller's answer. The
transports only sleep and send.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from airflow_provider_kimi.batch.send.budget import RequestBudget
from airflow_provider_kimi.batch.send.server_limit import ServerRateLimit, read_rate_limit
from airflow_provider_kimi.batch.wait.backoff import RETRY_BACKOFF, Backoff, retry_after_seconds
from airflow_provider_kimi.batch.wait.core import TRANSIENT_HTTP_STATUSES


@dataclass(frozen=True)
class Turn:
    """Whether a request may go: ``ticket`` set means now; otherwise ask again at ``again_at``."""

    again_at: float = 0.0
    ticket: int | None = None


@dataclass(frozen=True)
class Verdict:
    """What to do with an answer: hand it back, or send the request again after ``delay`` seconds."""

    retry: bool
    delay: float = 0.0


def worth_retrying(status: int, headers: Mapping[str, str]) -> bool:
    """408, 409, 429 and 5xx may heal; the server's own ``x-should-retry`` overrides that."""
    said = {name.lower(): value for name, value in headers.items()}.get("x-should-retry")
    if said in ("true", "false"):
        return said == "true"
    return status in TRANSIENT_HTTP_STATUSES or status >= 500


class Pacer:
    """The pacing of one connection's requests: budget, server limit and retry (see the module doc).

    Times are readings of one monotonic clock; ``now_epoch`` (wall clock) only reads dates in
    headers. Shared by every transport of the connection in a process.
    """

    def __init__(
        self,
        budget: RequestBudget,
        server: ServerRateLimit,
        *,
        retries: int,
        learn_limit: bool = False,
        backoff: Backoff = RETRY_BACKOFF,
    ) -> None:
        self.budget = budget
        self.server = server
        self.retries = retries
        self.learn_limit = learn_limit
        self.backoff = backoff

    def reserve(self, now: float) -> float:
        """Claim this request's send time in the budget (>= ``now``)."""
        return self.budget.reserve(now)

    def turn(self, now: float) -> Turn:
        """At its send time: go now (with the server's ticket), or when to ask again.

        A 429 that paused everyone meanwhile means a new slot after the pause; a server with
        nothing left means waiting for its reset, keeping the slot.
        """
        if self.budget.is_paused(now):
            return Turn(again_at=self.budget.reserve(now))
        wait, ticket = self.server.claim(now)
        if wait > 0:
            return Turn(again_at=now + wait)
        return Turn(ticket=ticket)

    def answered(
        self,
        status: int,
        headers: Mapping[str, str],
        *,
        attempt: int,
        last: bool,
        sent_at: float,
        ticket: int,
        now: float,
        now_epoch: float,
        draw: float = 0.0,
    ) -> Verdict:
        """Read an answer once; whether try ``attempt`` (0 = the first; ``last`` when no try is left) goes again."""
        reading = read_rate_limit(headers, now_epoch)
        self.server.observe(reading, now, ticket)
        if self.learn_limit and reading is not None and reading.limit is not None:
            self.budget.adopt_limit(reading.limit)
        if status == 429:
            # The pause holds every caller; the next try waits it out in ``turn``.
            self.budget.rate_limited(now, sent_at, retry_after_seconds(headers, now_epoch))
            return Verdict(retry=not last and worth_retrying(status, headers))
        if status < 400:
            self.budget.succeeded()
            return Verdict(retry=False)
        if last or not worth_retrying(status, headers):
            return Verdict(retry=False)
        return Verdict(retry=True, delay=self.backoff.delay(attempt, draw))

    def unanswered(self, *, attempt: int, last: bool, draw: float = 0.0) -> Verdict:
        """No answer came (refused, cut off, timed out): try again after the backoff, unless ``last``."""
        if last:
            return Verdict(retry=False)
        return Verdict(retry=True, delay=self.backoff.delay(attempt, draw))
