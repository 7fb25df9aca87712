"""Changing a running server's settings, and resetting it to a server just started."""

from __future__ import annotations

import json

import openai
import pytest
from emulator_helpers import client_for, five_lines, raw, start_batch, wait_until

from airflow_provider_kimi.emulator import EmulatorSettings, KimiEmulator


def test_configure_changes_limits_and_reset_undoes_it(make_emulator):
    emu = make_emulator()
    client = client_for(emu)
    emu.configure(tier=0)
    for _ in range(3):
        client.files.list()
    with pytest.raises(openai.RateLimitError):
        client.files.list()
    emu.reset()
    assert emu.settings == emu.started_with
    for _ in range(10):
        client.files.list()


def test_configure_changes_the_time_scale_of_new_work(make_emulator):
    emu = make_emulator(time_scale=1000.0)
    client = client_for(emu)
    slow = start_batch(client, five_lines())
    assert client.batches.retrieve(slow).status == "validating"
    emu.configure(time_scale=0.0)
    assert wait_until(client, slow).status == "completed"


def test_configure_refuses_what_cannot_change_while_serving(make_emulator):
    emu = make_emulator()
    with pytest.raises(ValueError, match="api_key"):
        emu.configure(api_key="sk-other")
    with pytest.raises(ValueError, match="no_such_setting"):
        emu.configure(no_such_setting=1)
    with pytest.raises(ValueError, match="tier"):
        emu.configure(tier=9)
    assert emu.settings == emu.started_with


def test_reset_forgets_files_batches_holds_faults_counts_and_clocks(make_emulator):
    emu = make_emulator(invalid_json_rate=0.5)
    client = client_for(emu)
    held = start_batch(client, five_lines())
    emu.hold(held)
    emu.hold_new_batches(0)
    emu.engine.clock = lambda: 0.0
    emu.store.count_answer("seen")
    emu.set_faults({"500": 1.0})
    with pytest.raises(openai.InternalServerError):
        client.files.list()
    status, _, body = raw(emu, "POST", "/_emulator/reset")
    assert (status, body) == (200, {"reset": True})
    assert client.files.list().data == []
    assert client.batches.list().data == []
    assert list(emu.store.content_dir.iterdir()) == []
    assert emu.store.answer_counts == {}
    assert emu.stats()["uploads"] == emu.stats()["batches_created"] == 0
    assert emu.stats()["faults"] == {}
    assert emu.engine.clock() > 1_700_000_000
    fresh = start_batch(client, five_lines())
    assert wait_until(client, fresh).status == "completed"


def test_reset_empties_a_state_dir_and_needs_the_key(tmp_path):
    settings = EmulatorSettings(time_scale=0, access_log=False, api_key="sk-owner", state_dir=tmp_path)
    with KimiEmulator(settings) as emu:
        start_batch(client_for(emu), five_lines())
        status, _, _ = raw(emu, "POST", "/_emulator/reset", key="sk-stranger")
        assert status == 401
        assert len(client_for(emu).files.list().data) >= 1
        status, _, _ = raw(emu, "POST", "/_emulator/reset")
        assert status == 200
    state = json.loads((tmp_path / "state.json").read_text())
    assert state == {"files": [], "batches": [], "answer_counts": {}}
