"""Answers a provider must not take at face value: a batch other than the one asked for, and a
status newer than the provider. A small stand-in server gives them, as a misrouted proxy or a
future Kimi would."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from airflow_provider_kimi.batch.identity import UnexpectedBatchError
from airflow_provider_kimi.batch.status import UnknownBatchStatusError
from airflow_provider_kimi.hooks.kimi import KimiBatchHook
from airflow_provider_kimi.triggers.kimi import KimiBatchTrigger

pytestmark = pytest.mark.timeout(120)


def batch(batch_id: str, status: str) -> dict[str, Any]:
    return {
        "id": batch_id,
        "object": "batch",
        "endpoint": "/v1/chat/completions",
        "input_file_id": "file-1",
        "completion_window": "24h",
        "status": status,
        "created_at": int(time.time()),
        "request_counts": {"total": 1, "completed": 0, "failed": 0},
    }


class OddServer:
    """Answers every batch retrieve and cancel with ``answer`` (a Batch object)."""

    def __init__(self) -> None:
        self.answer: dict[str, Any] = {}
        odd = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self) -> None:
                data = json.dumps(odd.answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _reply

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


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
