"""The wait core: every decision a wait for a batch makes, with no I/O.

Every way of waiting (the hook's blocking ``wait_for_batch``, the trigger, the sensor's poke, the
cancel operator's wait) only fetches and sleeps; this object decides. It is given a snapshot or a
failure and a wall-clock reading, and answers with a :class:`Step`: the batch ended, poll again at
a given time (and what to log), the deadline passed, or give up. One object, so a rule changed
here changes for every path, and each rule is testable without a server or a clock.

The rules:

- **Terminal**: ``completed``, ``failed``, ``expired`` and ``cancelled`` end the wait
  (``cancelling`` does not: results may still be written).
- **Unknown status** (a newer API than this provider): a deferred wait warns with the status's
  name and keeps waiting until its deadline; a blocking wait raises
  :class:`UnknownBatchStatusError` naming it, since a task cannot know what it means.
- **Transient failures**: no answer (network, timeout) or HTTP 408, 409, 429 or 5xx. Up to
  ``max_consecutive_errors`` in a row are tolerated (a success resets the count); one more, or
  any other failure (400, 401, 403, 404), gives up.
- **Deadline**: a wall-clock time (epoch seconds). The last poll happens at the deadline itself,
  so a batch that ends just before it is still seen; after it the wait times out.
- **Interval**: polls start ``poll_interval`` apart (the time a poll took is not added); with
  ``adaptive`` the interval grows with the batch's age
  (:func:`~airflow_provider_kimi.batch.wait.interval.adaptive_poll_interval`). With ``spread_first``
  the interval after the first check is drawn between half and one interval, so waits deferred
  together spread over time instead of polling in one burst every interval.
- **Progress line**: status, completed/total, failed and elapsed time, once per successful check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from airflow_provider_kimi.batch.errors import KimiValueError
from airflow_provider_kimi.batch.snapshot import BatchSnapshot, describe_progress
from airflow_provider_kimi.batch.status import UnknownBatchStatusError, known_status
from airflow_provider_kimi.batch.wait.interval import adaptive_poll_interval

DEFAULT_MAX_CONSECUTIVE_ERRORS = 5
# HTTP answers worth another try: the service or the network hiccupped. Any other 4xx will not
# heal by waiting.
TRANSIENT_HTTP_STATUSES = frozenset({408, 409, 429})

Action = Literal["finish", "poll", "timeout", "give_up"]


@dataclass(frozen=True)
class PollFailure:
    """A check that got no snapshot: what went wrong, as the core needs to judge it.

    ``http_status`` is ``None`` when no answer came at all (unreachable, timed out, cut off).
    """

    description: str
    http_status: int | None = None

    @property
    def transient(self) -> bool:
        """Whether asking again later may succeed."""
        status = self.http_status
        return status is None or status in TRANSIENT_HTTP_STATUSES or status >= 500


@dataclass(frozen=True)
class Step:
    """What the driver of a wait does next.

    ``finish``: the batch ended, ``snapshot`` holds it. ``poll``: check again at ``next_poll_at``
    (wall clock); ``snapshot`` holds what this check saw, if it saw anything. ``timeout``: the
    deadline passed. ``give_up``: a failure ended the wait. ``message`` is the line to log (a
    warning when ``warning``) or the reason to report.
    """

    action: Action
    message: str
    snapshot: BatchSnapshot | None = None
    next_poll_at: float = 0.0
    warning: bool = False

    @property
    def done(self) -> bool:
        """True when the wait is over, whatever the reason."""
        return self.action != "poll"


class WaitCore:
    """The state of one wait between checks: a count, a time and the batch's age. Pure.

    :param batch_id: The batch waited for (for the messages).
    :param poll_interval: Seconds from one poll's start to the next (the base when ``adaptive``).
    :param deadline: Wall-clock end of the wait (epoch seconds); ``None`` waits forever.
    :param max_consecutive_errors: Transient failures tolerated in a row.
    :param adaptive: Stretch the interval as the batch ages.
    :param deferred: A deferred wait (keeps waiting through an unknown status) rather than a
        blocking one (raises on it).
    :param spread_first: Draw the interval after the first check between half and one interval.
    :param draw: A number in [0, 1) for ``spread_first``.
    """

    __slots__ = (
        "_draw",
        "adaptive",
        "batch_id",
        "checks",
        "created_at",
        "deadline",
        "deferred",
        "errors_in_a_row",
        "max_consecutive_errors",
        "poll_interval",
        "started_at",
    )

    def __init__(
        self,
        batch_id: str,
        *,
        poll_interval: float,
        deadline: float | None = None,
        max_consecutive_errors: int = DEFAULT_MAX_CONSECUTIVE_ERRORS,
        adaptive: bool = False,
        deferred: bool = False,
        spread_first: bool = False,
        draw: float = 1.0,
    ) -> None:
        if poll_interval < 0:
            raise KimiValueError("poll_interval must be >= 0")
        if max_consecutive_errors < 0:
            raise KimiValueError("max_consecutive_errors must be >= 0")
        self.batch_id = batch_id
        self.poll_interval = float(poll_interval)
        self.deadline = deadline
        self.max_consecutive_errors = max_consecutive_errors
        self.adaptive = adaptive
        self.deferred = deferred
        self._draw: float | None = draw if spread_first else None
        self.errors_in_a_row = 0
        self.checks = 0
        # Between polls a wait keeps only these numbers: thousands of sleeping waits stay small.
        self.created_at: float | None = None
        self.started_at: float | None = None

    def polling(self, now: float) -> None:
        """A check starts at ``now``: the next one is planned from here."""
        self.started_at = now

    def observe(self, snapshot: BatchSnapshot, now: float) -> Step:
        """A check returned ``snapshot`` at ``now``."""
        self.errors_in_a_row = 0
        self.checks += 1
        status = snapshot["status"]
        created = snapshot.get("created_at")
        if isinstance(created, (int, float)):
            self.created_at = float(created)
        known = known_status(status)
        progress = describe_progress(snapshot, now)
        if known is not None and known.is_terminal:
            return Step("finish", progress, snapshot=snapshot)
        if known is None:
            if not self.deferred:
                raise UnknownBatchStatusError(status)
            return self._again(
                now,
                f"Batch {self.batch_id} reports status {status!r}, which this provider does not know (update "
                f"airflow-provider-kimi); waiting on until it ends or the deadline passes. {progress}",
                snapshot,
                warning=True,
            )
        return self._again(now, progress, snapshot)

    def failed(self, failure: PollFailure, now: float) -> Step:
        """A check got no snapshot at ``now``."""
        self.checks += 1
        if not failure.transient:
            return Step("give_up", f"Polling batch {self.batch_id} failed: {failure.description}")
        self.errors_in_a_row += 1
        if self.errors_in_a_row > self.max_consecutive_errors:
            return Step(
                "give_up",
                f"Gave up polling batch {self.batch_id} after {self.errors_in_a_row} failures in a row; "
                f"last: {failure.description}. The batch may still be running.",
            )
        return self._again(
            now,
            f"Polling batch {self.batch_id} failed ({self.errors_in_a_row}/{self.max_consecutive_errors}): "
            f"{failure.description}",
            None,
            warning=True,
        )

    def expired(self, now: float) -> bool:
        """Whether the deadline has passed at ``now`` (wall clock): the one place a wait's end is judged."""
        return self.deadline is not None and now >= self.deadline

    def time_left(self, now: float) -> float | None:
        """Seconds until the deadline (never negative); ``None`` when the wait has none."""
        return None if self.deadline is None else max(0.0, self.deadline - now)

    def timed_out(self) -> Step:
        """The deadline passed before the batch ended."""
        return Step("timeout", f"Batch {self.batch_id} did not end before the wait's deadline; it keeps running.")

    def interval(self, now: float) -> float:
        """Seconds from this poll's start to the next: the base, or the adaptive one for the batch's age."""
        if not self.adaptive or self.created_at is None:
            return self.poll_interval
        return adaptive_poll_interval(self.poll_interval, now - self.created_at)

    def _again(self, now: float, message: str, snapshot: BatchSnapshot | None, *, warning: bool = False) -> Step:
        if self.expired(now):
            return Step("timeout", self.timed_out().message, snapshot=snapshot)
        started = self.started_at if self.started_at is not None else now
        interval = self.interval(now)
        if self._draw is not None and self.checks == 1:
            interval *= 0.5 + self._draw / 2
        at = self._within_deadline(started + interval)
        return Step("poll", message, snapshot=snapshot, next_poll_at=at, warning=warning)

    def _within_deadline(self, at: float) -> float:
        return at if self.deadline is None else min(at, self.deadline)
