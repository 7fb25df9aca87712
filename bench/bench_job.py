"""A 1,000,000-request ``kimi_batch_job`` through split, the local Kimi server, merge and the table.

Usage::

    .venv/bin/python bench/bench_job.py                    # 1,000,000 requests in 8 parts
    .venv/bin/python bench/bench_job.py --requests 100000  # smaller

The input is split with ``split_file`` into parts, each part is uploaded to the local server
(``kimi-batch emulator --time-scale 0``, a separate process) as one batch, the result files are
streamed back, and ``merge_job`` writes the results table: one row per request, in input order.
Split and merge each run in a fresh subprocess, so the peak resident memory printed is their own,
beside their floor measured in the same run on the same lines: read every line, ``orjson.loads``
and ``orjson.dumps`` it, write it out. Times are CPU seconds of that process (user + system), the
best of ``--repeat`` runs, so other work on the machine blurs the comparison less. The target:
peak memory under 250 MB, and each step at >= 0.5 x its floor (ratio = floor time / step time).
"""

from __future__ import annotations

import argparse
import json
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parent.parent
SYSTEM = "Classify texts into: Literature/News/Academic/Technology/Lifestyle. Answer with the category."
SUBJECTS = ("Hamlet, a tragedy", "a new planet discovered today", "a study in a journal", "an AI chip", "a recipe")
SERVER_OPTIONS = ("--time-scale", "0", "--quiet", "--max-total-gb", "100")
MEMORY_TARGET_MB = 250
RATIO_TARGET = 0.5


def generate(path: Path, count: int) -> int:
    """Write ``count`` classification requests; return the bytes written."""
    dumps, option = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    with path.open("wb") as out:
        for number in range(count):
            text = f"Text {number}: {SUBJECTS[number % len(SUBJECTS)]}."
            request = {
                "custom_id": f"row-{number:07d}",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {
                    "model": "kimi-k2.5",
                    "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}],
                    "max_tokens": 16,
                },
            }
            out.write(dumps(request, option=option))
    return path.stat().st_size


def floor(files: list[Path], out: Path) -> None:
    """Read every line of ``files``, ``orjson.loads`` and ``orjson.dumps`` it, write it out."""
    loads, dumps, option = orjson.loads, orjson.dumps, orjson.OPT_APPEND_NEWLINE
    with out.open("wb", buffering=1 << 20) as handle:
        write = handle.write
        for path in files:
            with path.open("rb", buffering=1 << 20) as lines:
                for raw in lines:
                    write(dumps(loads(raw), option=option))


