"""Files API: upload, list, retrieve, delete, content; the upload rules; auth."""

from __future__ import annotations

import re

import openai
import pytest
from emulator_helpers import MP4, PNG, client_for, five_lines, jsonl, raw, request_line, start_batch, wait_until

ID = re.compile(r"^[a-z0-9]{20}$")


def test_upload_returns_a_kimi_file_object(client):
    data = jsonl(five_lines())
    uploaded = client.files.create(file=("requests.jsonl", data, "application/jsonl"), purpose="batch")
    assert ID.match(uploaded.id)
    assert uploaded.object == "file"
    assert uploaded.bytes == len(data)
    assert uploaded.filename == "requests.jsonl"
    assert uploaded.purpose == "batch"
    assert uploaded.status == "ok"
    assert uploaded.created_at > 1_700_000_000


def test_file_status_setting_switches_to_ready(make_emulator):
    emu = make_emulator(file_status="ready")
    uploaded = client_for(emu).files.create(file=("a.jsonl", jsonl(five_lines())), purpose="batch")
    assert uploaded.status == "ready"


def test_list_has_no_pagination_fields(emulator, client):
    file_id = client.files.create(file=("l.jsonl", jsonl(five_lines())), purpose="batch").id
    status, headers, body = raw(emulator, "GET", "/v1/files")
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert set(body) == {"object", "data"}
    assert body["object"] == "list"
    assert file_id in {f["id"] for f in body["data"]}


def test_retrieve_content_and_delete(client):
    data = jsonl(five_lines())
    file_id = client.files.create(file=("r.jsonl", data), purpose="batch").id
    assert client.files.retrieve(file_id).bytes == len(data)
    assert client.files.content(file_id).content == data
    deleted = client.files.delete(file_id)
    assert (deleted.id, deleted.object, deleted.deleted) == (file_id, "file", True)
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(file_id)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/files/nosuchfile0000000000"),
        ("DELETE", "/v1/files/nosuchfile0000000000"),
        ("GET", "/v1/files/nosuchfile0000000000/content"),
        ("GET", "/v1/batches/nosuchbatch000000000"),
        ("POST", "/v1/batches/nosuchbatch000000000/cancel"),
    ],
)
def test_unknown_ids_are_404_resource_not_found(emulator, method, path):
    status, headers, body = raw(emulator, method, path)
    assert status == 404
    assert headers["content-type"] == "application/json"
    assert body["error"]["type"] == "resource_not_found_error"
    assert "nosuch" in body["error"]["message"]


def test_big_upload_streams_through_intact(client):
    line = jsonl([request_line("big", "x" * 1_000_000)])
    data = line * 12  # about 12 MB: well past the 1 MB in-memory spool
    file_id = client.files.create(file=("big.jsonl", data), purpose="batch").id
    assert client.files.retrieve(file_id).bytes == len(data)
    with client.files.with_streaming_response.content(file_id) as response:
        received = b"".join(response.iter_bytes())
    assert received == data
    client.files.delete(file_id)


def _rejected(client, name, data, purpose="batch"):
    with pytest.raises(openai.APIStatusError) as caught:
        client.files.create(file=(name, data), purpose=purpose)
    return caught.value.status_code, caught.value.response.json()["error"]


def test_batch_file_must_be_named_jsonl(client):
    status, error = _rejected(client, "requests.json", jsonl(five_lines()))
    assert (status, error["type"]) == (400, "invalid_request_error")
    assert ".jsonl" in error["message"]


@pytest.mark.parametrize("purpose", ["batch", "image", "video", "file-extract"])
def test_empty_file_is_refused_for_every_purpose(client, purpose):
    status, error = _rejected(client, "empty.jsonl", b"", purpose=purpose)
    assert (status, error["type"]) == (400, "invalid_request_error")
    assert error["message"].startswith("File size is zero")


def test_unknown_purpose_is_refused(client):
    status, error = _rejected(client, "x.jsonl", b"{}\n", purpose="fine-tune")
    assert (status, error["type"]) == (400, "invalid_request_error")
    assert "purpose" in error["message"]


def test_media_purposes_take_any_name(client):
    for purpose, data in (("image", PNG), ("video", MP4), ("file-extract", b"any text")):
        uploaded = client.files.create(file=("thing.bin", data), purpose=purpose)
        assert uploaded.purpose == purpose


