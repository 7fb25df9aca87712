"""A large batch summarises in the memory of its ids, not of its answers."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

from airflow_provider_kimi.batch.summary import summarize

LINES = 100_000
ANSWER = "The answer to this request, long enough to weigh as much as a real one does. " * 12

SUCCESS = (
    '{"id":"batch_req_%d","custom_id":"req-%d","response":{"status_code":200,"request_id":"r-%d",'
    '"body":{"id":"chatcmpl-%d","object":"chat.completion","model":"kimi-k2.5","choices":[{"index":0,'
    '"message":{"role":"assistant","content":"' + ANSWER + '"},"finish_reason":"stop"}],'
    '"usage":{"prompt_tokens":30,"completion_tokens":10,"total_tokens":40}}},"error":null}\n'
)
FAILED = (
    '{"id":"batch_req_%d","custom_id":"req-%d","response":{"status_code":429,"request_id":"",'
    '"body":{"error":{"type":"rate_limit_reached_error","message":"slow down"}}},"error":null}\n'
)
INPUT = '{"custom_id":"req-%d","method":"POST","url":"/v1/chat/completions","body":{"model":"kimi-k2.5"}}\n'


def write_lines(path: Path, template: str, ids: range, fields: int) -> int:
    with path.open("w") as handle:
        for start in range(ids.start, ids.stop, 10_000):
            chunk = range(start, min(start + 10_000, ids.stop))
            handle.write("".join(template % ((n,) * fields) for n in chunk))
    return path.stat().st_size


def test_large_output_is_summarised_in_bounded_memory(tmp_path: Path) -> None:
    failed = 1_000
    size = write_lines(tmp_path / "output.jsonl", SUCCESS, range(failed, LINES), 4)
    size += write_lines(tmp_path / "error.jsonl", FAILED, range(failed), 2)
    write_lines(tmp_path / "input.jsonl", INPUT, range(LINES + 5), 1)

    tracemalloc.start()
    try:
        summary = summarize(tmp_path / "output.jsonl", tmp_path / "error.jsonl", tmp_path / "input.jsonl")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert (summary.succeeded, summary.failed, summary.missing, summary.duplicates) == (LINES - failed, failed, 5, 0)
    assert summary.prompt_tokens == 30 * (LINES - failed)
    assert summary.top_errors[0].count == failed
    # What remains is the set of ids (about 100 bytes each), far below the answers' weight.
    assert size > 100_000_000
    assert peak < size / 4, f"peak {peak:,} bytes for {size:,} bytes of results"
