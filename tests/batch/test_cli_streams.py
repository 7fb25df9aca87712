"""The CLI with the streams a shell gives it: a reader that stops early, and a path that is a pipe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

KIMI_BATCH = Path(sys.executable).with_name("kimi-batch")

pytestmark = pytest.mark.timeout(60)


def test_results_piped_into_head_ends_quietly(tmp_path):
    output = tmp_path / "out.jsonl"
    body = {"choices": [{"message": {"content": "an answer " * 5}, "finish_reason": "stop"}]}
    output.write_text(
        "".join(
            json.dumps({"custom_id": f"r{i}", "response": {"status_code": 200, "body": body}, "error": None}) + "\n"
            for i in range(5000)
        )
    )
    # ``kimi-batch results out.jsonl --show 5000 | head -1``: the table is far larger than a pipe holds.
    process = subprocess.Popen(
        [str(KIMI_BATCH), "results", str(output), "--show", "5000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    assert process.stdout.readline().startswith(b"custom_id")
    process.stdout.close()
    errors = process.stderr.read().decode()
    assert process.wait(timeout=30) == 141
    assert "Traceback" not in errors, errors
    assert "BrokenPipeError" not in errors


@pytest.mark.parametrize("command", ["validate", "split"])
def test_a_named_pipe_is_refused_instead_of_waited_on(tmp_path, command):
    fifo = tmp_path / "requests.jsonl"
    os.mkfifo(fifo)
    extra = ["--output-dir", str(tmp_path / "parts")] if command == "split" else []
    done = subprocess.run(
        [str(KIMI_BATCH), command, str(fifo), *extra], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 2
    assert "not a regular file" in done.stderr
    assert "Traceback" not in done.stderr
