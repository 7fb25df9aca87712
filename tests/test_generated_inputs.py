"""Generated request lines and result lines, through the validator, the server's checks and the
results reader.

Each raises only its own documented errors whatever it is fed, and the validator and the server
agree on every generated request line: both accept it or both refuse it. A generated line mixes
valid parts with broken ones (wrong types, unknown roles and parts, bad data URLs, fixed
parameters, deep nesting, bytes that are not JSON), so both sides are tried on every rule.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_kimi.batch.results import ChunkedResultsReader, ResultsFileError, iter_result_files
from airflow_provider_kimi.batch.validator import validate_file
from airflow_provider_kimi.emulator.checks import check_batch_create, parse_json_body, validate_input
from airflow_provider_kimi.emulator.errors import ApiError
from airflow_provider_kimi.emulator.settings import EmulatorSettings

KNOWN_FILES = {"img0000000000000001": "image", "vid0000000000000001": "video", "bat0000000000000001": "batch"}
SERVER = EmulatorSettings()
EXAMPLES = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FOLDER = Path(tempfile.mkdtemp(prefix="kimi-generated-"))


@pytest.fixture(scope="module", autouse=True)
def _remove_folder() -> Iterator[None]:
    yield
    shutil.rmtree(FOLDER, ignore_errors=True)


scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
any_json = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


def maybe(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a valid value, sometimes any JSON at all."""
    return st.one_of(valid, valid, valid, any_json)


ANY_KIND_URLS = [
    "data:image/png;base64,iVBORw0KGgo",
    "data:image/png;base64,@@@@",
    "data:image/png;base64,",
    "data:image/png,plain",
    "ms://bat0000000000000001",
    "ms://unknown00000000001",
    "ms://not/an/id",
    "https://example.com/cat.png",
]
# The validator knows which files exist (``known_file_ids``) but not their kind, so a reference
# to a video where an image belongs is the server's to find: references keep to their kind.
MEDIA_URLS = {
    "image_url": st.sampled_from(
        ["data:image/png;base64,iVBORw0KGgo=", "data:image/bmp;base64,AAAA", "ms://img0000000000000001", *ANY_KIND_URLS]
    ),
    "video_url": st.sampled_from(
        [
            "data:video/mp4;base64,AAAAGGZ0eXA=",
            "data:image/png;base64,iVBORw0KGgo=",
            "ms://vid0000000000000001",
            *ANY_KIND_URLS,
        ]
    ),
}
text_part = st.fixed_dictionaries({"type": st.just("text"), "text": maybe(st.text(max_size=10))})
media_part = st.sampled_from(["image_url", "video_url"]).flatmap(
    lambda kind: st.fixed_dictionaries(
        {"type": st.just(kind), kind: maybe(st.fixed_dictionaries({"url": MEDIA_URLS[kind]}))}
    )
)
odd_part = st.fixed_dictionaries({"type": st.sampled_from(["audio", "file", None])})
parts = st.lists(st.one_of(text_part, text_part, media_part, odd_part, any_json), max_size=3)
message = st.fixed_dictionaries(
    {
        "role": maybe(st.sampled_from(["system", "user", "assistant", "tool"])) | st.just("robot"),
        "content": st.one_of(st.text(max_size=10), parts, st.none()),
    },
    optional={"tool_calls": st.lists(st.just({"id": "t"}), max_size=1), "name": st.text(max_size=5)},
)
body = st.fixed_dictionaries(
    {
        "model": maybe(st.sampled_from(["kimi-k2.5", "kimi-k2.6"])) | st.just("gpt-4o"),
        "messages": maybe(st.lists(message, max_size=3)),
    },
    optional={
        "temperature": st.floats(0, 1),
        "top_p": st.just(1),
        "stream": st.sampled_from([True, False, None, "yes"]),
        "thinking": maybe(st.fixed_dictionaries({"type": st.sampled_from(["enabled", "disabled", "auto"])})),
        "max_tokens": st.integers(1, 100),
        "tools": st.integers(55, 70).map(lambda depth: _nested(depth)),
    },
)
request_line = st.fixed_dictionaries(
    {
        "custom_id": maybe(st.text(min_size=1, max_size=8)) | st.just(""),
        "method": maybe(st.just("POST")) | st.just("GET"),
        "url": maybe(st.just("/v1/chat/completions")) | st.just("/v1/embeddings"),
        "body": maybe(body),
    },
    optional={"extra": any_json},
)


