"""The failure policy: is a batch beyond its allowed share or count of unanswered requests?"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from airflow_provider_kimi.batch.policy import check_failures
from airflow_provider_kimi.batch.summary import ErrorCount, ResultSummary, summarize

# 100 requests: 80 answered, 20 not (12 failed, 5 expired, 3 missing).
SUMMARY = ResultSummary(
    succeeded=80,
    failed=12,
    expired=5,
    missing=3,
    top_errors=(
        ErrorCount("HTTP 429 rate_limit_reached_error: slow down", 7),
        ErrorCount("batch_expired: window closed", 5),
        ErrorCount("HTTP 400 invalid_request_error: bad image", 4),
        ErrorCount("HTTP 500 server_error: boom", 1),
    ),
)


def test_below_ratio() -> None:
    outcome = check_failures(SUMMARY, max_failed_ratio=0.25)
    assert not outcome.exceeded
    assert (outcome.unsuccessful, outcome.total, outcome.ratio) == (20, 100, 0.2)
    assert outcome.message.startswith(
        "20 of 100 requests did not succeed (20%: failed 12, expired 5, missing 3), within the allowed 25%."
    )


def test_above_ratio_lists_top_errors_most_frequent_first() -> None:
    outcome = check_failures(SUMMARY, max_failed_ratio=0.1, top_errors=3)
    assert outcome.exceeded
    assert outcome.message == (
        "Too many failures: 20 of 100 requests did not succeed (20%: failed 12, expired 5, missing 3), "
        "more than the allowed 10%. Top errors: 7 x HTTP 429 rate_limit_reached_error: slow down; "
        "5 x batch_expired: window closed; 4 x HTTP 400 invalid_request_error: bad image"
    )


def test_limits_are_inclusive() -> None:
    assert not check_failures(SUMMARY, max_failed_ratio=0.2).exceeded
    assert not check_failures(SUMMARY, max_failed_count=20).exceeded
    assert check_failures(SUMMARY, max_failed_count=19).exceeded


def test_count_and_ratio_together_either_exceeds() -> None:
    outcome = check_failures(SUMMARY, max_failed_ratio=0.5, max_failed_count=10)
    assert outcome.exceeded
    assert "more than the allowed 50% or 10 requests" in outcome.message
    assert "within the allowed 50% and 30 requests" in check_failures(SUMMARY, 0.5, 30).message


def test_no_limit_exceeds_nothing() -> None:
    outcome = check_failures(SUMMARY)
    assert not outcome.exceeded
    assert outcome.message.startswith("20 of 100 requests did not succeed (20%: ")


def test_empty_batch() -> None:
    outcome = check_failures(ResultSummary(), max_failed_ratio=0.0, max_failed_count=0)
    assert not outcome.exceeded
    assert outcome.ratio == 0.0
    assert outcome.message == "0 of 0 requests did not succeed (0%), within the allowed 0% and 0 requests"


def test_all_answered_has_no_error_list() -> None:
    outcome = check_failures(ResultSummary(succeeded=3), max_failed_ratio=0.0)
    assert not outcome.exceeded
    assert "Top errors" not in outcome.message


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"max_failed_ratio": 1.5}, "between 0 and 1"), ({"max_failed_count": -1}, "negative")],
)
def test_invalid_limits(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        check_failures(SUMMARY, **kwargs)


def test_from_real_files(tmp_path: Path) -> None:
    def failed(custom_id: str, status: int, kind: str, message: str) -> bytes:
        line = {
            "id": custom_id,
            "custom_id": custom_id,
            "response": {
                "status_code": status,
                "request_id": "",
                "body": {"error": {"type": kind, "message": message}},
            },
            "error": None,
        }
        return orjson.dumps(line) + b"\n"

    error = tmp_path / "error.jsonl"
    error.write_bytes(
        failed("a", 500, "server_error", "boom")
        + failed("b", 400, "content_filter", "refused")
        + failed("c", 400, "content_filter", "refused")
    )
    outcome = check_failures(summarize(None, error), max_failed_ratio=0.5)
    assert outcome.exceeded
    assert outcome.message.endswith("Top errors: 2 x HTTP 400 content_filter: refused; 1 x HTTP 500 server_error: boom")
