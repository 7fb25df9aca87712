"""Whole DAGs through Airflow's ``dag.test()`` against a local Kimi server: every stage a task."""

from __future__ import annotations

import threading
import time

import openai
import pytest
from dag_runs import run_dag

pytestmark = pytest.mark.timeout(180)


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
    # Both tasks give the UI a button to the batch.
    for task_id in ("create", "wait"):
        assert result.xcom(task_id, "_link_KimiBatchConsoleLink") == f"{kimi.base_url}/batches/{batch_id}"
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


def test_allowed_models_lets_a_new_model_through_and_holds_the_others(kimi, storage, task_output):
    assert run_dag("kimi_upload_for_a_new_model", {"model": "kimi-k3"}).state == "success"
    refused = run_dag("kimi_upload_for_a_new_model", {"model": "kimi-k2.5"})
    assert refused.task_states["upload"] == "failed"
    assert 'body.model: "kimi-k2.5" is not a batch model (expected one of: kimi-k3)' in task_output()
    assert kimi.stats()["uploads"] == 1


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
    # Cancelled while validating, a batch has counted nothing yet: the message says what it counted.
    assert f"Batch {batch_id} was cancelled with {counts['completed']}/{counts['total']} requests completed" in output


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


def download(dag_id: str, storage, conf: dict | None = None) -> tuple:
    results = storage / "results"
    return run_dag(dag_id, {"results": f"file://{results}", **(conf or {})}), results


def test_download_accounts_for_successes_failures_and_missing_requests(kimi, storage):
    texts = ["fine", "broken [[fail:400]]", "also fine", "down [[fail:500]]"]
    result, results = download("kimi_download", storage, {"texts": texts})
    assert result.state == "success", result.task_states
    manifest = result.xcom("download")
    batch_id = result.xcom("create")
    assert manifest["output_path"] == f"file://{results}/{batch_id}.output.jsonl"
    assert manifest["error_path"] == f"file://{results}/{batch_id}.error.jsonl"
    assert (results / f"{batch_id}.output.jsonl").stat().st_size == manifest["output_bytes"] > 0
    summary = manifest["summary"]
    assert (summary["succeeded"], summary["failed"], summary["missing"]) == (2, 2, 1)
    assert summary["missing_custom_ids"] == ["never-1"]
    assert summary["prompt_tokens"] > 0
    assert 0 < summary["estimated_cost_usd"] < summary["realtime_cost_usd"]
    assert sorted(e["message"][:8] for e in summary["top_errors"]) == ["HTTP 400", "HTTP 500"]
    assert sorted(p.name for p in results.iterdir()) == [f"{batch_id}.error.jsonl", f"{batch_id}.output.jsonl"]


def test_download_counts_and_warns_of_answers_cut_at_max_tokens(kimi, storage, task_output):
    result, _ = download("kimi_download", storage, {"texts": ["a", "b"], "max_tokens": 2})
    assert result.state == "success", result.task_states
    summary = result.xcom("download")["summary"]
    assert (summary["succeeded"], summary["truncated"]) == (2, 2)
    assert sorted(summary["truncated_custom_ids"]) == ["request-1", "request-2"]
    assert "Truncated: 2 answers stopped at max_tokens" in task_output()


def test_an_all_failed_batch_has_no_output_file_and_fails_a_strict_download(kimi, storage, task_output):
    result, _ = download("kimi_download_strict", storage, {"texts": ["x [[fail:400]]", "y [[fail:400]]"]})
    assert result.xcom("wait")["status"] == "completed"
    assert result.xcom("wait")["output_file_id"] is None
    assert result.task_states["download"] == "failed"
    output = task_output()
    assert "KimiResultsPolicyError" in output
    assert "Too many failures: 3 of 3 requests did not succeed" in output
    assert "2 x HTTP 400" in output


def test_an_expired_batch_still_yields_the_results_already_paid_for(make_kimi, storage):
    # Two requests run, then the batch holds until its (scaled) 24h window passes.
    kimi = make_kimi(time_scale=0.2, requests_per_second=10, window_scale=3e-5)
    kimi.hold_new_batches(2)
    result, _ = download("kimi_download", storage, {"texts": ["a", "b", "c", "d"]})
    assert result.state == "success", result.task_states
    assert result.xcom("wait")["status"] == "expired"
    summary = result.xcom("download")["summary"]
    assert (summary["succeeded"], summary["expired"], summary["missing"]) == (2, 2, 1)


def test_a_cancelled_batch_still_yields_the_results_already_paid_for(make_kimi, storage):
    kimi = make_kimi(time_scale=0.2, requests_per_second=10, cancelling_seconds=0.5)
    kimi.hold_new_batches(3)
    client = openai.OpenAI(api_key=kimi.api_key, base_url=kimi.base_url)
    cancelled: list[str] = []

    def cancel_once_three_are_done() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not cancelled:
            for batch in client.batches.list().data:
                if batch.request_counts and batch.request_counts.completed == 3:
                    client.batches.cancel(batch.id)
                    cancelled.append(batch.id)
            time.sleep(0.05)

    canceller = threading.Thread(target=cancel_once_three_are_done, daemon=True)
    canceller.start()
    result, _ = download("kimi_download", storage, {"texts": ["a", "b", "c", "d", "e"]})
    canceller.join(timeout=5)
    assert result.state == "success", result.task_states
    assert cancelled == [result.xcom("create")]
    assert result.xcom("wait")["status"] == "cancelled"
    summary = result.xcom("download")["summary"]
    assert (summary["succeeded"], summary["cancelled"], summary["missing"]) == (3, 2, 1)


def test_the_task_group_runs_every_stage_as_its_own_task(kimi, storage):
    result, results = download("kimi_task_group", storage, {"texts": ["a", "b", "c"]})
    assert result.state == "success", result.task_states
    stages = ["kimi_batch.upload", "kimi_batch.create", "kimi_batch.wait", "kimi_batch.download"]
    assert [result.task_states[task_id] for task_id in stages] == ["success"] * 4
    manifest = result.xcom("kimi_batch.download")
    assert manifest["batch_id"] == result.xcom("kimi_batch.create")
    assert manifest["summary"]["succeeded"] == 3
    assert manifest["summary"]["missing"] == 0
    assert (results / f"{manifest['batch_id']}.output.jsonl").exists()