@pytest.mark.parametrize(
    ("purpose", "data"),
    [
        ("image", b"GIF89a" + b"\x00" * 8),
        ("image", b"\xff\xd8\xff\xe0 jpeg"),
        ("image", b"RIFF\x00\x00\x00\x00WEBPVP8 "),
        ("video", b"\x1a\x45\xdf\xa3 webm"),
        ("video", b"RIFF\x00\x00\x00\x00AVI LIST"),
        ("video", b"FLV\x01"),
        ("video", b"\x00\x00\x01\xba mpeg"),
        ("video", b"\x30\x26\xb2\x75\x8e\x66\xcf\x11 wmv"),
    ],
)
def test_media_formats_kimi_reads(client, purpose, data):
    assert client.files.create(file=("m", data), purpose=purpose).bytes == len(data)


@pytest.mark.parametrize(("purpose", "data"), [("image", MP4), ("video", PNG), ("image", b"placeholder")])
def test_media_in_another_format_is_refused(client, purpose, data):
    status, error = _rejected(client, "thing.png", data, purpose=purpose)
    assert (status, error["type"]) == (400, "invalid_request_error")
    assert f"unsupported {purpose} format" in error["message"]


def test_file_above_size_limit_is_refused(make_emulator):
    client = client_for(make_emulator(max_file_bytes=1000))
    client.files.create(file=("ok.jsonl", b"x" * 1000), purpose="batch")
    status, error = _rejected(client, "big.jsonl", b"x" * 1001)
    assert (status, error["type"]) == (400, "invalid_request_error")
    assert "1000 bytes" in error["message"]


def _quota_refusal(client, name="3.jsonl"):
    with pytest.raises(openai.BadRequestError) as caught:
        client.files.create(file=(name, b"{}\n"), purpose="batch")
    return caught.value.response.json()["error"]


def test_file_count_quota_is_400_not_a_rate_limit(make_emulator):
    client = client_for(make_emulator(max_files=2))
    client.files.create(file=("1.jsonl", b"{}\n"), purpose="batch")
    client.files.create(file=("2.jsonl", b"{}\n"), purpose="batch")
    error = _quota_refusal(client)
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("The number of files you have uploaded exceeded the max file count")
    assert "holds 2" in error["message"]


def test_batch_file_quota_counts_result_files_by_default(make_emulator):
    client = client_for(make_emulator(max_batch_files=2))
    batch = wait_until(client, start_batch(client, five_lines()))
    assert batch.output_file_id is not None
    client.files.create(file=("media.png", PNG), purpose="image")  # not a batch file
    error = _quota_refusal(client)
    assert "max file count (2 batch files; the organization holds 2)" in error["message"]
    # Deleting a file makes room.
    client.files.delete(batch.output_file_id)
    assert client.files.create(file=("3.jsonl", b"{}\n"), purpose="batch").purpose == "batch"


def test_result_files_can_be_left_out_of_the_quota(make_emulator):
    client = client_for(make_emulator(max_batch_files=2, result_files_count=False))
    wait_until(client, start_batch(client, five_lines()))
    assert client.files.create(file=("2.jsonl", b"{}\n"), purpose="batch").purpose == "batch"
    assert "max file count" in _quota_refusal(client)["message"]


def test_total_bytes_quota_is_400(make_emulator):
    client = client_for(make_emulator(max_total_bytes=10))
    client.files.create(file=("1.jsonl", b"123456\n"), purpose="batch")
    with pytest.raises(openai.BadRequestError) as caught:
        client.files.create(file=("2.jsonl", b"123456\n"), purpose="batch")
    assert "total size" in caught.value.response.json()["error"]["message"]


def test_wrong_key_is_401_invalid_authentication(make_emulator):
    emu = make_emulator(api_key="sk-right")
    assert client_for(emu).files.list().data == []
    with pytest.raises(openai.AuthenticationError) as caught:
        client_for(emu, api_key="sk-wrong").files.list()
    assert caught.value.status_code == 401
    assert caught.value.response.headers["content-type"] == "application/json"
    assert caught.value.response.json()["error"]["type"] == "invalid_authentication_error"


def test_missing_key_is_401_even_when_any_key_goes(emulator):
    status, _, body = raw(emulator, "GET", "/v1/files", key=None)
    assert status == 401
    assert body["error"]["type"] == "invalid_authentication_error"
    status, _, _ = raw(emulator, "GET", "/v1/files", key="sk-anything")
    assert status == 200


def test_admin_routes_need_no_key_and_count_requests(emulator):
    before = raw(emulator, "GET", "/_emulator/stats", key=None)[2]
    raw(emulator, "GET", "/v1/files")
    status, _, after = raw(emulator, "GET", "/_emulator/stats", key=None)
    assert status == 200
    assert after["requests"]["GET /v1/files"] == before["requests"].get("GET /v1/files", 0) + 1
    assert after["uploads"] >= before["uploads"]
