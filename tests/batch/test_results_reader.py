"""The results reader: each line of an output or error file becomes one BatchResult."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
import pytest

from airflow_provider_kimi.batch.results import (
    BatchResult,
    ResultsFileError,
    ResultStatus,
    format_table,
    iter_result_files,
    iter_results,
)

# The success line exactly as Kimi's batch guide prints it.
GUIDE_SUCCESS_LINE = """{"id": "request-1", "custom_id": "request-1", "response": {"status_code": 200,
"request_id": "", "body": {"id": "chatcmpl-xxx", "object": "chat.completion", "created": 1711475054,
"model": "kimi-k2.5", "choices": [{"index": 0, "message": {"role": "assistant",
"content": "This text belongs to the Technology category."}, "finish_reason": "stop"}],
"usage": {"prompt_tokens": 30, "completion_tokens": 10, "total_tokens": 40}}}, "error": null}""".replace("\n", " ")


def success(custom_id: str, content: Any = "ok", prompt: int = 10, completion: int = 5, **usage: Any) -> dict:
    return {
        "id": f"batch_req_{custom_id}",
        "custom_id": custom_id,
        "response": {
            "status_code": 200,
            "request_id": f"req-{custom_id}",
            "body": {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": "kimi-k2.5",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                    **usage,
                },
            },
        },
        "error": None,
    }


def http_error(custom_id: str, status: int, kind: str, message: str) -> dict:
    return {
        "id": f"batch_req_{custom_id}",
        "custom_id": custom_id,
        "response": {
            "status_code": status,
            "request_id": f"req-{custom_id}",
            "body": {"error": {"type": kind, "message": message}},
        },
        "error": None,
    }


def not_run(custom_id: str, code: str, message: str = "not run") -> dict:
    return {
        "id": f"batch_req_{custom_id}",
        "custom_id": custom_id,
        "response": None,
        "error": {"code": code, "message": message},
    }


def write_jsonl(path: Path, lines: list[dict | str]) -> Path:
    path.write_bytes(
        b"".join((line.encode() if isinstance(line, str) else orjson.dumps(line)) + b"\n" for line in lines)
    )
    return path


def test_guide_success_line(tmp_path: Path) -> None:
    output = write_jsonl(tmp_path / "output.jsonl", [GUIDE_SUCCESS_LINE])
    [result] = iter_results(output)
    assert result == BatchResult(
        custom_id="request-1",
        status=ResultStatus.SUCCEEDED,
        status_code=200,
        answer="This text belongs to the Technology category.",
        finish_reason="stop",
        prompt_tokens=30,
        completion_tokens=10,
        total_tokens=40,
        cached_tokens=0,
        request_id=None,
        model="kimi-k2.5",
        source=str(output),
        line_number=1,
    )
    assert result.succeeded
    assert result.error_summary is None


def test_mixed_successes_and_http_failures(tmp_path: Path) -> None:
    output = write_jsonl(tmp_path / "output.jsonl", [success("a"), success("c")])
    error = write_jsonl(
        tmp_path / "error.jsonl",
        [
            http_error("b", 400, "invalid_request_error", "Invalid request: messages must not be empty"),
            http_error("d", 500, "server_error", "internal error"),
        ],
    )
    results = {r.custom_id: r for r in iter_results(output, error)}
    assert [r.status for r in results.values()] == [
        ResultStatus.SUCCEEDED,
        ResultStatus.SUCCEEDED,
        ResultStatus.FAILED,
        ResultStatus.FAILED,
    ]
    failed = results["b"]
    assert failed.status_code == 400
    assert failed.error_type == "invalid_request_error"
    assert failed.error_message == "Invalid request: messages must not be empty"
    assert failed.answer is None
    assert failed.error_summary == ("HTTP 400 invalid_request_error: Invalid request: messages must not be empty")
    assert results["d"].error_summary == "HTTP 500 server_error: internal error"
    assert results["d"].source == str(error)
    assert results["d"].line_number == 2


def test_all_failed_batch_has_no_output_file(tmp_path: Path) -> None:
    error = write_jsonl(
        tmp_path / "error.jsonl",
        [http_error("a", 429, "rate_limit_reached_error", "slow down"), http_error("b", 400, "x", "y")],
    )
    assert [r.status for r in iter_results(None, error)] == [ResultStatus.FAILED] * 2


def test_lines_never_run(tmp_path: Path) -> None:
    error = write_jsonl(
        tmp_path / "error.jsonl",
        [
            not_run("a", "batch_expired", "window closed"),
            not_run("b", "batch_cancelled"),
            not_run("c", "request_timeout"),
            not_run("d", "something_else", "odd"),
        ],
    )
    results = list(iter_results(None, error))
    assert [r.status for r in results] == [
        ResultStatus.EXPIRED,
        ResultStatus.CANCELLED,
        ResultStatus.TIMEOUT,
        ResultStatus.FAILED,
    ]
    assert results[0].status_code is None
    assert results[0].error_code == "batch_expired"
    assert results[0].error_summary == "batch_expired: window closed"


def test_outcome_comes_from_the_line_not_the_file(tmp_path: Path) -> None:
    # Files given in the other order, or a success in the error file, are still read right.
    error = write_jsonl(tmp_path / "error.jsonl", [not_run("a", "batch_expired")])
    output = write_jsonl(tmp_path / "output.jsonl", [success("b")])
    statuses = [r.status for r in iter_result_files([error, None, output])]
    assert statuses == [ResultStatus.EXPIRED, ResultStatus.SUCCEEDED]


@pytest.mark.parametrize(
    ("content", "answer"),
    [
        ("plain", "plain"),
        (None, None),
        (
            [
                {"type": "text", "text": "one "},
                {"type": "image_url", "image_url": {}},
                {"type": "text", "text": "two"},
            ],
            "one two",
        ),
        ([], ""),
    ],
)
def test_answer_shapes(tmp_path: Path, content: Any, answer: str | None) -> None:
    output = write_jsonl(tmp_path / "output.jsonl", [success("a", content=content)])
    [result] = iter_results(output)
    assert result.answer == answer


@pytest.mark.parametrize(
    "usage_extra",
    [{"prompt_tokens_details": {"cached_tokens": 4}}, {"cached_tokens": 4}],
)
def test_cached_tokens_from_either_field(tmp_path: Path, usage_extra: dict) -> None:
    output = write_jsonl(tmp_path / "output.jsonl", [success("a", prompt=10, completion=5, **usage_extra)])
    [result] = iter_results(output)
    assert (result.prompt_tokens, result.cached_tokens, result.completion_tokens) == (10, 4, 5)


def test_missing_total_tokens_is_derived(tmp_path: Path) -> None:
    line = success("a", prompt=7, completion=3)
    del line["response"]["body"]["usage"]["total_tokens"]
    [result] = iter_results(write_jsonl(tmp_path / "o.jsonl", [line]))
    assert result.total_tokens == 10


def test_blank_lines_are_skipped_and_counted_in_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "output.jsonl"
    path.write_bytes(orjson.dumps(success("a")) + b"\n\n" + orjson.dumps(success("b")) + b"\r\n")
    assert [r.line_number for r in iter_results(path)] == [1, 3]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object, got list"),
        (
            '{"id": "x", "response": null, "error": {"code": "batch_expired"}}',
            "missing or non-string custom_id",
        ),
        ('{"custom_id": "x", "response": null, "error": null}', "x: neither a response nor an error object"),
        (
            '{"custom_id": "x", "response": {"status_code": "200"}}',
            "x: response.status_code is not an integer",
        ),
        (
            '{"custom_id": "x", "response": {"status_code": 200, "body": {"usage": {"prompt_tokens": "3"}}}}',
            "x: usage prompt_tokens is not a non-negative integer: '3'",
        ),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path: Path, line: str, reason: str) -> None:
    path = write_jsonl(tmp_path / "output.jsonl", [success("ok"), line])
    with pytest.raises(ResultsFileError) as caught:
        list(iter_results(path))
    assert caught.value.file == str(path)
    assert caught.value.line == 2
    assert str(caught.value).startswith(f"{path}:2: ")
    assert reason in str(caught.value)


def test_unreadable_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(ResultsFileError, match=r"nope\.jsonl: cannot read"):
        list(iter_results(missing))


class StoragePath:
    """A stand-in for ObjectStoragePath: opens itself, and prints as a URL."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def open(self, mode: str) -> io.BytesIO:
        assert mode == "rb"
        return io.BytesIO(self.data)

    def __str__(self) -> str:
        return "s3://bucket/output.jsonl"


