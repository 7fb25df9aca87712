"""Operators for each stage of a Kimi batch: upload the input, create the batch, cancel it."""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import openai
from airflow.providers.common.compat.sdk import conf

from airflow_provider_kimi import lineage
from airflow_provider_kimi.batch._paths import sha256_of
from airflow_provider_kimi.batch.errors import KimiValueError
from airflow_provider_kimi.batch.idempotency import (
    FINGERPRINT_FIELD,
    RESERVED_METADATA_KEYS,
    RUN_KEY_FIELD,
    batch_fingerprint,
    run_key,
    tagged_filename,
)
from airflow_provider_kimi.batch.limits import BATCH_MODELS
from airflow_provider_kimi.batch.metadata import MAX_METADATA_PAIRS, check_metadata
from airflow_provider_kimi.batch.outcome import DEFAULT_SUCCEED_ON, check_succeed_on
from airflow_provider_kimi.batch.snapshot import BatchSnapshot, batch_id_of, batch_snapshot, describe_progress
from airflow_provider_kimi.batch.validator import ensure_valid
from airflow_provider_kimi.batch.wait import (
    CANCEL_POLL_INTERVAL_SECONDS,
    DEFAULT_MAX_CONSECUTIVE_ERRORS,
    DEFAULT_POLL_INTERVAL_SECONDS,
    WaitCore,
)
from airflow_provider_kimi.batch.windows import parse_completion_window, wait_timeout_for
from airflow_provider_kimi.client.api import BATCH_ENDPOINT
from airflow_provider_kimi.hooks.errors import kimi_errors_explained
from airflow_provider_kimi.hooks.reattach import create_batch_once, upload_once
from airflow_provider_kimi.links import KimiBatchConsoleLink
from airflow_provider_kimi.operators.base import KimiBaseOperator, storage_path
from airflow_provider_kimi.triggers.events import finish_wait, raise_if_ended_badly
from airflow_provider_kimi.triggers.kimi import KimiBatchTrigger

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context
    from openai.types import Batch


def task_run_key(context: Context) -> str:
    """The key every try of this task instance shares (never the try number)."""
    ti = context["ti"]
    return run_key(ti.dag_id, ti.task_id, ti.run_id, getattr(ti, "map_index", -1))


def run_started_after(context: Context) -> float | None:
    """When this DAG run could first have created anything: where a search for it may stop."""
    dag_run = context.get("dag_run")
    moment = getattr(dag_run, "run_after", None) or getattr(dag_run, "queued_at", None)
    if moment is None:
        return None
    # An hour of slack for clocks; never further back than a month, whatever the run's date.
    started: float = moment.timestamp()
    return max(started - 3600, time.time() - 30 * 86400)


