"""The real engine: DAGs run by Airflow's scheduler, triggerer and LocalExecutor, processes killed mid-wait.

What ``dag.test()`` cannot show: a deferred wait lives in a separate triggerer process and
survives that process dying (a new triggerer picks the trigger up from the DB), and a worker
that dies after creating a batch leaves a retry that re-attaches to it rather than paying twice.
"""

from __future__ import annotations

import re
import signal
import uuid
from typing import Any

import psutil
import pytest
from airflow_processes import TASK_SECONDS, AirflowStack, KimiServer, wait_for

from airflow_provider_kimi.batch.idempotency import run_key

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

CLASSIFICATION = "example_kimi_batch_classification"
RETRY = "kimi_integration_create_retry"
REPORT_TASK = "report"  # logs a table row "<custom_id> <category> <tokens>  <answer>" for each result
ANSWER = re.compile(r"\b(text_\d) +\w+ +\d+  (\w[^\"\\\n]*)")


def async_calls(kimi: KimiServer) -> int:
    """Calls made by ``AsyncOpenAI``: only the trigger uses the async client."""
    return int(kimi.stats()["user_agents"].get("AsyncOpenAI", 0))


def running(pid: int) -> bool:
    """True while ``pid`` is a live process (a zombie waiting to be reaped is dead)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def task_processes(ti_id: str) -> list[psutil.Process]:
    """Processes titled for this task instance: its task process and its supervisor."""
    title = str(uuid.UUID(ti_id))
    return [p for p in psutil.process_iter(["cmdline"]) if title in " ".join(p.info["cmdline"] or [])]


def only_batch(kimi: KimiServer, key: str) -> dict[str, Any]:
    batches = kimi.batches_tagged(key)
    assert len(batches) == 1, batches
    return batches[0]


def test_deferred_wait_survives_a_killed_triggerer(airflow_stack: AirflowStack, kimi_server: KimiServer) -> None:
    stack, kimi = airflow_stack, kimi_server
    created_before = kimi.stats()["batches_created"]
    async_before = async_calls(kimi)
    run_id = stack.trigger(CLASSIFICATION)

    # The wait is deferred: the task is off the worker (no process runs it), its trigger is a
    # KimiBatchTrigger assigned to the running triggerer, and that triggerer polls the server
    # with the async client.
    wait_for("the wait task to defer", lambda: stack.task_state(CLASSIFICATION, run_id, "wait") == "deferred", 120)
    ti = stack.task_instance(CLASSIFICATION, run_id, "wait")
    assert ti is not None
    assert ti["trigger_id"] is not None
    [trigger] = stack.query("SELECT classpath FROM trigger WHERE id = ?", ti["trigger_id"])
    assert trigger["classpath"] == "airflow_provider_kimi.triggers.kimi.KimiBatchTrigger"
    wait_for("the wait's task process to end", lambda: not task_processes(ti["id"]), 30)
    [first_triggerer] = stack.running_triggerer_jobs()

    def assigned_to(job_id: int) -> bool:
        rows = stack.query("SELECT triggerer_id FROM trigger WHERE id = ?", ti["trigger_id"])
        return bool(rows) and rows[0]["triggerer_id"] == job_id

    wait_for("the trigger to be assigned to the triggerer", lambda: assigned_to(first_triggerer), 30)
    polled = wait_for("the trigger to poll Kimi", lambda: async_calls(kimi) > async_before and async_calls(kimi), 30)
    batch = only_batch(kimi, run_key(CLASSIFICATION, "create", run_id))
    assert batch["status"] == "in_progress"

    # SIGKILL the triggerer and everything it started: no graceful shutdown, no cleanup.
    triggerer = stack.components["triggerer"]
    killed = triggerer.kill(signal.SIGKILL)
    assert triggerer.popen is not None
    assert triggerer.popen.returncode == -signal.SIGKILL
    assert not [pid for pid in killed if running(pid)]
    assert stack.task_state(CLASSIFICATION, run_id, "wait") == "deferred"

    # A new triggerer takes the orphaned trigger over once the dead one's heartbeat is stale.
    stack.start("triggerer")
    new_triggerer = wait_for(
        "a new triggerer job",
        lambda: [job for job in stack.running_triggerer_jobs() if job > first_triggerer],
        TASK_SECONDS,
    )[0]
    wait_for("the trigger to move to the new triggerer", lambda: assigned_to(new_triggerer), TASK_SECONDS)
    wait_for("the new triggerer to poll Kimi", lambda: async_calls(kimi) > polled, 30)

    kimi.release(batch["id"])
    assert stack.wait_for_run(CLASSIFICATION, run_id) == "success"

    assert kimi.stats()["batches_created"] - created_before == 1
    assert only_batch(kimi, run_key(CLASSIFICATION, "create", run_id))["status"] == "completed"
    wait_ti = stack.task_instance(CLASSIFICATION, run_id, "wait")
    assert wait_ti is not None
    assert wait_ti["try_number"] == 1, "the wait was resumed, not retried"
    log = stack.task_log(CLASSIFICATION, run_id, REPORT_TASK, attempt=1)
    answers = dict(ANSWER.findall(log))
    assert sorted(answers) == [f"text_{i}" for i in range(5)], log[-3000:]


def test_retry_after_a_killed_worker_reattaches_to_the_batch(
    airflow_stack: AirflowStack, kimi_server: KimiServer
) -> None:
    stack, kimi = airflow_stack, kimi_server
    created_before = kimi.stats()["batches_created"]
    run_id = stack.trigger(RETRY)
    key = run_key(RETRY, "create", run_id)

    # The first try created the batch and now polls it from its task process.
    batch = wait_for("the first try to create its batch", lambda: kimi.batches_tagged(key), TASK_SECONDS)[0]
    first = stack.task_instance(RETRY, run_id, "create")
    assert first is not None
    assert first["state"] == "running"
    assert first["try_number"] == 1
    wait_for(
        "the first try to log its batch",
        lambda: f"Created batch {batch['id']}" in stack.task_log(RETRY, run_id, "create", attempt=1),
        30,
    )

    # The task process (its pid is in the task instance row) is titled "airflow worker -- <ti id>"
    # and runs under its supervisor, a LocalExecutor worker. SIGKILL the task process, as the OOM
    # killer would: on_kill never runs, so the batch is not cancelled, and the supervisor reports
    # the try failed, so the scheduler runs the retry.
    worker = psutil.Process(first["pid"])
    assert " ".join(worker.cmdline()).strip() == f"airflow worker -- {uuid.UUID(first['id'])}"
    assert "LocalExecutor" in " ".join(worker.parent().cmdline())
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=15)

    def retrying() -> bool:
        ti = stack.task_instance(RETRY, run_id, "create")
        return ti is not None and ti["try_number"] == 2 and ti["state"] == "running"

    wait_for("the retry to start", retrying, TASK_SECONDS)
    assert '"signal_name":"SIGKILL"' in stack.task_log(RETRY, run_id, "create", attempt=1)
    history = stack.query(
        "SELECT state FROM task_instance_history WHERE dag_id = ? AND run_id = ? AND task_id = 'create' "
        "AND try_number = 1",
        RETRY,
        run_id,
    )
    assert [row["state"] for row in history] == ["failed"]
    wait_for(
        "the retry to re-attach",
        lambda: "Re-attached to batch" in stack.task_log(RETRY, run_id, "create", attempt=2),
        TASK_SECONDS,
    )
    assert f"Re-attached to batch {batch['id']}" in stack.task_log(RETRY, run_id, "create", attempt=2)

    kimi.release(batch["id"])
    assert stack.wait_for_run(RETRY, run_id) == "success"
    assert kimi.stats()["batches_created"] - created_before == 1
    assert only_batch(kimi, key)["status"] == "completed"