def test_reads_any_object_that_opens_itself() -> None:
    storage = StoragePath(orjson.dumps(success("a")) + b"\n" + b"oops\n")
    results = iter_results(storage)
    assert next(results).custom_id == "a"
    with pytest.raises(ResultsFileError, match=r"^s3://bucket/output\.jsonl:2: not valid JSON"):
        next(results)


def test_reader_is_lazy(tmp_path: Path) -> None:
    # Nothing is opened until the first result is asked for.
    results = iter_results(tmp_path / "not-yet.jsonl")
    write_jsonl(tmp_path / "not-yet.jsonl", [success("a")])
    assert [r.custom_id for r in results] == ["a"]


def test_format_table(tmp_path: Path) -> None:
    output = write_jsonl(
        tmp_path / "o.jsonl",
        [success("first", content="line one\nline two " + "x" * 100, prompt=12, completion=3)],
    )
    error = write_jsonl(tmp_path / "e.jsonl", [http_error("second", 400, "invalid_request_error", "bad")])
    table = format_table(iter_results(output, error), answer_width=30)
    assert table.splitlines() == [
        "custom_id  status     tokens  answer / error",
        "first      succeeded    12+3  line one line two xxxxxxxxx...",
        "second     failed          -  HTTP 400 invalid_request_er...",
    ]
    assert len(format_table(iter_results(output, error), limit=1).splitlines()) == 2


