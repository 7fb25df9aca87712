"""One bad file per rule, each asserting the exact FILE:LINE: FIELD: message line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from airflow_provider_kimi.batch import InvalidBatchInputError, Problem, ensure_valid, validate_file
from tests.batch.input_helpers import PNG_DATA, request, write_lines


def problems_of(tmp_path: Path, lines: list[Any], **kwargs: Any) -> list[str]:
    path = write_lines(tmp_path / "in.jsonl", lines)
    report = validate_file(path, **kwargs)
    return [line.removeprefix(f"{path}:") for line in report.problem_lines()]


def image_request(url: str, part_type: str = "image_url") -> dict[str, Any]:
    content = [{"type": part_type, part_type: {"url": url}}, {"type": "text", "text": "What is this?"}]
    return request(messages=[{"role": "user", "content": content}])


def test_valid_file_reports_ok(tmp_path):
    path = write_lines(tmp_path / "in.jsonl", [request("a"), request("b", thinking={"type": "enabled"})])
    report = validate_file(path)
    assert report.ok
    assert (report.lines, report.model, report.total_problems) == (2, "kimi-k2.5", 0)
    assert report.bytes == path.stat().st_size
    assert report.summary() == f"{path}: OK: 2 lines, {report.bytes} bytes, model kimi-k2.5"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"{not json", "1: $: invalid JSON: "),
        (b"[1, 2]", "1: $: must be a JSON object, got array"),
        (b"", "1: $: blank line (every line must hold one request)"),
    ],
)
def test_line_must_be_a_json_object(tmp_path, line, expected):
    [problem] = problems_of(tmp_path, [line])
    assert problem.startswith(expected)


@pytest.mark.parametrize("field", ["custom_id", "method", "url", "body"])
def test_missing_required_field(tmp_path, field):
    line = request()
    del line[field]
    assert problems_of(tmp_path, [line]) == [f"1: {field}: missing required field"]


def test_unexpected_top_level_field(tmp_path):
    line = request()
    line["model"] = "kimi-k2.5"
    assert problems_of(tmp_path, [line]) == [
        "1: model: unexpected field (a line holds only custom_id, method, url, body)"
    ]


def test_method_must_be_post(tmp_path):
    line = request()
    line["method"] = "GET"
    assert problems_of(tmp_path, [line]) == ['1: method: must be "POST", got "GET"']


def test_url_must_be_chat_completions(tmp_path):
    line = request()
    line["url"] = "/v1/embeddings"
    assert problems_of(tmp_path, [line]) == ['1: url: must be "/v1/chat/completions", got "/v1/embeddings"']


def test_custom_id_must_be_a_non_empty_string(tmp_path):
    assert problems_of(tmp_path, [request(custom_id=7), request(custom_id="")]) == [  # type: ignore[arg-type]
        "1: custom_id: must be a non-empty string, got number",
        '2: custom_id: must be a non-empty string, got ""',
    ]


def test_duplicate_custom_id_names_both_lines(tmp_path):
    lines = [request("a"), request("b"), request("a")]
    assert problems_of(tmp_path, lines) == ['3: custom_id: duplicate "a", first used on line 1']


def test_body_must_be_an_object(tmp_path):
    line = request()
    line["body"] = "hello"
    assert problems_of(tmp_path, [line]) == ["1: body: must be an object, got string"]


def test_model_must_be_a_batch_model(tmp_path):
    assert problems_of(tmp_path, [request(model="kimi-k2-turbo")]) == [
        '1: body.model: "kimi-k2-turbo" is not a batch model (expected one of: kimi-k2.5, kimi-k2.6)'
    ]


def test_model_set_is_configurable(tmp_path):
    assert problems_of(tmp_path, [request(model="kimi-k3")], allowed_models={"kimi-k3"}) == []


def test_model_missing(tmp_path):
    line = request()
    del line["body"]["model"]
    assert problems_of(tmp_path, [line]) == ["1: body.model: missing required field"]


def test_one_model_per_file(tmp_path):
    lines = [request("a"), request("b", model="kimi-k2.6"), request("c")]
    assert problems_of(tmp_path, lines) == [
        '2: body.model: "kimi-k2.6" differs from "kimi-k2.5" on line 1 (one model per file)'
    ]


@pytest.mark.parametrize("name", ["temperature", "top_p", "n", "presence_penalty", "frequency_penalty"])
def test_fixed_parameters_must_be_absent(tmp_path, name):
    assert problems_of(tmp_path, [request(**{name: 1})]) == [
        f"1: body.{name}: fixed for Kimi's batch models; leave it out"
    ]


def test_stream_is_refused(tmp_path):
    assert problems_of(tmp_path, [request(stream=True)]) == [
        "1: body.stream: a batch request cannot stream; leave it out"
    ]


def test_thinking_is_allowed_and_checked(tmp_path):
    assert problems_of(tmp_path, [request(thinking={"type": "disabled"})]) == []
    assert problems_of(tmp_path, [request(thinking={"type": "auto"})]) == [
        '1: body.thinking.type: must be "enabled" or "disabled", got "auto"'
    ]


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        ([], "1: body.messages: must not be empty"),
        ("hi", "1: body.messages: must be an array of messages, got string"),
        (["hi"], "1: body.messages[0]: must be an object, got string"),
        ([{"content": "hi"}], "1: body.messages[0].role: missing required field"),
        (
            [{"role": "bot", "content": "hi"}],
            '1: body.messages[0].role: unknown role "bot" (expected one of: assistant, system, tool, user)',
        ),
        ([{"role": "user"}], "1: body.messages[0].content: missing required field"),
        (
            [{"role": "user", "content": 3}],
            "1: body.messages[0].content: must be a string or an array of content parts, got number",
        ),
        ([{"role": "user", "content": []}], "1: body.messages[0].content: must not be an empty array"),
        (
            [{"role": "user", "content": [{"type": "audio"}]}],
            '1: body.messages[0].content[0].type: unknown content part type "audio" '
            "(expected one of: image_url, text, video_url)",
        ),
        (
            [{"role": "user", "content": [{"type": "text"}]}],
            "1: body.messages[0].content[0].text: missing required field",
        ),
        (
            [{"role": "user", "content": [{"type": "image_url", "image_url": "x"}]}],
            '1: body.messages[0].content[0].image_url: must be an object like {"url": ...}, got string',
        ),
        (
            [{"role": "user", "content": [{"type": "video_url", "video_url": {}}]}],
            "1: body.messages[0].content[0].video_url.url: missing required field",
        ),
    ],
)
def test_messages_well_formed(tmp_path, messages, expected):
    assert problems_of(tmp_path, [request(messages=messages)]) == [expected]


def test_assistant_tool_call_without_content_is_fine(tmp_path):
    messages = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "t1"}]},
        {"role": "tool", "tool_call_id": "t1", "content": "sunny"},
    ]
    assert problems_of(tmp_path, [request(messages=messages)]) == []


URL_FIELD = "1: body.messages[0].content[0].image_url.url"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("data:image/png;base64," + PNG_DATA, None),
        ("ms://clg681objj8g9m7n4je0", None),
        ("https://example.com/a.png", 'must be a base64 data URL or ms://<file_id>, got "https://example.com/a.png"'),
        ("data:image/png," + PNG_DATA, 'must be a base64 data URL like "data:image/png;base64,<data>", got '),
        (
            "data:image/bmp;base64," + PNG_DATA,
            'unsupported image type "image/bmp" (supported: image/gif, image/jpeg, image/png, image/webp)',
        ),
        ("data:image/png;base64,", "data URL holds no data"),
        ("data:image/png;base64,iVBO*wKGgo=", "data URL is not valid base64: character outside A-Z, a-z, 0-9, +, /, ="),
        ("data:image/png;base64,iVBORw0KGgo", "data URL is not valid base64: length 11 is not a multiple of 4"),
        (
            "data:image/png;base64,iV=ORw0KGgo=",
            "data URL is not valid base64: '=' padding only at the end, at most two",
        ),
        ("data:image/png;base64,iVBORw0KGgé=", "data URL is not valid base64: non-ASCII character"),
        ("ms://", 'malformed file reference "ms://" (expected ms://<file_id>)'),
        ("ms://a/b", 'malformed file reference "ms://a/b" (expected ms://<file_id>)'),
    ],
)
def test_image_urls(tmp_path, url, message):
    problems = problems_of(tmp_path, [image_request(url)])
    if message is None:
        assert problems == []
    else:
        [problem] = problems
        assert problem.startswith(f"{URL_FIELD}: {message}")


def test_video_data_url_needs_a_video_type(tmp_path):
    [problem] = problems_of(tmp_path, [image_request("data:image/png;base64," + PNG_DATA, "video_url")])
    assert problem == (
        '1: body.messages[0].content[0].video_url.url: unsupported video type "image/png" (supported: '
        "video/3gpp, video/avi, video/mov, video/mp4, video/mpeg, video/mpg, video/webm, video/wmv, video/x-flv)"
    )


def test_known_file_ids(tmp_path):
    lines = [image_request("ms://known1"), image_request("ms://other2")]
    lines[1]["custom_id"] = "r2"
    assert problems_of(tmp_path, lines, known_file_ids={"known1"}) == [
        '2: body.messages[0].content[0].image_url.url: unknown file id "other2" (not among the uploaded image files)'
    ]


def test_all_problems_reported_in_line_order(tmp_path):
    bad = request("a", temperature=0.5)
    bad["method"] = "PUT"
    assert problems_of(tmp_path, [bad, b"oops", request("a")]) == [
        '1: method: must be "POST", got "PUT"',
        "1: body.temperature: fixed for Kimi's batch models; leave it out",
        "2: $: invalid JSON: unexpected character, expected a JSON value: line 1 column 1 (char 0)",
        '3: custom_id: duplicate "a", first used on line 1',
    ]


def test_problems_are_capped_with_a_count_of_the_rest(tmp_path):
    path = write_lines(tmp_path / "in.jsonl", [request(f"r{i}", top_p=1) for i in range(10)])
    report = validate_file(path, max_problems=3)
    assert (len(report.problems), report.total_problems, report.omitted_problems) == (3, 10, 7)
    assert report.format().splitlines() == [
        f"{path}:1: body.top_p: fixed for Kimi's batch models; leave it out",
        f"{path}:2: body.top_p: fixed for Kimi's batch models; leave it out",
        f"{path}:3: body.top_p: fixed for Kimi's batch models; leave it out",
        "... and 7 more problems",
    ]


def test_file_name_must_end_in_jsonl(tmp_path):
    path = write_lines(tmp_path / "in.json", [request()])
    assert validate_file(path).problem_lines() == [f'{path}:0: file: name "in.json" must end in .jsonl']


def test_empty_file(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"")
    report = validate_file(path)
    assert report.problem_lines() == [f"{path}:0: file: file is empty"]
    assert report.problems == [Problem(0, "file", "file is empty")]


def test_file_over_the_size_limit_comes_first(tmp_path):
    path = write_lines(tmp_path / "in.jsonl", [request("a"), request("a")])
    size = path.stat().st_size
    assert validate_file(path, max_bytes=100).problem_lines() == [
        f"{path}:0: file: file is {size} bytes, over the limit of 100 bytes "
        "(kimi-batch split cuts it into parts that fit)",
        f'{path}:2: custom_id: duplicate "a", first used on line 1',
    ]


def test_ensure_valid_raises_with_the_full_report(tmp_path):
    path = write_lines(tmp_path / "in.jsonl", [request(n=2)])
    with pytest.raises(InvalidBatchInputError) as caught:
        ensure_valid(path)
    assert isinstance(caught.value, ValueError)
    assert str(caught.value).splitlines() == [
        f"{path}: 1 problem in 1 lines, {path.stat().st_size} bytes, model kimi-k2.5",
        f"{path}:1: body.n: fixed for Kimi's batch models; leave it out",
    ]
    assert caught.value.report.total_problems == 1
    assert ensure_valid(write_lines(tmp_path / "ok.jsonl", [request()])).ok


class MemoryPath:
    """An object-storage-like path: only .name and .open("rb")."""

    def __init__(self, name: str, data: bytes) -> None:
        self.name = name
        self.data = data

    def open(self, mode: str = "rb"):
        import io

        assert mode == "rb"
        return io.BytesIO(self.data)


def test_validates_any_object_with_open_and_name():
    report = validate_file(MemoryPath("remote.jsonl", b'{"custom_id": 1}\n'))
    assert report.problem_lines() == [
        "remote.jsonl:1: method: missing required field",
        "remote.jsonl:1: url: missing required field",
        "remote.jsonl:1: body: missing required field",
        "remote.jsonl:1: custom_id: must be a non-empty string, got number",
    ]
    assert report.to_dict()["problems"][3] == {
        "line": 1,
        "field": "custom_id",
        "message": "must be a non-empty string, got number",
    }


def _nested(custom_id: str, depth: int) -> bytes:
    """A request line whose ``tools`` nests ``depth`` arrays inside the line's two objects."""
    line = orjson.dumps(request(custom_id, tools="@"))
    return line.replace(b'"@"', b"[" * depth + b"]" * depth)


@pytest.mark.parametrize(
    ("depth", "expected"),
    [
        (1000, "2: $: nested 1002 levels deep, over the limit of 64 levels"),
        (5000, "2: $: nested deeper than the limit of 64 levels"),
    ],
)
def test_a_line_nested_too_deep_is_refused(tmp_path, depth, expected):
    path = tmp_path / "in.jsonl"
    path.write_bytes(orjson.dumps(request("a")) + b"\n" + _nested("b", depth) + b"\n")
    assert problems_of_path(path) == [expected]


def test_nesting_up_to_the_limit_is_accepted(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(_nested("a", 62) + b"\n")
    assert validate_file(path).ok
    assert not validate_file(path, max_depth=63).ok


def problems_of_path(path: Path) -> list[str]:
    return [line.removeprefix(f"{path}:") for line in validate_file(path).problem_lines()]
