"""Progress bars of validate, split and results: drawn on a terminal, never in a pipe or with --quiet."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.progress import Progress

from airflow_provider_kimi.batch.splitter import split_file
from airflow_provider_kimi.batch.summary import iter_input_custom_ids
from airflow_provider_kimi.batch.validator import validate_file
from airflow_provider_kimi.cli.progress import FileProgress, tracked
from tests.batch.input_helpers import request, write_lines

KIMI_BATCH = Path(sys.executable).with_name("kimi-batch")
LINES = 3000


@pytest.fixture(scope="module")
def big_input(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_lines(tmp_path_factory.mktemp("big") / "big.jsonl", [request(f"r{i}") for i in range(LINES)])


@pytest.fixture(scope="module")
def big_output(big_input: Path) -> Path:
    answer = {"choices": [{"message": {"role": "assistant", "content": "ok"}}], "usage": {"total_tokens": 3}}
    lines = [json.dumps({"custom_id": f"r{i}", "response": {"status_code": 200, "body": answer}}) for i in range(LINES)]
    path = big_input.with_name("big.output.jsonl")
    path.write_text("\n".join(lines) + "\n")
    return path


def on_a_terminal(argv: list[str], cwd: Path) -> tuple[int, bytes]:
    """Run ``kimi-batch`` with stdout and stderr on a pseudo-terminal; return its code and all it drew."""
    leader, follower = os.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "160", "LINES": "40"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [str(KIMI_BATCH), *argv], stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, cwd=cwd, env=env
    )
    os.close(follower)
    drawn = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the command has exited
            break
        if not chunk:
            break
        drawn += chunk
    os.close(leader)
    return proc.wait(timeout=60), drawn


@pytest.mark.parametrize(
    "argv",
    [
        ["validate", "big.jsonl"],
        ["split", "big.jsonl", "--output-dir", "parts", "--max-lines", "1000"],
        ["results", "big.output.jsonl", "--show", "0"],
    ],
    ids=["validate", "split", "results"],
)
def test_a_terminal_gets_a_bar_with_bytes_and_lines(
    big_input: Path, big_output: Path, argv: list[str], tmp_path: Path
) -> None:
    for path in (big_input, big_output):
        (tmp_path / path.name).symlink_to(path)
    code, drawn = on_a_terminal(argv, tmp_path)
    assert code == 0, drawn.decode(errors="replace")
    assert f"{LINES:,} lines".encode() in drawn
    assert b" kB" in drawn  # bytes read of the total
    assert b"\x1b[" in drawn  # drawn with terminal control codes, then cleared


def test_quiet_on_a_terminal_draws_nothing(big_input: Path, tmp_path: Path) -> None:
    code, drawn = on_a_terminal(["validate", str(big_input), "--quiet"], tmp_path)
    assert code == 0
    assert (
        drawn.decode().strip() == f"{big_input}: OK: {LINES} lines, {big_input.stat().st_size} bytes, model kimi-k2.5"
    )


def test_a_pipe_gets_no_bar(big_input: Path) -> None:
    done = subprocess.run([str(KIMI_BATCH), "validate", str(big_input)], capture_output=True, timeout=60, check=False)
    assert done.returncode == 0
    assert b"lines/s" not in done.stdout + done.stderr
    assert b"\x1b" not in done.stdout + done.stderr


def test_tracked_files_read_the_same_and_count_every_byte_and_line(big_input: Path, tmp_path: Path) -> None:
    progress = FileProgress()
    report = validate_file(tracked(progress, big_input))
    parts = split_file(tracked(progress, big_input), tmp_path / "parts", max_lines=1000)
    ids = list(iter_input_custom_ids(tracked(progress, big_input)))
    assert report.ok
    assert report.lines == LINES
    assert [part.lines for part in parts] == [1000, 1000, 1000]
    assert len(ids) == LINES
    bars: Progress = progress.progress
    size = big_input.stat().st_size
    assert [(task.completed, task.total, task.fields["lines"]) for task in bars.tasks] == [(size, size, LINES)] * 3


def test_a_download_bar_counts_the_chunks_it_is_fed() -> None:
    progress = FileProgress()
    count = progress.chunk_counter("output.jsonl", total_bytes=14)
    for chunk in (b"one\ntw", b"o\nthree\n"):
        count(chunk)
    (task,) = progress.progress.tasks
    assert (task.completed, task.total, task.fields["lines"], task.finished) == (14, 14, 3, True)


def test_no_bar_means_the_path_itself() -> None:
    assert tracked(None, "in.jsonl") == "in.jsonl"