def test_thinking_reply_exposes_reasoning(tmp_path: Path) -> None:
    line = success("a", content="Sports", prompt=20, completion=45, prompt_tokens_details={"cached_tokens": 16})
    line["response"]["body"]["choices"][0]["message"]["reasoning_content"] = "The text is about a match."
    [result] = iter_results(write_jsonl(tmp_path / "o.jsonl", [line]))
    assert result.answer == "Sports"
    assert result.reasoning_content == "The text is about a match."
    assert (result.finish_reason, result.tool_calls) == ("stop", None)
    assert (result.prompt_tokens, result.cached_tokens, result.completion_tokens) == (20, 16, 45)


def test_truncated_reply_keeps_finish_reason_length(tmp_path: Path) -> None:
    line = success("a", content="The answer is")
    line["response"]["body"]["choices"][0]["finish_reason"] = "length"
    [result] = iter_results(write_jsonl(tmp_path / "o.jsonl", [line]))
    assert (result.answer, result.finish_reason, result.reasoning_content) == ("The answer is", "length", None)


def test_tool_call_reply_exposes_tool_calls(tmp_path: Path) -> None:
    call = {"id": "call_0", "type": "function", "function": {"name": "classify", "arguments": '{"label": "Sports"}'}}
    line = success("a", content=None)
    choice = line["response"]["body"]["choices"][0]
    choice["message"]["tool_calls"] = [call, "not an object"]
    choice["finish_reason"] = "tool_calls"
    [result] = iter_results(write_jsonl(tmp_path / "o.jsonl", [line]))
    assert result.answer is None
    assert result.finish_reason == "tool_calls"
    assert result.tool_calls == [call]


def test_failed_line_has_no_reply_fields(tmp_path: Path) -> None:
    [result] = iter_results(write_jsonl(tmp_path / "e.jsonl", [http_error("b", 400, "invalid_request_error", "x")]))
    assert (result.reasoning_content, result.tool_calls, result.finish_reason) == (None, None, None)
