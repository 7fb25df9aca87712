"""Every list call is bounded: pages followed while has_more, a repeated page ends it, a page cap past that."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator

import pytest

from airflow_provider_kimi.cli.main import main
from airflow_provider_kimi.client import listing
from airflow_provider_kimi.client.api import KimiClient
from airflow_provider_kimi.client.errors import KimiPaginationError
from airflow_provider_kimi.client.settings import KimiClientSettings
from airflow_provider_kimi.testing import KimiEmulatorHandle

from .paging_server import PagingServer


def client_of(base_url: str, api_key: str = "sk-test") -> KimiClient:
    return KimiClient(KimiClientSettings(api_key=api_key, base_url=base_url, max_retries=0))


@pytest.fixture
def paging() -> Iterator[type[PagingServer]]:
    servers: list[PagingServer] = []

    class Started(PagingServer):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            servers.append(self)

    yield Started
    for server in servers:
        server.close()


def test_files_and_batches_of_the_local_server_are_each_listed_once(kimi_emulator: KimiEmulatorHandle):
    client = client_of(kimi_emulator.base_url, kimi_emulator.api_key)
    uploaded = [client.upload_file(b'{"a": 1}\n', filename=f"in{n}.jsonl").id for n in range(3)]
    batches = [client.create_batch(file_id).id for file_id in uploaded for _ in range(4)]
    files = [file.id for file in client.list_files()]
    listed = [batch.id for batch in client.iter_batches(page_size=5)]  # 12 batches or more: three pages
    assert set(uploaded) <= set(files)
    assert len(files) == len(set(files))
    assert set(batches) <= set(listed)
    assert len(listed) == len(set(listed))


def test_pages_are_followed_while_has_more(paging):
    server = paging("honours", total=25, page_size=10)
    assert [file.id for file in client_of(server.base_url).list_files()] == [f"file-{n:06d}" for n in range(25)]
    assert len(server.requests) == 3
    assert "after=file-000019" in server.requests[-1]


def test_a_server_that_ignores_after_ends_the_listing_at_the_repeated_page(paging):
    server = paging("ignores", total=25, page_size=10)
    assert [file.id for file in client_of(server.base_url).list_files()] == [f"file-{n:06d}" for n in range(10)]
    assert len(server.requests) == 2  # the second page brought nothing new


def test_a_server_that_pages_without_end_raises_naming_the_endpoint_and_the_count(paging, monkeypatch):
    monkeypatch.setattr(listing, "MAX_LIST_PAGES", 30)
    server = paging("endless", page_size=10)
    with pytest.raises(KimiPaginationError, match=r"GET /v1/files .*after 30 pages \(300 items\)"):
        client_of(server.base_url).list_files()
    assert len(server.requests) == 30


def test_stopping_early_asks_for_no_more_pages(paging):
    server = paging("endless", page_size=10)
    first = list(itertools.islice(client_of(server.base_url).iter_files(), 15))
    assert len(first) == 15
    assert len(server.requests) == 2


def test_the_command_line_lists_every_page_and_stops_at_the_cap(paging, monkeypatch, capsys):
    server = paging("honours", total=23, page_size=10)
    monkeypatch.setenv("MOONSHOT_API_KEY", "sk-test")
    assert main(["files", "list", "--base-url", server.base_url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["count"] == 23
    monkeypatch.setattr(listing, "MAX_LIST_PAGES", 5)
    endless = paging("endless", page_size=10)
    assert main(["files", "list", "--base-url", endless.base_url]) == 1
    assert "GET /v1/files still answered has_more after 5 pages (50 items)" in capsys.readouterr().err
