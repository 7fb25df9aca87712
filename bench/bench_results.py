"""Downloading and reading a 500 MB+ batch output: the provider against the user guide's way.

Usage::

    uv run --group bench python bench/bench_results.py                 # 520 MB output file
    uv run --group bench python bench/bench_results.py --size-mb 100   # smaller

A local Kimi server (the emulator, in this process) serves one output file of ``--size-mb``
written straight into its store, as a finished batch's output is (uploads stop at 100 MB;
outputs do not). Each measurement then runs in its own subprocess, so its peak resident memory
(``ru_maxrss``) is its own, and reads the file over HTTP from the server:

- raw stream: ``httpx2`` streaming the content endpoint into nothing (the floor for any client);
- raw stream to file: the same, written to disk (the floor for a download);
- ``KimiBatchHook.download_file``: the provider's download (the SDK's streaming response);
- download + ``summarize``: the download, then the provider's one-pass summary of the file;
- download + ``iter_results``: the download, then every line parsed into a result with its answer;
- the guide: ``client.files.content(id).text``, ``.strip().split("\\n")`` and ``json.loads`` per
  line, reading each answer as the guide's loop does.

Times are wall seconds, best of ``--repeat`` runs in the same subprocess, after the imports
(every row's memory includes the same imports: the first row); MB/s is the file's size over that
time. The download target is at least 70% of the raw stream's throughput.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ANSWER = "The answer to this request, long enough to weigh as much as a real one does. " * 12
SUCCESS = (
    '{"id":"req-%d","custom_id":"req-%d","response":{"status_code":200,"request_id":"r-%d",'
    '"body":{"id":"chatcmpl-%d","object":"chat.completion","model":"kimi-k2.5","choices":[{"index":0,'
    '"message":{"role":"assistant","content":"' + ANSWER + '"},"finish_reason":"stop"}],'
    '"usage":{"prompt_tokens":30,"completion_tokens":10,"total_tokens":40}}},"error":null}\n'
)
CHUNK = 1 << 20


def write_output(path: Path, size_bytes: int) -> int:
    """Write success lines until the file holds at least ``size_bytes``; return the line count."""
    written = lines = 0
    with path.open("w") as handle:
        while written < size_bytes:
            block = "".join(SUCCESS % ((n,) * 4) for n in range(lines, lines + 10_000))
            handle.write(block)
            written += len(block)
            lines += 10_000
    return lines


def serve_file(emulator: Any, source: Path) -> str:
    """Make ``source`` one of the server's files (an output file) and return its id."""
    from airflow_provider_kimi.emulator.engine import OUTPUT_PURPOSE
    from airflow_provider_kimi.emulator.store import FileRecord, new_id

    content_name, target = emulator.store.new_content_path()
    os.replace(source, target)
    record = FileRecord(
        new_id(), "batch_output.jsonl", OUTPUT_PURPOSE, target.stat().st_size, int(time.time()), content_name
    )
    emulator.store.add_file(record)
    return record.id


# -- measurements (each in its own subprocess) ------------------------------------------------


def raw_stream(base_url: str, key: str, file_id: str, _scratch: Path) -> int:
    import httpx2

    total = 0
    headers = {"Authorization": f"Bearer {key}"}
    with httpx2.stream("GET", f"{base_url}/files/{file_id}/content", headers=headers, timeout=600) as response:
        for chunk in response.iter_raw(CHUNK):
            total += len(chunk)
    return total


def raw_to_file(base_url: str, key: str, file_id: str, scratch: Path) -> int:
    import httpx2

    total = 0
    headers = {"Authorization": f"Bearer {key}"}
    with (
        httpx2.stream("GET", f"{base_url}/files/{file_id}/content", headers=headers, timeout=600) as response,
        (scratch / "raw.jsonl").open("wb") as out,
    ):
        for chunk in response.iter_raw(CHUNK):
            out.write(chunk)
            total += len(chunk)
    return total


def _download(file_id: str, scratch: Path) -> Path:
    from airflow_provider_kimi.hooks.kimi import KimiBatchHook

    target = scratch / "output.jsonl"
    KimiBatchHook().download_file(file_id, target)
    return target


def hook_download(_base_url: str, _key: str, file_id: str, scratch: Path) -> int:
    return _download(file_id, scratch).stat().st_size


def download_summarize(_base_url: str, _key: str, file_id: str, scratch: Path) -> int:
    from airflow_provider_kimi.batch.summary import summarize

    path = _download(file_id, scratch)
    summary = summarize(path)
    if summary.failed or not summary.succeeded:
        raise SystemExit(f"unexpected summary: {summary}")
    return path.stat().st_size


def download_iter_results(_base_url: str, _key: str, file_id: str, scratch: Path) -> int:
    from airflow_provider_kimi.batch.results import iter_results

    path = _download(file_id, scratch)
    chars = 0
    for result in iter_results(path):
        chars += len(result.answer or "")
    if not chars:
        raise SystemExit("no answers read")
    return path.stat().st_size


