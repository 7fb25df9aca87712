"""The pytest plugin users test their DAGs with: kimi_emulator and kimi_connection."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

import pytest
from openai import OpenAI

from airflow_provider_kimi.hooks.kimi import KimiBatchHook
from airflow_provider_kimi.testing import KimiEmulatorHandle

LINE = {
    "custom_id": "one",
    "method": "POST",
    "url": "/v1/chat/completions",
    "body": {"model": "kimi-k2.5", "messages": [{"role": "user", "content": "hi"}]},
}


def start(hook: KimiBatchHook) -> str:
    file_id = hook.upload_file(json.dumps(LINE).encode() + b"\n", filename="in.jsonl").id
    return hook.create_batch(file_id).id


def test_connection_points_kimi_default_at_the_session_server(kimi_emulator, kimi_connection):
    assert kimi_connection == "kimi_default"
    conn = json.loads(os.environ["AIRFLOW_CONN_KIMI_DEFAULT"])
    assert (conn["host"], conn["password"]) == (kimi_emulator.base_url, kimi_emulator.api_key)
    hook = KimiBatchHook()
    batch_id = start(hook)
    assert batch_id in [b["id"] for b in kimi_emulator.list_batches()]
    assert {f["purpose"] for f in kimi_emulator.list_files()} >= {"batch"}
    assert hook.wait_for_batch(batch_id, poll_interval=0.05, timeout=30)["status"] == "completed"


def test_the_session_server_is_shared(kimi_emulator, request):
    assert kimi_emulator is request.getfixturevalue("kimi_session_emulator")


@pytest.mark.kimi_emulator(time_scale=100.0, hold_new_batches_after=0)
def test_marker_gives_a_server_of_its_own_and_the_helpers_steer_batches(kimi_emulator, kimi_connection, request):
    assert kimi_emulator is not request.getfixturevalue("kimi_session_emulator")
    assert kimi_emulator.settings.time_scale == 100.0
    hook = KimiBatchHook()
    held, expiring = start(hook), start(hook)
    assert kimi_emulator.hold(held)["status"] == "validating"
    assert kimi_emulator.finish(held)["status"] == "completed"
    assert kimi_emulator.expire(expiring)["status"] == "expired"
    assert {b["id"]: b["status"] for b in kimi_emulator.list_batches()} == {held: "completed", expiring: "expired"}


@pytest.mark.parametrize("kimi_emulator", [{"tier": 0}], indirect=True)
def test_a_fixture_parameter_sets_the_tier(kimi_emulator: KimiEmulatorHandle, kimi_connection):
    assert kimi_emulator.settings.account_limits == (3, 1)
    KimiBatchHook().list_files()
    assert kimi_emulator.stats()["rate_limited"] == 0


# Two tests run in order in a pytest of their own: the first leaves every kind of state on the
# shared server, the second must find none of it.
LEAVES_STATE_BEHIND = """
import time

import openai
import pytest
from openai import OpenAI

LINE = {LINE!r}
JSONL = (__import__("json").dumps(LINE) + "\\n").encode()


def client(handle):
    return OpenAI(api_key=handle.api_key, base_url=handle.base_url, max_retries=0)


def finished(c, batch_id):
    deadline = time.monotonic() + 20
    while (status := c.batches.retrieve(batch_id).status) != "completed":
        assert status in ("validating", "in_progress", "finalizing")
        assert time.monotonic() < deadline
        time.sleep(0.01)


def start(c):
    file_id = c.files.create(file=("in.jsonl", JSONL), purpose="batch").id
    return c.batches.create(input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h").id


def test_one_leaves_files_batches_holds_settings_faults_and_counts(kimi_emulator):
    c = client(kimi_emulator)
    kimi_emulator.configure(invalid_json_rate=1.0)
    finished(c, start(c))
    assert kimi_emulator.answer_count("one") == 1
    kimi_emulator.hold(start(c))
    kimi_emulator.hold_new_batches(0)
    kimi_emulator.emulator.engine.clock = lambda: 1_000.0
    kimi_emulator.configure(tier=0, time_scale=50.0)
    kimi_emulator.set_faults({{"500": 1.0}})
    with pytest.raises(openai.InternalServerError):
        c.files.list()
    assert kimi_emulator.stats()["uploads"] == 2
    assert kimi_emulator.settings.time_scale == 50.0


def test_two_starts_clean(kimi_emulator):
    c = client(kimi_emulator)
    assert kimi_emulator.settings.tier is None
    assert kimi_emulator.settings.time_scale == 0.0
    assert kimi_emulator.settings.invalid_json_rate == 0.0
    # No injected 500s, and more calls than tier 0's 3 a minute.
    for _ in range(5):
        assert c.files.list().data == []
    assert c.batches.list().data == []
    assert kimi_emulator.list_batches() == kimi_emulator.list_files() == []
    stats = kimi_emulator.stats()
    assert (stats["uploads"], stats["batches_created"], stats["faults"]) == (0, 0, {{}})
    assert kimi_emulator.answer_count("one") == 0
    # Nothing holds a new batch, and the clock is the real one again.
    batch_id = start(c)
    finished(c, batch_id)
    assert c.batches.retrieve(batch_id).created_at > 1_700_000_000
"""


def test_every_test_starts_on_a_clean_shared_server(tmp_path):
    suite = tmp_path / "test_shared_state.py"
    suite.write_text(LEAVES_STATE_BEHIND.format(LINE=LINE))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(suite)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


def shout(body: dict[str, Any], custom_id: str, answered: int) -> dict[str, Any]:
    """A scripted reply: the question in capitals, and how often it was asked before."""
    return {"content": f"{body['messages'][-1]['content'].upper()} ({answered})"}


def run_one(handle: KimiEmulatorHandle, body_extra: dict[str, Any] | None = None) -> dict[str, Any]:
    client = OpenAI(api_key=handle.api_key, base_url=handle.base_url, max_retries=0)
    line = {**LINE, "body": {**LINE["body"], **(body_extra or {})}}
    file_id = client.files.create(file=("in.jsonl", json.dumps(line).encode()), purpose="batch").id
    batch_id = client.batches.create(input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h").id
    while (batch := client.batches.retrieve(batch_id)).status != "completed":
        assert batch.status in ("validating", "in_progress", "finalizing")
        time.sleep(0.01)
    [result] = [json.loads(raw) for raw in client.files.content(batch.output_file_id).text.splitlines()]
    return result["response"]["body"]["choices"][0]["message"]


@pytest.mark.kimi_emulator(replies=shout)
def test_the_marker_takes_a_replies_function(kimi_emulator):
    assert run_one(kimi_emulator)["content"] == "HI (0)"
    assert run_one(kimi_emulator)["content"] == "HI (1)"
    assert kimi_emulator.answer_count("one") == 2


@pytest.mark.kimi_emulator(replies=f"{__name__}:shout")
def test_the_marker_takes_a_replies_module_and_function(kimi_emulator):
    assert run_one(kimi_emulator)["content"] == "HI (0)"


@pytest.mark.kimi_emulator(invalid_json_rate=1.0)
def test_the_marker_takes_an_invalid_json_rate(kimi_emulator):
    json_mode = {"response_format": {"type": "json_object"}}
    first, again = run_one(kimi_emulator, json_mode), run_one(kimi_emulator, json_mode)
    with pytest.raises(json.JSONDecodeError):
        json.loads(first["content"])
    assert isinstance(json.loads(again["content"]), dict)
