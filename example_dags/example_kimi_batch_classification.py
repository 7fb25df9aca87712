"""Classify texts with Kimi's Batch API: the user guide's workflow, one task per stage.

build_input -> upload -> create -> wait (deferred to the triggerer) -> read_results

Files that cross task boundaries live under ``KIMI_EXAMPLE_STORAGE`` (any ``ObjectStoragePath``
URL: ``file://``, ``s3://``...), so the DAG runs the same on every executor. The connection is
``kimi_default``: the Kimi endpoint with a real key, or the local emulator
(``kimi-batch emulator``) for development.
"""

from __future__ import annotations

import os
import re
from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import ObjectStoragePath, dag, task

from airflow_provider_kimi.batch.builders import prompt_requests
from airflow_provider_kimi.batch.results import format_table, iter_results
from airflow_provider_kimi.batch.writer import write_requests
from airflow_provider_kimi.hooks.kimi import KimiBatchHook
from airflow_provider_kimi.operators.kimi import KimiCreateBatchOperator, KimiUploadFileOperator
from airflow_provider_kimi.sensors.kimi import KimiBatchSensor

STORAGE = os.environ.get("KIMI_EXAMPLE_STORAGE", "file:///tmp/kimi_batch_examples")
POLL_SECONDS = float(os.environ.get("KIMI_EXAMPLE_POLL_SECONDS", "30"))
MODEL = os.environ.get("KIMI_EXAMPLE_MODEL", "kimi-k2.5")

SYSTEM_PROMPT = (
    "You are a text classification expert. Classify texts into: Literature/News/Academic/Technology/Lifestyle"
)
TEXTS = [
    "Hamlet is one of Shakespeare's most famous tragedies",
    "Scientists discover new potentially habitable planet",
    "2024 Artificial Intelligence Development Report",
    "How to make a delicious braised pork dish",
    "Latest iPhone launch event details",
]


def run_folder(run_id: str) -> ObjectStoragePath:
    """One folder per DAG run, so reruns never mix their files."""
    folder = ObjectStoragePath(STORAGE) / "classification" / re.sub(r"[^A-Za-z0-9_.-]", "_", run_id)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dag(
    dag_id="example_kimi_batch_classification",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["kimi", "example"],
)
def example_kimi_batch_classification() -> None:
    @task
    def build_input(run_id: str | None = None) -> str:
        """Write one request line per text; return the file's URL for the upload task."""
        path = run_folder(str(run_id)) / "classification_requests.jsonl"
        rows = [{"id": f"text_{i}", "text": text} for i, text in enumerate(TEXTS)]
        requests = prompt_requests(
            rows,
            system_prompt=SYSTEM_PROMPT,
            template="Please classify the following text: {text}",
            custom_id_column="id",
            model=MODEL,
        )
        written = write_requests(requests, path)
        print(f"Wrote {written.lines} requests ({written.bytes} bytes) to {path}")
        return str(path)

    @task
    def read_results(batch: dict[str, Any], run_id: str | None = None) -> dict[str, int]:
        """Download the output and error files, then log each custom_id with its answer."""
        hook = KimiBatchHook()
        folder = run_folder(str(run_id))
        files = {}
        for kind in ("output", "error"):
            file_id = batch.get(f"{kind}_file_id")
            if file_id:
                files[kind] = folder / f"{kind}.jsonl"
                hook.download_file(file_id, files[kind])
        results = list(iter_results(files.get("output"), files.get("error")))
        print(format_table(results, limit=None))
        for result in sorted(results, key=lambda r: r.custom_id):
            print(f"{result.custom_id}: {result.answer if result.succeeded else result.error_summary}")
        return {"results": len(results), "succeeded": sum(r.succeeded for r in results)}

    file_id = KimiUploadFileOperator(task_id="upload", file_path=build_input()).output
    batch_id = KimiCreateBatchOperator(task_id="create", input_file_id=file_id, completion_window="24h").output
    wait = KimiBatchSensor(task_id="wait", batch_id=batch_id, deferrable=True, poke_interval=POLL_SECONDS)
    read_results(wait.output)


example_kimi_batch_classification()
