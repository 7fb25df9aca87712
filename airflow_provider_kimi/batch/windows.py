"""Kimi's ``completion_window``: a duration from 12 hours to 7 days, written like ``24h`` or ``3d``."""

from __future__ import annotations

import re

from airflow_provider_kimi.batch.errors import KimiValueError

MIN_WINDOW_SECONDS = 12 * 3600
MAX_WINDOW_SECONDS = 7 * 24 * 3600
_WINDOW = re.compile(r"^\s*(\d+)\s*([hd])\s*$")


def parse_completion_window(window: str) -> int:
    """Return the window in seconds, or raise ``ValueError`` saying what Kimi accepts.

    Checked before a batch is created, so a typo fails the task instead of costing a round trip.
    """
    match = _WINDOW.match(str(window))
    if match is None:
        raise KimiValueError(
            f"completion_window {window!r} is not a duration like '24h' or '3d' "
            "(a whole number of hours 'h' or days 'd', from 12h to 7d)."
        )
    amount, unit = int(match.group(1)), match.group(2)
    seconds = amount * (3600 if unit == "h" else 86400)
    if not MIN_WINDOW_SECONDS <= seconds <= MAX_WINDOW_SECONDS:
        raise KimiValueError(f"completion_window {window!r} is outside Kimi's range of 12h to 7d.")
    return seconds


# Kimi marks a batch expired after its window passes, not at the exact second: waits allow an hour.
EXPIRY_GRACE_SECONDS = 3600
DEFAULT_WAIT_TIMEOUT_SECONDS = MAX_WINDOW_SECONDS + EXPIRY_GRACE_SECONDS


def wait_timeout_for(window: str) -> int:
    """How long a wait on a batch with this window may take before it surely has ended."""
    return parse_completion_window(window) + EXPIRY_GRACE_SECONDS
