"""Seeded fault injection on /v1: 429 with retry-after, 500, dropped connections, slow answers."""

from __future__ import annotations

import time

import openai
import pytest
from emulator_helpers import client_for, raw


def test_injected_429_carries_retry_after(make_emulator):
    emu = make_emulator(faults={"429": 1.0}, retry_after_seconds=3)
    with pytest.raises(openai.RateLimitError) as caught:
        client_for(emu).files.list()
    response = caught.value.response
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert response.headers["retry-after-ms"] == "3000"
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["type"] == "rate_limit_reached_error"
    assert emu.stats()["faults"] == {"429": 1}


def test_injected_500_is_a_server_error(make_emulator):
    emu = make_emulator(faults={"500": 1.0})
    with pytest.raises(openai.InternalServerError) as caught:
        client_for(emu).batches.list()
    assert caught.value.response.json()["error"]["type"] == "server_error"


def test_dropped_connection_is_a_connection_error(make_emulator):
    emu = make_emulator(faults={"drop": 1.0})
    with pytest.raises(openai.APIConnectionError) as caught:
        client_for(emu).files.list()
    assert not isinstance(caught.value, openai.APIStatusError)
    assert emu.stats()["faults"] == {"drop": 1}


def test_slow_answer_is_delayed_but_correct(make_emulator):
    emu = make_emulator(faults={"slow": 1.0}, slow_seconds=0.3)
    started = time.monotonic()
    assert client_for(emu).files.list().data == []
    assert time.monotonic() - started >= 0.3


def test_admin_routes_are_never_faulted(make_emulator):
    emu = make_emulator(faults={"500": 1.0})
    status, _, body = raw(emu, "GET", "/_emulator/stats", key=None)
    assert status == 200
    assert body["faults"] == {}


def _outcomes(emu, calls):
    client = client_for(emu)
    outcomes = []
    for _ in range(calls):
        try:
            client.files.list()
            outcomes.append("ok")
        except openai.APIStatusError as error:
            outcomes.append(str(error.status_code))
        except openai.APIConnectionError:
            outcomes.append("drop")
    return outcomes


def test_same_seed_same_fault_schedule(make_emulator):
    faults = {"429": 0.3, "500": 0.2, "drop": 0.1}
    first = _outcomes(make_emulator(faults=faults, seed=42), 30)
    second = _outcomes(make_emulator(faults=faults, seed=42), 30)
    assert first == second
    assert {"ok", "429", "500", "drop"} <= set(first)


def test_sdk_retries_through_injected_faults(make_emulator):
    emu = make_emulator(faults={"429": 0.5}, seed=1, retry_after_seconds=0.01)
    client = openai.OpenAI(api_key=emu.api_key, base_url=emu.base_url, max_retries=10)
    for _ in range(5):
        assert client.files.list().object == "list"
    assert emu.stats()["faults"]["429"] >= 1


def test_faults_can_start_and_stop_while_serving(make_emulator):
    emu = make_emulator()
    client = openai.OpenAI(api_key=emu.api_key, base_url=emu.base_url, max_retries=0)
    client.files.list()
    emu.set_faults({"500": 1.0})
    with pytest.raises(openai.InternalServerError):
        client.files.list()
    emu.set_faults({})
    client.files.list()
    assert emu.stats()["faults"] == {"500": 1}
    with pytest.raises(ValueError, match="unknown fault kinds"):
        emu.set_faults({"503": 0.5})


def test_a_lost_answer_does_the_work_but_the_client_sees_a_connection_error(make_emulator, tmp_path):
    emu = make_emulator()
    client = openai.OpenAI(api_key=emu.api_key, base_url=emu.base_url, max_retries=0)
    path = tmp_path / "in.jsonl"
    path.write_text(
        '{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", '
        '"body": {"model": "kimi-k2.5", "messages": [{"role": "user", "content": "hi"}]}}\n'
    )
    file_id = client.files.create(file=path, purpose="batch").id
    emu.set_faults({"lost": 1.0})
    with pytest.raises(openai.APIConnectionError):
        client.batches.create(input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h")
    emu.set_faults({})
    assert emu.stats()["batches_created"] == 1
    assert len(client.batches.list().data) == 1
