"""All stages of a Kimi batch in one call, still one task per stage, for TaskFlow DAGs."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from airflow.providers.common.compat.sdk import TaskGroup

from airflow_provider_kimi.batch.errors import KimiTypeError, KimiValueError
from airflow_provider_kimi.batch.jobs import layout
from airflow_provider_kimi.batch.limits import BATCH_MODELS
from airflow_provider_kimi.batch.outcome import DEFAULT_SUCCEED_ON
from airflow_provider_kimi.batch.pricing import Prices
from airflow_provider_kimi.batch.wait import DEFAULT_POLL_INTERVAL_SECONDS
from airflow_provider_kimi.hooks.kimi import KimiBatchHook
from airflow_provider_kimi.operators import (
    KimiCreateBatchOperator,
    KimiDeleteFilesOperator,
    KimiDownloadResultsOperator,
    KimiUploadFileOperator,
)
from airflow_provider_kimi.operators.job import (
    KimiJobCleanupOperator,
    KimiJobMergeOperator,
    KimiJobPlanRoundOperator,
    KimiJobSplitOperator,
    RoundTasks,
)
from airflow_provider_kimi.sensors.kimi import KimiBatchSensor

ENDED_STATUSES = ("completed", "expired", "cancelled")
"""A job's waits go on to the download whatever the batch's end: its results decide the next round."""


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
    poll_interval: float = DEFAULT_POLL_INTERVAL_SECONDS,
    succeed_on: Collection[str] = DEFAULT_SUCCEED_ON,
    max_failed_ratio: float | None = None,
    max_failed_count: int | None = None,
    cleanup: bool = False,
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
    :param cleanup: After a successful download, delete the batch's input, output and error files
        on Kimi (a ``cleanup`` task), freeing the 1,000-file quota. A failed download keeps them.
        Default False.
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
        download = KimiDownloadResultsOperator(
            task_id="download",
            batch=batch,
            destination=destination,
            input_path=input_path,
            max_failed_ratio=max_failed_ratio,
            max_failed_count=max_failed_count,
            kimi_conn_id=kimi_conn_id,
        )
        if cleanup:
            download >> KimiDeleteFilesOperator(task_id="cleanup", file_ids=[batch], kimi_conn_id=kimi_conn_id)
        return download.output


def kimi_batch_job(
    *,
    input_path: Any,
    destination: str,
    group_id: str = "kimi_batch_job",
    completion_window: str = "24h",
    max_part_bytes: int | None = None,
    max_part_lines: int | None = None,
    max_rounds: int = 3,
    cleanup: bool = True,
    max_failed_ratio: float | None = None,
    max_cost_usd: float | None = None,
    poll_interval: float = DEFAULT_POLL_INTERVAL_SECONDS,
    deferrable: bool = True,
    kimi_conn_id: str = KimiBatchHook.default_conn_name,
    results_format: str = "jsonl",
    prices: Mapping[str, Prices] | None = None,
    allowed_models: Collection[str] = BATCH_MODELS,
) -> Any:
    """A requests file of any size in, one results table out: split, rounds, merge, cleanup.

    Tasks, each visible in the grid with its own logs and retries::

        <group>.split                          split into parts within Kimi's limits; validate each
        <group>.round_1.upload/create/wait/download     one mapped task per part
        <group>.round_2.plan                   what to send again; skips the round if nothing
        <group>.round_2.upload/create/wait/download     (up to max_rounds rounds)
        <group>.merge                          the results table, one row per request, input order
        <group>.cleanup                        delete the job's files on Kimi (cleanup=True)

    A request is sent again when its outcome can change (expired, never run, HTTP 408/429/5xx,
    ``request_timeout``, no result line); never after HTTP 400 or a content filter, and not at all
    once the user cancelled one of the job's batches. Returns the manifest (XCom): ``results_path``,
    ``parts``, ``rounds``, ``batch_ids``, ``counts``, ``prompt_tokens``, ``completion_tokens``,
    ``estimated_cost_usd``, ``resubmitted``, ``deleted_files`` and more.

    :param input_path: Kimi request lines, any size: a path or URL (templated) or an upstream output.
    :param destination: Folder URL for the parts, the downloaded results and the table (templated).
    :param group_id: The task group's id.
    :param completion_window: Of every batch, ``12h`` to ``7d``. Default ``24h``.
    :param max_part_bytes: Largest part; default Kimi's 100 MB less 5%.
    :param max_part_lines: Most requests per part; default no limit (Kimi sets none).
    :param max_rounds: The first submission plus up to ``max_rounds - 1`` resubmissions. Default 3.
    :param cleanup: Delete every file the job made on Kimi once the table is written and its rows
        counted. A failed job keeps them and says so. Default True.
    :param max_failed_ratio: Fail the merge when more than this share of requests has no answer.
    :param max_cost_usd: Stop before any round (the first included) whose worst case at batch
        prices could bring the job past this figure.
    :param poll_interval: Seconds between checks while waiting. Default 60.
    :param deferrable: Wait in the triggerer, holding no worker slot. Default True.
    :param kimi_conn_id: The Kimi connection id. Default ``kimi_default``.
    :param results_format: ``jsonl`` (default) or ``parquet`` (needs the ``parquet`` extra).
    :param prices: Batch prices per model in USD per 1M tokens, over the published ones.
    :param allowed_models: The models the input may name, checked in every part before any upload.
        Default ``kimi-k2.6`` and ``kimi-k2.5``.
    """
    if max_rounds < 1:
        raise KimiValueError(f"max_rounds must be at least 1, got {max_rounds}")
    if results_format not in ("jsonl", "parquet"):
        raise KimiValueError(f"results_format must be 'jsonl' or 'parquet', not {results_format!r}")
    if not isinstance(destination, str):
        raise KimiTypeError("destination must be a folder URL or path (a string, templates allowed)")
    limits: dict[str, Any] = {"max_part_bytes": max_part_bytes, "max_part_lines": max_part_lines}
    costs: dict[str, Any] = {"max_cost_usd": max_cost_usd, "prices": prices}
    with TaskGroup(group_id=group_id):
        split = KimiJobSplitOperator(
            task_id="split",
            input_path=input_path,
            destination=destination,
            allowed_models=allowed_models,
            kimi_conn_id=kimi_conn_id,
            **limits,
            **costs,
        )
        rounds: list[RoundTasks] = []
        plans: list[str] = []
        tail: Any = split
        for number in range(1, max_rounds + 1):
            with TaskGroup(group_id=f"round_{number}"):
                source: Any = split
                if number > 1:
                    source = KimiJobPlanRoundOperator(
                        task_id="plan",
                        round_number=number,
                        previous=rounds[-1],
                        previous_plan=plans[-1] if plans else None,
                        destination=destination,
                        trigger_rule="none_failed",
                        kimi_conn_id=kimi_conn_id,
                        **limits,
                        **costs,
                    )
                    tail >> source
                    plans.append(source.task_id)
                upload = KimiUploadFileOperator.partial(
                    task_id="upload", validate=False, kimi_conn_id=kimi_conn_id
                ).expand(file_path=source.output)
                create = KimiCreateBatchOperator.partial(
                    task_id="create", completion_window=completion_window, kimi_conn_id=kimi_conn_id
                ).expand(input_file_id=upload.output)
                wait = KimiBatchSensor.partial(
                    task_id="wait",
                    deferrable=deferrable,
                    poke_interval=poll_interval,
                    succeed_on=ENDED_STATUSES,
                    cancel_on_kill=True,
                    kimi_conn_id=kimi_conn_id,
                ).expand(batch_id=create.output)
                download = KimiDownloadResultsOperator.partial(
                    task_id="download",
                    destination=layout.results_folder(destination, number),
                    declare_asset=False,
                    kimi_conn_id=kimi_conn_id,
                ).expand(batch=wait.output)
                rounds.append(RoundTasks(number, source.task_id, upload.task_id, wait.task_id, download.task_id))
                tail = download
        merge = KimiJobMergeOperator(
            task_id="merge",
            rounds=rounds,
            plans=plans,
            destination=destination,
            results_format=results_format,
            max_failed_ratio=max_failed_ratio,
            prices=prices,
            trigger_rule="none_failed",
            kimi_conn_id=kimi_conn_id,
        )
        tail >> merge
        if not cleanup:
            return merge.output
        clean = KimiJobCleanupOperator(task_id="cleanup", rounds=rounds, merge=merge.task_id, kimi_conn_id=kimi_conn_id)
        merge >> clean
        return clean.output
