"""Find what an earlier try of a task created, so a retry never pays twice."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_kimi.batch.idempotency import FINGERPRINT_FIELD, RUN_KEY_FIELD, reusable_batch
from airflow_provider_kimi.batch.wait.backoff import RETRY_BACKOFF
from airflow_provider_kimi.client.translate import is_transient
from airflow_provider_kimi.hooks.kimi import KimiBatchHook

if TYPE_CHECKING:
    from openai.types import Batch, FileObject

T = TypeVar("T")

ATTEMPTS = 4


def send_once(find: Callable[[], T | None], send: Callable[[], T]) -> tuple[T, bool]:
    """Return what ``find`` finds, else what ``send`` makes; and whether it was found.

    ``send`` is a POST whose answer can be lost after the server acted on it, so it is never
    resent blindly: after a transient failure ``find`` looks first, then ``send`` tries again.
    """
    existing = find()
    if existing is not None:
        return existing, True
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return send(), False
        except Exception as err:
            if attempt == ATTEMPTS or not is_transient(err):
                raise
            time.sleep(RETRY_BACKOFF.delay(attempt, random.random()))
            existing = find()
            if existing is not None:
                return existing, True
    raise AssertionError("unreachable")


def find_batch(hook: KimiBatchHook, key: str, fingerprint: str, created_after: float | None) -> Batch | None:
    """The newest reusable batch tagged with this run key and fingerprint, if any (see ``reusable_batch``)."""
    return reusable_batch(hook.iter_batches(), key, fingerprint, created_after)


def create_batch_once(
    hook: KimiBatchHook,
    input_file_id: str,
    *,
    completion_window: str,
    metadata: dict[str, str],
    created_after: float | None,
) -> tuple[Batch, bool]:
    """Create the batch unless an earlier try did; return it and whether it was re-attached.

    The create call itself is never retried blindly: the answer to a POST can be lost after Kimi
    made the batch. After a transient failure, look for the tagged batch first, then try again.
    """
    key, fingerprint = metadata[RUN_KEY_FIELD], metadata[FINGERPRINT_FIELD]
    return send_once(
        lambda: find_batch(hook, key, fingerprint, created_after),
        lambda: hook.create_batch(input_file_id, completion_window=completion_window, metadata=metadata, retry=False),
    )


def find_uploaded_file(hook: KimiBatchHook, filename: str, size: int, purpose: str) -> FileObject | None:
    """A file an earlier try uploaded under the same tagged name and size, if Kimi still has it."""
    for file in hook.list_files():
        if file.filename == filename and file.bytes == size and file.purpose == purpose:
            return file
    return None


def upload_once(hook: KimiBatchHook, source: Any, *, filename: str, size: int, purpose: str) -> tuple[FileObject, bool]:
    """Upload under a tagged name unless an earlier try did; return the file and whether it was reused.

    Like a batch, an upload whose answer was lost may have landed: look before sending it again.
    """
    return send_once(
        lambda: find_uploaded_file(hook, filename, size, purpose),
        lambda: hook.upload_file(source, purpose=purpose, filename=filename, retry=False),
    )
