"""Coalesced polling: many waits of one connection served by list calls, whatever the listing does.

The server is the emulator; the faults of a listing (a batch left out, a page that fails, pages in
the wrong order) come from a small ASGI wrapper in front of it, as a misbehaving service would
answer. Every wait must still get its own single event.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from test_trigger import all_events

from airflow_provider_kimi.client.poller import BatchPoller, PollerCounts, poller_for
from airflow_provider_kimi.emulator import EmulatorSettings, KimiEmulator
from airflow_provider_kimi.emulator.connection import airflow_connection_env
from airflow_provider_kimi.hooks import async_clients
from airflow_provider_kimi.triggers.kimi import KimiBatchTrigger

Tamper = Callable[[dict[str, Any], int], dict[str, Any] | None]
LINE = {
    "custom_id": "r0",
    "method": "POST",
    "url": "/v1/chat/completions",
    "body": {"model": "kimi-k2.5", "messages": [{"role": "user", "content": "hi"}]},
}


class ListTamper:
    """ASGI wrapper that rewrites the JSON of ``GET /v1/batches`` answers (``None``: answer 500)."""

    def __init__(self, app: Any, tamper: Tamper) -> None:
        self.app = app
        self.tamper = tamper
        self.calls = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"] != "/v1/batches":
            await self.app(scope, receive, send)
            return
        self.calls += 1
        call = self.calls
        started: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                started.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        status = started["status"]
        body = json.loads(b"".join(chunks) or b"{}")
        if status == 200:
            changed = self.tamper(body, call)
            if changed is None:
                status, body = 500, {"error": {"type": "server_error", "message": "list failed"}}
            else:
                body = changed
        payload = json.dumps(body).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


@pytest.fixture
def fleet_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., tuple[KimiEmulator, ListTamper]]]:
    """An emulator behind a list tamperer, as ``kimi_default`` with an unlimited budget."""
    started: list[KimiEmulator] = []

    def make(
        tamper: Tamper = lambda body, _call: body, rpm: float = 0, **overrides: Any
    ) -> tuple[KimiEmulator, ListTamper]:
        settings = {"time_scale": 0.05, "access_log": False, "log_level": "warning", "hold_new_batches_after": 0}
        emulator = KimiEmulator(EmulatorSettings(**{**settings, **overrides}))
        wrapper = ListTamper(emulator.app, tamper)
        emulator.app = wrapper  # type: ignore[assignment]
        emulator.start()
        started.append(emulator)
        env = airflow_connection_env(emulator.base_url, emulator.api_key, "kimi_default")
        conn = json.loads(env["AIRFLOW_CONN_KIMI_DEFAULT"])
        conn["extra"] = {**(conn.get("extra") or {}), "max_requests_per_minute": rpm, "max_retries": 0}
        monkeypatch.setenv("AIRFLOW_CONN_KIMI_DEFAULT", json.dumps(conn))
        return emulator, wrapper

    yield make
    for emulator in started:
        emulator.stop()


def create_batches(emulator: KimiEmulator, tmp_path: Path, count: int) -> list[str]:
    """``count`` running batches (held), oldest first."""
    client = openai.OpenAI(api_key=emulator.api_key, base_url=emulator.base_url)
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(LINE) + "\n")
    file_id = client.files.create(file=path, purpose="batch").id
    return [
        client.batches.create(input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h").id
        for _ in range(count)
    ]


def reads(emulator: KimiEmulator) -> tuple[int, int]:
    """(list calls, retrieve calls) the server answered."""
    counted = emulator.stats()["requests"]
    return int(counted.get("GET /v1/batches", 0)), int(counted.get("GET /v1/batches/{batch_id}", 0))


def wait_all(
    emulator: KimiEmulator, batch_ids: list[str], *, finish_after: float = 0.3, interval: float = 0.2
) -> tuple[dict[str, list[dict[str, Any]]], PollerCounts]:
    """One trigger per batch in one loop; every batch finishes ``finish_after`` s in."""

    async def scenario() -> tuple[dict[str, list[dict[str, Any]]], PollerCounts]:
        triggers = {b: KimiBatchTrigger(b, poll_interval=interval, timeout=60) for b in batch_ids}

        async def events(trigger: KimiBatchTrigger) -> list[dict[str, Any]]:
            return [event.payload async for event in trigger.run()]

        tasks = {b: asyncio.create_task(events(t)) for b, t in triggers.items()}
        await asyncio.sleep(0.05)
        shared = await async_clients.acquire_client("kimi_default")
        poller = poller_for(shared)
        async_clients.release_client(shared)
        await asyncio.sleep(finish_after)
        for batch_id in batch_ids:
            await asyncio.to_thread(emulator.rush, batch_id)
        results = {b: await task for b, task in tasks.items()}
        assert isinstance(poller, BatchPoller)
        return results, poller.counts

    return asyncio.run(scenario())


def assert_one_success_each(results: dict[str, list[dict[str, Any]]]) -> None:
    for batch_id, events in results.items():
        assert [e["status"] for e in events] == ["success"], batch_id
        assert events[0]["batch"]["id"] == batch_id
        assert events[0]["batch"]["status"] == "completed"


def test_many_waits_are_served_by_list_calls(fleet_server, tmp_path):
    emulator, _ = fleet_server()
    batch_ids = create_batches(emulator, tmp_path, 60)
    lists_before, retrieves_before = reads(emulator)
    results, counts = wait_all(emulator, batch_ids)
    assert_one_success_each(results)
    lists, retrieves = reads(emulator)
    assert counts.served_by_list > len(batch_ids)
    # One retrieve per wait per poll would be hundreds; the listing answers pages of 60 at once.
    assert retrieves - retrieves_before < len(batch_ids)
    assert lists - lists_before >= 1


def one_round(batch_ids: list[str], created: dict[str, float] | None = None) -> tuple[list[Any], BatchPoller]:
    """Ask the poller for every batch at once, so one round serves them all."""

    async def scenario() -> tuple[list[Any], BatchPoller]:
        async with async_clients.shared_client("kimi_default") as shared:
            poller = poller_for(shared)
            answers = await asyncio.gather(
                *(poller.status(b, (created or {}).get(b)) for b in batch_ids), return_exceptions=True
            )
            return list(answers), poller

    return asyncio.run(scenario())


def test_waits_that_ask_again_while_a_listing_runs_are_not_retrieved(fleet_server, tmp_path):
    # Pages come 0.05 s apart and the waits poll every 0.1 s: a wait answered on the first page
    # asks again before the listing ends. Nothing is skipped, so nothing needs a retrieve.
    emulator, _ = fleet_server(rpm=1200, max_list_limit=20)
    batch_ids = create_batches(emulator, tmp_path, 60)
    results, counts = wait_all(emulator, batch_ids, finish_after=1.0, interval=0.1)
    assert_one_success_each(results)
    assert counts.fallbacks == 0
    assert counts.served_by_list > 2 * len(batch_ids)


def test_one_round_lists_down_to_batches_older_than_a_page_at_the_largest_page_accepted(fleet_server, tmp_path):
    emulator, _ = fleet_server(max_list_limit=20)
    batch_ids = create_batches(emulator, tmp_path, 70)
    watched = batch_ids[:5] + batch_ids[-5:]  # the five oldest lie on the fourth page
    answers, poller = one_round(watched)
    assert [a["id"] for a in answers] == watched
    assert poller.page_sizes[0] == 20  # 100 and 50 were refused with a 400, 20 taken
    assert poller.counts.served_by_list == 10
    assert poller.counts.retrieves == 0
    assert reads(emulator)[1] == 0


def test_a_batch_deep_under_pages_that_answer_nothing_is_retrieved(fleet_server, tmp_path):
    emulator, _ = fleet_server(max_list_limit=20)
    batch_ids = create_batches(emulator, tmp_path, 70)
    answers, poller = one_round([batch_ids[-1], batch_ids[0]])  # the newest, and the oldest four pages down
    assert [a["id"] for a in answers] == [batch_ids[-1], batch_ids[0]]
    # Page 1 answers the newest; page 2 answers nothing, as many idle pages as batches unseen:
    # the oldest is retrieved rather than listed down to.
    assert poller.counts.served_by_list == 1
    assert poller.counts.retrieves == 1
    assert reads(emulator) == (4, 1)  # 100 and 50 refused, then two pages of 20


def test_one_due_batch_is_retrieved(fleet_server, tmp_path):
    emulator, _ = fleet_server()
    batch_id = create_batches(emulator, tmp_path, 3)[1]
    answers, _ = one_round([batch_id])
    assert answers[0]["id"] == batch_id
    assert reads(emulator) == (0, 1)


def test_a_batch_the_listing_leaves_out_is_retrieved(fleet_server, tmp_path):
    hidden: set[str] = set()

    def skip(body: dict[str, Any], _call: int) -> dict[str, Any]:
        return {**body, "data": [b for b in body["data"] if b["id"] not in hidden]}

    emulator, _ = fleet_server(skip)
    batch_ids = create_batches(emulator, tmp_path, 30)
    hidden.update({batch_ids[3], batch_ids[17]})
    answers, poller = one_round(batch_ids)
    assert [a["id"] for a in answers] == batch_ids
    assert poller.counts.served_by_list == 28
    assert poller.counts.retrieves == 2
    results, _ = wait_all(emulator, batch_ids)
    assert_one_success_each(results)


def test_a_page_that_fails_falls_back_to_retrieving(fleet_server, tmp_path):
    # Calls 1 and 2 ask for 100 and 50 and are refused (400); then every even call fails (500).
    emulator, wrapper = fleet_server(lambda body, call: None if call % 2 == 0 else body, max_list_limit=20)
    batch_ids = create_batches(emulator, tmp_path, 40)
    answers, poller = one_round(batch_ids)
    assert [a["id"] for a in answers] == batch_ids
    assert poller.counts.served_by_list == 20  # the first page; the second failed
    assert poller.counts.retrieves == 20
    results, _ = wait_all(emulator, batch_ids)
    assert_one_success_each(results)
    assert wrapper.calls >= 3


def test_a_listing_out_of_order_still_serves_every_wait(fleet_server, tmp_path):
    def oldest_first(body: dict[str, Any], call: int) -> dict[str, Any]:
        data = [{**b, "created_at": 1_000_000 + 100 * call + i} for i, b in enumerate(reversed(body["data"]))]
        return {**body, "data": data}

    emulator, _ = fleet_server(oldest_first, max_list_limit=20)
    batch_ids = create_batches(emulator, tmp_path, 35)
    answers, poller = one_round(batch_ids)
    assert [a["id"] for a in answers] == batch_ids
    assert not poller.order_trusted
    results, _ = wait_all(emulator, batch_ids)
    assert_one_success_each(results)


def test_waits_for_one_batch_share_an_answer_and_each_fires_once(fleet_server, tmp_path):
    emulator, _ = fleet_server()
    batch_id = create_batches(emulator, tmp_path, 1)[0]

    async def scenario() -> list[list[dict[str, Any]]]:
        async def events() -> list[dict[str, Any]]:
            trigger = KimiBatchTrigger(batch_id, poll_interval=0.1, timeout=60)
            return [event.payload async for event in trigger.run()]

        tasks = [asyncio.create_task(events()) for _ in range(5)]
        await asyncio.sleep(0.3)
        await asyncio.to_thread(emulator.rush, batch_id)
        return list(await asyncio.gather(*tasks))

    for events in asyncio.run(scenario()):
        assert [e["status"] for e in events] == ["success"]


def test_each_wait_keeps_its_own_deadline(fleet_server, tmp_path):
    emulator, _ = fleet_server()
    short, long = create_batches(emulator, tmp_path, 2)

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        async def events(trigger: KimiBatchTrigger) -> list[dict[str, Any]]:
            return [event.payload async for event in trigger.run()]

        soon = asyncio.create_task(events(KimiBatchTrigger(short, poll_interval=0.1, end_time=time.time() + 0.5)))
        later = asyncio.create_task(events(KimiBatchTrigger(long, poll_interval=0.1, timeout=60)))
        first = await soon
        await asyncio.to_thread(emulator.rush, long)
        return first, await later

    first, second = asyncio.run(scenario())
    assert [e["status"] for e in first] == ["timeout"]
    assert [e["status"] for e in second] == ["success"]


def test_an_unknown_batch_is_an_error_event_for_its_wait_only(fleet_server, tmp_path):
    emulator, _ = fleet_server()
    batch_id = create_batches(emulator, tmp_path, 1)[0]
    emulator.rush(batch_id)
    events = all_events(KimiBatchTrigger("batch_does_not_exist", poll_interval=0.1, timeout=30))
    assert [e["status"] for e in events] == ["error"]
    assert "404" in events[0]["message"] or "no " in events[0]["message"].lower()
