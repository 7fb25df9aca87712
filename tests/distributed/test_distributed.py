"""The DAGs on the stack users scale out to: Celery workers, PostgreSQL, S3 and two triggerers.

Each scenario asserts what users rely on there: one batch per part (a retried or moved task
never pays twice), every request answered exactly once, and the results in S3. The Kimi server
holds each new batch until the test releases it, so every wait is as long as the scenario needs.
"""

from __future__ import annotations

import collections
import json
import re
import signal
from typing import Any

import psutil
import pytest
from airflow_processes import TASK_SECONDS, wait_for
from lane import BUCKET, JOB_PART_LINES, JOB_ROWS, TRIGGERERS, WORKERS, Distributed

from airflow_provider_kimi.batch.idempotency import run_key

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

CLASSIFICATION = "example_kimi_batch_classification"
RETRY = "kimi_integration_create_retry"
JOB = "example_kimi_batch_job"
TEXT_IDS = [f"text_{i}" for i in range(5)]
TAKEOVER_SECONDS = 120
RETRY_SECONDS = 180  # the heartbeat timeout (30 s), its detection, then the retry queued on Celery


def run_folder(run_id: str) -> str:
    """The example's S3 prefix for one run (its ``run_folder``)."""
    return f"lane/classification/{re.sub(r'[^A-Za-z0-9_.-]', '_', run_id)}/"


def job_folder(run_id: str) -> str:
    """The job example's S3 prefix for one run (its ``job_folder``)."""
    return f"lane/batch_job/{re.sub(r'[^A-Za-z0-9_.-]', '_', run_id)}/"


def only_batch(lane: Distributed, dag_id: str, run_id: str) -> dict[str, Any]:
    batches = lane.kimi.batches_tagged(run_key(dag_id, "create", run_id))
    assert len(batches) == 1, f"one batch per part, found {len(batches)}: {batches}"
    return batches[0]


def wait_for_batch(lane: Distributed, dag_id: str, run_id: str) -> dict[str, Any]:
    key = run_key(dag_id, "create", run_id)
    return wait_for(f"{dag_id}'s create to make its batch", lambda: lane.kimi.batches_tagged(key), 180)[0]


def assert_answered_once_in_s3(lane: Distributed, run_id: str) -> None:
    """The results are in S3 (nowhere else), and every request's answer is there exactly once."""
    keys = lane.s3.keys(run_folder(run_id))
    assert f"{run_folder(run_id)}classification_requests.jsonl" in keys, keys
    answered: collections.Counter[str] = collections.Counter()
    for key in keys:
        if "/results/" in key and key.endswith(".jsonl"):
            for line in lane.s3.read(key).splitlines():
                answered[json.loads(line)["custom_id"]] += 1
    assert answered == dict.fromkeys(TEXT_IDS, 1), (keys, answered)
    assert not list(lane.stack.storage.rglob("*.jsonl")), "no file crossed tasks on local disk"


def assert_ran_on_celery(lane: Distributed, dag_id: str, run_id: str) -> None:
    rows = lane.stack.query(
        "SELECT task_id, external_executor_id, queue FROM task_instance WHERE dag_id = ? AND run_id = ?",
        dag_id,
        run_id,
    )
    assert rows
    assert all(row["external_executor_id"] for row in rows), rows  # the Celery task id


def run_classification(lane: Distributed) -> str:
    """Trigger the example, release its batch and wait for success; return the run id."""
    created_before = lane.kimi.stats()["batches_created"]
    run_id = lane.stack.trigger(CLASSIFICATION)
    batch = wait_for_batch(lane, CLASSIFICATION, run_id)
    lane.kimi.release(batch["id"])
    assert lane.stack.wait_for_run(CLASSIFICATION, run_id, timeout=240) == "success"
    assert lane.kimi.stats()["batches_created"] - created_before == 1
    assert only_batch(lane, CLASSIFICATION, run_id)["status"] == "completed"
    lane.finished_classifications.append(run_id)
    return run_id


def test_classification_on_celery_postgres_and_s3(distributed: Distributed) -> None:
    run_id = run_classification(distributed)
    assert_answered_once_in_s3(distributed, run_id)
    assert_ran_on_celery(distributed, CLASSIFICATION, run_id)


def test_the_other_triggerer_takes_over_a_killed_triggerers_waits(distributed: Distributed) -> None:
    lane, stack = distributed, distributed.stack
    created_before = lane.kimi.stats()["batches_created"]
    run_id = stack.trigger(CLASSIFICATION)
    batch = wait_for_batch(lane, CLASSIFICATION, run_id)
    wait_for("the wait to defer", lambda: stack.task_state(CLASSIFICATION, run_id, "wait") == "deferred", 180)
    ti = stack.task_instance(CLASSIFICATION, run_id, "wait")
    assert ti["trigger_id"] is not None

    def holder() -> int | None:
        rows = stack.query("SELECT triggerer_id FROM trigger WHERE id = ?", ti["trigger_id"])
        return rows[0]["triggerer_id"] if rows else None

    job = wait_for("a triggerer to take the wait", holder, TAKEOVER_SECONDS)
    [killed] = [name for name, running in lane.triggerer_jobs.items() if running == job]
    [survivor] = [lane.triggerer_jobs[name] for name in lane.triggerer_jobs if name != killed]

    stack.components[killed].kill(signal.SIGKILL)
    assert stack.task_state(CLASSIFICATION, run_id, "wait") == "deferred"
    # No new triggerer starts: the one still running adopts the trigger once the dead one's
    # heartbeat is stale.
    wait_for("the surviving triggerer to take the wait over", lambda: holder() == survivor, TAKEOVER_SECONDS)

    lane.kimi.release(batch["id"])
    assert stack.wait_for_run(CLASSIFICATION, run_id, timeout=240) == "success"
    wait_ti = stack.task_instance(CLASSIFICATION, run_id, "wait")
    assert wait_ti["try_number"] == 1, "the wait was resumed, not retried"
    assert lane.kimi.stats()["batches_created"] - created_before == 1
    assert only_batch(lane, CLASSIFICATION, run_id)["status"] == "completed"
    assert_answered_once_in_s3(lane, run_id)
    lane.start_triggerer(killed)  # two again for the scenarios after this one


