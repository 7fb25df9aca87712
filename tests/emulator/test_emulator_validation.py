"""Input checks at ``validating``: every broken rule ends the batch ``failed``."""

from __future__ import annotations

import json

import pytest
from emulator_helpers import MP4, PNG, client_for, five_lines, jsonl, raw, request_line, start_batch, wait_until

from airflow_provider_kimi.emulator import EmulatorSettings, KimiEmulator


@pytest.fixture(scope="module")
def reporting_emulator():
    settings = EmulatorSettings(time_scale=0.0, access_log=False, log_level="warning", report_validation_errors=True)
    with KimiEmulator(settings) as emu:
        yield emu


def _lines_with(index: int, replacement) -> bytes:
    lines = [json.dumps(line).encode() for line in five_lines()]
    lines[index] = replacement if isinstance(replacement, bytes) else json.dumps(replacement).encode()
    return b"\n".join(lines) + b"\n"


def _without(field):
    line = request_line("req-1")
    del line[field]
    return line


def _with_field(name, value):
    line = request_line("req-1")
    line[name] = value
    return line


def _media_line(kind, url):
    line = request_line("req-1")
    line["body"]["messages"][1]["content"] = [{"type": kind, kind: {"url": url}}, {"type": "text", "text": "what?"}]
    return line


CASES = {
    "invalid-json": (b'{"custom_id": "req-1", "method": ', "invalid_json_line", None),
    "not-an-object": (b'["req-1", "POST"]', "invalid_json_line", None),
    "missing-method": (_without("method"), "missing_required_parameter", "method"),
    "missing-body": (_without("body"), "missing_required_parameter", "body"),
    "extra-field": (_with_field("priority", "high"), "unknown_parameter", "priority"),
    "method-get": (_with_field("method", "GET"), "invalid_method", "method"),
    "wrong-url": (_with_field("url", "/v1/embeddings"), "invalid_url", "url"),
    "duplicate-custom-id": (request_line("req-0"), "duplicate_custom_id", "custom_id"),
    "unknown-model": (request_line("req-1", model="moonshot-v1-8k"), "model_not_found", "body.model"),
    "mixed-models": (request_line("req-1", model="kimi-k2.6"), "model_mismatch", "body.model"),
    "temperature": (request_line("req-1", temperature=0.2), "unsupported_parameter", "body.temperature"),
    "top_p": (request_line("req-1", top_p=0.9), "unsupported_parameter", "body.top_p"),
    "n": (request_line("req-1", n=2), "unsupported_parameter", "body.n"),
    "presence_penalty": (request_line("req-1", presence_penalty=0.1), "unsupported_parameter", "body.presence_penalty"),
    "frequency_penalty": (
        request_line("req-1", frequency_penalty=0.1),
        "unsupported_parameter",
        "body.frequency_penalty",
    ),
    "stream": (request_line("req-1", stream=True), "streaming_unsupported", "body.stream"),
    "unknown-ms-image": (
        _media_line("image_url", "ms://nosuchfile0000000000"),
        "invalid_file_reference",
        "body.messages[1].content[0].image_url.url",
    ),
    "image-not-base64": (
        _media_line("image_url", "data:image/png;base64,@@@@"),
        "invalid_file_reference",
        "body.messages[1].content[0].image_url.url",
    ),
    "image-of-an-unread-type": (
        _media_line("image_url", "data:image/bmp;base64,AAAA"),
        "invalid_file_reference",
        "body.messages[1].content[0].image_url.url",
    ),
    "image-on-the-web": (
        _media_line("image_url", "https://example.com/cat.png"),
        "invalid_file_reference",
        "body.messages[1].content[0].image_url.url",
    ),
    "stream-null": (request_line("req-1", stream=None), "streaming_unsupported", "body.stream"),
    "unknown-role": (
        request_line("req-1", messages=[{"role": "robot", "content": "hi"}]),
        "invalid_role",
        "body.messages[0].role",
    ),
    "content-neither-text-nor-parts": (
        request_line("req-1", messages=[{"role": "user", "content": 42}]),
        "invalid_content",
        "body.messages[0].content",
    ),
    "unknown-part-type": (
        request_line("req-1", messages=[{"role": "user", "content": [{"type": "audio"}]}]),
        "invalid_content",
        "body.messages[0].content[0].type",
    ),
    "thinking-auto": (request_line("req-1", thinking={"type": "auto"}), "invalid_thinking", "body.thinking"),
    "nan": (
        b'{"custom_id": "req-1", "method": "POST", "url": "/v1/chat/completions", "body": NaN}',
        "invalid_json_line",
        None,
    ),
    "byte-order-mark": (b"\xef\xbb\xbf" + json.dumps(request_line("req-1")).encode(), "invalid_json_line", None),
}