def guide(base_url: str, key: str, file_id: str, _scratch: Path) -> int:
    """The user guide's loop, unchanged but for printing: every answer read, nothing kept."""
    from openai import OpenAI

    client = OpenAI(api_key=key, base_url=base_url, timeout=600)
    output = client.files.content(file_id)
    size = len(output.content)
    chars = 0
    for line in output.text.strip().split("\n"):
        result: dict[str, Any] = json.loads(line)
        content: str = result["response"]["body"]["choices"][0]["message"]["content"]
        chars += len(content)
    if not chars:
        raise SystemExit("no answers read")
    return size


def idle(_base_url: str, _key: str, _file_id: str, _scratch: Path) -> int:
    """The interpreter and imports alone: the memory every other row carries."""
    import httpx2  # noqa: F401
    from openai import OpenAI  # noqa: F401

    from airflow_provider_kimi.batch.summary import summarize  # noqa: F401
    from airflow_provider_kimi.hooks.kimi import KimiBatchHook  # noqa: F401

    return 0


MEASUREMENTS: dict[str, tuple[str, Callable[[str, str, str, Path], int]]] = {
    "idle": ("interpreter + imports (memory baseline)", idle),
    "raw": ("raw stream, discarded (floor)", raw_stream),
    "raw_file": ("raw stream to file (download floor)", raw_to_file),
    "download": ("KimiBatchHook.download_file", hook_download),
    "summarize": ("download_file + summarize", download_summarize),
    "iter_results": ("download_file + iter_results (answers)", download_iter_results),
    "guide": ("guide: files.content().text + json.loads", guide),
}


def measure(name: str, base_url: str, key: str, file_id: str, repeat: int) -> dict[str, float]:
    function = MEASUREMENTS[name][1]
    os.environ["AIRFLOW_CONN_KIMI_DEFAULT"] = json.dumps({"conn_type": "kimi", "host": base_url, "password": key})
    idle(base_url, key, file_id, Path())  # imports out of the timings; every row carries the same baseline
    best = float("inf")
    size = 0
    for _ in range(1 if name == "idle" else repeat):
        with tempfile.TemporaryDirectory() as scratch:
            start = time.perf_counter()
            size = function(base_url, key, file_id, Path(scratch))
            best = min(best, time.perf_counter() - start)
    return {"seconds": best, "bytes": size, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=float, default=520.0, help="output file size in MB (1e6 bytes)")
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs per measurement")
    parser.add_argument("--measure", choices=sorted(MEASUREMENTS), help=argparse.SUPPRESS)
    parser.add_argument("--target", nargs=3, metavar=("BASE_URL", "KEY", "FILE_ID"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.measure:
        base_url, key, file_id = args.target
        print(json.dumps(measure(args.measure, base_url, key, file_id, args.repeat)))
        return 0

    from airflow_provider_kimi.emulator import EmulatorSettings, KimiEmulator

    with (
        tempfile.TemporaryDirectory() as scratch,
        KimiEmulator(EmulatorSettings(access_log=False, log_level="warning")) as emulator,
    ):
        source = Path(scratch) / "output.jsonl"
        lines = write_output(source, int(args.size_mb * 1_000_000))
        size = source.stat().st_size
        file_id = serve_file(emulator, source)
        print(
            f"output file: {size / 1e6:.0f} MB, {lines:,} lines; python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
        )
        print(f"best of {args.repeat} runs, each measurement in its own process; server in this process\n")
        results: dict[str, dict[str, float]] = {}
        for name in MEASUREMENTS:
            command = [
                sys.executable, __file__, "--measure", name, "--repeat", str(args.repeat),
                "--target", emulator.base_url, emulator.api_key, file_id,
            ]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            results[name] = json.loads(done.stdout.strip().splitlines()[-1])

    floor = results["raw"]["seconds"]
    header = f"{'measurement':<44} {'s':>8} {'MB/s':>8} {'vs raw':>8} {'peak RSS MB':>12}"
    print(header)
    print("-" * len(header))
    for name, (label, _function) in MEASUREMENTS.items():
        result = results[name]
        if name == "idle":
            print(f"{label:<44} {'':>8} {'':>8} {'':>8} {result['rss_mb']:>12.1f}")
            continue
        speed = size / 1e6 / result["seconds"]
        ratio = floor / result["seconds"]
        print(f"{label:<44} {result['seconds']:>8.2f} {speed:>8.0f} {ratio:>8.2f} {result['rss_mb']:>12.1f}")
    guide_s, guide_rss = results["guide"]["seconds"], results["guide"]["rss_mb"]
    download = results["download"]
    print(
        f"\nvs raw = raw stream time / this time. download_file: {floor / download['seconds']:.0%} of raw "
        f"(target >= 70%), {download['rss_mb'] - results['idle']['rss_mb']:.0f} MB above the baseline for a "
        f"{size / 1e6:.0f} MB file."
    )
    for name in ("summarize", "iter_results"):
        ours = results[name]
        print(
            f"{MEASUREMENTS[name][0]} vs the guide: x{guide_s / ours['seconds']:.2f} the speed, "
            f"x{guide_rss / ours['rss_mb']:.1f} less peak memory"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