class KimiUploadFileOperator(KimiBaseOperator):
    """Upload a file to Kimi and return its file id (to XCom).

    A batch input (``purpose="batch"``) is checked first with the same rules as
    ``kimi-batch validate``: a bad file fails the task with every problem listed by line and field,
    and nothing is uploaded.

    :param file_path: Local path or ``ObjectStoragePath`` / URL (``s3://...``, ``file://...``); templated.
    :param purpose: ``batch`` (default), ``image`` or ``video``.
    :param filename: Name to upload under; default the file's own name. Batch inputs must end ``.jsonl``.
    :param validate: Check a batch input before uploading. Default True.
    :param known_file_ids: The media file ids the input may refer to as ``ms://<id>`` (templated,
        e.g. an upload task's output). Given, any other ``ms://`` id fails validation; default None
        checks only that references are well formed.
    :param allowed_models: The models a batch input may name; default Kimi's batch models
        (``kimi-k2.6``, ``kimi-k2.5``). Name a new model here without waiting for a release.
    :param reuse_existing: On a retry, reuse the identical file an earlier try of this task instance
        uploaded instead of uploading it again. The uploaded name then carries a short tag:
        ``requests.jsonl`` is stored as ``requests.<tag>.jsonl``. Default True.
    :param kimi_conn_id: The Kimi connection id. Default ``kimi_default``.
    """

    template_fields: Sequence[str] = ("file_path", "purpose", "filename", "known_file_ids", "kimi_conn_id")
    ui_color = "#dbe9ff"

    def __init__(
        self,
        *,
        file_path: Any,
        purpose: str = "batch",
        filename: str | None = None,
        validate: bool = True,
        known_file_ids: Any = None,
        allowed_models: Collection[str] = BATCH_MODELS,
        reuse_existing: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.known_file_ids = known_file_ids
        self.allowed_models = frozenset(allowed_models)
        self.file_path = file_path
        self.purpose = purpose
        self.filename = filename
        self.validate = validate
        self.reuse_existing = reuse_existing

    @kimi_errors_explained
    def execute(self, context: Context) -> str:
        """Validate (for batch input), upload unless an earlier try did, return the file id."""
        path = storage_path(self.file_path)
        if self.purpose == "batch" and self.validate:
            known = None if self.known_file_ids is None else set(self.known_file_ids)
            report = ensure_valid(path, known_file_ids=known, allowed_models=self.allowed_models)
            self.log.info("%s", report.summary())
        filename = self.filename or path.name
        if not self.reuse_existing:
            uploaded = self.hook.upload_file(path, purpose=self.purpose, filename=filename)
            self.log.info("Uploaded %s as file %s (%s bytes).", path, uploaded.id, uploaded.bytes)
            return uploaded.id
        digest, size = sha256_of(path)
        filename = tagged_filename(filename, task_run_key(context), digest)
        uploaded, reused = upload_once(self.hook, path, filename=filename, size=size, purpose=self.purpose)
        if reused:
            self.log.info("Reusing file %s (%s), uploaded by an earlier try of this task.", uploaded.id, filename)
        else:
            self.log.info("Uploaded %s as file %s (%s, %s bytes).", path, uploaded.id, filename, uploaded.bytes)
        return uploaded.id

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the uploaded file is the input dataset."""
        return lineage.lineage(inputs=lineage.datasets(self.file_path))


class KimiCreateBatchOperator(KimiBaseOperator):
    """Create a Kimi batch from an uploaded input file; push its id to XCom the moment it exists.

    Returns the batch id. With ``wait_for_completion=True`` the task also waits for the batch to
    end (deferred to the triggerer when ``deferrable``), fails on ``failed``/``expired``/``cancelled``
    unless listed in ``succeed_on``, and pushes the ended batch's snapshot under the XCom key
    ``batch``.

    :param input_file_id: The uploaded input's file id (templated, e.g. an upload task's output).
    :param completion_window: From ``12h`` to ``7d``; default ``24h`` (templated).
    :param metadata: String pairs stored with the batch (templated): Kimi keeps up to 16, and
        ``reattach=True`` (the default) uses 2 of them, which leaves 14.
    :param wait_for_completion: Also wait for the batch to end. Default False.
    :param deferrable: Wait in the triggerer, holding no worker slot. Default
        ``[operators] default_deferrable``.
    :param poll_interval: Seconds between status checks while waiting. Default 60.
    :param wait_timeout: Seconds to wait; default the completion window plus one hour.
    :param succeed_on: Ended statuses that count as success. Default ``("completed",)``.
    :param cancel_on_kill: Cancel the batch if the task is killed while it waits. Default True.
    :param max_consecutive_errors: Transient API errors tolerated in a row while waiting. Default 5.
    :param adaptive_polling: While deferred, stretch the interval as the batch ages (the base for its
        first 10 minutes, then up to 10 x the base and at most 10 minutes). Default True.
    :param reattach: Tag the batch with this task instance's run key and a fingerprint of its
        input (two ``metadata`` pairs), so a retry or a re-run re-attaches to the batch an earlier
        try created (even one that died before pushing its XCom) instead of paying for a second
        one. A changed input, or an earlier batch that ended failed/expired/cancelled, makes a new
        batch. Default True; False creates a new batch on every try.
    :param kimi_conn_id: The Kimi connection id. Default ``kimi_default``.
    """

    template_fields: Sequence[str] = ("input_file_id", "completion_window", "metadata", "kimi_conn_id")
    operator_extra_links = (KimiBatchConsoleLink(),)
    ui_color = "#c6dbff"

    def __init__(
        self,
        *,
        input_file_id: Any,
        completion_window: str = "24h",
        metadata: Mapping[str, str] | None = None,
        wait_for_completion: bool = False,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = DEFAULT_POLL_INTERVAL_SECONDS,
        wait_timeout: float | None = None,
        succeed_on: Collection[str] = DEFAULT_SUCCEED_ON,
        cancel_on_kill: bool = True,
        max_consecutive_errors: int = DEFAULT_MAX_CONSECUTIVE_ERRORS,
        adaptive_polling: bool = True,
        reattach: bool = True,
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
        self.adaptive_polling = adaptive_polling
        self.reattach = reattach
        self.batch_id: str | None = None
        self.snapshot: Mapping[str, Any] = {}

    def _create(self, context: Context) -> Batch:
        parse_completion_window(self.completion_window)
        metadata = check_metadata(self.metadata)
        if not self.reattach:
            batch = self.hook.create_batch(
                self.input_file_id, completion_window=self.completion_window, metadata=metadata
            )
            self.log.info("Created batch %s from file %s (%s).", batch.id, self.input_file_id, batch.status)
            return batch
        reserved = RESERVED_METADATA_KEYS & set(metadata or {})
        if reserved:
            raise KimiValueError(f"metadata keys {sorted(reserved)} are set by the operator when reattach=True.")
        room = MAX_METADATA_PAIRS - len(RESERVED_METADATA_KEYS)
        if metadata and len(metadata) > room:
            raise KimiValueError(
                f"metadata has {len(metadata)} pairs; with reattach=True the operator adds "
                f"{' and '.join(sorted(RESERVED_METADATA_KEYS))}, so at most {room} are left "
                "(or set reattach=False)."
            )
        fingerprint = batch_fingerprint(self.input_file_id, self.completion_window, BATCH_ENDPOINT, metadata)
        tags = {RUN_KEY_FIELD: task_run_key(context), FINGERPRINT_FIELD: fingerprint}
        batch, reattached = create_batch_once(
            self.hook,
            self.input_file_id,
            completion_window=self.completion_window,
            metadata=check_metadata({**(metadata or {}), **tags}) or {},
            created_after=run_started_after(context),
        )
        if reattached:
            self.log.info(
                "Re-attached to batch %s (%s), created by an earlier try of this task.", batch.id, batch.status
            )
        else:
            self.log.info("Created batch %s from file %s (%s).", batch.id, self.input_file_id, batch.status)
        return batch

    @kimi_errors_explained
    def execute(self, context: Context) -> str:
        """Check the arguments, create the batch (or re-attach), push its id, and wait if asked."""
        batch = self._create(context)
        self.batch_id = batch.id
        self.snapshot = batch_snapshot(batch)
        context["ti"].xcom_push(key="batch_id", value=batch.id)
        KimiBatchConsoleLink.persist(context, self.hook.settings.base_url, batch.id)
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
                    adaptive_polling=self.adaptive_polling,
                ),
                method_name="execute_complete",
            )
        snapshot = self.hook.wait_for_batch(
            batch.id,
            poll_interval=self.poll_interval,
            timeout=timeout,
            max_consecutive_errors=self.max_consecutive_errors,
        )
        return self._finish(context, snapshot)

    def execute_complete(self, context: Context, event: Any = None) -> str:
        """Resume after the trigger fired: the batch id comes from the event, not from ``self``."""
        return self._finish(context, finish_wait(event, self.succeed_on))

    def _finish(self, context: Context, snapshot: BatchSnapshot) -> str:
        raise_if_ended_badly(snapshot, self.succeed_on)
        self.snapshot = snapshot
        context["ti"].xcom_push(key="batch", value=snapshot)
        self.log.info("%s", describe_progress(snapshot))
        return str(snapshot["id"])

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the batch as a job facet (its model read from the input's first request)."""
        model = lineage.input_model(self.hook.client, str(self.input_file_id))
        return lineage.lineage(job_facets=lineage.batch_facet(self.snapshot, model=model))

    def on_kill(self) -> None:
        """Cancel the batch this task created, when ``cancel_on_kill``."""
        if self.cancel_on_kill and self.batch_id:
            self.hook.cancel_batch(self.batch_id)
            self.log.info("Cancelled batch %s because the task was killed.", self.batch_id)


