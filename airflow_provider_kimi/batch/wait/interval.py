"""How often a wait polls: the one default interval, and the interval that grows with a batch's age.

Adaptive interval: a batch that has run for two hours will not finish in the next ten seconds,
yet a fixed interval polls it as often as a fresh one. The interval stays at the configured base
for the first ``grow_after`` seconds of the batch's life (10 minutes: small batches finish there
and keep their quick detection), then grows in proportion to the batch's age, so the detection
lag stays a fixed share of the time already waited (with a 60 s base: 2 minutes at 20 minutes, 6
at an hour). It is capped at ``max_factor`` times the base and at ``max_interval`` (10 minutes),
never below the base.
"""

from __future__ import annotations

DEFAULT_POLL_INTERVAL_SECONDS = 60.0
"""Seconds between two checks of a batch, for every way of waiting (Kimi's guide suggests 10 to 60)."""
CANCEL_POLL_INTERVAL_SECONDS = 10.0
"""Seconds between checks while a cancelled batch leaves ``cancelling``: a cancel ends in minutes."""

GROW_AFTER_SECONDS = 600.0
MAX_GROWTH_FACTOR = 10.0
MAX_ADAPTIVE_INTERVAL_SECONDS = 600.0


def adaptive_poll_interval(
    base: float,
    age: float,
    *,
    grow_after: float = GROW_AFTER_SECONDS,
    max_factor: float = MAX_GROWTH_FACTOR,
    max_interval: float = MAX_ADAPTIVE_INTERVAL_SECONDS,
) -> float:
    """Seconds until the next poll of a batch that is ``age`` seconds old (see the module doc)."""
    if age <= grow_after:
        return base
    ceiling = max(base, min(base * max_factor, max_interval))
    return min(ceiling, base * age / grow_after)
