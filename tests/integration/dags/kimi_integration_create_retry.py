"""A DAG whose ``create`` task waits for its batch in the worker, so a test can kill that worker.

``create`` polls the batch from the task process (``deferrable=False``) and has one retry with
no delay: a killed try fails like a crashed worker, and the retry must re-attach to the batch the
first try created instead of paying for a second one.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta

import pendulum
from airflow.providers.common.compat.sdk import DAG, ObjectStoragePath, task

from airflow_provider_kimi.batch.builders import prompt_requests
from airflow_provider_kimi.batch.writer import write_requests
from airflow_provider_kimi.operators.kimi import KimiCreateBatchOperator, KimiUploadFileOperator

TEXTS = ["one", "two", "three"]


@task
def build_input(run_id: str | None = None) -> str:
    """Write a few request lines under ``KIMI_EXAMPLE_STORAGE``, one folder per run."""
    folder = ObjectStoragePath(os.environ["KIMI_EXAMPLE_STORAGE"]) / "retry" / re.sub(r"[^\w.-]", "_", str(run_id))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "requests.jsonl"
    write_requests(prompt_requests(TEXTS, model="kimi-k2.5"), path)
    return str(path)


with DAG(
    "kimi_integration_create_retry",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
):
    KimiCreateBatchOperator(
        task_id="create",
        input_file_id=KimiUploadFileOperator(task_id="upload", file_path=build_input()).output,
        wait_for_completion=True,
        deferrable=False,
        poll_interval=1.0,
        retries=1,
        retry_delay=timedelta(0),
    )
