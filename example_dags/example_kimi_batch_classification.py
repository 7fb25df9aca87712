"""Classify texts with Kimi's Batch API: the user guide's workflow, one task per stage.

build_input -> upload -> create -> wait (deferred to the triggerer) -> download -> report

Files that cross task boundaries live under ``KIMI_EXAMPLE_STORAGE`` (any ``ObjectStoragePath``
URL: ``file://``, ``s3://``...), so the DAG runs the same on every executor. The connection is
``kimi_default``: the Kimi endpoint with a real key, or the local emulator
(``kimi-batch emulator``) for development.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import ObjectStoragePath, dag, task

from airflow_provider_kimi.batch.builders import prompt_requests
from airflow_provider_kimi.batch.results import iter_results
from airflow_provider_kimi.batch.writer import write_requests
from airflow_provider_kimi.operators import (
    KimiCreateBatchOperator,
    KimiDownloadResultsOperator,
    KimiUploadFileOperator,
)
from airflow_provider_kimi.sensors.kimi import KimiBatchSensor

STORAGE = os.environ.get("KIMI_EXAMPLE_STORAGE", "file:///tmp/kimi_batch_examples")
POLL_SECONDS = float(os.environ.get("KIMI_EXAMPLE_POLL_SECONDS", "30"))
MODEL = os.environ.get("KIMI_EXAMPLE_MODEL", "kimi-k2.5")

CATEGORIES = ["Literature", "News", "Academic", "Technology", "Lifestyle"]
SYSTEM_PROMPT = f"You are a text classification expert. Classify texts into: {'/'.join(CATEGORIES)}"
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
    # Safe to retry every stage: a retried upload or create re-attaches to what its first try made.
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
)
def example_kimi_batch_classification() -> None:
    @task(multiple_outputs=True)
    def build_input(run_id: str | None = None) -> dict[str, str]:
        """Write one request line per text; return where the input and the results go."""
        folder = run_folder(str(run_id))
        path = folder / "classification_requests.jsonl"
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
        return {"input": str(path), "results": str(folder / "results")}

    @task
    def report(manifest: dict[str, Any]) -> dict[str, str]:
        """Log one table of custom_id, category, tokens and answer, then the cost line."""
        paths = [ObjectStoragePath(manifest[key]) for key in ("output_path", "error_path") if manifest[key]]
        categories: dict[str, str] = {}
        lines = [f"{'custom_id':<10} {'category':<12} {'tokens':>6}  answer"]
        for result in sorted(iter_results(*paths), key=lambda r: r.custom_id):
            answer = result.answer or str(result.error_summary)
            category = categories[result.custom_id] = next((c for c in CATEGORIES if c in answer), "?")
            lines.append(f"{result.custom_id:<10} {category:<12} {result.total_tokens:>6}  {answer}")
        summary = manifest["summary"]
        lines.append(
            f"{summary['succeeded']} succeeded, {summary['failed']} failed; "
            f"{summary['prompt_tokens']} prompt + {summary['completion_tokens']} completion tokens; "
            f"estimated ${summary['estimated_cost_usd']:.6f} at the batch price "
            f"(${summary['realtime_cost_usd']:.6f} in real time)"
        )
        print("\n".join(lines))
        return categories

    built = build_input()
    file_id = KimiUploadFileOperator(task_id="upload", file_path=built["input"]).output
    batch_id = KimiCreateBatchOperator(task_id="create", input_file_id=file_id, completion_window="24h").output
    wait = KimiBatchSensor(task_id="wait", batch_id=batch_id, deferrable=True, poke_interval=POLL_SECONDS)
    download = KimiDownloadResultsOperator(
        task_id="download", batch=wait.output, destination=built["results"], input_path=built["input"]
    )
    report(download.output)


example_kimi_batch_classification()