class KimiCancelBatchOperator(KimiBaseOperator):
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
        batch_id: Any,
        wait_for_cancellation: bool = False,
        poll_interval: float = CANCEL_POLL_INTERVAL_SECONDS,
        wait_timeout: float = 3600.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.batch_id = batch_id
        self.wait_for_cancellation = wait_for_cancellation
        self.poll_interval = poll_interval
        self.wait_timeout = wait_timeout

    @kimi_errors_explained
    def execute(self, context: Context) -> BatchSnapshot:
        """Cancel, or report that the batch had already ended."""
        batch_id = batch_id_of(self.batch_id)
        core = WaitCore(batch_id, poll_interval=self.poll_interval)
        try:
            snapshot = batch_snapshot(self.hook.cancel_batch(batch_id))
        except openai.BadRequestError:
            step = self.hook.check_batch(core)
            if step.snapshot is None or step.action != "finish":
                raise
            self.log.info("Batch %s had already ended %s: nothing to cancel.", batch_id, step.snapshot["status"])
            return step.snapshot
        self.log.info("Cancel requested: %s", describe_progress(snapshot))
        if not self.wait_for_cancellation or core.observe(snapshot, time.time()).action == "finish":
            return snapshot
        return self.hook.wait_for_batch(batch_id, poll_interval=self.poll_interval, timeout=self.wait_timeout)
