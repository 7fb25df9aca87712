"""``kimi-batch batches ...`` and ``kimi-batch files ...`` against the local server, in process."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from openai import OpenAI

from airflow_provider_kimi.cli.main import main

LINE = b'{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"kimi-k2.5","messages":[{"role":"user","content":"hi"}]}}\n'  # noqa: E501


@pytest.fixture
def kimi(make_emulator, monkeypatch, caplog):
    # Airflow 2, once imported in the session, logs each HTTP request to stdout: not the command's output.
    for name in ("httpx", "httpx2", "openai"):
        caplog.set_level(logging.WARNING, logger=name)
    emulator = make_emulator()
    monkeypatch.setenv("KIMI_TEST_KEY", emulator.api_key)
    monkeypatch.delenv("MOONSHOT_API_KEY", raising=False)
    return emulator


def run(kimi, capsys, *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--base-url", kimi.base_url, "--api-key-env", "KIMI_TEST_KEY"])
    out, err = capsys.readouterr()
    return code, out, err


def upload(kimi, name: str = "in.jsonl") -> str:
    client = OpenAI(base_url=kimi.base_url, api_key=kimi.api_key)
    return client.files.create(file=(name, LINE, "application/jsonl"), purpose="batch").id


def test_files_list_shows_the_count_against_the_quota(kimi, capsys):
    ids = [upload(kimi, f"in{n}.jsonl") for n in range(3)]
    code, out, _ = run(kimi, capsys, "files", "list")
    assert code == 0
    assert "id" in out.splitlines()[0]
    assert "purpose" in out.splitlines()[0]
    assert all(file_id in out for file_id in ids)
    assert "3 of 1,000 files used (0%); 3 with purpose batch" in out
    code, out, _ = run(kimi, capsys, "files", "list", "--json")
    listing = json.loads(out)
    assert (listing["count"], listing["quota"], listing["batch_files"]) == (3, 1000, 3)


def test_files_delete_by_filter_dry_run_then_for_real(kimi, capsys):
    ids = [upload(kimi, f"in{n}.jsonl") for n in range(2)]
    code, out, _ = run(kimi, capsys, "files", "delete", "--purpose", "batch", "--older-than", "7d")
    assert code == 0
    assert "Deleted 0 files." in out  # nothing is a week old yet
    code, out, _ = run(kimi, capsys, "files", "delete", "--purpose", "batch", "--older-than", "0s", "--dry-run")
    assert "Would delete 2 files." in out
    assert len(OpenAI(base_url=kimi.base_url, api_key=kimi.api_key).files.list().data) == 2
    code, out, _ = run(kimi, capsys, "files", "delete", "--purpose", "batch", "--older-than", "0s", "--json")
    assert sorted(json.loads(out)["deleted"]) == sorted(ids)
    assert OpenAI(base_url=kimi.base_url, api_key=kimi.api_key).files.list().data == []


def test_files_delete_by_id_reports_unknown_ids(kimi, capsys):
    file_id = upload(kimi)
    code, out, err = run(kimi, capsys, "files", "delete", file_id, "nosuchfile")
    assert code == 1
    assert f"Deleted {file_id}" in out
    assert "Not found: nosuchfile" in err


def test_files_delete_needs_ids_or_a_filter(kimi, capsys):
    code, _, err = run(kimi, capsys, "files", "delete")
    assert code == 2
    assert "give file ids, or --purpose and/or --older-than" in err
    code, _, err = run(kimi, capsys, "files", "delete", "--older-than", "soon")
    assert code == 2
    assert "not an age like 90m, 12h, 7d or 2w" in err


def test_files_download_streams_to_disk(kimi, capsys, tmp_path: Path):
    file_id = upload(kimi)
    target = tmp_path / "copy.jsonl"
    code, out, _ = run(kimi, capsys, "files", "download", file_id, "-o", str(target))
    assert code == 0
    assert target.read_bytes() == LINE
    assert f"Wrote {len(LINE)} bytes" in out


def test_batches_list_get_and_cancel(kimi, capsys):
    client = OpenAI(base_url=kimi.base_url, api_key=kimi.api_key)
    batch = client.batches.create(input_file_id=upload(kimi), endpoint="/v1/chat/completions", completion_window="24h")
    code, out, _ = run(kimi, capsys, "batches", "list")
    assert code == 0
    assert batch.id in out
    code, out, _ = run(kimi, capsys, "batches", "get", batch.id, "--json")
    assert json.loads(out)["id"] == batch.id
    code, out, _ = run(kimi, capsys, "batches", "cancel", batch.id)
    assert code == 0
    assert "nothing to cancel" in out  # at time scale 0 it has already completed
    code, _, err = run(kimi, capsys, "batches", "get", "nosuchbatch")
    assert code == 1
    assert "HTTP 404" in err


def test_a_missing_key_is_a_usage_error(kimi, capsys, monkeypatch):
    monkeypatch.delenv("KIMI_TEST_KEY")
    code, _, err = run(kimi, capsys, "files", "list")
    assert code == 2
    assert "no API key: set KIMI_TEST_KEY" in err
