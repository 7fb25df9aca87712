"""Reading a results file from the chunks of its download gives what reading the file gives."""

from __future__ import annotations

import json

import pytest

from airflow_provider_kimi.batch.results import ChunkedResultsReader, ResultsFileError, iter_json_lines, iter_results


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


@pytest.mark.timeout(60)
def test_a_long_line_in_many_small_chunks_costs_its_length_not_its_square():
    # 24 MB in 1 KB chunks: re-joining the buffer on every chunk copies ~300 GB (minutes);
    # holding the chunks and joining once copies 24 MB (well under a second).
    long_answer = line("long")
    long_answer["response"]["body"]["choices"][0]["message"]["content"] = "x" * 24_000_000
    data = json.dumps(long_answer).encode() + b"\n" + json.dumps(line("next")).encode() + b"\n"
    results: list = []
    reader = ChunkedResultsReader("out.jsonl", results.append, max_line_bytes=32_000_000)
    view = memoryview(data)
    for start in range(0, len(data), 1024):
        reader.feed(bytes(view[start : start + 1024]))
    reader.close()
    assert [(r.custom_id, len(r.answer or "")) for r in results] == [("long", 24_000_000), ("next", 11)]


@pytest.mark.parametrize("size", [1000, 1 << 20])
def test_a_line_over_the_length_limit_names_file_and_line_before_it_is_held_whole(size):
    data = json.dumps(line("a")).encode() + b"\n" + b'{"custom_id": "' + b"x" * 50_000 + b'"}\n'
    held: list[int] = []
    reader = ChunkedResultsReader("out.jsonl", lambda result: None, max_line_bytes=10_000)

    def feed_all() -> None:
        for start in range(0, len(data), size):
            reader.feed(data[start : start + size])
            held.append(reader._pending_bytes)
        reader.close()

    with pytest.raises(ResultsFileError, match=r"^out\.jsonl:2: line is longer than 10000 bytes"):
        feed_all()
    assert max(held, default=0) <= 10_000


def test_the_file_reader_refuses_an_over_long_line_too(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_bytes(json.dumps(line("a")).encode() + b"\n" + b"x" * 20_000 + b"\n")
    with pytest.raises(ResultsFileError, match=r"out\.jsonl:2: line is longer than 10000 bytes"):
        list(iter_json_lines(path, max_line_bytes=10_000))
