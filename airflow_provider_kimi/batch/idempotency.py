"""Keys that let a retried task find the batch or file an earlier try already paid for.

A batch carries two metadata pairs: the run key (DAG, task, run, map index: never the try
number, so every try of one task instance shares it) and a fingerprint of what the batch was asked
to do. A retry with the same key and fingerprint re-attaches; a changed input is a new batch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any, Protocol, TypeVar

RUN_KEY_FIELD = "airflow_run_key"
FINGERPRINT_FIELD = "airflow_input_fingerprint"
RESERVED_METADATA_KEYS = frozenset({RUN_KEY_FIELD, FINGERPRINT_FIELD})
# A batch that ended like this is not worth re-attaching to: the retry makes a new one. Any other
# status, one this version does not know included, is re-attached to rather than paid for twice.
NOT_REUSABLE_STATUSES = frozenset({"failed", "expired", "cancelled"})


class ListedBatch(Protocol):
    """What the search reads of a listed batch (an openai ``Batch``)."""

    @property
    def status(self) -> str: ...

    @property
    def created_at(self) -> int: ...

    @property
    def metadata(self) -> Mapping[str, Any] | None: ...


B = TypeVar("B", bound=ListedBatch)


def _digest(*parts: str, length: int = 32) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(part.encode())
        hasher.update(b"\0")
    return hasher.hexdigest()[:length]


def run_key(dag_id: str, task_id: str, run_id: str, map_index: int = -1) -> str:
    """Stable across tries of one task instance, different for every other one."""
    return _digest(dag_id, task_id, run_id, str(map_index))


def batch_fingerprint(
    input_file_id: str, completion_window: str, endpoint: str, metadata: Mapping[str, str] | None
) -> str:
    """What the batch was asked to do; any change makes a different batch."""
    pairs = sorted((metadata or {}).items())
    return _digest(input_file_id, completion_window, endpoint, *(f"{k}={v}" for k, v in pairs))


def tagged_filename(filename: str, run: str, content_sha256: str) -> str:
    """The upload name that lets a retry of the same task recognise the same content.

    Kimi's file objects carry no metadata, so the tag rides in the name, before ``.jsonl``:
    ``requests.jsonl`` becomes ``requests.1a2b3c4d5e6f7a8b.jsonl``.
    """
    stem, dot, suffix = filename.rpartition(".")
    if not dot:
        stem, suffix = filename, ""
    tag = _digest(run, content_sha256, length=16)
    return f"{stem}.{tag}.{suffix}" if suffix else f"{stem}.{tag}"


def reusable_batch(batches: Iterable[B], key: str, fingerprint: str, created_after: float | None) -> B | None:
    """The first batch of a listing tagged ``key`` and ``fingerprint`` that a retry may re-attach to.

    Kimi documents no order for its list. While the listing reads newest first, the search stops at
    the first batch older than ``created_after`` (the DAG run's start), so a retry never scans the
    organisation's history; once the order is seen broken it reads on to the end instead.
    """
    newest_first = True
    previous: int | None = None
    for batch in batches:
        if previous is not None and batch.created_at > previous:
            newest_first = False
        previous = batch.created_at
        if created_after is not None and batch.created_at < created_after:
            if newest_first:
                return None
            continue
        metadata = batch.metadata or {}
        if metadata.get(RUN_KEY_FIELD) != key or metadata.get(FINGERPRINT_FIELD) != fingerprint:
            continue
        return None if batch.status in NOT_REUSABLE_STATUSES else batch
    return None
