"""All stages of a Kimi batch in one call, still one task per stage, for TaskFlow DAGs."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from airflow.providers.common.compat.sdk import TaskGroup

from airflow_provider_kimi.batch.limits import BATCH_MODELS
from airflow_provider_kimi.batch.outcome import DEFAULT_SUCCEED_ON
from airflow_provider_kimi.hooks.kimi import KimiBatchHook
from airflow_provider_kimi.operators import (
    KimiCreateBatchOperator,
    KimiDownloadResultsOperator,
    KimiUploadFileOperator,
)
from airflow_provider_kimi.sensors.kimi import KimiBatchSensor


def kimi_batch(
    *,
    input_path: Any,
    destination: Any,
    group_id: str = "kimi_batch",
    completion_window: str = "24h",
    metadata: Mapping[str, str] | None = None,
    known_file_ids: Any = None,
    allowed_models: Collection[str] = BATCH_MODELS,
    deferrable: bool = True,
    poll_interval: float = 60.0,
    succeed_on: Collection[str] = DEFAULT_SUCCEED_ON,
    max_failed_ratio: float | None = None,
    max_failed_count: int | None = None,
    kimi_conn_id: str = KimiBatchHook.default_conn_name,
) -> Any:
    """Wire upload -> create -> wait -> download inside a task group; return the download's manifest.

    Each stage stays its own task (``<group_id>.upload``, ``.create``, ``.wait``, ``.download``), so
    retries, logs and the UI work per stage, and ids travel by XCom as with the operators::

        @dag(...)
        def classify():
            manifest = kimi_batch(input_path=build_input(), destination="s3://bucket/results/")
            report(manifest)

    :param input_path: The batch input (path, URL or an upstream task's output).
    :param destination: Where the output and error files go (see ``KimiDownloadResultsOperator``).
    :param group_id: The task group's id. Default ``kimi_batch``.
    :param completion_window: From ``12h`` to ``7d``. Default ``24h``.
    :param metadata: Up to 14 string pairs stored with the batch.
    :param known_file_ids: ``ms://`` ids the input may refer to (e.g. media uploaded upstream).
    :param allowed_models: The models the input may name. Default ``kimi-k2.6`` and ``kimi-k2.5``.
    :param deferrable: Wait in the triggerer. Default True.
    :param poll_interval: Seconds between checks while waiting. Default 60.
    :param succeed_on: Ended statuses that go on to the download. Default ``("completed",)``.
    :param max_failed_ratio: Fail the download task beyond this share of unanswered requests.
    :param max_failed_count: Fail the download task beyond this many unanswered requests.
    :param kimi_conn_id: The Kimi connection id. Default ``kimi_default``.
    """
    with TaskGroup(group_id=group_id):
        file_id = KimiUploadFileOperator(
            task_id="upload",
            file_path=input_path,
            known_file_ids=known_file_ids,
            allowed_models=allowed_models,
            kimi_conn_id=kimi_conn_id,
        ).output
        batch_id = KimiCreateBatchOperator(
            task_id="create",
            input_file_id=file_id,
            completion_window=completion_window,
            metadata=metadata,
            kimi_conn_id=kimi_conn_id,
        ).output
        batch = KimiBatchSensor(
            task_id="wait",
            batch_id=batch_id,
            deferrable=deferrable,
            poke_interval=poll_interval,
            succeed_on=succeed_on,
            cancel_on_kill=True,
            kimi_conn_id=kimi_conn_id,
        ).output
        return KimiDownloadResultsOperator(
            task_id="download",
            batch=batch,
            destination=destination,
            input_path=input_path,
            max_failed_ratio=max_failed_ratio,
            max_failed_count=max_failed_count,
            kimi_conn_id=kimi_conn_id,
        ).output
