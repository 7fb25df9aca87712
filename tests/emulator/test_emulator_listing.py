"""Listing files and batches page so that the openai SDK's iteration ends, each item seen once."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from emulator_helpers import client_for, five_lines, jsonl, raw, start_batch
from openai import AsyncOpenAI

FILES = 7
BATCHES = 23  # more than the batch list's default page of 20


def upload(client, count: int, purpose: str = "batch") -> list[str]:
    return [client.files.create(file=(f"in-{i}.jsonl", jsonl(five_lines())), purpose=purpose).id for i in range(count)]


def requests_to(emu, route: str) -> int:
    return emu.stats()["requests"].get(route, 0)


def test_sdk_iterates_every_file_once_and_stops(make_emulator):
    emu = make_emulator()
    client = client_for(emu)
    uploaded = upload(client, FILES)
    seen = Counter(f.id for f in client.files.list(limit=3))
    assert seen == Counter(uploaded)
    # Pages of 3, 3 and 1, then the empty page after the last id ends the SDK's loop.
    assert requests_to(emu, "GET /v1/files") == 4
    assert Counter(f.id for f in client.files.list()) == Counter(uploaded)
    assert requests_to(emu, "GET /v1/files") == 6


def test_sdk_iterates_every_batch_once_and_stops(make_emulator):
    emu = make_emulator()
    client = client_for(emu)
    created = [start_batch(client, five_lines()) for _ in range(BATCHES)]
    assert Counter(b.id for b in client.batches.list()) == Counter(created)
    # has_more ends the loop: a page of 20 and one of 3.
    assert requests_to(emu, "GET /v1/batches") == 2
    assert Counter(b.id for b in client.batches.list(limit=5)) == Counter(created)


def test_async_sdk_iterates_both_lists_once_each(make_emulator):
    emu = make_emulator()
    client = client_for(emu)
    uploaded = upload(client, FILES)
    created = [start_batch(client, five_lines()) for _ in range(BATCHES)]

    async def iterate() -> tuple[list[str], list[str]]:
        async with AsyncOpenAI(api_key=emu.api_key, base_url=emu.base_url, max_retries=0) as aclient:
            files = [f.id async for f in aclient.files.list(limit=2, purpose="batch")]
            batches = [b.id async for b in aclient.batches.list(limit=4)]
            return files, batches

    files, batches = asyncio.run(iterate())
    # Batch inputs are batch-purpose files too: every one of them, each once.
    inputs = [b.input_file_id for b in client.batches.list()]
    assert Counter(files) == Counter(uploaded + inputs)
    assert Counter(batches) == Counter(created)


def test_file_list_answers_like_kimi_without_pagination_fields(make_emulator):
    emu = make_emulator()
    upload(client_for(emu), 2)
    status, _, body = raw(emu, "GET", "/v1/files?limit=1")
    assert status == 200
    assert set(body) == {"object", "data"}
    assert len(body["data"]) == 1


def test_file_list_order_and_purpose(make_emulator):
    emu = make_emulator()
    client = client_for(emu)
    batch_ids = upload(client, 3)
    image_ids = [
        client.files.create(file=(f"p{i}.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 16), purpose="image").id for i in range(2)
    ]
    stored = batch_ids + image_ids
    newest_first = [f.id for f in client.files.list().data]
    assert newest_first == stored[::-1]
    assert [f.id for f in client.files.list(order="asc").data] == stored
    assert [f.id for f in client.files.list(purpose="image").data] == image_ids[::-1]
    after = [f.id for f in client.files.list(after=batch_ids[1], order="asc").data]
    assert after == stored[2:]


@pytest.mark.parametrize(
    ("query", "named"),
    [("limit=0", "limit"), ("limit=10001", "limit"), ("limit=many", "limit"), ("order=newest", "order")],
)
def test_file_list_refuses_bad_parameters(emulator, query, named):
    status, _, body = raw(emulator, "GET", f"/v1/files?{query}")
    assert status == 400
    assert body["error"]["type"] == "invalid_request_error"
    assert named in body["error"]["message"]


def test_an_unknown_cursor_gives_an_empty_page(emulator, client):
    upload(client, 1)
    assert client.files.list(after="nosuchfile0000000000").data == []
    assert client.batches.list(after="nosuchbatch000000000").data == []


def test_files_list_paging_none_ignores_after_like_a_list_without_pagination(make_emulator):
    emu = make_emulator(files_list_paging="none")
    client = client_for(emu)
    uploaded = upload(client, 3)
    everything = [f.id for f in client.files.list().data]
    assert sorted(everything) == sorted(uploaded)
    # The cursor, the limit and the filter are ignored: the same full list every time, so an
    # unbounded SDK loop would never end; a bounded one sees the repetition.
    page = client.files.list(after=everything[-1], limit=1, purpose="image")
    assert [f.id for f in page.data] == everything
    assert page.has_more is None
    seen = []
    for file in client.files.list():
        if file.id in seen:
            break
        seen.append(file.id)
    assert seen == everything


def test_the_largest_file_page_is_a_setting(make_emulator):
    emu = make_emulator(max_files_list_limit=2)
    status, _, body = raw(emu, "GET", "/v1/files?limit=3")
    assert status == 400
    assert "between 1 and 2" in body["error"]["message"]
    upload(client_for(emu), 3)
    assert len(client_for(emu).files.list().data) == 2
