"""Reading the event a deferred task resumes with: trust nothing that crossed the database."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, cast

from airflow_provider_kimi.batch.outcome import DEFAULT_SUCCEED_ON, ended_batch_error
from airflow_provider_kimi.batch.snapshot import BatchSnapshot
from airflow_provider_kimi.exceptions import KimiBatchEndedError, KimiTriggerEventError, KimiWaitTimeout

EVENT_STATUSES = frozenset({"success", "error", "timeout"})


def finish_wait(event: Any, succeed_on: Collection[str] = DEFAULT_SUCCEED_ON) -> BatchSnapshot:
    """Return the ended batch's snapshot, or raise the error the event stands for.

    A missing or unknown event fails loudly: resuming as success on a malformed event would let a
    failed batch pass unnoticed.
    """
    if not isinstance(event, dict) or event.get("status") not in EVENT_STATUSES:
        raise KimiTriggerEventError(f"The Kimi batch trigger sent an unexpected event: {event!r}")
    if event["status"] == "timeout":
        raise KimiWaitTimeout(str(event.get("message")))
    if event["status"] == "error":
        raise KimiTriggerEventError(str(event.get("message")))
    snapshot = event.get("batch")
    if not isinstance(snapshot, dict) or "status" not in snapshot:
        raise KimiTriggerEventError(f"The Kimi batch trigger's success event has no batch: {event!r}")
    return raise_if_ended_badly(cast("BatchSnapshot", snapshot), succeed_on)


def raise_if_ended_badly(snapshot: BatchSnapshot, succeed_on: Collection[str]) -> BatchSnapshot:
    """Fail the task with the reason when the batch's end is not one the user accepts."""
    error = ended_batch_error(snapshot, succeed_on)
    if error is not None:
        raise KimiBatchEndedError(error)
    return snapshot
