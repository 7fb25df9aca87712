"""Waiting for a batch, decided once: the deadline, the interval, the backoff, what a snapshot means.

Pure (no Airflow, no HTTP, no sleeping): the hook's blocking wait, the sensor, the trigger and the
cancel operator only fetch and sleep around :class:`WaitCore`; every retry holds off along
:data:`RETRY_BACKOFF` or :data:`RATE_LIMIT_BACKOFF`, and ``Retry-After`` is read by
:func:`retry_after_seconds` alone.
"""

from airflow_provider_kimi.batch.wait.backoff import (
    RATE_LIMIT_BACKOFF,
    RETRY_BACKOFF,
    Backoff,
    retry_after_seconds,
)
from airflow_provider_kimi.batch.wait.core import (
    DEFAULT_MAX_CONSECUTIVE_ERRORS,
    TRANSIENT_HTTP_STATUSES,
    Action,
    PollFailure,
    Step,
    WaitCore,
)
from airflow_provider_kimi.batch.wait.interval import (
    CANCEL_POLL_INTERVAL_SECONDS,
    DEFAULT_POLL_INTERVAL_SECONDS,
    adaptive_poll_interval,
)

__all__ = [
    "CANCEL_POLL_INTERVAL_SECONDS",
    "DEFAULT_MAX_CONSECUTIVE_ERRORS",
    "DEFAULT_POLL_INTERVAL_SECONDS",
    "RATE_LIMIT_BACKOFF",
    "RETRY_BACKOFF",
    "TRANSIENT_HTTP_STATUSES",
    "Action",
    "Backoff",
    "PollFailure",
    "Step",
    "WaitCore",
    "adaptive_poll_interval",
    "retry_after_seconds",
]
