"""The batch snapshot that travels by XCom, and the progress line each check logs."""

from __future__ import annotations

import pytest

from airflow_provider_kimi.batch.snapshot import batch_id_of, batch_snapshot, describe_progress, format_duration

BATCH = {
    "id": "b1",
    "status": "in_progress",
    "input_file_id": "f1",
    "output_file_id": None,
    "error_file_id": None,
    "completion_window": "24h",
    "request_counts": {"total": 1000, "completed": 412, "failed": 3},
    "created_at": 1_000,
    "metadata": {"team": "data"},
}


def test_the_progress_line_shows_status_counts_and_elapsed_time():
    line = describe_progress(batch_snapshot(BATCH), now=1_000 + 7 * 60 + 5)
    assert line == "Batch b1: in_progress, 412/1000 completed, 3 failed, 7m 05s elapsed"


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (42, "42s"), (185, "3m 05s"), (7620, "2h 07m"), (97_200, "1d 03h")]
)
def test_durations_read_short(seconds, text):
    assert format_duration(seconds) == text


def test_the_snapshot_keeps_ids_counts_and_reported_errors_only():
    errors = {"data": [{"line": 2, "param": "body.model", "message": "model not found", "code": "x"}]}
    snapshot = batch_snapshot({**BATCH, "status": "failed", "errors": errors, "usage": {"big": "object"}})
    assert snapshot["errors"] == ["line 2, body.model: model not found"]
    assert snapshot["request_counts"] == {"total": 1000, "completed": 412, "failed": 3}
    assert "usage" not in snapshot


@pytest.mark.parametrize("value", [None, "", "  ", 7, {"status": "completed"}])
def test_a_missing_batch_id_is_a_clear_error(value):
    with pytest.raises(ValueError, match="Expected a Kimi batch id"):
        batch_id_of(value)


def test_a_batch_dict_stands_for_its_id():
    assert batch_id_of({"id": " b1 "}) == "b1"
