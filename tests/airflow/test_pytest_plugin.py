"""The pytest plugin users test their DAGs with: kimi_emulator and kimi_connection."""

from __future__ import annotations

import json
import os

import pytest

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
