"""``kill -9`` mid-batch, restart on the same ``--state-dir``: every request ends up in the
results exactly once, however many times the server dies."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from openai import OpenAI

pytestmark = pytest.mark.timeout(300)

REQUESTS = 60_000
KILLS = 5


class Server:
    """``kimi-batch emulator`` in its own process, so it can be killed without warning."""

    def __init__(self, state_dir: Path) -> None:
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "airflow_provider_kimi.cli.main", "emulator", "--port", "0", "--quiet"),
                *("--state-dir", str(state_dir), "--rate", "100000", "--validating-seconds", "0"),
                *("--finalizing-seconds", "0", "--api-key", "sk-crash"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        banner = self.process.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+/v1)", banner)
        assert match, banner + self.process.stderr.read() if self.process.stderr else banner
        self.client = OpenAI(api_key="sk-crash", base_url=match.group(1), max_retries=2, timeout=60)

    def kill(self) -> None:
        self.process.kill()
        self.process.communicate(timeout=30)

    def stop(self) -> None:
        self.process.terminate()
        self.process.communicate(timeout=30)


def request_lines(count: int) -> bytes:
    body = {"model": "kimi-k2.5", "messages": [{"role": "user", "content": "hello"}]}
    return b"".join(
        json.dumps({"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions", "body": body}).encode()
        + b"\n"
        for i in range(count)
    )


def test_kill_9_mid_batch_never_repeats_or_loses_a_result(tmp_path):
    chance = random.Random(11)
    server = Server(tmp_path)
    try:
        file_id = server.client.files.create(file=("in.jsonl", request_lines(REQUESTS)), purpose="batch").id
        batch_id = server.client.batches.create(
            input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
        ).id
        kills_mid_batch = 0
        done = 0
        for _ in range(KILLS):
            # Wait for the restarted server to make progress (it runs requests in slices of
            # thousands), then kill it at a random moment: most land while a slice is written.
            while (batch := server.client.batches.retrieve(batch_id)).request_counts.completed <= done:
                time.sleep(0.02)
            done = batch.request_counts.completed
            if batch.status != "in_progress":
                break
            time.sleep(chance.random() * 0.3)
            server.kill()
            kills_mid_batch += 1
            server = Server(tmp_path)
        deadline = time.monotonic() + 200
        while (batch := server.client.batches.retrieve(batch_id)).status != "completed":
            assert time.monotonic() < deadline, batch
            time.sleep(0.2)
        output = server.client.files.content(batch.output_file_id).content
    finally:
        server.stop()
    custom_ids = [json.loads(line)["custom_id"] for line in output.splitlines()]
    assert kills_mid_batch >= 2
    assert len(custom_ids) == REQUESTS, f"{len(custom_ids) - len(set(custom_ids))} repeated lines"
    assert set(custom_ids) == {f"r{i}" for i in range(REQUESTS)}
    assert batch.request_counts.completed == REQUESTS
