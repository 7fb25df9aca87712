"""A table of texts in, one answer per row out: ``kimi_batch_job`` end to end.

build_texts -> build_input -> classify (split, rounds of upload/create/wait/download, merge,
cleanup) -> join_answers

``build_texts`` stands in for the user's table (5,000 generated texts with an ``id`` column).
``classify`` is one ``kimi_batch_job`` call: the input is split into parts within Kimi's limits,
each part is a batch, requests that expired or hit a server error are sent again (up to three
rounds), every answer lands in one results table in input order, and the job's files on Kimi are
deleted once the table is checked. ``join_answers`` joins the answers back to the table by
``custom_id`` and logs how many texts fell in each category.

Params: ``rows`` (default ``KIMI_EXAMPLE_JOB_ROWS`` or 5,000) and ``max_part_lines`` (default
``KIMI_EXAMPLE_JOB_PART_LINES`` or 2,000, so the job has several parts). Files live under
``KIMI_EXAMPLE_STORAGE``; the connection is ``kimi_default``.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import ObjectStoragePath, Param, dag, task

from airflow_provider_kimi.batch.builders import prompt_requests
from airflow_provider_kimi.batch.results import iter_json_lines, read_results_table
from airflow_provider_kimi.batch.writer import write_requests
from airflow_provider_kimi.task_group import kimi_batch_job

STORAGE = os.environ.get("KIMI_EXAMPLE_STORAGE", "file:///tmp/kimi_batch_examples")
ROWS = int(os.environ.get("KIMI_EXAMPLE_JOB_ROWS", "5000"))
PART_LINES = int(os.environ.get("KIMI_EXAMPLE_JOB_PART_LINES", "2000"))
POLL_SECONDS = float(os.environ.get("KIMI_EXAMPLE_POLL_SECONDS", "30"))
MODEL = os.environ.get("KIMI_EXAMPLE_MODEL", "kimi-k2.5")

CATEGORIES = ("Literature", "News", "Academic", "Technology", "Lifestyle")
SYSTEM_PROMPT = f"Classify texts into: {'/'.join(CATEGORIES)}. Answer with the category only."
SUBJECTS = (
    "Hamlet, a tragedy by Shakespeare",
    "scientists discovered a new planet today",
    "a university study of sleep, published in a journal",
    "a new AI chip for phones launched",
    "a recipe for slow-cooked pork and travel tips",
)


def category_of(answer: str | None) -> str:
    """The category an answer names (models add words around it), or ``other``."""
    named = [name for name in CATEGORIES if name.lower() in (answer or "").lower()]
    return named[0] if len(named) == 1 else "other"


def job_folder(run_id: str) -> ObjectStoragePath:
    """One folder per DAG run, so reruns never mix their files."""
    return ObjectStoragePath(STORAGE) / "batch_job" / re.sub(r"[^A-Za-z0-9_.-]", "_", run_id)


@dag(
    dag_id="example_kimi_batch_job",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["kimi", "example"],
    params={"rows": Param(ROWS, type="integer", minimum=1, description="How many texts to classify.")},
)
def example_kimi_batch_job() -> None:
    @task
    def build_texts(params: dict[str, Any] | None = None, run_id: str | None = None) -> str:
        """The user's table: one JSON object per row with ``id`` and ``text``."""
        rows = int(params["rows"]) if params else ROWS
        path = job_folder(str(run_id)) / "texts.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        table = ({"id": f"row-{n:05d}", "text": f"Text {n}: {SUBJECTS[n % len(SUBJECTS)]}."} for n in range(rows))
        write_requests(table, path)
        return str(path)

    @task
    def build_input(texts_url: str) -> str:
        """One request per row, keyed by the row's id."""
        path = ObjectStoragePath(texts_url).parent / "requests.jsonl"
        rows = (row for _, row in iter_json_lines(ObjectStoragePath(texts_url)))
        requests = prompt_requests(
            rows, system_prompt=SYSTEM_PROMPT, template="{text}", custom_id_column="id", model=MODEL
        )
        written = write_requests(requests, path)
        print(f"Wrote {written.lines} requests to {path}")
        return str(path)

    @task
    def join_answers(texts_url: str, manifest: dict[str, Any]) -> dict[str, int]:
        """Join each answer to its row by custom_id; log the category counts."""
        answers = {row["custom_id"]: row for row in read_results_table(ObjectStoragePath(manifest["results_path"]))}
        categories: Counter[str] = Counter()
        for _, row in iter_json_lines(ObjectStoragePath(texts_url)):
            result = answers[row["id"]]
            succeeded = result["status"] == "succeeded"
            categories[category_of(result["content"]) if succeeded else f"({result['status']})"] += 1
        print(f"{sum(categories.values())} rows, {manifest['parts']} parts, {manifest['rounds']} rounds")
        for category, count in categories.most_common():
            print(f"{category:<12} {count:>6}")
        cost = manifest["estimated_cost_usd"]
        print(f"Estimated cost: {'unknown' if cost is None else f'${cost:.4f}'}; {manifest['counts']}")
        return dict(categories)

    texts = build_texts()
    manifest = kimi_batch_job(
        input_path=build_input(texts),
        destination=f"{STORAGE}/batch_job/{{{{ run_id | replace(':', '_') | replace('+', '_') }}}}/results/",
        group_id="classify",
        completion_window="24h",
        max_part_lines=PART_LINES,
        max_rounds=3,
        cleanup=True,
        poll_interval=POLL_SECONDS,
    )
    join_answers(texts, manifest)


example_kimi_batch_job()
