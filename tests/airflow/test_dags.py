"""Whole DAGs through Airflow's ``dag.test()`` against a local Kimi server: every stage a task."""

from __future__ import annotations

import pytest
from dag_runs import run_dag

pytestmark = pytest.mark.timeout(180)


def task_output(capfd: pytest.CaptureFixture[str]) -> str:
    out, err = capfd.readouterr()
    return out + err


def test_happy_path_defers_the_wait_and_passes_ids_by_xcom(kimi, storage, capfd):
    result = run_dag("kimi_wait_deferred")
    assert result.state == "success", result.task_states
    file_id = result.xcom("upload")
    batch_id = result.xcom("create")
    assert result.xcom("create", "batch_id") == batch_id
    batch = result.xcom("wait")
    assert batch["id"] == batch_id
    assert batch["input_file_id"] == file_id
    assert batch["status"] == "completed"
    assert batch["request_counts"] == {"total": 3, "completed": 3, "failed": 0}
    assert batch["output_file_id"]
    # The sensor deferred: Airflow ran our trigger, which logged its polls.
    output = task_output(capfd)
    assert "[DAG TEST] running trigger in line" in output
    assert "[airflow_provider_kimi.triggers.kimi.KimiBatchTrigger]" in output


@pytest.mark.parametrize("mode", ["poke", "reschedule"])
def test_poke_and_reschedule_modes_wait_in_the_worker(kimi, storage, mode, capfd):
    result = run_dag(f"kimi_wait_{mode}")
    assert result.state == "success", result.task_states
    assert result.xcom("wait")["status"] == "completed"
    assert "running trigger" not in task_output(capfd)


def test_a_rejected_input_fails_the_wait_with_the_reason(kimi, storage, capfd):
    result = run_dag("kimi_rejected_input", {"model": "gpt-4o"})
    assert result.task_states["create"] == "success"
    assert result.task_states["wait"] == "failed"
    assert result.state == "failed"
    output = task_output(capfd)
    assert f"KimiBatchEndedError: Batch {result.xcom('create')} failed: Kimi rejected its input file" in output
    assert "Run `kimi-batch validate FILE` on the input" in output


def test_an_invalid_input_is_refused_before_upload(kimi, storage, capfd):
    result = run_dag("kimi_validated_upload", {"model": "gpt-4o"})
    assert result.task_states["upload"] == "failed"
    assert kimi.stats()["uploads"] == 0
    assert "requests.jsonl:1: body.model:" in task_output(capfd)


def test_an_expired_batch_fails_the_wait(make_kimi, storage, capfd):
    make_kimi(window_scale=1e-6)
    result = run_dag("kimi_wait_deferred")
    assert result.task_states["wait"] == "failed"
    output = task_output(capfd)
    assert f"Batch {result.xcom('create')} expired: its completion_window 24h passed" in output
    assert "add 'expired' to succeed_on" in output


def test_an_expired_batch_can_count_as_success_to_keep_its_partial_results(make_kimi, storage):
    make_kimi(window_scale=1e-6)
    result = run_dag("kimi_wait_accepting_partial_results")
    assert result.state == "success", result.task_states
    assert result.xcom("wait")["status"] == "expired"


def test_cancel_operator_cancels_and_a_second_cancel_is_a_clear_outcome(make_kimi, storage, capfd):
    make_kimi(hold_new_batches_after=1, cancelling_seconds=0.2)
    result = run_dag("kimi_cancel")
    batch_id = result.xcom("create")
    assert result.xcom("cancel")["status"] == "cancelled"
    counts = result.xcom("cancel")["request_counts"]
    assert result.task_states["cancel_again"] == "success"
    assert result.xcom("cancel_again")["status"] == "cancelled"
    assert result.task_states["wait"] == "failed"
    output = task_output(capfd)
    assert f"Batch {batch_id} had already ended cancelled: nothing to cancel." in output
    assert f"Batch {batch_id} was cancelled with {counts['completed']}/3 requests completed" in output


def test_create_can_wait_itself(kimi, storage):
    result = run_dag("kimi_create_and_wait")
    assert result.state == "success", result.task_states
    batch_id = result.xcom("create")
    assert result.xcom("create", "batch_id") == batch_id
    assert result.xcom("create", "batch")["status"] == "completed"
