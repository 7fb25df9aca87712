"""Turn rows of data into Kimi batch request lines.

Three shapes of row are common: a text to ask about (a system prompt plus one user message per
row), a full conversation (a message list per row), and an image or video with a prompt. Each
builder is a generator, so a million rows never sit in memory at once, and each checks its extra
body parameters when it is called, before the first row is read: the parameters Kimi's batch
models fix (``temperature``, ``top_p``, ``n``, ``presence_penalty``, ``frequency_penalty``) and
``stream`` are refused, ``thinking`` and the rest pass through.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from airflow_provider_kimi.batch.errors import KimiKeyError, KimiTypeError, KimiValueError
from airflow_provider_kimi.batch.limits import (
    DEFAULT_MODEL,
    ENDPOINT_URL,
    FIXED_PARAMETERS,
    MAX_FILE_BYTES,
    METHOD,
    UNBATCHABLE_PARAMETERS,
    MediaKind,
)
from airflow_provider_kimi.batch.media import MediaSource, MediaUploader, inline_part

DEFAULT_ID_PREFIX = "request-"
_RESERVED_BODY_KEYS = ("model", "messages")

Request = dict[str, Any]
Message = Mapping[str, Any]


class ForbiddenParameterError(KimiValueError):
    """A body parameter a Kimi batch request must not carry."""


def check_body_params(body_params: Mapping[str, Any] | None) -> dict[str, Any]:
    """A copy of ``body_params`` after refusing what a batch request cannot carry."""
    params = dict(body_params or {})
    for name in FIXED_PARAMETERS:
        if name in params:
            raise ForbiddenParameterError(
                f"{name!r} is fixed for Kimi's batch models and must be left out of the request body"
            )
    for name in UNBATCHABLE_PARAMETERS:
        if name in params:
            raise ForbiddenParameterError(f"{name!r} is not allowed in a batch request (answers are never streamed)")
    for name in _RESERVED_BODY_KEYS:
        if name in params:
            raise ForbiddenParameterError(f"{name!r} is set by the builder; pass {name}= instead of a body parameter")
    return params


def request_line(
    custom_id: str,
    messages: Sequence[Message],
    *,
    model: str = DEFAULT_MODEL,
    body_params: Mapping[str, Any] | None = None,
) -> Request:
    """One request line: ``custom_id`` first (the splitter reads it without parsing the line)."""
    params = check_body_params(body_params)
    return _line(custom_id, messages, model, params)


def _line(custom_id: str, messages: Sequence[Message], model: str, params: Mapping[str, Any]) -> Request:
    return {
        "custom_id": custom_id,
        "method": METHOD,
        "url": ENDPOINT_URL,
        "body": {"model": model, "messages": list(messages), **params},
    }


class CustomIds:
    """Where each row's ``custom_id`` comes from: a column of the row, or ``prefix`` + row number.

    Generated ids count from 1, so ``request-7`` is the seventh row and, in a file written from
    these rows, line 7.
    """

    def __init__(self, column: str | None = None, prefix: str = DEFAULT_ID_PREFIX) -> None:
        self.column = column
        self.prefix = prefix

    def __call__(self, number: int, row: Any) -> str:
        if self.column is None:
            return f"{self.prefix}{number}"
        if not isinstance(row, Mapping) or self.column not in row:
            raise KimiKeyError(f"row {number} has no {self.column!r} column for custom_id")
        value = row[self.column]
        if value is None or value == "":
            raise KimiValueError(f"row {number}: custom_id column {self.column!r} is empty")
        return value if isinstance(value, str) else str(value)


def prompt_requests(
    rows: Iterable[str | Mapping[str, Any]],
    *,
    system_prompt: str | None = None,
    text_column: str = "text",
    template: str | None = None,
    custom_id_column: str | None = None,
    id_prefix: str = DEFAULT_ID_PREFIX,
    model: str = DEFAULT_MODEL,
    body_params: Mapping[str, Any] | None = None,
) -> Iterator[Request]:
    """A system prompt plus one user message per row.

    A row is a string or a mapping; the user message is ``row[text_column]``, or ``template``
    formatted with the row's columns (``"Classify: {text}"``).
    """
    params = check_body_params(body_params)
    ids = CustomIds(custom_id_column, id_prefix)
    return _prompt_rows(rows, system_prompt, text_column, template, ids, model, params)


def _prompt_rows(
    rows: Iterable[str | Mapping[str, Any]],
    system_prompt: str | None,
    text_column: str,
    template: str | None,
    ids: CustomIds,
    model: str,
    params: Mapping[str, Any],
) -> Iterator[Request]:
    head = [{"role": "system", "content": system_prompt}] if system_prompt is not None else []
    for number, row in enumerate(rows, start=1):
        columns: Mapping[str, Any] = {text_column: row} if isinstance(row, str) else row
        text = template.format_map(columns) if template is not None else columns[text_column]
        if not isinstance(text, str):
            raise KimiTypeError(f"row {number}: {text_column!r} must be a string, got {type(text).__name__}")
        yield _line(ids(number, row), [*head, {"role": "user", "content": text}], model, params)


def chat_requests(
    rows: Iterable[Sequence[Message] | Mapping[str, Any]],
    *,
    messages_column: str = "messages",
    custom_id_column: str | None = None,
    id_prefix: str = DEFAULT_ID_PREFIX,
    model: str = DEFAULT_MODEL,
    body_params: Mapping[str, Any] | None = None,
) -> Iterator[Request]:
    """One request per row from a full message list: the row itself or ``row[messages_column]``."""
    params = check_body_params(body_params)
    ids = CustomIds(custom_id_column, id_prefix)
    return _chat_rows(rows, messages_column, ids, model, params)


def _chat_rows(
    rows: Iterable[Sequence[Message] | Mapping[str, Any]],
    messages_column: str,
    ids: CustomIds,
    model: str,
    params: Mapping[str, Any],
) -> Iterator[Request]:
    for number, row in enumerate(rows, start=1):
        messages = row[messages_column] if isinstance(row, Mapping) else row
        if isinstance(messages, str | bytes) or not isinstance(messages, Sequence) or not messages:
            raise KimiTypeError(f"row {number}: messages must be a non-empty list of message objects")
        yield _line(ids(number, row), messages, model, params)


def vision_requests(
    rows: Iterable[Mapping[str, Any]],
    *,
    media_column: str = "media",
    prompt: str | None = None,
    prompt_column: str | None = None,
    system_prompt: str | None = None,
    kind: MediaKind | None = None,
    uploader: MediaUploader | None = None,
    max_inline_bytes: int = MAX_FILE_BYTES,
    custom_id_column: str | None = None,
    id_prefix: str = DEFAULT_ID_PREFIX,
    model: str = DEFAULT_MODEL,
    body_params: Mapping[str, Any] | None = None,
) -> Iterator[Request]:
    """One request per image or video row: the media part(s) then the prompt, in one user message.

    ``row[media_column]`` is a path (local or object storage) or a list of them; the format comes
    from the extension. Without ``uploader`` the media go inline as base64 data URLs; with one,
    each distinct file is uploaded once and referenced as ``ms://<file_id>``. The prompt is
    ``prompt`` or ``row[prompt_column]``.
    """
    if prompt is None and prompt_column is None:
        raise KimiValueError("give prompt= or prompt_column=")
    params = check_body_params(body_params)
    ids = CustomIds(custom_id_column, id_prefix)
    head = [{"role": "system", "content": system_prompt}] if system_prompt is not None else []

    def media_part(source: MediaSource) -> dict[str, Any]:
        if uploader is not None:
            return uploader.part(source, kind=kind)
        return inline_part(source, kind=kind, max_bytes=max_inline_bytes)

    def generate() -> Iterator[Request]:
        for number, row in enumerate(rows, start=1):
            media = row[media_column]
            sources = media if isinstance(media, list | tuple) else [media]
            text = row[prompt_column] if prompt_column is not None else prompt
            content: list[dict[str, Any]] = [media_part(source) for source in sources]
            content.append({"type": "text", "text": text})
            yield _line(ids(number, row), [*head, {"role": "user", "content": content}], model, params)

    return generate()
