"""Whole DAGs through Airflow's ``dag.test()`` against a local Kimi server: every stage a task."""

from __future__ import annotations

import pytest
from dag_runs import run_dag

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def task_output(capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture):
    """Everything the tasks wrote, whether Airflow sent it to the console or to Python logging."""

    def read() -> str:
        out, err = capfd.readouterr()
        return out + err + caplog.text

    return read


def test_happy_path_defers_the_wait_and_passes_ids_by_xcom(make_kimi, storage):
    # Validating alone takes longer than the hop from create to the sensor, so the sensor must wait.
    kimi = make_kimi(time_scale=0.4)
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
    # The sensor deferred: the trigger's async client polled the server.
    assert kimi.stats()["user_agents"].get("AsyncOpenAI", 0) > 0


@pytest.mark.parametrize("mode", ["poke", "reschedule"])
def test_poke_and_reschedule_modes_wait_in_the_worker(kimi, storage, mode):
    result = run_dag(f"kimi_wait_{mode}")
    assert result.state == "success", result.task_states
    assert result.xcom("wait")["status"] == "completed"
    assert kimi.stats()["user_agents"].get("AsyncOpenAI", 0) == 0
    assert kimi.stats()["user_agents"]["OpenAI"] > 0


def test_a_rejected_input_fails_the_wait_with_the_reason(kimi, storage, task_output):
    result = run_dag("kimi_rejected_input", {"model": "gpt-4o"})
    assert result.task_states["create"] == "success"
    assert result.task_states["wait"] == "failed"
    assert result.state == "failed"
    output = task_output()
    assert f"KimiBatchEndedError: Batch {result.xcom('create')} failed: Kimi rejected its input file" in output
    assert "Run `kimi-batch validate FILE` on the input" in output


def test_an_invalid_input_is_refused_before_upload(kimi, storage, task_output):
    result = run_dag("kimi_validated_upload", {"model": "gpt-4o"})
    assert result.task_states["upload"] == "failed"
    assert kimi.stats()["uploads"] == 0
    assert "requests.jsonl:1: body.model:" in task_output()


def test_an_expired_batch_fails_the_wait(make_kimi, storage, task_output):
    make_kimi(window_scale=1e-6)
    result = run_dag("kimi_wait_deferred")
    assert result.task_states["wait"] == "failed"
    output = task_output()
    assert f"Batch {result.xcom('create')} expired: its completion_window 24h passed" in output
    assert "add 'expired' to succeed_on" in output


def test_an_expired_batch_can_count_as_success_to_keep_its_partial_results(make_kimi, storage):
    make_kimi(window_scale=1e-6)
    result = run_dag("kimi_wait_accepting_partial_results")
    assert result.state == "success", result.task_states
    assert result.xcom("wait")["status"] == "expired"


def test_cancel_operator_cancels_and_a_second_cancel_is_a_clear_outcome(make_kimi, storage, task_output):
    make_kimi(hold_new_batches_after=1, cancelling_seconds=0.2)
    result = run_dag("kimi_cancel")
    batch_id = result.xcom("create")
    assert result.xcom("cancel")["status"] == "cancelled"
    counts = result.xcom("cancel")["request_counts"]
    assert result.task_states["cancel_again"] == "success"
    assert result.xcom("cancel_again")["status"] == "cancelled"
    assert result.task_states["wait"] == "failed"
    output = task_output()
    assert f"Batch {batch_id} had already ended cancelled: nothing to cancel." in output
    assert f"Batch {batch_id} was cancelled with {counts['completed']}/3 requests completed" in output


def test_create_can_wait_itself(kimi, storage):
    result = run_dag("kimi_create_and_wait")
    assert result.state == "success", result.task_states
    batch_id = result.xcom("create")
    assert result.xcom("create", "batch_id") == batch_id
    assert result.xcom("create", "batch")["status"] == "completed"


def test_retries_re_attach_to_the_batch_instead_of_paying_twice(make_kimi, storage, task_output):
    # About two seconds of work against one-second tries.
    kimi = make_kimi(time_scale=0.5, requests_per_second=2.0)
    result = run_dag("kimi_create_retry", {"texts": ["a", "b"]})
    assert result.state == "success", result.task_states
    assert kimi.stats()["batches_created"] == 1
    assert kimi.stats()["uploads"] == 1
    assert result.xcom("create", "batch")["status"] == "completed"
    assert "created by an earlier try of this task" in task_output()