def test_a_killed_celery_worker_mid_create_leaves_a_retry_that_reattaches(distributed: Distributed) -> None:
    lane, stack = distributed, distributed.stack
    created_before = lane.kimi.stats()["batches_created"]
    run_id = stack.trigger(RETRY)
    batch = wait_for_batch(lane, RETRY, run_id)
    wait_for(
        "the first try to log its batch",
        lambda: f"Created batch {batch['id']}" in stack.task_log(RETRY, run_id, "create", attempt=1),
        TASK_SECONDS,
    )
    first = stack.task_instance(RETRY, run_id, "create")
    assert (first["state"], first["try_number"]) == ("running", 1)

    # The create task runs (and polls its batch) in a process under one Celery worker: SIGKILL
    # that whole worker, as a lost host would go. Its task stops heartbeating.
    pid = first["pid"]
    [worker] = [name for name in WORKERS if pid in {p.pid for p in stack.components[name].tree()}]
    stack.components[worker].kill(signal.SIGKILL)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE

    def retrying() -> bool:
        ti = stack.task_instance(RETRY, run_id, "create")
        return ti is not None and ti["try_number"] == 2 and ti["state"] == "running"

    wait_for("the retry to start on the other worker", retrying, RETRY_SECONDS)
    wait_for(
        "the retry to re-attach",
        lambda: f"Re-attached to batch {batch['id']}" in stack.task_log(RETRY, run_id, "create", attempt=2),
        TASK_SECONDS,
    )
    lane.kimi.release(batch["id"])
    assert stack.wait_for_run(RETRY, run_id, timeout=240) == "success"
    assert lane.kimi.stats()["batches_created"] - created_before == 1
    finished = only_batch(lane, RETRY, run_id)
    assert finished["status"] == "completed"
    assert finished["request_counts"] == {"total": 3, "completed": 3, "failed": 0}  # each request ran once
    lane.start_worker(worker)


def test_kimi_batch_job_splits_merges_in_input_order_and_cleans_up(distributed: Distributed) -> None:
    """The job example: one batch per part, one row per request in input order, in S3; no file left on Kimi."""
    lane, stack = distributed, distributed.stack
    batches_before = {batch["id"] for batch in lane.kimi.batches()}
    files_before = lane.kimi.file_ids()
    run_id = stack.trigger(JOB)
    released: set[str] = set()

    def ended() -> str | None:
        for batch in lane.kimi.batches():
            if batch["id"] not in batches_before and batch["id"] not in released:
                lane.kimi.release(batch["id"])
                released.add(batch["id"])
        state = stack.run_state(JOB, run_id)
        return state if state in ("success", "failed") else None

    assert wait_for(f"run {run_id} of {JOB} to end", ended, 420) == "success"
    parts = -(-JOB_ROWS // JOB_PART_LINES)
    assert len(released) == parts, f"one batch per part: {sorted(released)}"

    folder = job_folder(run_id)
    table = f"{folder}results/results.jsonl"
    keys = lane.s3.keys(folder)
    assert table in keys, keys
    rows = [json.loads(line) for line in lane.s3.read(table).splitlines()]
    requests = [json.loads(line)["custom_id"] for line in lane.s3.read(f"{folder}requests.jsonl").splitlines()]
    assert len(requests) == JOB_ROWS
    assert [row["custom_id"] for row in rows] == requests, "one row per request, in input order"
    assert {row["status"] for row in rows} == {"succeeded"}
    assert not list(stack.storage.rglob("*.jsonl")), "no file crossed tasks on local disk"
    assert lane.kimi.file_ids() == files_before, "cleanup deleted every file the job made on Kimi"
    lane.finished_jobs.append(run_id)


def test_two_triggerers_stay_under_the_rate_limit(distributed: Distributed) -> None:
    """Over every scenario above, with both triggerers polling, the server answered no 429."""
    lane = distributed
    assert all(lane.stack.components[name].alive for name in TRIGGERERS)
    # The limit is in force: the server states it on every /v1 answer.
    answer = lane.kimi.http.get(f"{lane.kimi.base_url}/files")
    assert answer.headers["x-ratelimit-limit"] == "200"
    assert lane.kimi.stats()["rate_limited"] == 0
    log = lane.kimi.component.log_path.read_text(errors="replace")
    answered = re.findall(r'"[A-Z]+ (/v1/\S+) HTTP/[\d.]+" (\d{3})', log)
    assert answered, "the Kimi server logged no /v1 call"
    assert [call for call in answered if call[1] == "429"] == []
    assert f"s3://{BUCKET}" in lane.stack.env["KIMI_EXAMPLE_STORAGE"]
