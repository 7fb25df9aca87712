"""The pacer's decisions: one budget, one server limit, one retry rule, for every request (no sleeping)."""

from __future__ import annotations

import pytest

from airflow_provider_kimi.batch.send.budget import RequestBudget
from airflow_provider_kimi.batch.send.pacer import Pacer
from airflow_provider_kimi.batch.send.server_limit import ServerRateLimit


def pacer(rpm: float = 0, retries: int = 3, learn: bool = False) -> Pacer:
    return Pacer(RequestBudget(rpm), ServerRateLimit(), retries=retries, learn_limit=learn)


def send(p: Pacer, now: float) -> tuple[int, float]:
    at = p.reserve(now)
    turn = p.turn(at)
    assert turn.ticket is not None
    return turn.ticket, at


def test_a_429_pauses_every_other_request_for_the_retry_after():
    p = pacer()
    ticket, sent = send(p, 0.0)
    waiting = p.reserve(0.05)  # another caller, its slot claimed before the 429 came
    verdict = p.answered(
        429, {"retry-after-ms": "300"}, attempt=0, last=False, sent_at=sent, ticket=ticket, now=0.1, now_epoch=0.0
    )
    assert verdict.retry
    other = p.turn(max(waiting, 0.2))  # its turn comes mid-pause: a new slot after it
    assert other.ticket is None
    assert other.again_at == pytest.approx(0.4)
    assert p.reserve(0.2) == pytest.approx(0.4)  # and a caller arriving now is scheduled after it too


def test_transient_answers_are_retried_along_the_backoff_and_the_last_try_is_returned():
    p = pacer()
    ticket, sent = send(p, 0.0)
    kwargs = {"sent_at": sent, "ticket": ticket, "now": 0.1, "now_epoch": 0.0}
    assert p.answered(503, {}, attempt=0, last=False, **kwargs).delay == 0.5
    assert p.answered(503, {}, attempt=2, last=False, **kwargs).delay == 2.0
    assert not p.answered(503, {}, attempt=3, last=True, **kwargs).retry
    assert not p.answered(400, {}, attempt=0, last=False, **kwargs).retry
    assert not p.answered(200, {}, attempt=0, last=False, **kwargs).retry
    assert not p.answered(500, {"x-should-retry": "false"}, attempt=0, last=False, **kwargs).retry


def test_no_answer_is_retried_unless_it_was_the_last_try():
    p = pacer()
    assert p.unanswered(attempt=1, last=False).delay == 1.0
    assert not p.unanswered(attempt=1, last=True).retry


def test_the_budget_adopts_the_announced_limit_only_when_the_connection_set_none():
    learning, keeping = pacer(200, learn=True), pacer(200, learn=False)
    for p in (learning, keeping):
        ticket, sent = send(p, 0.0)
        p.answered(
            200, {"x-ratelimit-limit": "30"}, attempt=0, last=False, sent_at=sent, ticket=ticket, now=0.1, now_epoch=0
        )
    assert learning.budget.requests_per_minute == 30
    assert keeping.budget.requests_per_minute == 200


def test_a_request_waits_for_the_server_reset_when_nothing_is_left():
    p = pacer()
    ticket, sent = send(p, 0.0)
    headers = {"x-ratelimit-limit": "5", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "2"}
    p.answered(200, headers, attempt=0, last=False, sent_at=sent, ticket=ticket, now=0.1, now_epoch=0.0)
    turn = p.turn(p.reserve(0.2))
    assert turn.ticket is None
    assert turn.again_at == pytest.approx(2.1)
