"""OpenLineage from the examples, as the OpenLineage provider emits it on Celery workers.

The stack sends every event through OpenLineage's own file transport; this reads the events of
one finished run: the upload's input dataset, the create task's batch facet (model, request
counts), and the download's result files as output datasets with the batch's token usage.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from lane import BUCKET, OPENLINEAGE_EVENTS, Distributed
from test_distributed import CLASSIFICATION, JOB, job_folder, only_batch, run_classification, run_folder

from airflow_provider_kimi.lineage import BATCH_FACET

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def completed_task_events(lane: Distributed, run_id: str, dag: str = CLASSIFICATION) -> dict[str, dict[str, Any]]:
    """The COMPLETE event of each task of one DAG run, by task id."""
    path = lane.stack.home / OPENLINEAGE_EVENTS
    events = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    found = {}
    for event in events:
        dag_id, _, task_id = event["job"]["name"].partition(".")
        dag_run = event["run"].get("facets", {}).get("airflow", {}).get("dagRun", {})
        if event["eventType"] == "COMPLETE" and dag_id == dag and dag_run.get("run_id") == run_id:
            found[task_id] = event
    return found


def test_the_example_emits_its_datasets_and_its_batch(distributed: Distributed) -> None:
    lane = distributed
    run_id = lane.finished_classifications[-1] if lane.finished_classifications else run_classification(lane)
    batch = only_batch(lane, CLASSIFICATION, run_id)
    events = completed_task_events(lane, run_id)
    assert {"upload", "create", "download"} <= set(events), sorted(events)
    namespace, folder = f"s3://{BUCKET}", run_folder(run_id)

    upload = events["upload"]
    assert [(d["namespace"], d["name"]) for d in upload["inputs"]] == [
        (namespace, f"{folder}classification_requests.jsonl")
    ]

    created = events["create"]["job"]["facets"][BATCH_FACET]
    assert created["batch_id"] == batch["id"]
    assert created["model"] == "kimi-k2.5"
    assert created["completion_window"] == "24h"
    assert set(created["request_counts"]) >= {"total", "completed", "failed"}

    download = events["download"]
    outputs = [(d["namespace"], d["name"]) for d in download["outputs"]]
    assert outputs == [(namespace, f"{folder}results/{batch['id']}.output.jsonl")], outputs
    downloaded = download["job"]["facets"][BATCH_FACET]
    assert downloaded["batch_id"] == batch["id"]
    assert downloaded["request_counts"]["completed"] == 5
    usage = downloaded["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0


def test_the_job_emits_its_requests_and_its_results_table(distributed: Distributed) -> None:
    lane = distributed
    assert lane.finished_jobs, "the kimi_batch_job scenario ran first"
    run_id = lane.finished_jobs[-1]
    events = completed_task_events(lane, run_id, JOB)
    assert {"classify.split", "classify.merge"} <= set(events), sorted(events)
    namespace, folder = f"s3://{BUCKET}", job_folder(run_id)
    split_inputs = [(d["namespace"], d["name"]) for d in events["classify.split"]["inputs"]]
    assert split_inputs == [(namespace, f"{folder}requests.jsonl")]
    merge_outputs = [(d["namespace"], d["name"]) for d in events["classify.merge"]["outputs"]]
    assert merge_outputs == [(namespace, f"{folder}results/results.jsonl")]
