"""The wait core's rules, one test each: no server, no clock, no sleeping."""

from __future__ import annotations

import pytest

from airflow_provider_kimi.batch.snapshot import BatchSnapshot, batch_snapshot
from airflow_provider_kimi.batch.status import UnknownBatchStatusError
from airflow_provider_kimi.batch.wait import PollFailure, WaitCore

T0 = 1_000_000.0


def snap(status: str, created_at: float = T0) -> BatchSnapshot:
    counts = {"total": 10, "completed": 4, "failed": 1}
    return batch_snapshot({"id": "b1", "status": status, "request_counts": counts, "created_at": created_at})


def core(**kwargs: object) -> WaitCore:
    settings: dict[str, object] = {"poll_interval": 60.0, **kwargs}
    return WaitCore("b1", **settings)  # type: ignore[arg-type]


NETWORK = PollFailure("APIConnectionError: refused")


@pytest.mark.parametrize("status", ["completed", "failed", "expired", "cancelled"])
def test_a_terminal_status_finishes_the_wait_with_the_snapshot(status):
    step = core().observe(snap(status), T0)
    assert step.action == "finish"
    assert step.done
    assert step.snapshot is not None
    assert step.snapshot["status"] == status


@pytest.mark.parametrize("status", ["validating", "in_progress", "finalizing", "cancelling"])
def test_a_running_status_polls_again_one_interval_after_the_poll_started(status):
    wait = core()
    wait.polling(T0)
    step = wait.observe(snap(status), T0 + 2)
    assert step.action == "poll"
    assert not step.done
    assert step.next_poll_at == pytest.approx(T0 + 60)


def test_the_progress_line_shows_status_counts_and_age():
    step = core().observe(snap("in_progress"), T0 + 125)
    assert step.message == "Batch b1: in_progress, 4/10 completed, 1 failed, 2m 05s elapsed"
    assert not step.warning


def test_an_unknown_status_keeps_a_deferred_wait_going_with_a_warning_naming_it():
    step = core(deferred=True, deadline=T0 + 600).observe(snap("paused_by_kimi"), T0)
    assert step.action == "poll"
    assert step.warning
    assert "'paused_by_kimi'" in step.message
    assert "update" in step.message


def test_an_unknown_status_ends_a_deferred_wait_only_at_its_deadline():
    wait = core(deferred=True, deadline=T0 + 600)
    assert wait.observe(snap("paused_by_kimi"), T0 + 599).action == "poll"
    assert wait.observe(snap("paused_by_kimi"), T0 + 600).action == "timeout"


def test_an_unknown_status_raises_in_a_blocking_wait_naming_it_and_asking_for_an_update():
    with pytest.raises(UnknownBatchStatusError, match=r"'paused_by_kimi'.*update the provider"):
        core(deferred=False).observe(snap("paused_by_kimi"), T0)


@pytest.mark.parametrize("http_status", [None, 408, 409, 429, 500, 502, 503])
def test_transient_failures_are_tolerated(http_status):
    step = core(max_consecutive_errors=1).failed(PollFailure("hiccup", http_status), T0)
    assert step.action == "poll"
    assert step.warning
    assert "(1/1)" in step.message


@pytest.mark.parametrize("http_status", [400, 401, 403, 404, 422])
def test_a_permanent_failure_gives_up_at_once(http_status):
    step = core(max_consecutive_errors=5).failed(PollFailure("HTTP 404 NotFoundError: no such batch", http_status), T0)
    assert step.action == "give_up"
    assert "no such batch" in step.message


def test_one_transient_failure_too_many_in_a_row_gives_up():
    wait = core(max_consecutive_errors=2)
    assert wait.failed(NETWORK, T0).action == "poll"
    assert wait.failed(NETWORK, T0).action == "poll"
    step = wait.failed(NETWORK, T0)
    assert step.action == "give_up"
    assert "after 3 failures in a row" in step.message
    assert "refused" in step.message


def test_a_success_resets_the_failure_count():
    wait = core(max_consecutive_errors=1)
    assert wait.failed(NETWORK, T0).action == "poll"
    wait.observe(snap("in_progress"), T0)
    assert wait.failed(NETWORK, T0).action == "poll"


def test_the_next_poll_never_falls_after_the_deadline():
    wait = core(deadline=T0 + 30)
    wait.polling(T0)
    assert wait.observe(snap("in_progress"), T0).next_poll_at == T0 + 30


def test_the_wait_times_out_once_the_deadline_passed():
    wait = core(deadline=T0 + 30)
    step = wait.observe(snap("in_progress"), T0 + 30)
    assert step.action == "timeout"
    assert "keeps running" in step.message
    assert wait.failed(NETWORK, T0 + 31).action == "timeout"


def test_a_batch_that_ended_at_the_deadline_still_finishes():
    assert core(deadline=T0).observe(snap("completed"), T0 + 5).action == "finish"


def test_without_a_deadline_the_wait_never_times_out():
    assert core(deadline=None).observe(snap("in_progress"), T0 + 10**9).action == "poll"


def test_the_adaptive_interval_grows_with_the_batch_age():
    wait = core(adaptive=True, poll_interval=60)
    wait.polling(T0 + 3600)
    step = wait.observe(snap("in_progress", created_at=T0), T0 + 3600)
    assert step.next_poll_at == pytest.approx(T0 + 3600 + 360)


def test_a_fixed_interval_ignores_the_batch_age():
    wait = core(adaptive=False, poll_interval=60)
    wait.polling(T0 + 3600)
    assert wait.observe(snap("in_progress", created_at=T0), T0 + 3600).next_poll_at == pytest.approx(T0 + 3660)


def test_the_interval_after_a_failure_keeps_the_age_learnt_before():
    wait = core(adaptive=True, poll_interval=60)
    wait.observe(snap("in_progress", created_at=T0), T0 + 3600)
    wait.polling(T0 + 3960)
    assert wait.failed(NETWORK, T0 + 3961).next_poll_at == pytest.approx(T0 + 3960 + 396)


def test_the_first_interval_is_spread_between_half_and_one_interval():
    early = core(spread_first=True, draw=0.0)
    late = core(spread_first=True, draw=0.999)
    for wait in (early, late):
        wait.polling(T0)
    assert early.observe(snap("in_progress"), T0).next_poll_at == pytest.approx(T0 + 30)
    assert late.observe(snap("in_progress"), T0).next_poll_at == pytest.approx(T0 + 60, abs=0.1)
    early.polling(T0 + 30)
    assert early.observe(snap("in_progress"), T0 + 30).next_poll_at == pytest.approx(T0 + 90)


def test_time_spent_in_the_poll_does_not_stretch_the_cadence():
    wait = core()
    wait.polling(T0)
    assert wait.observe(snap("in_progress"), T0 + 45).next_poll_at == pytest.approx(T0 + 60)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="poll_interval"):
        core(poll_interval=-1)
    with pytest.raises(ValueError, match="max_consecutive_errors"):
        core(max_consecutive_errors=-1)
