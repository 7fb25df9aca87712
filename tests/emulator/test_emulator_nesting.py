"""Deeply nested JSON is refused with a 400 or a failed batch, and no stored batch can break the
reads and lists of every other batch, before or after a restart."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from emulator_helpers import client_for, five_lines, request_line, start_batch, wait_until

from airflow_provider_kimi.emulator import EmulatorSettings, KimiEmulator

QUIET = {"time_scale": 0.0, "access_log": False, "log_level": "warning"}


def nested_line(custom_id: str, depth: int) -> bytes:
    """A valid request line whose ``tools`` value nests ``depth`` arrays deep."""
    line = json.dumps(request_line(custom_id, tools="@")).encode()
    return line.replace(b'"@"', b"[" * depth + b"]" * depth)


def post_raw(emu: KimiEmulator, path: str, data: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(
        emu.url + path,
        data=data,
        method="POST",
        headers={"Authorization": f"Bearer {emu.api_key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_deeply_nested_create_body_is_a_400(make_emulator):
    emu = make_emulator()
    body = b'{"input_file_id": "x", "metadata": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    status, payload = post_raw(emu, "/v1/batches", body)
    assert status == 400, payload
    assert "nests deeper than 64 levels" in payload["error"]["message"]


def test_a_deeply_nested_line_fails_its_batch_alone_and_every_read_works(tmp_path):
    settings = EmulatorSettings(state_dir=tmp_path, report_validation_errors=True, **QUIET)
    with KimiEmulator(settings) as emu:
        client = client_for(emu)
        poisoned = start_batch(client, nested_line("deep", 1000) + b"\n")
        failed = wait_until(client, poisoned)
        assert failed.status == "failed"
        assert "nests deeper than 64 levels" in failed.errors.data[0].message
        good = start_batch(client, five_lines())
        assert wait_until(client, good).status == "completed"
        assert {b.id for b in client.batches.list().data} == {poisoned, good}

    with KimiEmulator(settings) as again:
        client = client_for(again)
        assert client.batches.retrieve(poisoned).status == "failed"
        assert len(client.batches.list().data) == 2
        assert wait_until(client, start_batch(client, five_lines())).status == "completed"


def test_a_line_at_the_limit_runs(make_emulator):
    emu = make_emulator()
    client = client_for(emu)
    # The line itself is an object holding ``body``, holding ``tools``: 62 arrays make 64 levels.
    assert wait_until(client, start_batch(client, nested_line("edge", 62) + b"\n")).status == "completed"


def test_a_batch_that_cannot_be_advanced_fails_alone(tmp_path):
    settings = EmulatorSettings(state_dir=tmp_path, hold_new_batches_after=1, **QUIET)
    with KimiEmulator(settings) as emu:
        client = client_for(emu)
        broken = start_batch(client, five_lines())
        wait_until(client, broken, ("in_progress",))
        # Its stored input turns unreadable under it (a disk error, a hand edit).
        record = emu.store.batches[broken]
        emu.store.content_path(record.input_content_name).write_bytes(b"[" * 100_000 + b"\n" * 5)
        emu.release(broken)
        assert wait_until(client, broken).status == "failed"
        emu.hold_new_batches(None)
        other = start_batch(client, five_lines())
        assert wait_until(client, other).status == "completed"
        assert len(client.batches.list().data) == 2


def test_a_stored_record_that_cannot_be_shown_leaves_the_list_working(tmp_path):
    settings = EmulatorSettings(state_dir=tmp_path, **QUIET)
    with KimiEmulator(settings) as emu:
        client = client_for(emu)
        kept = start_batch(client, five_lines())
        broken = start_batch(client, five_lines())
        wait_until(client, broken)
    state = json.loads((tmp_path / "state.json").read_text())
    for record in state["batches"]:
        if record["id"] == broken:
            record["created"] = "yesterday"  # a hand edit gone wrong
    (tmp_path / "state.json").write_text(json.dumps(state))
    with KimiEmulator(settings) as again:
        assert [b.id for b in client_for(again).batches.list().data] == [kept]
