"""Answers a provider must not take at face value: a batch other than the one asked for, and a
status newer than the provider. A small stand-in server gives them, as a misrouted proxy or a
future Kimi would."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from odd_server import OddServer, batch

from airflow_provider_kimi.batch.identity import UnexpectedBatchError
from airflow_provider_kimi.batch.status import UnknownBatchStatusError
from airflow_provider_kimi.hooks.kimi import KimiBatchHook
from airflow_provider_kimi.triggers.kimi import KimiBatchTrigger

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def odd(monkeypatch: pytest.MonkeyPatch) -> Iterator[OddServer]:
    server = OddServer()
    conn = {"conn_type": "kimi", "host": server.base_url, "password": "sk-odd", "extra": {"max_retries": 0}}
    monkeypatch.setenv("AIRFLOW_CONN_KIMI_ODD", json.dumps(conn))
    yield server
    server.close()


def events(trigger: KimiBatchTrigger) -> list[dict[str, Any]]:
    async def collect() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    return asyncio.run(collect())


def test_an_answer_about_another_batch_is_refused(odd):
    odd.answer = batch("batch-other", "completed")
    hook = KimiBatchHook("kimi_odd")
    with pytest.raises(UnexpectedBatchError, match="Asked for batch 'batch-mine' but the server answered about batch"):
        hook.get_batch("batch-mine")
    with pytest.raises(UnexpectedBatchError):
        hook.cancel_batch("batch-mine")
    [event] = events(KimiBatchTrigger("batch-mine", "kimi_odd", poll_interval=0.05, timeout=30))
    assert event["status"] == "error"
    assert "answered about batch 'batch-other'" in event["message"]


def test_an_unknown_status_is_named_in_the_sync_wait(odd):
    odd.answer = batch("batch-mine", "paused_for_review")
    with pytest.raises(UnknownBatchStatusError) as raised:
        KimiBatchHook("kimi_odd").wait_for_batch("batch-mine", poll_interval=0.01, timeout=5)
    assert "'paused_for_review'" in str(raised.value)
    assert "update the provider" in str(raised.value)


def test_an_unknown_status_keeps_the_trigger_waiting_until_its_deadline(odd):
    odd.answer = batch("batch-mine", "paused_for_review")
    started = time.time()
    [event] = events(KimiBatchTrigger("batch-mine", "kimi_odd", poll_interval=0.05, timeout=1.5))
    assert event["status"] == "timeout", event
    assert time.time() - started >= 1.0  # it kept polling, instead of ending at the first answer
