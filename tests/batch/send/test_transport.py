"""The paced transport under the SDK, against the local Kimi server over real HTTP."""

from __future__ import annotations

import httpx2
import openai
import pytest

from airflow_provider_kimi.batch.send import Pacer, RequestBudget, ServerRateLimit
from airflow_provider_kimi.batch.send.transport import SEND_ONCE, _tries, replayable
from airflow_provider_kimi.client.api import KimiClient
from airflow_provider_kimi.client.settings import KimiClientSettings


def client_of(emulator, retries: int) -> KimiClient:
    return KimiClient(KimiClientSettings(api_key=emulator.api_key, base_url=emulator.base_url, max_retries=retries))


@pytest.mark.kimi_emulator(faults={"500": 1.0})
def test_a_transient_answer_is_sent_again_up_to_max_retries(kimi_emulator):
    with pytest.raises(openai.InternalServerError):
        client_of(kimi_emulator, retries=2).list_files()
    assert kimi_emulator.stats()["faults"] == {"500": 3}


@pytest.mark.kimi_emulator(faults={"429": 1.0}, retry_after_seconds=0.05)
def test_a_429_is_retried_after_the_servers_retry_after(kimi_emulator):
    with pytest.raises(openai.RateLimitError):
        client_of(kimi_emulator, retries=1).get_batch("batch-x")
    assert kimi_emulator.stats()["faults"] == {"429": 2}


@pytest.mark.kimi_emulator(faults={"lost": 1.0})
def test_a_create_marked_send_once_is_never_sent_twice_even_when_its_answer_is_lost(kimi_emulator, tmp_path):
    client = client_of(kimi_emulator, retries=3)
    with pytest.raises(openai.APIConnectionError):
        client.create_batch("file-unknown", retry=False)
    assert kimi_emulator.stats()["requests"]["POST /v1/batches"] == 1


@pytest.mark.kimi_emulator(faults={"lost": 1.0})
def test_an_upload_from_a_file_is_sent_again_whole(kimi_emulator, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_bytes(b'{"a": 1}\n')
    with pytest.raises(openai.APIConnectionError):
        client_of(kimi_emulator, retries=2).upload_file(source)
    uploads = [f for f in kimi_emulator.list_files() if f["filename"] == "in.jsonl"]
    assert [f["bytes"] for f in uploads] == [9, 9, 9]  # each try carried the whole file


def test_the_send_once_mark_is_taken_off_before_the_request_leaves():
    pacer = Pacer(RequestBudget(0), ServerRateLimit(), retries=3)
    marked = httpx2.Request("POST", "http://kimi.test/v1/batches", headers=SEND_ONCE, content=b"{}")
    assert _tries(pacer, marked) == 1
    assert "x-kimi-send-once" not in marked.headers
    assert _tries(pacer, httpx2.Request("GET", "http://kimi.test/v1/files")) == 4


def test_a_body_that_cannot_rewind_is_sent_once():
    def chunks():
        yield b"{}"

    assert not replayable(httpx2.Request("POST", "http://kimi.test/v1/files", content=chunks()))
    assert replayable(httpx2.Request("POST", "http://kimi.test/v1/files", files={"file": ("a.jsonl", b"{}")}))
