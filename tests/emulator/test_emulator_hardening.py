"""The emulator's smaller defences: admin routes behind the key, bounded counters, one-line start-up
errors that leave nothing behind, and a key that never shows in full."""

from __future__ import annotations

import socket
import tempfile

import pytest
from emulator_helpers import raw

from airflow_provider_kimi.cli.emulator import mask_key
from airflow_provider_kimi.cli.main import build_parser, main
from airflow_provider_kimi.emulator.settings import EmulatorSettings
from airflow_provider_kimi.emulator.stats import MAX_USER_AGENTS, EmulatorStats


def test_admin_routes_need_the_key_when_one_is_set(make_emulator):
    emu = make_emulator(api_key="sk-admin-key")
    for method, path in [("GET", "/_emulator/stats"), ("POST", "/_emulator/hold-new-batches?after_requests=1")]:
        status, _, body = raw(emu, method, path, key=None)
        assert status == 401, (path, body)
        assert raw(emu, method, path, key="sk-wrong")[0] == 401
        assert raw(emu, method, path)[0] == 200
    assert emu.engine.hold_new_batches_after == 1


def test_admin_routes_stay_open_without_a_configured_key(make_emulator):
    assert raw(make_emulator(), "GET", "/_emulator/stats", key=None)[0] == 200


def test_client_kinds_are_counted_up_to_a_cap():
    stats = EmulatorStats()
    for number in range(10 * MAX_USER_AGENTS):
        stats.count_client(f"agent-{number}/1.0")
    counted = stats.snapshot()["user_agents"]
    assert len(counted) <= MAX_USER_AGENTS + 1
    assert sum(counted.values()) == 10 * MAX_USER_AGENTS
    assert counted["other"] == 9 * MAX_USER_AGENTS


@pytest.fixture
def own_tempdir(tmp_path, monkeypatch):
    """A temporary folder of the test's own, to see what the emulator leaves behind."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def start_error(capsys, *args: str) -> str:
    """Start ``kimi-batch emulator`` with ``args``; it must fail at once with exit 2 and one line."""
    assert main(["emulator", "--quiet", *args]) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert len(captured.err.strip().splitlines()) == 1, captured.err
    return captured.err.strip()


def test_a_port_in_use_is_one_line_and_leaves_no_folder(capsys, own_tempdir):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        message = start_error(capsys, "--port", str(port))
    assert message.startswith(f"kimi-batch emulator: cannot listen on 127.0.0.1:{port}: ")
    assert "in use" in message
    assert list(own_tempdir.iterdir()) == []


def test_a_bad_host_is_one_line_and_leaves_no_folder(capsys, own_tempdir):
    message = start_error(capsys, "--host", "no-such-host.invalid", "--port", "0")
    assert message.startswith("kimi-batch emulator: cannot listen on no-such-host.invalid:0: ")
    assert list(own_tempdir.iterdir()) == []


def test_a_state_dir_that_is_a_file_is_one_line(capsys, tmp_path):
    state = tmp_path / "state"
    state.write_text("x")
    assert start_error(capsys, "--state-dir", str(state), "--port", "0") == (
        f"kimi-batch emulator: --state-dir {state} is a file, not a folder"
    )


@pytest.mark.parametrize(
    ("content", "fragment"),
    [("", "is empty"), ("{not json", "is corrupt (JSONDecodeError"), ('{"batches": [{"id": 1}]}', "is corrupt")],
)
def test_an_empty_or_corrupt_state_file_is_one_line(capsys, tmp_path, content, fragment):
    (tmp_path / "state.json").write_text(content)
    message = start_error(capsys, "--state-dir", str(tmp_path), "--port", "0")
    assert message.startswith(f"kimi-batch emulator: {tmp_path / 'state.json'} {fragment}")
    assert "remove it to start with no files and batches" in message


def test_the_key_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("KIMI_EMULATOR_API_KEY", "sk-from-the-environment")
    assert build_parser().parse_args(["emulator"]).api_key == "sk-from-the-environment"
    assert build_parser().parse_args(["emulator", "--api-key", "sk-argv"]).api_key == "sk-argv"


def test_the_banner_masks_the_key(monkeypatch, capsys):
    from airflow_provider_kimi.cli import emulator as command

    class Serving:
        base_url, url = "http://127.0.0.1:1/v1", "http://127.0.0.1:1"

        settings = EmulatorSettings(api_key="sk-a-rather-secret-key-1234")

    command._announce(Serving())  # type: ignore[arg-type]
    out = capsys.readouterr().out
    assert "sk-a-rather-secret" not in out
    assert "****1234" in out
    assert mask_key("short") == "****"