def split_step(work: Path, parts: int, count: int) -> None:
    from airflow_provider_kimi.batch.splitter import split_file

    folder = work / "parts"
    for old in folder.glob("*.jsonl"):
        old.unlink()
    split_file(work / "input.jsonl", folder, max_lines=-(-count // parts))


def merge_step(work: Path) -> None:
    from airflow_provider_kimi.batch.jobs.merge import BatchFiles, JobPart, merge_job
    from airflow_provider_kimi.batch.jobs.table import JsonlTableWriter

    plan = json.loads((work / "batches.json").read_text())
    parts = [
        JobPart(Path(part["input"]), "kimi-k2.5", BatchFiles(1, part["batch_id"], tuple(map(Path, part["files"]))))
        for part in plan
    ]
    writer = JsonlTableWriter(work / "results.jsonl")
    try:
        merge_job(parts, [], writer)
    finally:
        writer.close()


def result_files(work: Path) -> list[Path]:
    return [Path(f) for part in json.loads((work / "batches.json").read_text()) for f in part["files"]]


STEPS: dict[str, Callable[[Path, argparse.Namespace], None]] = {
    "split": lambda work, args: split_step(work, args.parts, args.requests),
    "split floor": lambda work, args: floor([work / "input.jsonl"], work / "floor.jsonl"),
    "merge": lambda work, args: merge_step(work),
    "merge floor": lambda work, args: floor(result_files(work), work / "floor.jsonl"),
}


def measure(step: str, work: Path, args: argparse.Namespace) -> dict[str, float]:
    """One step in this process (a fresh subprocess): best CPU time, and peak memory."""
    best = float("inf")
    for _ in range(args.repeat):
        start = time.process_time()
        STEPS[step](work, args)
        best = min(best, time.process_time() - start)
    return {"seconds": best, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def in_subprocess(step: str, work: Path, args: argparse.Namespace) -> dict[str, float]:
    command = [sys.executable, __file__, "--measure", step, "--work", str(work)]
    command += ["--requests", str(args.requests), "--parts", str(args.parts), "--repeat", str(args.repeat)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_batches(work: Path) -> float:
    """Upload each part as a batch on a local server at time scale 0; stream the results back."""
    import openai

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_kimi.cli.main", "emulator", "--port", str(port), *SERVER_OPTIONS],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    started = time.monotonic()
    try:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-bench", timeout=600)
        for _ in range(200):
            try:
                client.files.list()
                break
            except openai.APIConnectionError:
                time.sleep(0.1)
        batches: list[dict[str, Any]] = []
        for part in sorted((work / "parts").glob("*.jsonl")):
            with part.open("rb") as handle:
                uploaded = client.files.create(file=(part.name, handle, "application/jsonl"), purpose="batch")
            batch = client.batches.create(
                input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
            )
            batches.append({"input": str(part), "batch_id": batch.id})
        for entry in batches:
            while (batch := client.batches.retrieve(entry["batch_id"])).status not in ("completed", "failed"):
                time.sleep(0.5)
            files = []
            for kind, file_id in (("output", batch.output_file_id), ("error", batch.error_file_id)):
                if file_id:
                    target = work / f"{batch.id}.{kind}.jsonl"
                    with client.files.with_streaming_response.content(file_id) as response, target.open("wb") as out:
                        for chunk in response.iter_bytes(1 << 20):
                            out.write(chunk)
                    files.append(str(target))
            entry["files"] = files
        (work / "batches.json").write_text(json.dumps(batches))
    finally:
        server.terminate()
        server.wait()
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--parts", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--keep", type=Path, metavar="DIR", help="work in DIR and keep the files")
    parser.add_argument("--measure", choices=sorted(STEPS), help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.work, args)))
        return 0

    with tempfile.TemporaryDirectory(prefix="kimi-bench-job-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        size = generate(work / "input.jsonl", args.requests)
        print(f"{args.requests:,} requests, {size / 1e6:.0f} MB, {args.parts} parts")
        split = in_subprocess("split", work, args)
        split_floor = in_subprocess("split floor", work, args)
        seconds = run_batches(work)
        out_mb = sum(path.stat().st_size for path in result_files(work)) / 1e6
        print(f"batches on the local server (time scale 0), upload + run + download: {seconds:.0f} s, {out_mb:.0f} MB")
        merge = in_subprocess("merge", work, args)
        merge_floor = in_subprocess("merge floor", work, args)
        rows = sum(1 for _ in (work / "results.jsonl").open("rb"))
        print(f"results table: {rows:,} rows")
        print()
        print(f"{'step':<8}{'CPU s':>8}{'floor s':>9}{'ratio':>8}{'peak MB':>9}")
        ok = rows == args.requests
        for name, step, base in (("split", split, split_floor), ("merge", merge, merge_floor)):
            ratio = base["seconds"] / step["seconds"]
            ok &= ratio >= RATIO_TARGET and step["peak_mb"] < MEMORY_TARGET_MB
            print(f"{name:<8}{step['seconds']:>8.2f}{base['seconds']:>9.2f}{ratio:>8.2f}{step['peak_mb']:>9.0f}")
        verdict = "met" if ok else "MISSED"
        print(f"\ntargets: ratio >= {RATIO_TARGET}, peak < {MEMORY_TARGET_MB} MB, one row per request: {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
