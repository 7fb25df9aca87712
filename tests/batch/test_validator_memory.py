"""Validating a large file keeps memory bounded: no list of all lines is ever built."""

from __future__ import annotations

import base64
import tracemalloc

import orjson

from airflow_provider_kimi.batch import split_file, validate_file

TARGET_BYTES = 30_000_000
PEAK_LIMIT = 20_000_000


def test_validating_30_mb_stays_under_20_mb_peak(tmp_path):
    path = tmp_path / "big.jsonl"
    text = "Classify this text: " + "lorem ipsum dolor sit amet " * 40
    image = "data:image/png;base64," + base64.b64encode(bytes(range(256)) * 800).decode()
    head = b'{"custom_id":"request-'
    text_tail = orjson.dumps(
        {
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": "kimi-k2.5", "messages": [{"role": "user", "content": text}]},
        }
    )[1:]
    image_tail = orjson.dumps(
        {
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {
                "model": "kimi-k2.5",
                "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": image}}]}],
            },
        }
    )[1:]
    written = lines = 0
    with path.open("wb") as handle:
        while written < TARGET_BYTES:
            lines += 1
            line = head + str(lines).encode() + b'",' + (image_tail if lines % 100 == 0 else text_tail) + b"\n"
            handle.write(line)
            written += len(line)

    tracemalloc.start()
    try:
        report = validate_file(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.ok, report.format()
    assert report.lines == lines
    assert report.bytes == written
    assert peak < PEAK_LIMIT, f"peak {peak} bytes"

    tracemalloc.start()
    try:
        parts = split_file(path, tmp_path / "parts", max_bytes=10_000_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sum(part.lines for part in parts) == lines
    assert peak < PEAK_LIMIT, f"peak {peak} bytes"
