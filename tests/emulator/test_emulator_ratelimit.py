"""Account rate limits per key: 429 rate_limit_reached_error with retry-after, and the headers."""

from __future__ import annotations

import http.client
import re
import signal
import subprocess
import sys
import time
import urllib.request

import pytest
from emulator_helpers import raw

from airflow_provider_kimi.cli.emulator import register
from airflow_provider_kimi.emulator.ratelimit import KeyLimiter
from airflow_provider_kimi.emulator.settings import EmulatorSettings


def test_no_limit_and_no_headers_without_the_settings(make_emulator):
    emu = make_emulator()
    for _ in range(30):
        status, headers, _ = raw(emu, "GET", "/v1/files")
        assert status == 200
    assert "x-ratelimit-limit" not in headers
    assert emu.stats()["rate_limited"] == 0


def test_rpm_limit_per_key_with_headers_on_every_answer(make_emulator):
    emu = make_emulator(rpm=3)
    seen = [raw(emu, "GET", "/v1/files") for _ in range(3)]
    assert [status for status, _, _ in seen] == [200, 200, 200]
    assert [h["x-ratelimit-remaining"] for _, h, _ in seen] == ["2", "1", "0"]
    assert {h["x-ratelimit-limit"] for _, h, _ in seen} == {"3"}
    assert 0 < int(seen[-1][1]["x-ratelimit-reset"]) <= 60

    status, headers, body = raw(emu, "GET", "/v1/batches")
    assert status == 429
    assert body["error"]["type"] == "rate_limit_reached_error"
    assert "3 requests per minute" in body["error"]["message"]
    assert 1 <= int(headers["retry-after"]) <= 60
    assert (headers["x-ratelimit-limit"], headers["x-ratelimit-remaining"]) == ("3", "0")
    # Errors count too (an unknown id), and another key has its own budget.
    status, headers, _ = raw(emu, "GET", "/v1/files/nope", key="sk-other")
    assert (status, headers["x-ratelimit-remaining"]) == (404, "2")
    assert emu.stats()["rate_limited"] == 1
    # Admin routes are not the account's.
    assert raw(emu, "GET", "/_emulator/stats")[0] == 200


def test_tier_sets_kimi_numbers_and_explicit_flags_win():
    assert EmulatorSettings(tier=0).account_limits == (3, 1)
    assert EmulatorSettings(tier=1).account_limits == (200, 50)
    assert EmulatorSettings(tier=5).account_limits == (10000, 1000)
    assert EmulatorSettings(tier=1, rpm=20).account_limits == (20, 50)
    assert EmulatorSettings().account_limits == (None, None)
    with pytest.raises(ValueError, match="tier"):
        EmulatorSettings(tier=6)


def test_window_slides_with_the_clock():
    now = [0.0]
    limiter = KeyLimiter(2, None, window_seconds=60.0, clock=lambda: now[0])
    assert limiter.acquire("k").allowed
    assert limiter.acquire("k").allowed
    refused = limiter.acquire("k")
    assert (refused.allowed, refused.remaining, refused.reset_seconds) == (False, 0, 60)
    now[0] = 59.5
    assert limiter.acquire("k").reset_seconds == 1
    now[0] = 60.0
    assert limiter.acquire("k").allowed


def test_concurrency_limit_refuses_calls_in_flight():
    limiter = KeyLimiter(None, 1)
    first = limiter.acquire("k")
    second = limiter.acquire("k")
    assert first.allowed
    assert not second.allowed
    assert "1 concurrent" in second.reason
    limiter.release("k")
    assert limiter.acquire("k").allowed


def test_concurrency_limit_against_the_running_server(make_emulator):
    emu = make_emulator(concurrency=1)
    # An upload whose body is still on its way holds the key's one slot.
    slow = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=10)
    slow.putrequest("POST", "/v1/files")
    slow.putheader("Authorization", f"Bearer {emu.api_key}")
    slow.putheader("Content-Type", "multipart/form-data; boundary=b")
    slow.putheader("Content-Length", "100000")
    slow.endheaders()
    slow.send(b"--b\r\n")
    deadline = time.monotonic() + 10
    while (answer := raw(emu, "GET", "/v1/files"))[0] == 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    status, headers, body = answer
    assert status == 429
    assert "1 concurrent" in body["error"]["message"]
    assert headers["retry-after"] == "1"
    slow.close()
    deadline = time.monotonic() + 10
    while raw(emu, "GET", "/v1/files")[0] != 200:
        assert time.monotonic() < deadline, "the slot was never given back"
        time.sleep(0.05)


def test_cli_flags(tmp_path):
    import argparse

    from airflow_provider_kimi.cli.emulator import settings_from_args

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["emulator", "--tier", "1", "--rpm", "20", "--concurrency", "4", "--ordered"])
    settings = settings_from_args(args)
    assert settings.account_limits == (20, 4)
    assert settings.ordered_results
    assert settings.max_batch_files == 1000
    assert settings.result_files_count


def test_cli_tier_announces_the_limits_and_serves_the_headers():
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_kimi.cli.main", "emulator", "--port", "0", "--quiet", "--tier", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [process.stdout.readline() for _ in range(4)]
        base_url = re.search(r"(http://127\.0\.0\.1:\d+)/v1", lines[0]).group(1)
        assert lines[3].strip() == "account rate limits per key: 3 requests a minute, 1 in flight"
        request = urllib.request.Request(f"{base_url}/v1/files", headers={"Authorization": "Bearer sk-any"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert (answer.headers["X-RateLimit-Limit"], answer.headers["X-RateLimit-Remaining"]) == ("3", "2")
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)
