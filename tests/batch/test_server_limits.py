"""Reading the server's rate-limit headers and deciding when to send (pure, no sleeping)."""

from __future__ import annotations

import pytest

from airflow_provider_kimi.batch.send.budget import RequestBudget
from airflow_provider_kimi.batch.send.server_limit import (
    PROBE_HOLD_SECONDS,
    RateLimitReading,
    ServerRateLimit,
    parse_reset,
    read_rate_limit,
)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("12", 12.0), ("0.5", 0.5), ("1m30s", 90.0), ("250ms", 0.25), ("2000000010", 10.0), ("soon", None), (None, None)],
)
def test_reset_forms(value, seconds):
    assert parse_reset(value, now_epoch=2_000_000_000.0) == seconds


def test_headers_in_any_case():
    reading = read_rate_limit({"X-RateLimit-Limit": "20", "x-ratelimit-remaining": "0", "X-RATELIMIT-RESET": "3"}, 0)
    assert reading == RateLimitReading(20, 0, 3.0)
    assert read_rate_limit({"content-type": "application/json"}, 0) is None


def wait_of(limit: ServerRateLimit, now: float) -> float:
    return limit.claim(now)[0]


def test_waits_for_reset_when_nothing_is_left():
    limit = ServerRateLimit()
    wait, first = limit.claim(0.0)  # nothing known yet: one goes first, the others hold
    assert wait == 0.0
    assert wait_of(limit, 0.1) == pytest.approx(PROBE_HOLD_SECONDS - 0.1)
    limit.observe(RateLimitReading(20, 2, 5.0), now=0.2, ticket=first)
    assert limit.limit == 20
    # The two left are spent locally, then callers wait for the reset.
    assert (wait_of(limit, 0.2), wait_of(limit, 0.2)) == (0.0, 0.0)
    assert wait_of(limit, 1.2) == pytest.approx(4.0)
    limit.observe(RateLimitReading(20, 0, 3.0), now=2.0)
    assert wait_of(limit, 2.0) == pytest.approx(3.0)
    # At the reset one request goes to find out; the next holds until it answers.
    wait, probe = limit.claim(5.0)
    assert wait == 0.0
    assert wait_of(limit, 5.0) == pytest.approx(PROBE_HOLD_SECONDS)
    limit.observe(RateLimitReading(20, 5, 1.0), now=5.2, ticket=probe)
    assert wait_of(limit, 5.2) == 0.0


def test_budget_adopts_an_announced_limit():
    budget = RequestBudget(200)
    assert budget.reserve(0.0) == 0.0
    budget.adopt_limit(20)
    assert (budget.requests_per_minute, budget.configured_per_minute) == (20, 200)
    # 60 s of the limit plus the budget's one-second window margin, over 20 requests.
    assert budget.reserve(0.0) == pytest.approx(3.05)
    assert budget.reserve(0.0) == pytest.approx(6.1)
    budget.adopt_limit(0)  # no limit announced: nothing changes
    assert budget.spacing == pytest.approx(3.05)


def test_a_server_without_headers_is_not_held_back():
    limit = ServerRateLimit()
    assert wait_of(limit, 0.0) == 0.0
    limit.observe(None, now=0.1)
    assert [wait_of(limit, 0.1) for _ in range(5)] == [0.0] * 5


def test_only_the_answer_to_the_last_request_sent_can_raise_the_count():
    limit = ServerRateLimit()
    limit.observe(RateLimitReading(4, 3, 10.0), now=0.0)
    tickets = [limit.claim(0.0) for _ in range(3)]
    assert [wait for wait, _ in tickets] == [0.0, 0.0, 0.0]
    # The first of those three answers late, counted before the other two reached the server.
    limit.observe(RateLimitReading(4, 2, 10.0), now=0.1, ticket=tickets[0][1])
    assert wait_of(limit, 0.1) == pytest.approx(9.9)
    # The last one sent sees everything sent before it: believed, even when it says more is left.
    limit.observe(RateLimitReading(4, 1, 0.5), now=0.2, ticket=tickets[2][1])
    assert wait_of(limit, 0.2) == 0.0
