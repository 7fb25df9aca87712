"""Every client of a key waits for the server's reset instead of earning a 429."""

from __future__ import annotations

import asyncio
import json

from airflow_provider_kimi.hooks.async_clients import shared_client
from airflow_provider_kimi.hooks.kimi import KimiBatchHook


def no_retries(monkeypatch, kimi, **extra):
    conn = {"conn_type": "kimi", "host": kimi.base_url, "password": kimi.api_key, "extra": {"max_retries": 0, **extra}}
    monkeypatch.setenv("AIRFLOW_CONN_KIMI_DEFAULT", json.dumps(conn))


def test_sync_hook_waits_for_reset_instead_of_sending(make_kimi, monkeypatch):
    kimi = make_kimi(rpm=3, rate_window_seconds=1.0)
    no_retries(monkeypatch, kimi)
    hook = KimiBatchHook()
    for _ in range(8):
        hook.list_files()  # with max_retries=0 a 429 would raise here
    stats = kimi.stats()
    assert stats["rate_limited"] == 0
    assert stats["requests"]["GET /v1/files"] == 8


def test_shared_async_client_adopts_the_announced_limit(make_kimi, monkeypatch):
    kimi = make_kimi(rpm=30)
    no_retries(monkeypatch, kimi)

    async def poll() -> tuple[float, float]:
        async with shared_client("kimi_default") as shared:
            await shared.call(lambda client: client.files.list())
            return shared.budget.requests_per_minute, shared.budget.configured_per_minute

    assert asyncio.run(poll()) == (30, 200)


def test_a_budget_the_connection_sets_is_kept(make_kimi, monkeypatch):
    kimi = make_kimi(rpm=30)
    no_retries(monkeypatch, kimi, max_requests_per_minute=600)

    async def poll() -> float:
        async with shared_client("kimi_default") as shared:
            await shared.call(lambda client: client.files.list())
            return shared.budget.requests_per_minute

    assert asyncio.run(poll()) == 600


def test_async_waits_share_the_key_and_stay_under_it(make_kimi, monkeypatch):
    kimi = make_kimi(rpm=4, rate_window_seconds=1.0)
    no_retries(monkeypatch, kimi, max_requests_per_minute=0)

    async def many() -> None:
        async with shared_client("kimi_default") as shared:
            await asyncio.gather(*(shared.call(lambda client: client.files.list()) for _ in range(10)))

    asyncio.run(many())
    assert kimi.stats()["rate_limited"] == 0
