"""DAGs the tests run with ``dag.test()``: each stage of a Kimi batch as its own task.

Inputs come from the run's conf (``texts``, ``model``, ``max_tokens``), files go under ``KIMI_TEST_STORAGE``,
and ``kimi_default`` points at the local server a test started.
"""

from __future__ import annotations

import json
import os
import re
from datetime import timedelta
from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import DAG, ObjectStoragePath, task

from airflow_provider_kimi.batch.builders import prompt_requests
from airflow_provider_kimi.batch.writer import write_requests
from airflow_provider_kimi.operators import (
    KimiCancelBatchOperator,
    KimiCreateBatchOperator,
    KimiDownloadResultsOperator,
    KimiUploadFileOperator,
)
from airflow_provider_kimi.sensors.kimi import KimiBatchSensor
from airflow_provider_kimi.task_group import kimi_batch

POLL = 0.1
START = pendulum.datetime(2026, 1, 1, tz="UTC")


@task
def build_input(dag_run: Any = None, run_id: str | None = None) -> str:
    """Write the conf's texts as request lines (the model as given, even one Kimi refuses)."""
    conf = dag_run.conf or {}
    folder = ObjectStoragePath(os.environ["KIMI_TEST_STORAGE"]) / re.sub(r"[^\w.-]", "_", str(run_id))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "requests.jsonl"
    texts = conf.get("texts", ["one", "two", "three"])
    body_params = {"max_tokens": conf["max_tokens"]} if "max_tokens" in conf else None
    write_requests(prompt_requests(texts, model=conf.get("model", "kimi-k2.5"), body_params=body_params), path)
    return str(path)


def upload_and_create(validate: bool = True) -> Any:
    file_id = KimiUploadFileOperator(task_id="upload", file_path=build_input(), validate=validate).output
    return KimiCreateBatchOperator(task_id="create", input_file_id=file_id).output


for mode in ("deferred", "poke", "reschedule"):
    with DAG(f"kimi_wait_{mode}", schedule=None, start_date=START, catchup=False):
        KimiBatchSensor(
            task_id="wait",
            batch_id=upload_and_create(),
            deferrable=mode == "deferred",
            mode="reschedule" if mode == "reschedule" else "poke",
            poke_interval=POLL,
            timeout=120,
        )

with DAG("kimi_wait_accepting_partial_results", schedule=None, start_date=START, catchup=False):
    KimiBatchSensor(
        task_id="wait",
        batch_id=upload_and_create(),
        deferrable=True,
        poke_interval=POLL,
        timeout=120,
        succeed_on=("completed", "expired", "cancelled"),
    )

with DAG("kimi_rejected_input", schedule=None, start_date=START, catchup=False):
    KimiBatchSensor(
        task_id="wait", batch_id=upload_and_create(validate=False), deferrable=True, poke_interval=POLL, timeout=120
    )

with DAG("kimi_validated_upload", schedule=None, start_date=START, catchup=False):
    KimiUploadFileOperator(task_id="upload", file_path=build_input())

with DAG("kimi_upload_for_a_new_model", schedule=None, start_date=START, catchup=False):
    KimiUploadFileOperator(task_id="upload", file_path=build_input(), allowed_models={"kimi-k3"})

with DAG("kimi_cancel", schedule=None, start_date=START, catchup=False):
    batch_id = upload_and_create()
    cancel = KimiCancelBatchOperator(
        task_id="cancel", batch_id=batch_id, wait_for_cancellation=True, poll_interval=POLL
    )
    cancel_again = KimiCancelBatchOperator(task_id="cancel_again", batch_id=batch_id)
    wait = KimiBatchSensor(task_id="wait", batch_id=batch_id, deferrable=True, poke_interval=POLL, timeout=120)
    cancel >> cancel_again >> wait

with DAG("kimi_create_and_wait", schedule=None, start_date=START, catchup=False):
    file_id = KimiUploadFileOperator(task_id="upload", file_path=build_input()).output
    KimiCreateBatchOperator(
        task_id="create", input_file_id=file_id, wait_for_completion=True, deferrable=True, poll_interval=POLL
    )

with DAG("kimi_create_retry", schedule=None, start_date=START, catchup=False):
    # Each try waits one second at most, so the first tries time out while the batch runs:
    # their retries must re-attach to it rather than pay for another.
    file_id = KimiUploadFileOperator(task_id="upload", file_path=build_input()).output
    KimiCreateBatchOperator(
        task_id="create",
        input_file_id=file_id,
        wait_for_completion=True,
        deferrable=False,
        poll_interval=POLL,
        wait_timeout=1.0,
        retries=5,
        retry_delay=timedelta(seconds=0),
    )


@task
def input_with_a_request_never_sent(path: str) -> str:
    """The input as the user kept it, with one more request than was uploaded: that one is missing."""
    kept = ObjectStoragePath(path).parent / "kept_input.jsonl"
    extra = next(prompt_requests(["never sent"], custom_id_column=None, id_prefix="never-"))
    write_requests([*read_requests(path), extra], kept)
    return str(kept)


def read_requests(path: str) -> list[dict[str, Any]]:
    with ObjectStoragePath(path).open("rb") as handle:
        return [json.loads(line) for line in handle.read().splitlines() if line.strip()]


for name, limit in (("kimi_download", None), ("kimi_download_strict", 0.25)):
    with DAG(name, schedule=None, start_date=START, catchup=False):
        input_path = build_input()
        file_id = KimiUploadFileOperator(task_id="upload", file_path=input_path).output
        batch_id = KimiCreateBatchOperator(task_id="create", input_file_id=file_id).output
        wait = KimiBatchSensor(
            task_id="wait",
            batch_id=batch_id,
            deferrable=True,
            poke_interval=POLL,
            timeout=120,
            succeed_on=("completed", "expired", "cancelled"),
        )
        KimiDownloadResultsOperator(
            task_id="download",
            batch=wait.output,
            destination="{{ dag_run.conf['results'] }}",
            input_path=input_with_a_request_never_sent(input_path),
            max_failed_ratio=limit,
        )


with DAG("kimi_task_group", schedule=None, start_date=START, catchup=False):
    kimi_batch(
        input_path=build_input(),
        destination="{{ dag_run.conf['results'] }}",
        poll_interval=POLL,
        max_failed_ratio=0.5,
    )
