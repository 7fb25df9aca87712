"""What a finished batch means for the task that waited on it."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from airflow_provider_kimi.batch.errors import KimiValueError
from airflow_provider_kimi.batch.status import BatchStatus

DEFAULT_SUCCEED_ON: tuple[str, ...] = (BatchStatus.COMPLETED.value,)


def check_succeed_on(succeed_on: Collection[str]) -> tuple[str, ...]:
    """Refuse anything but terminal statuses, so a typo cannot turn a wait into a no-op."""
    statuses = tuple(str(s) for s in succeed_on)
    bad = [s for s in statuses if s not in {t.value for t in BatchStatus} or not BatchStatus(s).is_terminal]
    if bad or not statuses:
        terminal = ", ".join(sorted(s.value for s in BatchStatus if s.is_terminal))
        raise KimiValueError(f"succeed_on={list(statuses)!r}: each entry must be one of {terminal}.")
    return statuses


def ended_batch_error(snapshot: Mapping[str, Any], succeed_on: Collection[str] = DEFAULT_SUCCEED_ON) -> str | None:
    """Return ``None`` when the ended batch counts as success, else the reason to fail the task."""
    status = str(snapshot.get("status"))
    if status in succeed_on:
        return None
    batch_id = snapshot.get("id")
    counts = snapshot.get("request_counts") or {}
    done = f"{counts.get('completed', 0)}/{counts.get('total', 0)} requests completed, {counts.get('failed', 0)} failed"
    if status == BatchStatus.FAILED:
        lines = [f"Batch {batch_id} failed: Kimi rejected its input file {snapshot.get('input_file_id')}."]
        errors = snapshot.get("errors") or []
        if errors:
            lines.append("Kimi reported:")
            lines.extend(f"  {e}" for e in errors)
        else:
            lines.append("Kimi gave no details.")
        lines.append("Run `kimi-batch validate FILE` on the input to see every problem with its line and field.")
        return "\n".join(lines)
    partial = (
        f"The finished lines are kept in output file {snapshot.get('output_file_id')} and error file "
        f"{snapshot.get('error_file_id')}; add {status!r} to succeed_on to continue and download them."
    )
    if status == BatchStatus.EXPIRED:
        return (
            f"Batch {batch_id} expired: its completion_window {snapshot.get('completion_window')} passed "
            f"with {done}. {partial}"
        )
    if status == BatchStatus.CANCELLED:
        return f"Batch {batch_id} was cancelled with {done}. {partial}"
    return f"Batch {batch_id} ended {status}, which is not in succeed_on={list(succeed_on)!r} ({done})."
