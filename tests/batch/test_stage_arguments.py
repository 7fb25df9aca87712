"""Arguments checked before anything is created: the completion window, metadata, succeed_on."""

from __future__ import annotations

import pytest

from airflow_provider_kimi.batch.metadata import check_metadata
from airflow_provider_kimi.batch.outcome import check_succeed_on, ended_batch_error
from airflow_provider_kimi.batch.windows import parse_completion_window, wait_timeout_for


@pytest.mark.parametrize(("window", "seconds"), [("12h", 43_200), ("24h", 86_400), ("1d", 86_400), ("7d", 604_800)])
def test_windows_kimi_accepts(window, seconds):
    assert parse_completion_window(window) == seconds


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ("11h", "outside Kimi's range of 12h to 7d"),
        ("8d", "outside Kimi's range of 12h to 7d"),
        ("24", "is not a duration like '24h' or '3d'"),
        ("1w", "is not a duration like '24h' or '3d'"),
    ],
)
def test_windows_kimi_refuses(window, message):
    with pytest.raises(ValueError, match=message):
        parse_completion_window(window)


def test_a_wait_outlasts_its_window_by_an_hour():
    assert wait_timeout_for("24h") == 86_400 + 3_600


def test_metadata_within_limits_passes_as_a_plain_dict():
    assert check_metadata({"team": "data"}) == {"team": "data"}
    assert check_metadata(None) is None


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({f"k{i}": "v" for i in range(17)}, "17 pairs; Kimi allows at most 16"),
        ({"k" * 65: "v"}, "is 65 characters; the limit is 64"),
        ({"k": "v" * 513}, r"metadata\['k'\] is 513 characters; the limit is 512"),
        ({"k": 1}, r"metadata\['k'\] must be a string, got int"),
        ({"": "v"}, "must be a non-empty string"),
    ],
)
def test_metadata_beyond_kimis_limits_is_refused(metadata, message):
    with pytest.raises(ValueError, match=message):
        check_metadata(metadata)


def test_succeed_on_takes_only_terminal_statuses():
    assert check_succeed_on(["completed", "expired"]) == ("completed", "expired")
    with pytest.raises(ValueError, match="each entry must be one of cancelled, completed, expired, failed"):
        check_succeed_on(["completed", "in_progress"])
    with pytest.raises(ValueError, match="each entry must be one of"):
        check_succeed_on([])


def test_an_accepted_end_is_no_error_and_others_say_why():
    snapshot = {
        "id": "b1",
        "status": "expired",
        "completion_window": "24h",
        "output_file_id": "o1",
        "error_file_id": "e1",
        "request_counts": {"total": 4, "completed": 2, "failed": 0},
    }
    assert ended_batch_error(snapshot, ("completed", "expired")) is None
    message = ended_batch_error(snapshot)
    assert message is not None
    assert message.startswith("Batch b1 expired: its completion_window 24h passed with 2/4 requests completed")
    assert "output file o1 and error file e1" in message
