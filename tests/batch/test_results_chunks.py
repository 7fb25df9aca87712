"""Reading a results file from the chunks of its download gives what reading the file gives."""

from __future__ import annotations

import json

import pytest

from airflow_provider_kimi.batch.results import ChunkedResultsReader, ResultsFileError, iter_results


def line(custom_id: str, status: int = 200) -> dict:
    body = (
        {"choices": [{"message": {"content": f"answer {custom_id}"}, "finish_reason": "stop"}]}
        if status == 200
        else {"error": {"type": "invalid_request_error", "message": "bad"}}
    )
    return {"id": custom_id, "custom_id": custom_id, "response": {"status_code": status, "body": body}, "error": None}


def read_in_chunks(data: bytes, size: int) -> list:
    results: list = []
    reader = ChunkedResultsReader("out.jsonl", results.append)
    for start in range(0, len(data), size):
        reader.feed(data[start : start + size])
    reader.close()
    return results


@pytest.mark.parametrize("size", [1, 7, 64, 10_000])
@pytest.mark.parametrize("final_newline", [True, False])
def test_any_chunking_reads_like_the_file(tmp_path, size, final_newline):
    lines = [line("a"), line("b", 400), line("c"), line("d", 500)]
    data = b"\n".join(json.dumps(x).encode() for x in lines) + (b"\n" if final_newline else b"")
    data = data.replace(b"\n", b"\n\n", 1)  # a blank line counts for the line numbers, nothing else
    path = tmp_path / "out.jsonl"
    path.write_bytes(data)
    expected = list(iter_results(path))
    got = read_in_chunks(data, size)
    assert [(r.custom_id, r.status, r.answer, r.line_number) for r in got] == [
        (r.custom_id, r.status, r.answer, r.line_number) for r in expected
    ]
    assert [r.line_number for r in got] == [1, 3, 4, 5]


def test_a_malformed_line_names_the_file_and_line():
    data = json.dumps(line("a")).encode() + b"\n{not json\n"
    with pytest.raises(ResultsFileError, match=r"out\.jsonl:2: not valid JSON"):
        read_in_chunks(data, 5)
