"""Shared polling: the shared client, its leases and budget, against a real local Kimi server."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import openai
import pytest
from test_trigger import all_events, start_batch, use_connection

from airflow_provider_kimi.batch.send.budget import RequestBudget
from airflow_provider_kimi.client import shared as async_clients
from airflow_provider_kimi.client.settings import KimiClientSettings, resolve_client_settings
from airflow_provider_kimi.client.shared import SharedAsyncClient
from airflow_provider_kimi.exceptions import KimiConnectionError
from airflow_provider_kimi.hooks.async_clients import acquire_client, release_client, shared_client
from airflow_provider_kimi.triggers.kimi import KimiBatchTrigger

# -- the connection setting ----------------------------------------------------------------------


def settings_with(**extra: Any) -> KimiClientSettings:
    return resolve_client_settings("my_kimi", password="sk-x", host=None, extra=extra, environ={})


def test_the_request_budget_defaults_to_tier1_and_reads_the_extra():
    assert settings_with().max_requests_per_minute == 200
    assert settings_with(max_requests_per_minute="5000").max_requests_per_minute == 5000
    assert settings_with(max_requests_per_minute=0).max_requests_per_minute == 0
    assert settings_with(max_requests_per_minute=None).max_requests_per_minute == 0


@pytest.mark.parametrize("value", [-1, "lots", True, [200], float("inf")])
def test_a_bad_request_budget_names_the_connection(value):
    with pytest.raises(KimiConnectionError, match=r"'my_kimi'.*max_requests_per_minute"):
        settings_with(max_requests_per_minute=value)


# -- the shared client ---------------------------------------------------------------------------


def test_leases_of_one_connection_in_one_loop_share_one_client(kimi):
    async def lease_twice() -> tuple[SharedAsyncClient, SharedAsyncClient]:
        async with shared_client("kimi_default") as first, shared_client("kimi_default") as second:
            assert first.users == 2
        await asyncio.gather(*async_clients.loop_clients().closing)
        return first, second

    first, second = asyncio.run(lease_twice())
    assert first is second
    assert first.client.is_closed()


def test_each_connection_and_each_loop_gets_its_own_client(make_kimi):
    make_kimi("kimi_default")
    make_kimi("kimi_other")

    async def lease() -> tuple[SharedAsyncClient, SharedAsyncClient]:
        async with shared_client("kimi_default") as one, shared_client("kimi_other") as other:
            return one, other

    one, other = asyncio.run(lease())
    again, _ = asyncio.run(lease())
    assert one is not other
    assert again is not one


def test_many_triggers_on_one_connection_build_one_client(kimi, tmp_path, monkeypatch):
    built: list[SharedAsyncClient] = []
    original = SharedAsyncClient.__init__

    def counting_init(self: SharedAsyncClient, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        built.append(self)

    monkeypatch.setattr(SharedAsyncClient, "__init__", counting_init)
    batch_ids = [start_batch(kimi, tmp_path) for _ in range(3)]

    async def run_all() -> list[list[dict[str, Any]]]:
        async def one(batch_id: str) -> list[dict[str, Any]]:
            trigger = KimiBatchTrigger(batch_id, poll_interval=0.05, timeout=30)
            return [event.payload async for event in trigger.run()]

        return await asyncio.gather(*(one(batch_id) for batch_id in batch_ids * 10))

    async def run_and_settle() -> list[list[dict[str, Any]]]:
        results = await run_all()
        await asyncio.gather(*async_clients.loop_clients().closing)
        return results

    results = asyncio.run(run_and_settle())
    assert len(built) == 1
    assert all(len(events) == 1 and events[0]["status"] == "success" for events in results)
    assert built[0].client.is_closed()


def test_the_client_stays_open_while_another_wait_uses_it(make_kimi, tmp_path):
    emulator = make_kimi(hold_new_batches_after=0)
    quick, slow = start_batch(emulator, tmp_path), start_batch(emulator, tmp_path)
    emulator.rush(quick)

    async def scenario() -> tuple[list[str], bool, bool]:
        slow_task = asyncio.create_task(all_payloads(KimiBatchTrigger(slow, poll_interval=0.05, timeout=30)))
        quick_events = await all_payloads(KimiBatchTrigger(quick, poll_interval=0.05, timeout=30))
        shared = await acquire_client("kimi_default")
        open_after_quick = not shared.client.is_closed()
        release_client(shared)
        await asyncio.to_thread(emulator.rush, slow)
        slow_events = await slow_task
        await asyncio.gather(*async_clients.loop_clients().closing)
        return [e["status"] for e in quick_events + slow_events], open_after_quick, shared.client.is_closed()

    statuses, open_after_quick, closed_at_end = asyncio.run(scenario())
    assert statuses == ["success", "success"]
    assert open_after_quick
    assert closed_at_end


async def all_payloads(trigger: KimiBatchTrigger) -> list[dict[str, Any]]:
    return [event.payload async for event in trigger.run()]


@pytest.mark.kimi_emulator(faults={"429": 1.0}, retry_after_seconds=0.05)
def test_calls_retry_a_429_and_give_up_after_max_retries(kimi_emulator):
    settings = KimiClientSettings(
        api_key=kimi_emulator.api_key, base_url=kimi_emulator.base_url, max_retries=2, max_requests_per_minute=0
    )

    async def scenario() -> float:
        shared = SharedAsyncClient("kimi_default", settings, RequestBudget(0))
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            with pytest.raises(openai.RateLimitError):
                await shared.call(lambda client: client.files.list())
        finally:
            await shared.aclose()
        return loop.time() - started

    took = asyncio.run(scenario())
    assert kimi_emulator.stats()["faults"]["429"] == 3  # the first try and two retries
    assert took >= 2 * 0.05  # each retry waited out the server's retry-after


def test_the_budget_bounds_the_polls_of_all_waits_together(make_kimi, tmp_path, monkeypatch):
    emulator = make_kimi(hold_new_batches_after=0)
    batch_ids = [start_batch(emulator, tmp_path) for _ in range(3)]
    use_connection(monkeypatch, emulator.base_url, emulator.api_key, max_requests_per_minute=120)

    def reads() -> int:
        counted = emulator.stats()["requests"]
        return int(counted.get("GET /v1/batches/{batch_id}", 0) + counted.get("GET /v1/batches", 0))

    before = reads()

    async def run_all() -> list[list[dict[str, Any]]]:
        end_time = time.time() + 1.2
        triggers = [KimiBatchTrigger(b, poll_interval=0.01, end_time=end_time) for b in batch_ids]
        return await asyncio.gather(*(all_payloads(t) for t in triggers))

    results = asyncio.run(run_all())
    polls = reads() - before
    assert [[e["status"] for e in events] for events in results] == [["timeout"]] * 3
    # 120 a minute is one every 0.5 s: 3 polls fit 1.2 s; 3 waits at 0.01 s would send hundreds.
    assert 2 <= polls <= 4


def test_a_wait_whose_budget_runs_past_its_deadline_times_out(make_kimi, tmp_path, monkeypatch):
    emulator = make_kimi(hold_new_batches_after=0)
    batch_id = start_batch(emulator, tmp_path)
    use_connection(monkeypatch, emulator.base_url, emulator.api_key, max_requests_per_minute=1)
    started = time.monotonic()
    events = all_events(KimiBatchTrigger(batch_id, poll_interval=0.01, end_time=time.time() + 0.5))
    assert [e["status"] for e in events] == ["timeout"]
    assert time.monotonic() - started < 5


# -- the trigger's adaptive polling --------------------------------------------------------------


def test_adaptive_polling_is_on_by_default_and_serialized():
    _, kwargs = KimiBatchTrigger("b1", timeout=60).serialize()
    assert kwargs["adaptive_polling"] is True
    _, kwargs = KimiBatchTrigger("b1", timeout=60, adaptive_polling=False).serialize()
    assert kwargs["adaptive_polling"] is False


def test_a_shared_wait_still_yields_exactly_one_event(kimi, tmp_path):
    batch_id = start_batch(kimi, tmp_path)
    events = all_events(KimiBatchTrigger(batch_id, poll_interval=0.05, timeout=30, adaptive_polling=True))
    assert [e["status"] for e in events] == ["success"]


def test_a_connection_with_a_bad_budget_is_an_error_event(monkeypatch):
    use_connection(monkeypatch, "http://127.0.0.1:9/v1", "sk-x", max_requests_per_minute="fast")
    events = all_events(KimiBatchTrigger("b1", poll_interval=1, timeout=60))
    assert [e["status"] for e in events] == ["error"]
    assert "max_requests_per_minute" in events[0]["message"]
    assert "sk-x" not in json.dumps(events)


def test_no_client_is_left_registered_after_the_last_wait(kimi, tmp_path):
    batch_id = start_batch(kimi, tmp_path)

    async def scenario() -> dict[str, SharedAsyncClient]:
        await all_payloads(KimiBatchTrigger(batch_id, poll_interval=0.05, timeout=30))
        return dict(async_clients.loop_clients().clients)

    assert asyncio.run(scenario()) == {}
