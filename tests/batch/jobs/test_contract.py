"""What a job's tasks hand each other is checked when read back, and a bad value names its task and key."""

from __future__ import annotations

import pytest

from airflow_provider_kimi.batch.jobs.contract import (
    JobContractError,
    read_downloads,
    read_manifest,
    read_parts,
    read_plan,
)

PART = {"path": "/tmp/p.jsonl", "lines": 3, "bytes": 90, "model": "kimi-k2.5"}
DOWNLOAD = {
    "batch_id": "b1",
    "status": "completed",
    "output_path": "/tmp/b1.output.jsonl",
    "error_path": None,
    "output_bytes": 10,
    "error_bytes": 0,
    "summary": {"prompt_tokens": 5},
}


def test_values_the_tasks_write_read_back_as_they_are():
    assert read_parts([PART], task_id="job.split") == [PART]
    assert read_parts(None, task_id="job.split") is None
    assert read_downloads([DOWNLOAD], task_id="job.round_1.download", count=1) == [DOWNLOAD]
    plan = {"round": 2, "requests": 1, "reasons": {"expired": 1}, "stopped": None, "spent": {}}
    assert read_plan(plan, task_id="job.round_2.plan") == plan
    assert read_manifest(None, task_id="job.merge") is None


@pytest.mark.parametrize(
    ("read", "value", "message"),
    [
        (
            lambda v: read_parts(v, task_id="job.split"),
            "a string",
            r"XCom 'parts' of task 'job.split' should be a list",
        ),
        (
            lambda v: read_parts(v, task_id="job.split"),
            [{**PART, "lines": "3"}],
            r"XCom 'parts' of task 'job.split', part 0: 'lines' should be int, got '3'",
        ),
        (
            lambda v: read_parts(v, task_id="job.split"),
            [{"path": "/tmp/p.jsonl"}],
            r"part 0 should be a part but has no 'lines'",
        ),
        (
            lambda v: read_downloads(v, task_id="job.round_1.download", count=2),
            [DOWNLOAD],
            r"'return_value' of task 'job.round_1.download' should hold one manifest per part \(2\), got 1",
        ),
        (
            lambda v: read_downloads(v, task_id="job.round_1.download", count=1),
            [{**DOWNLOAD, "batch_id": None}],
            r"task 'job.round_1.download' \(map index 0\): 'batch_id' should be str, got None",
        ),
        (
            lambda v: read_plan(v, task_id="job.round_2.plan"),
            {"round": True, "requests": 1, "reasons": {}, "stopped": None, "spent": {}},
            r"XCom 'plan' of task 'job.round_2.plan': 'round' should be int, got True",
        ),
        (
            lambda v: read_manifest(v, task_id="job.merge"),
            {"rows": 3},
            r"XCom 'return_value' of task 'job.merge' should be the job's manifest but has no 'results_path'",
        ),
    ],
)
def test_a_value_that_is_not_what_the_tasks_write_names_the_task_and_the_key(read, value, message):
    with pytest.raises(JobContractError, match=message):
        read(value)