@pytest.mark.parametrize(("replacement", "code", "param"), CASES.values(), ids=CASES.keys())
def test_broken_rule_fails_the_batch(reporting_emulator, replacement, code, param):
    client = client_for(reporting_emulator)
    batch = wait_until(client, start_batch(client, _lines_with(1, replacement)))
    assert batch.status == "failed"
    assert batch.failed_at is not None
    assert batch.in_progress_at is None
    assert batch.completed_at is None
    assert (batch.output_file_id, batch.error_file_id) == (None, None)
    problem = batch.errors.data[0]
    assert (problem.code, problem.line, problem.param) == (code, 2, param)
    assert problem.message


def test_media_reference_must_name_a_file_of_the_right_purpose(reporting_emulator):
    client = client_for(reporting_emulator)
    image_id = client.files.create(file=("pic.png", PNG), purpose="image").id
    video_id = client.files.create(file=("clip.mp4", MP4), purpose="video").id
    good = [
        _media_line("image_url", f"ms://{image_id}"),
        {**_media_line("video_url", f"ms://{video_id}"), "custom_id": "req-2"},
    ]
    assert wait_until(client, start_batch(client, good)).status == "completed"
    swapped = [_media_line("video_url", f"ms://{image_id}")]
    batch = wait_until(client, start_batch(client, swapped))
    assert batch.status == "failed"
    assert batch.errors.data[0].code == "invalid_file_reference"


def test_data_urls_need_no_upload(reporting_emulator):
    client = client_for(reporting_emulator)
    line = _media_line("image_url", "data:image/png;base64,iVBORw0KGgo=")
    batch = wait_until(client, start_batch(client, [line]))
    assert batch.status == "completed"


def test_blank_input_is_an_empty_file(reporting_emulator):
    client = client_for(reporting_emulator)
    batch = wait_until(client, start_batch(client, b"\n\n  \n"))
    assert batch.status == "failed"
    assert batch.errors.data[0].code == "empty_file"


def test_problems_are_reported_per_line(reporting_emulator):
    client = client_for(reporting_emulator)
    lines = [request_line("a", temperature=1), request_line("b"), request_line("a", stream=True)]
    batch = wait_until(client, start_batch(client, jsonl(lines)))
    found = [(p.line, p.code) for p in batch.errors.data]
    assert found == [(1, "unsupported_parameter"), (3, "duplicate_custom_id"), (3, "streaming_unsupported")]


def test_failed_batch_carries_no_errors_field_by_default(make_emulator):
    emu = make_emulator()
    client = client_for(emu)
    batch_id = start_batch(client, _lines_with(1, request_line("req-1", stream=True)))
    assert wait_until(client, batch_id).status == "failed"
    status, _, body = raw(emu, "GET", f"/v1/batches/{batch_id}")
    assert status == 200
    assert body["status"] == "failed"
    assert "errors" not in body


def test_allowed_models_is_a_setting(make_emulator):
    client = client_for(make_emulator(allowed_models=frozenset({"kimi-k2.5"})))
    lines = [request_line(f"r{i}", model="kimi-k2.6") for i in range(2)]
    assert wait_until(client, start_batch(client, lines)).status == "failed"
