"""Operators for each stage of a Kimi batch: upload the input, create the batch, cancel it."""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import openai
from airflow.providers.common.compat.sdk import BaseOperator, ObjectStoragePath, conf

from airflow_provider_kimi.batch.metadata import check_metadata
from airflow_provider_kimi.batch.outcome import DEFAULT_SUCCEED_ON, check_succeed_on
from airflow_provider_kimi.batch.snapshot import batch_id_of, batch_snapshot, describe_progress
from airflow_provider_kimi.batch.status import BatchStatus
from airflow_provider_kimi.batch.validator import ensure_valid
from airflow_provider_kimi.batch.windows import parse_completion_window, wait_timeout_for
from airflow_provider_kimi.hooks.kimi import KimiBatchHook
from airflow_provider_kimi.triggers.events import finish_wait, raise_if_ended_badly
from airflow_provider_kimi.triggers.kimi import DEFAULT_MAX_CONSECUTIVE_ERRORS, KimiBatchTrigger

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


def storage_path(value: Any) -> Any:
    """A URL (``s3://...``, ``file://...``) becomes an ``ObjectStoragePath``; a plain string a local path."""
    if isinstance(value, str):
        return ObjectStoragePath(value) if "://" in value else Path(value)
    return value


class _KimiOperator(BaseOperator):
    """Shared by every Kimi operator: the connection id and a lazily built hook."""

    def __init__(self, *, kimi_conn_id: str = KimiBatchHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kimi_conn_id = kimi_conn_id

    @cached_property
    def hook(self) -> KimiBatchHook:
        """The hook, built on first use so parsing the DAG costs nothing."""
        return KimiBatchHook(kimi_conn_id=self.kimi_conn_id)


class KimiUploadFileOperator(_KimiOperator):
    """Upload a file to Kimi and return its file id (to XCom).

    A batch input (``purpose="batch"``) is checked first with the same rules as
    ``kimi-batch validate``: a bad file fails the task with every problem listed by line and field,
    and nothing is uploaded.

    :param file_path: Local path or ``ObjectStoragePath`` / URL (``s3://...``, ``file://...``); templated.
    :param purpose: ``batch`` (default), ``image`` or ``video``.
    :param filename: Name to upload under; default the file's own name. Batch inputs must end ``.jsonl``.
    :param validate: Check a batch input before uploading. Default True.
    :param kimi_conn_id: The Kimi connection id. Default ``kimi_default``.
    """

    template_fields: Sequence[str] = ("file_path", "purpose", "filename", "kimi_conn_id")
    ui_color = "#dbe9ff"

    def __init__(
        self,
        *,
        file_path: Any,
        purpose: str = "batch",
        filename: str | None = None,
        validate: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.file_path = file_path
        self.purpose = purpose
        self.filename = filename
        self.validate = validate

    def execute(self, context: Context) -> str:
        """Validate (for batch input), upload, return the file id."""
        path = storage_path(self.file_path)
        if self.purpose == "batch" and self.validate:
            report = ensure_valid(path)
            self.log.info("%s", report.summary())
        uploaded = self.hook.upload_file(path, purpose=self.purpose, filename=self.filename)
        self.log.info("Uploaded %s as file %s (%s bytes).", path, uploaded.id, uploaded.bytes)
        return uploaded.id


class KimiCreateBatchOperator(_KimiOperator):
    """Create a Kimi batch from an uploaded input file; push its id to XCom the moment it exists.

    Returns the batch id. With ``wait_for_completion=True`` the task also waits for the batch to
    end (deferred to the triggerer when ``deferrable``), fails on ``failed``/``expired``/``cancelled``
    unless listed in ``succeed_on``, and pushes the ended batch's snapshot under the XCom key
    ``batch``.

    :param input_file_id: The uploaded input's file id (templated, e.g. an upload task's output).
    :param completion_window: From ``12h`` to ``7d``; default ``24h`` (templated).
    :param metadata: Up to 16 string pairs stored with the batch (templated).
    :param wait_for_completion: Also wait for the batch to end. Default False.
    :param deferrable: Wait in the triggerer, holding no worker slot. Default
        ``[operators] default_deferrable``.
    :param poll_interval: Seconds between status checks while waiting. Default 60.
    :param wait_timeout: Seconds to wait; default the completion window plus one hour.
    :param succeed_on: Ended statuses that count as success. Default ``("completed",)``.
    :param cancel_on_kill: Cancel the batch if the task is killed while it waits. Default True.
    :param max_consecutive_errors: Transient API errors tolerated in a row while deferred. Default 5.
    :param kimi_conn_id: The Kimi connection id. Default ``kimi_default``.
    """

    template_fields: Sequence[str] = ("input_file_id", "completion_window", "metadata", "kimi_conn_id")
    ui_color = "#c6dbff"

    def __init__(
        self,
        *,
        input_file_id: str,
        completion_window: str = "24h",
        metadata: Mapping[str, str] | None = None,
        wait_for_completion: bool = False,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 60.0,
        wait_timeout: float | None = None,
        succeed_on: Collection[str] = DEFAULT_SUCCEED_ON,
        cancel_on_kill: bool = True,
        max_consecutive_errors: int = DEFAULT_MAX_CONSECUTIVE_ERRORS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.input_file_id = input_file_id
        self.completion_window = completion_window
        self.metadata = metadata
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.wait_timeout = wait_timeout
        self.succeed_on = check_succeed_on(succeed_on)
        self.cancel_on_kill = cancel_on_kill
        self.max_consecutive_errors = max_consecutive_errors
        self.batch_id: str | None = None

    def execute(self, context: Context) -> str:
        """Check the arguments, create the batch, push its id, and wait if asked."""
        parse_completion_window(self.completion_window)
        metadata = check_metadata(self.metadata)
        batch = self.hook.create_batch(self.input_file_id, completion_window=self.completion_window, metadata=metadata)
        self.batch_id = batch.id
        context["ti"].xcom_push(key="batch_id", value=batch.id)
        self.log.info("Created batch %s from file %s (%s).", batch.id, self.input_file_id, batch.status)
        if not self.wait_for_completion:
            return batch.id
        timeout = self.wait_timeout if self.wait_timeout is not None else wait_timeout_for(self.completion_window)
        if self.deferrable:
            self.defer(
                trigger=KimiBatchTrigger(
                    batch_id=batch.id,
                    conn_id=self.kimi_conn_id,
                    poll_interval=self.poll_interval,
                    end_time=time.time() + timeout,
                    cancel_on_kill=self.cancel_on_kill,
                    max_consecutive_errors=self.max_consecutive_errors,
                ),
                method_name="execute_complete",
            )
        snapshot = self.hook.wait_for_batch(batch.id, poll_interval=self.poll_interval, timeout=timeout)
        return self._finish(context, snapshot)

    def execute_complete(self, context: Context, event: Any = None) -> str:
        """Resume after the trigger fired: the batch id comes from the event, not from ``self``."""
        return self._finish(context, finish_wait(event, self.succeed_on))

    def _finish(self, context: Context, snapshot: dict[str, Any]) -> str:
        raise_if_ended_badly(snapshot, self.succeed_on)
        context["ti"].xcom_push(key="batch", value=snapshot)
        self.log.info("%s", describe_progress(snapshot))
        return str(snapshot["id"])

    def on_kill(self) -> None:
        """Cancel the batch this task created, when ``cancel_on_kill``."""
        if self.cancel_on_kill and self.batch_id:
            self.hook.cancel_batch(self.batch_id)
            self.log.info("Cancelled batch %s because the task was killed.", self.batch_id)


class KimiCancelBatchOperator(_KimiOperator):
    """Cancel a Kimi batch; return its snapshot.

    A batch that has already ended is a clear, successful outcome ("nothing to cancel"), not a
    crash, so a cleanup task can run unconditionally.

    :param batch_id: The batch to cancel (templated); a batch dict from XCom works too.
    :param wait_for_cancellation: Wait until the batch leaves ``cancelling``. Default False.
    :param poll_interval: Seconds between checks while waiting. Default 10.
    :param wait_timeout: Seconds to wait for ``cancelled``. Default 1 hour.
    :param kimi_conn_id: The Kimi connection id. Default ``kimi_default``.
    """

    template_fields: Sequence[str] = ("batch_id", "kimi_conn_id")
    ui_color = "#ffd9d9"

    def __init__(
        self,
        *,
        batch_id: str,
        wait_for_cancellation: bool = False,
        poll_interval: float = 10.0,
        wait_timeout: float = 3600.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.batch_id = batch_id
        self.wait_for_cancellation = wait_for_cancellation
        self.poll_interval = poll_interval
        self.wait_timeout = wait_timeout

    def execute(self, context: Context) -> dict[str, Any]:
        """Cancel, or report that the batch had already ended."""
        batch_id = batch_id_of(self.batch_id)
        try:
            snapshot = batch_snapshot(self.hook.cancel_batch(batch_id))
        except openai.BadRequestError:
            snapshot = batch_snapshot(self.hook.get_batch(batch_id))
            if not BatchStatus(snapshot["status"]).is_terminal:
                raise
            self.log.info("Batch %s had already ended %s: nothing to cancel.", batch_id, snapshot["status"])
            return snapshot
        self.log.info("Cancel requested: %s", describe_progress(snapshot))
        if self.wait_for_cancellation and not BatchStatus(snapshot["status"]).is_terminal:
            snapshot = self.hook.wait_for_batch(batch_id, poll_interval=self.poll_interval, timeout=self.wait_timeout)
        return snapshot
