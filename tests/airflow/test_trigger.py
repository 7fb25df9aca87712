"""KimiBatchTrigger run in an event loop against a real local Kimi server."""

from __future__ import annotations

import asyncio
import importlib
import json
import time
from pathlib import Path
from typing import Any

import openai
import pytest

from airflow_provider_kimi.triggers.kimi import KimiBatchTrigger

REQUEST = {
    "method": "POST",
    "url": "/v1/chat/completions",
    "body": {"model": "kimi-k2.5", "messages": [{"role": "user", "content": "hi"}]},
}


def start_batch(emulator: Any, tmp_path: Path, lines: int = 3) -> str:
    """Upload and create a batch of ``lines`` requests."""
    client = openai.OpenAI(api_key=emulator.api_key, base_url=emulator.base_url)
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps({"custom_id": f"r{i}", **REQUEST}) + "\n" for i in range(lines)))
    file_id = client.files.create(file=path, purpose="batch").id
    return client.batches.create(input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h").id


def use_connection(monkeypatch: pytest.MonkeyPatch, base_url: str, key: str, **extra: Any) -> None:
    conn = {"conn_type": "kimi", "host": base_url, "password": key, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_KIMI_DEFAULT", json.dumps(conn))


def all_events(trigger: KimiBatchTrigger) -> list[dict[str, Any]]:
    async def collect() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    return asyncio.run(collect())


def test_serialize_round_trip_keeps_ids_settings_and_the_deadline(kimi):
    trigger = KimiBatchTrigger("b1", "kimi_default", poll_interval=7, timeout=100, cancel_on_kill=True)
    classpath, kwargs = trigger.serialize()
    module, _, name = classpath.rpartition(".")
    rebuilt = getattr(importlib.import_module(module), name)(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert kwargs["end_time"] == pytest.approx(time.time() + 100, abs=5)
    assert kimi.api_key not in json.dumps(kwargs)


def test_a_trigger_needs_a_deadline():
    with pytest.raises(ValueError, match="needs a timeout"):
        KimiBatchTrigger("b1")


def test_yields_exactly_one_success_event_with_the_batch(kimi, tmp_path):
    batch_id = start_batch(kimi, tmp_path)
    events = all_events(KimiBatchTrigger(batch_id, poll_interval=0.05, timeout=30))
    assert len(events) == 1
    assert events[0]["status"] == "success"
    assert events[0]["batch"]["status"] == "completed"
    assert events[0]["batch"]["request_counts"] == {"total": 3, "completed": 3, "failed": 0}


def test_times_out_at_the_wall_clock_deadline(make_kimi, tmp_path):
    emulator = make_kimi(hold_new_batches_after=0)
    batch_id = start_batch(emulator, tmp_path)
    started = time.monotonic()
    events = all_events(KimiBatchTrigger(batch_id, poll_interval=0.1, end_time=time.time() + 0.5))
    assert [e["status"] for e in events] == ["timeout"]
    assert "keeps running" in events[0]["message"]
    assert time.monotonic() - started < 5


def test_an_unknown_batch_ends_the_wait_at_once(kimi):
    started = time.monotonic()
    events = all_events(KimiBatchTrigger("doesnotexist000000000", poll_interval=30, timeout=300))
    assert [e["status"] for e in events] == ["error"]
    assert "HTTP 404" in events[0]["message"]
    assert time.monotonic() - started < 5


def test_a_wrong_key_ends_the_wait_at_once_without_showing_the_key(make_kimi, monkeypatch, tmp_path):
    emulator = make_kimi(api_key="sk-right")
    batch_id = start_batch(emulator, tmp_path)
    use_connection(monkeypatch, emulator.base_url, "sk-wrong-key", max_retries=0)
    events = all_events(KimiBatchTrigger(batch_id, poll_interval=30, timeout=300))
    assert [e["status"] for e in events] == ["error"]
    assert "HTTP 401" in events[0]["message"]
    assert "sk-wrong-key" not in json.dumps(events)


def test_outlives_transient_429_and_500_answers(make_kimi, monkeypatch, tmp_path):
    emulator = make_kimi(retry_after_seconds=0.01)
    batch_id = start_batch(emulator, tmp_path)
    emulator.set_faults({"429": 0.3, "500": 0.3}, seed=7)
    # No SDK retries: the trigger's own tolerance has to carry the wait.
    use_connection(monkeypatch, emulator.base_url, emulator.api_key, max_retries=0)
    events = all_events(KimiBatchTrigger(batch_id, poll_interval=0.05, timeout=60, max_consecutive_errors=10))
    assert [e["status"] for e in events] == ["success"]
    assert events[0]["batch"]["status"] == "completed"
    faults = emulator.stats()["faults"]
    assert faults.get("429", 0) > 0
    assert faults.get("500", 0) > 0


def test_gives_up_after_a_run_of_network_errors_without_raising(monkeypatch):
    use_connection(monkeypatch, "http://127.0.0.1:9/v1", "sk-x", max_retries=0, timeout=1)
    events = all_events(KimiBatchTrigger("b1", poll_interval=0.01, timeout=60, max_consecutive_errors=3))
    assert [e["status"] for e in events] == ["error"]
    assert "after 4 failures in a row" in events[0]["message"]
    assert "APIConnectionError" in events[0]["message"]


def test_a_connection_without_a_key_is_an_error_event(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_KIMI_DEFAULT", json.dumps({"conn_type": "kimi", "host": "http://127.0.0.1:9/v1"}))
    events = all_events(KimiBatchTrigger("b1", poll_interval=1, timeout=60))
    assert [e["status"] for e in events] == ["error"]
    assert "no password and MOONSHOT_API_KEY is not set" in events[0]["message"]


@pytest.mark.parametrize(("cancel_on_kill", "expected"), [(True, "cancelled"), (False, "in_progress")])
def test_on_kill_cancels_only_when_asked(make_kimi, tmp_path, cancel_on_kill, expected):
    emulator = make_kimi(hold_new_batches_after=1, cancelling_seconds=0)
    batch_id = start_batch(emulator, tmp_path)
    client = openai.OpenAI(api_key=emulator.api_key, base_url=emulator.base_url)
    deadline = time.monotonic() + 10
    while client.batches.retrieve(batch_id).status != "in_progress" and time.monotonic() < deadline:
        time.sleep(0.02)
    asyncio.run(KimiBatchTrigger(batch_id, timeout=60, cancel_on_kill=cancel_on_kill).on_kill())
    time.sleep(0.2)
    assert client.batches.retrieve(batch_id).status == expected
