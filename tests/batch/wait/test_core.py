"""The deadline and the default interval of a wait are decided in one place each."""

from __future__ import annotations

import ast
import inspect

from airflow_provider_kimi.batch.wait import DEFAULT_POLL_INTERVAL_SECONDS, WaitCore
from airflow_provider_kimi.client.api import KimiApi
from airflow_provider_kimi.operators.kimi import KimiCreateBatchOperator
from airflow_provider_kimi.sensors.kimi import KimiBatchSensor
from airflow_provider_kimi.task_group import kimi_batch, kimi_batch_job
from airflow_provider_kimi.triggers.kimi import KimiBatchTrigger


def test_the_deadline_is_judged_by_the_core():
    core = WaitCore("b1", poll_interval=60, deadline=1000.0)
    assert not core.expired(999.9)
    assert core.expired(1000.0)
    assert core.time_left(990.0) == 10.0
    assert core.time_left(1010.0) == 0.0
    forever = WaitCore("b1", poll_interval=60)
    assert not forever.expired(1e12)
    assert forever.time_left(0.0) is None


def test_the_last_poll_is_at_the_deadline_and_after_it_the_wait_times_out():
    core = WaitCore("b1", poll_interval=60, deadline=1030.0)
    core.polling(1000.0)
    step = core.observe({"id": "b1", "status": "in_progress", "request_counts": {}}, 1000.0)  # type: ignore[typeddict-item]
    assert (step.action, step.next_poll_at) == ("poll", 1030.0)
    core.polling(1030.0)
    assert core.observe({"id": "b1", "status": "in_progress"}, 1030.0).action == "timeout"  # type: ignore[typeddict-item]


def test_every_way_of_waiting_defaults_to_the_one_interval():
    defaults = [
        inspect.signature(KimiApi.wait_for_batch).parameters["poll_interval"].default,
        inspect.signature(KimiBatchTrigger).parameters["poll_interval"].default,
        inspect.signature(KimiBatchSensor).parameters["poke_interval"].default,
        inspect.signature(KimiCreateBatchOperator).parameters["poll_interval"].default,
        inspect.signature(kimi_batch).parameters["poll_interval"].default,
        inspect.signature(kimi_batch_job).parameters["poll_interval"].default,
    ]
    assert defaults == [DEFAULT_POLL_INTERVAL_SECONDS] * 6


def test_no_wait_reads_the_clock_against_its_deadline_but_the_core():
    source = inspect.getsource(inspect.getmodule(KimiBatchTrigger))  # type: ignore[arg-type]
    compared = [
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Compare) and "self.end_time" in ast.unparse(node)
    ]
    assert compared == []
