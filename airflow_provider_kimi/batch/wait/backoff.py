"""How long to hold off before trying again: one backoff curve, and the one reading of ``Retry-After``.

Every retry of the provider (a request the paced transport sends again, a create or upload
looked up before it is resent, the pause a 429 imposes on every caller of a budget) waits along
the same capped exponential curve; only its first step and its cap differ. A server that says how
long to wait (``retry-after-ms``, ``retry-after`` in seconds or as an HTTP date) is believed, up to
the budget's cap.
"""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """``first * 2**attempt`` seconds, at most ``cap``, less up to ``jitter`` of it drawn at random.

    The jitter spreads callers that failed together, so they do not come back in one burst.
    """

    first: float
    cap: float
    jitter: float = 0.0

    def delay(self, attempt: int, draw: float = 0.0) -> float:
        """Seconds before try ``attempt + 1`` (``attempt`` 0 is the first retry); ``draw`` in [0, 1)."""
        return min(self.cap, self.first * 2.0 ** min(attempt, 64)) * (1.0 - self.jitter * draw)


RETRY_BACKOFF = Backoff(first=0.5, cap=8.0, jitter=0.25)
"""A request tried again after no answer or a transient status: 0.5 s, 1 s, 2 s ... up to 8 s."""

RATE_LIMIT_BACKOFF = Backoff(first=1.0, cap=120.0)
"""The pause of every caller of a budget after a 429 that named no wait: 1 s, doubling up to 2 minutes."""


def retry_after_seconds(headers: Mapping[str, str], now_epoch: float) -> float | None:
    """The server's ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date), if it sent one.

    ``headers`` may be any mapping (names in any case); ``now_epoch`` turns a date into seconds.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        if (ms := lowered.get("retry-after-ms")) is not None:
            return max(0.0, float(ms) / 1000)
        if (value := lowered.get("retry-after")) is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - now_epoch)
    except (TypeError, ValueError, OverflowError):
        return None
