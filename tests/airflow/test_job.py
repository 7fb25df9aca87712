"""``kimi_batch_job`` through Airflow's ``dag.test()`` against the local Kimi server."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import openai
import pytest
from dag_runs import run_dag

from airflow_provider_kimi.batch.jobs.planning import as_input_report
from airflow_provider_kimi.batch.results import iter_result_files, read_results_table
from airflow_provider_kimi.batch.validator import Problem, ValidationReport

pytestmark = pytest.mark.timeout(300)

TIME_SCALE = 0.2
VALIDATING = 3.0  # the emulator's default validating_seconds
PER_REQUEST = 0.5  # 1 / the default requests_per_second
# Ten texts: part 1 holds the first eight (max_part_lines=8), part 2 the last two. Text 1 always
# fails with HTTP 500, text 9 with HTTP 400. The completion window closes after 5.5 requests of
# part 1 have run, so texts 5, 6 and 7 expire; round 2 (texts 1, 5, 6, 7) fits in the window.
TEXTS = [
    "Hamlet is a tragedy",
    "[[fail:500]] breaking news",
    "a new AI chip",
    "a poem about rain",
    "the election report",
    "robot software launch",
    "a novel by an author",
    "an iPhone app",
    "scientists announced today",
    "[[fail:400]] a malformed request",
]
WINDOW_SECONDS = 12 * 3600


def expiring_window_scale(requests_before_expiry: float) -> float:
    """The window scale that lets a 12h window close after this many requests of a batch ran."""
    return TIME_SCALE * (VALIDATING + requests_before_expiry * PER_REQUEST) / WINDOW_SECONDS


def inputs_of(folder: Path, number: int) -> list[str]:
    """The custom_ids a round sent, from its part files."""
    ids = []
    for part in sorted((folder / f"round-{number}" / "inputs").glob("*.jsonl")):
        ids += [json.loads(line)["custom_id"] for line in part.read_text().splitlines()]
    return ids


def job_conf(tmp_path: Path) -> dict[str, Any]:
    return {"texts": TEXTS, "results": str(tmp_path / "results")}


def test_a_job_splits_resubmits_merges_in_input_order_and_cleans_up(make_kimi, storage, tmp_path):
    kimi = make_kimi(time_scale=TIME_SCALE, window_scale=expiring_window_scale(5.5))
    client = openai.OpenAI(base_url=kimi.base_url, api_key=kimi.api_key, max_retries=0)
    unrelated = client.files.create(file=("mine.jsonl", b'{"a": 1}\n', "application/jsonl"), purpose="batch")

    result = run_dag("kimi_job", job_conf(tmp_path))

    assert result.state == "success", result.task_states
    manifest = result.xcom("job.cleanup")
    rows = list(read_results_table(manifest["results_path"]))
    # Exactly one row per input request, in input order.
    assert [row["custom_id"] for row in rows] == [f"text-{n:03d}" for n in range(len(TEXTS))]
    by_id = {row["custom_id"]: row for row in rows}
    # The expired ones succeeded in round 2.
    for number in (5, 6, 7):
        assert by_id[f"text-{number:03d}"]["status"] == "succeeded"
        assert by_id[f"text-{number:03d}"]["round"] == 2
        assert by_id[f"text-{number:03d}"]["content"]
    # The 500 was sent in every round and ends failed; the 400 was never sent again.
    assert by_id["text-001"]["status"] == "failed"
    assert by_id["text-001"]["error"]["http_status"] == 500
    assert by_id["text-001"]["round"] == 3
    assert by_id["text-009"]["status"] == "failed"
    assert by_id["text-009"]["error"]["http_status"] == 400
    assert by_id["text-009"]["round"] == 1
    folder = tmp_path / "results"
    assert "text-001" in inputs_of(folder, 2)
    assert inputs_of(folder, 3) == ["text-001"]
    assert "text-009" not in inputs_of(folder, 2)
    assert sorted(inputs_of(folder, 2)) == ["text-001", "text-005", "text-006", "text-007"]
    # The manifest.
    assert manifest["parts"] == 2
    assert manifest["rounds"] == 3
    assert manifest["counts"] == {"succeeded": 8, "failed": 2, "expired": 0, "cancelled": 0}
    assert manifest["resubmitted"] == 5  # four in round 2, one in round 3
    assert len(manifest["batch_ids"]) == 4 == kimi.stats()["batches_created"]
    assert manifest["completion_tokens"] > 0
    assert manifest["prompt_tokens"] > 0
    assert manifest["estimated_cost_usd"] is not None
    assert manifest["estimated_cost_usd"] > 0
    # The bill: every result line of every round, not only the rows that made the table.
    every_line = list(iter_result_files(sorted(folder.glob("round-*/results/*.jsonl"))))
    assert manifest["prompt_tokens"] == sum(line.prompt_tokens for line in every_line)
    assert manifest["completion_tokens"] == sum(line.completion_tokens for line in every_line)
    assert manifest["prompt_tokens"] >= sum(row["usage"]["prompt_tokens"] for row in rows)
    # Cleanup: none of the job's files is left on the server; the user's own file is.
    left = [file.id for file in client.files.list().data]
    assert left == [unrelated.id]
    assert unrelated.id not in manifest["deleted_files"]
    made = set()
    for batch_id in manifest["batch_ids"]:
        batch = client.batches.retrieve(batch_id)
        made |= {batch.input_file_id, batch.output_file_id, batch.error_file_id} - {None}
    assert sorted(manifest["deleted_files"]) == sorted(made)
    assert len(made) == 11  # 4 inputs; outputs of 3 batches (round 3 has none); 4 error files


def test_retried_tasks_in_the_middle_create_no_extra_batch(make_kimi, storage, tmp_path, monkeypatch):
    # Every API call may fail (HTTP 500) or be acted on and left unanswered ("lost"), and the
    # client does not retry: Airflow retries the tasks, which must re-attach, never pay twice.
    kimi = make_kimi(
        time_scale=TIME_SCALE,
        window_scale=expiring_window_scale(5.5),
        faults={"500": 0.08, "lost": 0.04},
        seed=13,
    )
    conn = {"conn_type": "kimi", "host": kimi.base_url, "password": kimi.api_key, "extra": {"max_retries": 0}}
    monkeypatch.setenv("AIRFLOW_CONN_KIMI_DEFAULT", json.dumps(conn))

    result = run_dag("kimi_job_retried", job_conf(tmp_path))

    assert result.state == "success", result.task_states
    stats = kimi.stats()
    assert stats["faults"].get("500", 0) > 0
    assert stats["faults"].get("lost", 0) > 0
    manifest = result.xcom("job.cleanup")
    assert len(manifest["batch_ids"]) == 4 == stats["batches_created"]
    rows = list(read_results_table(manifest["results_path"]))
    assert [row["custom_id"] for row in rows] == [f"text-{n:03d}" for n in range(len(TEXTS))]
    assert openai.OpenAI(base_url=kimi.base_url, api_key=kimi.api_key).files.list().data == []


def cancel_first_batch_once_held(client: openai.OpenAI, after_requests: int) -> threading.Thread:
    """Cancel the first batch once it has run ``after_requests`` requests, as a user would."""

    def run() -> None:
        deadline = time.monotonic() + 240  # the first DAG run of a session also sets up Airflow's database
        while time.monotonic() < deadline:
            for batch in client.batches.list().data:
                counts = batch.request_counts
                if counts is not None and counts.completed + counts.failed >= after_requests:
                    client.batches.cancel(batch.id)
                    return
            time.sleep(0.05)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_cancelled_batch_ends_resubmission_and_its_requests_stay_cancelled(make_kimi, storage, tmp_path):
    kimi = make_kimi(time_scale=TIME_SCALE, hold_new_batches_after=3)
    canceller = cancel_first_batch_once_held(openai.OpenAI(base_url=kimi.base_url, api_key=kimi.api_key), 3)

    result = run_dag("kimi_job", {"texts": TEXTS[:6], "results": str(tmp_path / "results")})
    canceller.join()

    assert result.state == "success", result.task_states
    manifest = result.xcom("job.cleanup")
    # Text 1's HTTP 500 is not sent again either: the user stopped the job.
    assert manifest["counts"] == {"succeeded": 2, "failed": 1, "expired": 0, "cancelled": 3}
    assert "was cancelled" in manifest["stopped"]
    assert manifest["resubmitted"] == 0
    assert manifest["rounds"] == 1
    assert kimi.stats()["batches_created"] == 1
    assert result.task_states["job.round_2.plan"] == "skipped"
    assert result.task_states["job.round_3.plan"] == "skipped"
    rows = list(read_results_table(manifest["results_path"]))
    assert [row["status"] for row in rows] == ["succeeded", "failed", "succeeded"] + ["cancelled"] * 3


def test_a_failed_job_keeps_its_files_and_says_so(make_kimi, storage, tmp_path, task_output):
    kimi = make_kimi(time_scale=0)

    result = run_dag("kimi_job_strict", {"texts": TEXTS, "results": str(tmp_path / "results")})

    assert result.state == "failed"
    assert result.task_states["job.merge"] == "failed"
    assert result.task_states["job.cleanup"] == "failed"
    client = openai.OpenAI(base_url=kimi.base_url, api_key=kimi.api_key)
    kept = [file.id for file in client.files.list().data]
    assert len(kept) == 3  # the input, output and error files of the one batch: nothing was deleted
    output = task_output()
    assert "max_failed_ratio 0.0%" in output
    assert "The job did not finish, so its 3 files on Kimi are kept (they may hold paid results)" in output
    assert all(file_id in output for file_id in kept)


def test_a_bad_line_fails_the_split_naming_the_input_line_before_any_upload(make_kimi, storage, tmp_path, task_output):
    kimi = make_kimi(time_scale=0)

    conf = {"texts": TEXTS, "results": str(tmp_path / "results"), "model": "gpt-4o"}
    result = run_dag("kimi_job", conf)

    assert result.task_states["job.split"] == "failed"
    assert kimi.stats()["uploads"] == 0
    output = task_output()
    assert "requests.jsonl:1: body.model:" in output
    assert "requests.jsonl:8: body.model:" in output


def test_allowed_models_fail_the_split_before_any_upload(make_kimi, storage, tmp_path, task_output):
    kimi = make_kimi(time_scale=0)

    result = run_dag("kimi_job_k26_only", job_conf(tmp_path))  # the lines name kimi-k2.5

    assert result.task_states["job.split"] == "failed"
    assert kimi.stats()["uploads"] == 0
    output = task_output()
    assert "requests.jsonl:1: body.model:" in output
    assert f"requests.jsonl:{len(TEXTS)}: body.model:" in output


def test_a_part_problem_is_named_by_its_line_in_the_input():
    report = ValidationReport(
        file="parts/requests.part-0002.jsonl",
        problems=[Problem(0, "file", "file is empty"), Problem(3, "body.model", "unknown model")],
        total_problems=2,
    )
    shifted = as_input_report(report, "s3://bucket/requests.jsonl", first_line=101)
    assert shifted.problem_lines() == [
        "s3://bucket/requests.jsonl:0: file: file is empty",
        "s3://bucket/requests.jsonl:103: body.model: unknown model",
    ]


def test_max_cost_usd_stops_the_job_before_anything_is_paid_for(make_kimi, storage, tmp_path, task_output):
    kimi = make_kimi(time_scale=0)

    result = run_dag("kimi_job_cost_cap", job_conf(tmp_path))

    assert result.task_states["job.split"] == "failed"
    assert kimi.stats()["uploads"] == 0
    assert "over max_cost_usd $0.00; nothing was uploaded" in task_output()


def test_parquet_table_without_cleanup_keeps_the_files(make_kimi, storage, tmp_path):
    # The parquet extra is in the dev environments of Airflow 3.3 and 2.11; the floors lane
    # installs the provider's required dependencies only.
    pytest.importorskip("pyarrow", reason="the parquet extra (pyarrow) is not installed")
    kimi = make_kimi(time_scale=0)

    result = run_dag("kimi_job_no_cleanup", job_conf(tmp_path))

    assert result.state == "success", result.task_states
    assert "job.cleanup" not in result.task_states
    manifest = result.xcom("job.merge")
    assert manifest["results_path"].endswith("results.parquet")
    assert manifest["deleted_files"] == []
    rows = list(read_results_table(manifest["results_path"]))
    assert [row["custom_id"] for row in rows] == [f"text-{n:03d}" for n in range(len(TEXTS))]
    assert rows[0]["usage"]["completion_tokens"] > 0
    assert rows[9]["error"]["http_status"] == 400
    assert openai.OpenAI(base_url=kimi.base_url, api_key=kimi.api_key).files.list().data != []


def test_kimi_batch_cleanup_deletes_the_batch_files_after_the_download(make_kimi, storage, tmp_path):
    kimi = make_kimi(time_scale=0)

    result = run_dag("kimi_task_group_cleanup", {"texts": TEXTS, "results": str(tmp_path / "results")})

    assert result.state == "success", result.task_states
    deleted = result.xcom("kimi_batch.cleanup")
    batch = result.xcom("kimi_batch.wait")
    assert sorted(deleted) == sorted([batch["input_file_id"], batch["output_file_id"], batch["error_file_id"]])
    assert openai.OpenAI(base_url=kimi.base_url, api_key=kimi.api_key).files.list().data == []
    assert (tmp_path / "results" / f"{batch['id']}.output.jsonl").exists()
