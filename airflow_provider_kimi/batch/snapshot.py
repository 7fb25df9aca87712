"""A batch reduced to the small, JSON-safe dict that travels through XCom and trigger events."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, TypedDict

from airflow_provider_kimi.batch.errors import KimiValueError


class RequestCounts(TypedDict):
    """How many of the batch's requests exist, finished well, and failed."""

    total: int
    completed: int
    failed: int


class _SnapshotFields(TypedDict):
    id: str
    status: str
    input_file_id: str | None
    output_file_id: str | None
    error_file_id: str | None
    completion_window: str | None
    request_counts: RequestCounts
    metadata: dict[str, str]
    created_at: float | None
    in_progress_at: float | None
    finalizing_at: float | None
    completed_at: float | None
    failed_at: float | None
    expires_at: float | None
    cancelling_at: float | None
    cancelled_at: float | None


class BatchSnapshot(_SnapshotFields, total=False):
    """A batch as one check saw it: a plain dict (XCom and trigger events carry it as JSON).

    ``errors`` is present only when the service reported some (Kimi documents no such field).
    """

    errors: list[str]


def _field(source: Any, name: str) -> Any:
    if isinstance(source, Mapping):
        return source.get(name)
    return getattr(source, name, None)


def _count(counts: Any, name: str) -> int:
    return int(_field(counts, name) or 0) if counts is not None else 0


def _stamp(source: Any, name: str) -> float | None:
    value = _field(source, name)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def batch_snapshot(batch: Any) -> BatchSnapshot:
    """Keep what a downstream task needs: ids, status, counts, timestamps and any reported errors.

    ``batch`` is the SDK's ``Batch`` or a mapping with the same fields. Kimi documents no
    ``errors`` field, so it is carried only when the service sends one.
    """
    counts = _field(batch, "request_counts")
    snapshot = BatchSnapshot(
        id=str(_field(batch, "id")),
        status=str(_field(batch, "status")),
        input_file_id=_field(batch, "input_file_id"),
        output_file_id=_field(batch, "output_file_id"),
        error_file_id=_field(batch, "error_file_id"),
        completion_window=_field(batch, "completion_window"),
        request_counts=RequestCounts(
            total=_count(counts, "total"), completed=_count(counts, "completed"), failed=_count(counts, "failed")
        ),
        metadata=dict(_field(batch, "metadata") or {}),
        created_at=_stamp(batch, "created_at"),
        in_progress_at=_stamp(batch, "in_progress_at"),
        finalizing_at=_stamp(batch, "finalizing_at"),
        completed_at=_stamp(batch, "completed_at"),
        failed_at=_stamp(batch, "failed_at"),
        expires_at=_stamp(batch, "expires_at"),
        cancelling_at=_stamp(batch, "cancelling_at"),
        cancelled_at=_stamp(batch, "cancelled_at"),
    )
    errors = batch_error_messages(batch)
    if errors:
        snapshot["errors"] = errors
    return snapshot


def batch_error_messages(batch: Any, limit: int = 20) -> list[str]:
    """Readable lines from an OpenAI-style ``errors`` block, when the service sends one."""
    errors = _field(batch, "errors")
    data = _field(errors, "data") if errors is not None else None
    messages: list[str] = []
    for item in list(data or [])[:limit]:
        line = _field(item, "line")
        param = _field(item, "param")
        where = f"line {line}" if line is not None else "file"
        if param:
            where += f", {param}"
        messages.append(f"{where}: {_field(item, 'message') or _field(item, 'code')}")
    return messages


def describe_progress(snapshot: Mapping[str, Any], now: float | None = None) -> str:
    """One log line: status, completed/total, failed and time since creation, read as progress."""
    counts = snapshot.get("request_counts") or {}
    line = (
        f"Batch {snapshot.get('id')}: {snapshot.get('status')}, "
        f"{counts.get('completed', 0)}/{counts.get('total', 0)} completed, {counts.get('failed', 0)} failed"
    )
    created = snapshot.get("created_at")
    if isinstance(created, (int, float)):
        line += f", {format_duration((time.time() if now is None else now) - created)} elapsed"
    return line


def format_duration(seconds: float) -> str:
    """``42s``, ``3m 05s``, ``2h 07m``, ``1d 03h``: short enough for a log line."""
    whole = max(0, int(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def batch_id_of(value: Any) -> str:
    """Accept a batch id or the snapshot dict a Kimi task returned."""
    if isinstance(value, dict):
        value = value.get("id")
    if not isinstance(value, str) or not value.strip():
        raise KimiValueError(f"Expected a Kimi batch id (or a batch dict with an 'id'), got {value!r}.")
    return value.strip()
