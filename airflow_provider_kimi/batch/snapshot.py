"""A batch reduced to the small, JSON-safe dict that travels through XCom and trigger events."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from airflow_provider_kimi.batch.status import BatchStatus

_TIMESTAMPS = (
    "created_at",
    "in_progress_at",
    "finalizing_at",
    "completed_at",
    "failed_at",
    "expires_at",
    "cancelling_at",
    "cancelled_at",
)


def _field(source: Any, name: str) -> Any:
    if isinstance(source, Mapping):
        return source.get(name)
    return getattr(source, name, None)


def batch_snapshot(batch: Any) -> dict[str, Any]:
    """Keep what a downstream task needs: ids, status, counts, timestamps and any reported errors.

    ``batch`` is the SDK's ``Batch`` or a mapping with the same fields. Kimi documents no
    ``errors`` field, so it is carried only when the service sends one.
    """
    counts = _field(batch, "request_counts")
    snapshot: dict[str, Any] = {
        "id": _field(batch, "id"),
        "status": str(_field(batch, "status")),
        "input_file_id": _field(batch, "input_file_id"),
        "output_file_id": _field(batch, "output_file_id"),
        "error_file_id": _field(batch, "error_file_id"),
        "completion_window": _field(batch, "completion_window"),
        "request_counts": {
            "total": int(_field(counts, "total") or 0) if counts is not None else 0,
            "completed": int(_field(counts, "completed") or 0) if counts is not None else 0,
            "failed": int(_field(counts, "failed") or 0) if counts is not None else 0,
        },
        "metadata": dict(_field(batch, "metadata") or {}),
    }
    for name in _TIMESTAMPS:
        snapshot[name] = _field(batch, name)
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


def is_terminal(snapshot: Mapping[str, Any]) -> bool:
    """True when the snapshot's status can change no more."""
    return BatchStatus(snapshot["status"]).is_terminal


def batch_id_of(value: Any) -> str:
    """Accept a batch id or the snapshot dict a Kimi task returned."""
    if isinstance(value, dict):
        value = value.get("id")
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"Expected a Kimi batch id (or a batch dict with an 'id'), got {value!r}.")
    return value.strip()
