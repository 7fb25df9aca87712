"""Request builders, media parts and the streaming writer."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import orjson
import pytest

from airflow_provider_kimi.batch import (
    DuplicateCustomIdError,
    ForbiddenParameterError,
    InputTooLargeError,
    MediaTooLargeError,
    MediaUploader,
    UnsupportedMediaError,
    chat_requests,
    inline_part,
    prompt_requests,
    request_line,
    validate_file,
    vision_requests,
    write_requests,
)

FIXED = ["temperature", "top_p", "n", "presence_penalty", "frequency_penalty"]


@pytest.mark.parametrize("name", [*FIXED, "stream"])
def test_builders_refuse_fixed_parameters_and_stream_at_call_time(name):
    with pytest.raises(ForbiddenParameterError, match=name):
        prompt_requests(["a"], body_params={name: 1})
    with pytest.raises(ForbiddenParameterError, match=name):
        chat_requests([], body_params={name: 1})
    with pytest.raises(ForbiddenParameterError, match=name):
        request_line("x", [], body_params={name: 1})


def test_fixed_parameter_message():
    with pytest.raises(ForbiddenParameterError) as caught:
        request_line("x", [], body_params={"temperature": 0})
    assert (
        str(caught.value) == "'temperature' is fixed for Kimi's batch models and must be left out of the request body"
    )


def test_prompt_requests_keep_thinking_and_extra_params():
    [line] = prompt_requests(
        ["AI is transforming the world"],
        system_prompt="You classify texts.",
        body_params={"thinking": {"type": "disabled"}, "max_tokens": 64},
    )
    assert line == {
        "custom_id": "request-1",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {
            "model": "kimi-k2.5",
            "messages": [
                {"role": "system", "content": "You classify texts."},
                {"role": "user", "content": "AI is transforming the world"},
            ],
            "thinking": {"type": "disabled"},
            "max_tokens": 64,
        },
    }
    assert next(iter(line)) == "custom_id"


def test_prompt_requests_custom_id_from_column_and_template():
    rows = [{"id": 17, "title": "Hamlet"}, {"id": "b-2", "title": "Tea"}]
    lines = list(prompt_requests(rows, custom_id_column="id", template="Classify: {title}", model="kimi-k2.6"))
    assert [line["custom_id"] for line in lines] == ["17", "b-2"]
    assert lines[0]["body"]["messages"] == [{"role": "user", "content": "Classify: Hamlet"}]
    assert lines[0]["body"]["model"] == "kimi-k2.6"


def test_generated_ids_use_prefix_and_row_number():
    lines = prompt_requests([{"text": "a"}, {"text": "b"}], id_prefix="doc-")
    assert [line["custom_id"] for line in lines] == ["doc-1", "doc-2"]


def test_empty_custom_id_column_is_refused():
    with pytest.raises(ValueError, match="row 1: custom_id column 'id' is empty"):
        list(prompt_requests([{"id": None, "text": "a"}], custom_id_column="id"))


def test_chat_requests_take_full_message_lists():
    conversation = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
    lines = list(chat_requests([conversation, {"messages": conversation, "key": "k"}]))
    assert [line["body"]["messages"] for line in lines] == [conversation, conversation]
    [keyed] = chat_requests([{"messages": conversation, "key": "k"}], custom_id_column="key")
    assert keyed["custom_id"] == "k"


IMAGES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp", "gif": "image/gif"}
VIDEOS = {
    "mp4": "video/mp4",
    "mpeg": "video/mpeg",
    "mpg": "video/mpg",
    "mov": "video/mov",
    "avi": "video/avi",
    "flv": "video/x-flv",
    "webm": "video/webm",
    "wmv": "video/wmv",
    "3gp": "video/3gpp",
    "3gpp": "video/3gpp",
}


# How a file of each format begins: media are checked by their content, not only their name.
HEADS = {
    "png": b"\x89PNG\r\n\x1a\n",
    "jpg": b"\xff\xd8\xff\xe0",
    "jpeg": b"\xff\xd8\xff\xe0",
    "webp": b"RIFF\x00\x00\x00\x00WEBP",
    "gif": b"GIF89a",
    "mp4": b"\x00\x00\x00\x18ftypmp42",
    "3gp": b"\x00\x00\x00\x18ftyp3gp4",
    "3gpp": b"\x00\x00\x00\x18ftyp3gp4",
    "mov": b"\x00\x00\x00\x14ftypqt  ",
    "mpeg": b"\x00\x00\x01\xba",
    "mpg": b"\x00\x00\x01\xb3",
    "avi": b"RIFF\x00\x00\x00\x00AVI ",
    "flv": b"FLV\x01",
    "webm": b"\x1a\x45\xdf\xa3",
    "wmv": b"\x30\x26\xb2\x75\x8e\x66\xcf\x11",
}


@pytest.mark.parametrize(
    ("ext", "mime", "kind"),
    [*((e, m, "image") for e, m in IMAGES.items()), *((e, m, "video") for e, m in VIDEOS.items())],
)
def test_inline_part_has_the_right_mime_type(tmp_path, ext, mime, kind):
    media = tmp_path / f"clip.{ext.upper() if ext == 'png' else ext}"
    media.write_bytes(HEADS[ext] + b"media")
    part = inline_part(media)
    key = f"{kind}_url"
    encoded = base64.b64encode(HEADS[ext] + b"media").decode()
    assert part == {"type": key, key: {"url": f"data:{mime};base64,{encoded}"}}


def test_inline_parts_validate(tmp_path):
    (tmp_path / "a.webp").write_bytes(HEADS["webp"] + b"img")
    (tmp_path / "b.mov").write_bytes(HEADS["mov"] + b"vid")
    rows = [{"media": str(tmp_path / "a.webp")}, {"media": [tmp_path / "b.mov", tmp_path / "a.webp"]}]
    path = tmp_path / "in.jsonl"
    write_requests(vision_requests(rows, prompt="Describe."), path)
    assert validate_file(path).ok


def test_unsupported_and_mismatched_media(tmp_path):
    with pytest.raises(UnsupportedMediaError, match="unsupported media format"):
        inline_part(b"x", filename="a.bmp")
    with pytest.raises(UnsupportedMediaError, match=r'"a\.png" is an image, not a video'):
        inline_part(b"x", filename="a.png", kind="video")
    with pytest.raises(UnsupportedMediaError, match="need a filename"):
        inline_part(b"x")


def test_media_content_must_be_a_format_kimi_reads(tmp_path):
    (tmp_path / "renamed.png").write_bytes(HEADS["mp4"] + b"a video named as a picture")
    with pytest.raises(UnsupportedMediaError, match=r'renamed\.png" is not an image Kimi reads: .* png, jpeg'):
        inline_part(tmp_path / "renamed.png")
    upload = FakeUpload()
    with pytest.raises(UnsupportedMediaError, match=r'"clip\.mp4" is not a video Kimi reads'):
        MediaUploader(upload).part(b"placeholder", filename="clip.mp4")
    with pytest.raises(UnsupportedMediaError, match=r'"empty\.gif" is empty'):
        MediaUploader(upload).part(b"", filename="empty.gif")
    assert upload.calls == []  # nothing was uploaded
    # A format is judged by content, whatever the extension of its kind says.
    assert inline_part(HEADS["jpg"] + b"x", filename="photo.png")["image_url"]["url"].startswith("data:image/png")


def test_inline_media_counted_against_the_limit():
    data = HEADS["png"] + b"x" * 92
    with pytest.raises(MediaTooLargeError, match=r'"big.png" is 158 bytes as a data URL, over the 100-byte'):
        inline_part(data, filename="big.png", max_bytes=100)


class FakeUpload:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, str, str]] = []

    def __call__(self, source: Any, filename: str, purpose: str) -> str:
        self.calls.append((source, filename, purpose))
        return f"file{len(self.calls)}"


def test_upload_mode_uploads_each_media_once(tmp_path):
    (tmp_path / "cat.png").write_bytes(HEADS["png"] + b"cat")
    (tmp_path / "copy-of-cat.png").write_bytes(HEADS["png"] + b"cat")
    (tmp_path / "clip.mp4").write_bytes(HEADS["mp4"] + b"clip")
    upload = FakeUpload()
    uploader = MediaUploader(upload)
    rows = [{"media": tmp_path / "cat.png", "q": f"Q{i}"} for i in range(500)]
    rows += [{"media": tmp_path / "copy-of-cat.png", "q": "again"}, {"media": str(tmp_path / "clip.mp4"), "q": "v"}]
    path = tmp_path / "in.jsonl"
    result = write_requests(vision_requests(rows, prompt_column="q", uploader=uploader), path)
    assert result.lines == 502
    assert upload.calls == [(tmp_path / "cat.png", "cat.png", "image"), (tmp_path / "clip.mp4", "clip.mp4", "video")]
    assert uploader.uploads == 2
    assert uploader.file_ids == {"file1", "file2"}
    lines = path.read_bytes().splitlines()
    assert orjson.loads(lines[0])["body"]["messages"][0]["content"] == [
        {"type": "image_url", "image_url": {"url": "ms://file1"}},
        {"type": "text", "text": "Q0"},
    ]
    assert orjson.loads(lines[-1])["body"]["messages"][0]["content"][0] == {
        "type": "video_url",
        "video_url": {"url": "ms://file2"},
    }
    assert validate_file(path, known_file_ids=uploader.file_ids).ok


def test_upload_of_raw_bytes_passes_bytes():
    upload = FakeUpload()
    uploader = MediaUploader(upload)
    pic = HEADS["jpg"] + b"pic"
    assert uploader.part(pic, filename="x.jpg") == {"type": "image_url", "image_url": {"url": "ms://file1"}}
    assert uploader.part(pic, filename="y.jpg")["image_url"]["url"] == "ms://file1"
    assert upload.calls == [(pic, "x.jpg", "image")]


def test_writer_streams_a_generator_of_100k_rows(tmp_path):
    rows = ({"text": f"row {i}"} for i in range(100_000))
    result = write_requests(prompt_requests(rows, system_prompt="Be brief."), tmp_path / "big.jsonl")
    assert (result.lines, result.bytes) == (100_000, (tmp_path / "big.jsonl").stat().st_size)
    report = validate_file(tmp_path / "big.jsonl")
    assert report.ok
    assert report.lines == 100_000


def test_writer_accepts_open_binary_files_and_openable_paths():
    buffer = io.BytesIO()
    result = write_requests(prompt_requests(["a", "b"]), buffer)
    assert result.lines == 2
    assert buffer.getvalue().count(b"\n") == 2

    class Target:
        name = "remote.jsonl"
        sink = io.BytesIO()

        def open(self, mode: str):
            assert mode == "wb"
            return self.sink

    target = Target()
    write_requests(prompt_requests(["a"]), target)
    assert target.sink.closed


def test_writer_refuses_duplicate_custom_id(tmp_path):
    rows = [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]
    with pytest.raises(DuplicateCustomIdError) as caught:
        write_requests(prompt_requests(rows, custom_id_column="id"), tmp_path / "in.jsonl")
    assert str(caught.value) == f"{tmp_path / 'in.jsonl'}:2: custom_id: duplicate 'a', first used on line 1"


def test_writer_size_limit(tmp_path):
    with pytest.raises(InputTooLargeError, match=r"in.jsonl:3: the input passes 300 bytes here"):
        write_requests(prompt_requests(["a"] * 5), tmp_path / "in.jsonl", max_bytes=300)


def test_batch_layer_imports_no_airflow():
    import subprocess
    import sys

    code = "import sys, airflow_provider_kimi.batch, airflow_provider_kimi.cli.main as m; m.build_parser(); "
    code += "print(sorted(k for k in sys.modules if k == 'airflow' or k.startswith('airflow.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    assert Path  # keep the import used
