"""Run a dataset too big for one batch: split the input, one batch per part, one summary for all.

build_input -> split_input -> upload[i] -> create[i] -> wait[i] -> download[i] -> join

Kimi takes input files up to 100 MB. ``split_input`` cuts the input into parts that each fit,
never cutting a line, and dynamic task mapping runs upload -> create -> wait once per part, in
parallel, each part retried on its own; each batch gets a 3-day completion window, as Kimi advises
for large inputs. Each part's output and error files are streamed into storage beside the input,
and ``join`` reads them all in one pass: counts, tokens and estimated cost for the whole dataset,
and a check that every ``custom_id`` of the input came back exactly once.

Params: ``rows`` (default ``KIMI_EXAMPLE_ROWS`` or 2,000) synthetic texts to classify, and
``max_part_bytes`` (default ``KIMI_EXAMPLE_MAX_PART_BYTES`` or Kimi's limit). Files live under
``KIMI_EXAMPLE_STORAGE``; the connection is ``kimi_default``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import ObjectStoragePath, Param, dag, task

from airflow_provider_kimi.batch.builders import prompt_requests
from airflow_provider_kimi.batch.limits import MAX_FILE_BYTES
from airflow_provider_kimi.batch.results import iter_result_files
from airflow_provider_kimi.batch.splitter import split_file
from airflow_provider_kimi.batch.summary import SummaryBuilder, iter_input_custom_ids
from airflow_provider_kimi.batch.writer import write_requests
from airflow_provider_kimi.operators import (
    KimiCreateBatchOperator,
    KimiDownloadResultsOperator,
    KimiUploadFileOperator,
)
from airflow_provider_kimi.sensors.kimi import KimiBatchSensor

STORAGE = os.environ.get("KIMI_EXAMPLE_STORAGE", "file:///tmp/kimi_batch_examples")
ROWS = int(os.environ.get("KIMI_EXAMPLE_ROWS", "2000"))
MAX_PART_BYTES = int(os.environ.get("KIMI_EXAMPLE_MAX_PART_BYTES", str(MAX_FILE_BYTES)))
POLL_SECONDS = float(os.environ.get("KIMI_EXAMPLE_POLL_SECONDS", "30"))
MODEL = os.environ.get("KIMI_EXAMPLE_MODEL", "kimi-k2.5")

SYSTEM_PROMPT = "You are a customer review analyst. Answer with one word: Positive, Negative or Neutral."
PRODUCTS = ("headphones", "coffee grinder", "hiking boots", "desk lamp", "phone case")
OPINIONS = (
    "works exactly as described and arrived early",
    "stopped working after two weeks",
    "is fine for the price, nothing special",
    "looks great but the instructions were confusing",
)


def run_folder(run_id: str) -> ObjectStoragePath:
    """One folder per DAG run, so reruns never mix their files."""
    folder = ObjectStoragePath(STORAGE) / "large_dataset" / re.sub(r"[^A-Za-z0-9_.-]", "_", run_id)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def reviews(count: int) -> Iterator[dict[str, str]]:
    """Synthetic product reviews standing in for a table of texts; rows are generated one by one."""
    for number in range(1, count + 1):
        product = PRODUCTS[number % len(PRODUCTS)]
        opinion = OPINIONS[number % len(OPINIONS)]
        yield {"id": f"review-{number:07d}", "text": f"Review #{number}: the {product} {opinion}."}


@dag(
    dag_id="example_kimi_batch_large_dataset",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["kimi", "example"],
    params={
        "rows": Param(ROWS, type="integer", minimum=1, description="How many texts to classify."),
        "max_part_bytes": Param(
            MAX_PART_BYTES, type="integer", minimum=1, description="Largest input file per batch, in bytes."
        ),
    },
)
def example_kimi_batch_large_dataset() -> None:
    @task
    def build_input(params: dict[str, Any] | None = None, run_id: str | None = None) -> str:
        """Write every row as a request line, streaming; the file may be any size."""
        rows = int(params["rows"]) if params else ROWS
        path = run_folder(str(run_id)) / "review_requests.jsonl"
        requests = prompt_requests(
            reviews(rows),
            system_prompt=SYSTEM_PROMPT,
            template="Classify the sentiment of this review: {text}",
            custom_id_column="id",
            model=MODEL,
        )
        written = write_requests(requests, path)
        print(f"Wrote {written.lines} requests ({written.bytes} bytes) to {path}")
        return str(path)

    @task
    def split_input(input_url: str, params: dict[str, Any] | None = None, run_id: str | None = None) -> list[str]:
        """Cut the input into parts of at most ``max_part_bytes``; return their URLs, one batch each."""
        max_bytes = int(params["max_part_bytes"]) if params else MAX_PART_BYTES
        folder = run_folder(str(run_id)) / "parts"
        folder.mkdir(parents=True, exist_ok=True)
        # A retry splits again into the same folder: overwrite replaces the parts of the try before.
        parts = split_file(ObjectStoragePath(input_url), folder, max_bytes=max_bytes, overwrite=True)
        for part in parts:
            ids = f"{part.first_custom_id} to {part.last_custom_id}"
            print(f"{part.path}: {part.lines} requests ({ids}), {part.bytes} bytes")
        return [str(part.path) for part in parts]

    @task
    def join(input_url: str, manifests: list[dict[str, Any]]) -> dict[str, Any]:
        """Summarise every part's downloaded results in one pass, against the input's ids."""
        files = [ObjectStoragePath(m[key]) for m in manifests for key in ("output_path", "error_path") if m[key]]
        builder = SummaryBuilder()
        builder.add_all(iter_result_files(files))
        summary = builder.build(iter_input_custom_ids(ObjectStoragePath(input_url)))
        print(f"{len(manifests)} batches, {len(files)} result files")
        print(summary.format())
        if summary.missing or summary.unexpected or summary.duplicates:
            raise ValueError(f"The results do not match the input one to one:\n{summary.format()}")
        return {"batches": len(manifests), **summary.to_dict()}

    input_url = build_input()
    parts = split_input(input_url)
    upload = KimiUploadFileOperator.partial(task_id="upload").expand(file_path=parts)
    create = KimiCreateBatchOperator.partial(task_id="create", completion_window="3d").expand(
        input_file_id=upload.output
    )
    wait = KimiBatchSensor.partial(task_id="wait", deferrable=True, poke_interval=POLL_SECONDS).expand(
        batch_id=create.output
    )
    download = KimiDownloadResultsOperator.partial(
        task_id="download", destination="{{ ti.xcom_pull(task_ids='build_input') | replace('.jsonl', '') }}-results"
    ).expand(batch=wait.output)
    join(input_url, download.output)


example_kimi_batch_large_dataset()