def _nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


def _encoded(line: Any) -> bytes:
    return orjson.dumps(line)


raw_lines = st.one_of(
    request_line.map(_encoded),
    request_line.map(_encoded),
    request_line.map(_encoded),
    any_json.map(_encoded),
    st.binary(min_size=1, max_size=40).filter(lambda data: data.strip() and b"\n" not in data),
    request_line.map(_encoded).flatmap(lambda data: st.integers(1, len(data) - 1).map(lambda cut: data[:cut])),
)


def _file(lines: list[bytes]) -> Path:
    path = FOLDER / "generated.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


@EXAMPLES
@given(st.lists(raw_lines, min_size=1, max_size=3))
def test_the_validator_and_the_server_agree_on_every_generated_line(lines: list[bytes]) -> None:
    lines = [line for line in lines if line.strip()] or [b"{}"]
    path = _file(lines)
    ours = validate_file(path, known_file_ids=[i for i, purpose in KNOWN_FILES.items() if purpose != "batch"])
    theirs = validate_input(path, SERVER, KNOWN_FILES.get)
    assert ours.ok == (not theirs.problems), (ours.format(), [p.to_api() for p in theirs.problems])


result_line = st.fixed_dictionaries(
    {
        "custom_id": maybe(st.text(min_size=1, max_size=8)),
        "response": st.one_of(
            st.none(),
            st.fixed_dictionaries(
                {
                    "status_code": maybe(st.sampled_from([200, 400, 429, 500])),
                    "body": maybe(
                        st.fixed_dictionaries(
                            {
                                "choices": maybe(
                                    st.lists(
                                        st.fixed_dictionaries(
                                            {"message": maybe(st.fixed_dictionaries({"content": maybe(st.text())}))}
                                        ),
                                        max_size=2,
                                    )
                                ),
                                "usage": maybe(
                                    st.fixed_dictionaries(
                                        {"prompt_tokens": maybe(st.integers(0, 9)), "total_tokens": any_json}
                                    )
                                ),
                                "error": any_json,
                            }
                        )
                    ),
                },
                optional={"request_id": any_json},
            ),
        ),
        "error": maybe(st.fixed_dictionaries({"code": maybe(st.sampled_from(["batch_expired", "x"]))})),
    }
)
result_bytes = st.one_of(
    result_line.map(_encoded),
    result_line.map(_encoded),
    any_json.map(_encoded),
    st.binary(max_size=30).filter(lambda data: b"\n" not in data),
)


@EXAMPLES
@given(st.lists(result_bytes, min_size=1, max_size=4), st.integers(1, 64))
def test_the_results_reader_raises_only_its_own_error(lines: list[bytes], chunk: int) -> None:
    data = b"\n".join(lines) + b"\n"
    path = FOLDER / "out.jsonl"
    path.write_bytes(data)
    from_file: list[str] = []
    try:
        from_file.extend(r.custom_id for r in iter_result_files([path]))
    except ResultsFileError as exc:
        from_file.append(f"error: {exc.line}")
    seen: list[str] = []
    reader = ChunkedResultsReader(str(path), lambda result: seen.append(result.custom_id))
    try:
        for start in range(0, len(data), chunk):
            reader.feed(data[start : start + chunk])
        reader.close()
    except ResultsFileError as exc:
        seen.append(f"error: {exc.line}")
    # However the bytes arrive, the download reads what the file reader reads.
    assert seen == from_file


@EXAMPLES
@given(st.one_of(any_json.map(_encoded), st.binary(max_size=60), request_line.map(lambda line: _encoded(line["body"]))))
def test_the_server_refuses_any_create_body_with_a_400_only(raw: bytes) -> None:
    status = 200
    try:
        check_batch_create(parse_json_body(raw, SERVER.max_json_depth))
    except ApiError as exc:
        status = exc.status_code
    assert status in (200, 400)
