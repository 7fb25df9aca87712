"""What hostile and broken input costs: a crash mid-batch, a very long result line, a huge chunked upload.

Usage::

    uv run --group bench python bench/bench_hostile_inputs.py crash --requests 100000 --kills 6
    uv run --group bench python bench/bench_hostile_inputs.py long-line --mb 32 64 128
    uv run --group bench python bench/bench_hostile_inputs.py upload --mb 1024

To measure an older version, put its ``airflow_provider_kimi`` first on ``PYTHONPATH``
(``git archive <commit> airflow_provider_kimi | tar -x -C /tmp/old``, then
``PYTHONPATH=/tmp/old``): the same commands then measure it.

- ``crash``: ``kimi-batch emulator --state-dir`` in its own process runs one batch; it is killed
  with ``kill -9`` at random moments while requests run and restarted on the same folder. Prints
  the output file's line count, repeated and missing ``custom_id`` s.
- ``long-line``: a results file holding one line of N MB (then a normal line), fed to the
  download operator's chunk reader in the download's 1 MiB chunks, each size in its own
  subprocess: seconds and peak resident memory over the baseline.
- ``upload``: a multipart upload of N MB with ``Transfer-Encoding: chunked`` (no
  ``Content-Length``) to an emulator with the default 100 MB limit: seconds to the answer, the
  status, and how many bytes the client had to send before it.
"""

from __future__ import annotations

import argparse
import inspect
import json
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MB = 1024 * 1024


# -- crash -------------------------------------------------------------------------------------
def _serve(state_dir: Path) -> tuple[subprocess.Popen[str], Any]:
    from openai import OpenAI

    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "airflow_provider_kimi.cli.main", "emulator", "--port", "0", "--quiet"),
            *("--state-dir", str(state_dir), "--rate", "100000", "--validating-seconds", "0"),
            *("--finalizing-seconds", "0"),
        ],
        stdout=subprocess.PIPE,
        text=True,
        # Not the repository: ``-m`` puts the working folder first on sys.path, before PYTHONPATH.
        cwd=state_dir,
    )
    assert process.stdout is not None
    match = re.search(r"(http://127\.0\.0\.1:\d+/v1)", process.stdout.readline())
    assert match, "the emulator did not start"
    return process, OpenAI(api_key="sk-bench", base_url=match.group(1), max_retries=2, timeout=120)


def crash(requests: int, kills: int, seed: int) -> None:
    chance = random.Random(seed)
    body = {"model": "kimi-k2.5", "messages": [{"role": "user", "content": "hello"}]}
    data = b"".join(
        json.dumps({"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions", "body": body}).encode()
        + b"\n"
        for i in range(requests)
    )
    with tempfile.TemporaryDirectory() as state:
        process, client = _serve(Path(state))
        file_id = client.files.create(file=("in.jsonl", data), purpose="batch").id
        batch_id = client.batches.create(
            input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
        ).id
        done, killed = 0, 0
        for _ in range(kills):
            while (batch := client.batches.retrieve(batch_id)).request_counts.completed <= done:
                time.sleep(0.02)
            done = batch.request_counts.completed
            if batch.status != "in_progress":
                break
            time.sleep(chance.random() * 0.3)
            process.kill()
            process.wait()
            killed += 1
            process, client = _serve(Path(state))
        while (batch := client.batches.retrieve(batch_id)).status != "completed":
            time.sleep(0.2)
        ids = [
            json.loads(line)["custom_id"] for line in client.files.content(batch.output_file_id).content.splitlines()
        ]
        process.terminate()
        process.wait()
    print(
        f"crash: {requests} requests, {killed} kills mid-batch: {len(ids)} output lines, "
        f"{len(ids) - len(set(ids))} repeated, {requests - len(set(ids))} missing"
    )


# -- long line ---------------------------------------------------------------------------------
def _feed_long_line(size_mb: int) -> None:
    """Runs in its own process: prints seconds and peak memory over the baseline, as JSON."""
    from airflow_provider_kimi.batch.results import ChunkedResultsReader

    answer = {"custom_id": "long", "response": {"status_code": 200, "body": {"choices": []}}, "error": None}
    head = json.dumps(answer).encode()[:-1] + b', "pad": "'
    data = head + b"x" * (size_mb * MB) + b'"}\n' + json.dumps({**answer, "custom_id": "next"}).encode() + b"\n"
    chunks = [data[i : i + MB] for i in range(0, len(data), MB)]
    del data
    results: list[Any] = []
    extra = (
        {"max_line_bytes": 1 << 40} if "max_line_bytes" in inspect.signature(ChunkedResultsReader).parameters else {}
    )
    reader = ChunkedResultsReader("out.jsonl", results.append, **extra)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    for chunk in chunks:
        reader.feed(chunk)
    reader.close()
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert [r.custom_id for r in results] == ["long", "next"]
    print(json.dumps({"seconds": seconds, "peak_mb": (peak - baseline) / 1024}))


def long_line(sizes: list[int]) -> None:
    for size in sizes:
        out = subprocess.run(
            [sys.executable, __file__, "_feed", str(size)], capture_output=True, text=True, check=True
        ).stdout
        figures = json.loads(out)
        print(f"long line: {size} MB line: {figures['seconds']:.2f} s, +{figures['peak_mb']:.0f} MB peak memory")


# -- chunked upload ----------------------------------------------------------------------------
def upload(size_mb: int) -> None:
    import httpx

    from airflow_provider_kimi.emulator import EmulatorSettings, KimiEmulator

    sent = [0]

    def body() -> Iterator[bytes]:
        yield (
            b'--b\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="in.jsonl"\r\n\r\n'
        )
        piece = b"x" * MB
        for _ in range(size_mb):
            sent[0] += len(piece)
            yield piece
        yield b"\r\n--b--\r\n"

    with KimiEmulator(EmulatorSettings(access_log=False, log_level="warning")) as emu:
        started = time.perf_counter()
        response = httpx.post(
            emu.base_url + "/files",
            content=body(),
            headers={"Authorization": f"Bearer {emu.api_key}", "Content-Type": "multipart/form-data; boundary=b"},
            timeout=600,
        )
        seconds = time.perf_counter() - started
    print(
        f"upload: {size_mb} MB chunked: HTTP {response.status_code} after {seconds:.2f} s, "
        f"{sent[0] / MB:.0f} MB sent before the answer"
    )


def main() -> None:
    if sys.argv[1:2] == ["_feed"]:
        _feed_long_line(int(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    crash_args = commands.add_parser("crash")
    crash_args.add_argument("--requests", type=int, default=100_000)
    crash_args.add_argument("--kills", type=int, default=6)
    crash_args.add_argument("--seed", type=int, default=1)
    commands.add_parser("long-line").add_argument("--mb", type=int, nargs="+", default=[32, 64, 128])
    commands.add_parser("upload").add_argument("--mb", type=int, default=1024)
    args = parser.parse_args()
    if args.command == "crash":
        crash(args.requests, args.kills, args.seed)
    elif args.command == "long-line":
        long_line(args.mb)
    else:
        upload(args.mb)


if __name__ == "__main__":
    main()
