"""The interval policy and the request budget: pure arithmetic over clock readings."""

from __future__ import annotations

import pytest

from airflow_provider_kimi.batch.send.budget import MAX_CONCURRENT_REQUESTS, RequestBudget, concurrent_requests_for
from airflow_provider_kimi.batch.wait.interval import adaptive_poll_interval

# -- the interval policy ------------------------------------------------------------------------


def test_the_interval_is_the_base_for_a_young_batch():
    assert adaptive_poll_interval(60, 0) == 60
    assert adaptive_poll_interval(60, 600) == 60


def test_the_interval_grows_with_the_batch_age():
    assert adaptive_poll_interval(60, 1200) == pytest.approx(120)
    assert adaptive_poll_interval(60, 3600) == pytest.approx(360)
    assert adaptive_poll_interval(10, 3600) == pytest.approx(60)


def test_the_interval_is_capped_at_ten_times_the_base_and_at_ten_minutes():
    assert adaptive_poll_interval(10, 7 * 86400) == 100
    assert adaptive_poll_interval(120, 7 * 86400) == 600


def test_the_interval_never_drops_below_a_large_base():
    assert adaptive_poll_interval(900, 7 * 86400) == 900


def test_the_interval_never_shrinks_as_the_batch_ages():
    intervals = [adaptive_poll_interval(30, age) for age in range(0, 3 * 86400, 60)]
    assert intervals == sorted(intervals)


# -- the request budget --------------------------------------------------------------------------


def test_the_budget_spaces_send_times_by_its_rate():
    budget = RequestBudget(200)
    times = [budget.reserve(now=0.0) for _ in range(5)]
    assert times == pytest.approx([0.0, 0.305, 0.61, 0.915, 1.22])


def test_no_minute_carries_more_than_the_limit_even_with_a_second_of_jitter():
    budget = RequestBudget(200)
    times = [budget.reserve(now=0.0) for _ in range(1000)]
    # Any 60 s window, with each request arriving up to half a second early or late.
    for start in times[:500]:
        in_window = sum(1 for t in times if start - 1.0 < t < start + 60.0)
        assert in_window <= 200
    assert sum(1 for t in times if t < 60.0) >= 195


def test_next_free_shows_the_next_send_time_without_claiming_it():
    budget = RequestBudget(60)
    assert budget.next_free(5.0) == 5.0
    assert budget.reserve(5.0) == 5.0
    assert budget.next_free(5.0) == pytest.approx(6.0167, abs=1e-3)
    assert budget.next_free(5.0) == budget.reserve(5.0)


def test_an_unlimited_budget_sends_at_once():
    budget = RequestBudget(0)
    assert [budget.reserve(now=5.0) for _ in range(3)] == [5.0, 5.0, 5.0]


def test_a_429_pauses_every_caller_for_the_retry_after():
    budget = RequestBudget(0)
    sent = budget.reserve(now=10.0)
    assert sent is not None
    assert budget.rate_limited(now=10.1, sent_at=sent, retry_after=5.0) == pytest.approx(15.1)
    assert budget.is_paused(12.0)
    assert budget.reserve(now=12.0) == pytest.approx(15.1)


def test_the_pause_doubles_per_429_without_retry_after_and_resets_on_success():
    budget = RequestBudget(0)
    pauses = []
    now = 0.0
    for _ in range(4):
        sent = budget.reserve(now)
        assert sent is not None
        now = sent + 0.1
        pauses.append(budget.rate_limited(now, sent) - now)
    assert pauses == pytest.approx([1.0, 2.0, 4.0, 8.0])
    budget.succeeded()
    assert budget.rate_limited(100.0, 100.0) - 100.0 == pytest.approx(1.0)


def test_requests_in_flight_when_a_pause_began_do_not_lengthen_it():
    budget = RequestBudget(0)
    in_flight = [budget.reserve(0.0) for _ in range(8)]
    ends = [budget.rate_limited(0.5, sent_at) for sent_at in in_flight if sent_at is not None]
    assert ends == pytest.approx([1.5] * 8)
    assert budget.strikes == 1


def test_a_negative_budget_is_refused():
    with pytest.raises(ValueError, match=">= 0"):
        RequestBudget(-1)


def test_in_flight_requests_follow_the_budget_within_a_few():
    assert concurrent_requests_for(200) == 2
    assert concurrent_requests_for(5000) == MAX_CONCURRENT_REQUESTS
    assert concurrent_requests_for(0) == MAX_CONCURRENT_REQUESTS
