"""One backoff curve, and the one reading of Retry-After."""

from __future__ import annotations

import email.utils

import pytest

from airflow_provider_kimi.batch.wait.backoff import RATE_LIMIT_BACKOFF, RETRY_BACKOFF, Backoff, retry_after_seconds


def test_the_retry_curve_doubles_from_half_a_second_up_to_eight():
    assert [RETRY_BACKOFF.delay(n) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]


def test_jitter_takes_off_up_to_a_quarter():
    assert RETRY_BACKOFF.delay(2, draw=0.0) == 2.0
    assert RETRY_BACKOFF.delay(2, draw=0.999) == pytest.approx(1.5, abs=1e-2)


def test_the_rate_limit_pause_doubles_from_one_second_up_to_two_minutes():
    assert [RATE_LIMIT_BACKOFF.delay(n) for n in (0, 1, 2, 7, 8, 50)] == [1, 2, 4, 120, 120, 120]


def test_a_huge_attempt_count_does_not_overflow():
    assert Backoff(first=1.0, cap=5.0).delay(10_000) == 5.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "250"}, 0.25),
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after-ms": "100", "retry-after": "9"}, 0.1),
        ({}, None),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "-4"}, 0.0),
    ],
)
def test_retry_after_is_read_from_either_header(headers, expected):
    assert retry_after_seconds(headers, now_epoch=0.0) == expected


def test_retry_after_as_an_http_date_is_seconds_from_now():
    now = 2_000_000_000.0
    headers = {"retry-after": email.utils.formatdate(now + 30, usegmt=True)}
    assert retry_after_seconds(headers, now_epoch=now) == pytest.approx(30.0)
