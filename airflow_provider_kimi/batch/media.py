"""Images and videos as chat content parts, inline or by reference to an uploaded file.

Kimi takes a picture or a clip in two forms: inline, as a base64 data URL inside the request
line (simple, but it counts against the 100 MB input limit and grows the data by a third), or as
``ms://<file_id>`` after uploading the file with purpose ``image`` / ``video`` (better for big or
reused media). Uploading goes through a callable the caller supplies, so this module needs no
HTTP client and no Airflow: ``upload(path_or_bytes, filename, purpose) -> file_id``.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from airflow_provider_kimi.batch._paths import OpenablePath, is_local, sha256_of
from airflow_provider_kimi.batch.errors import KimiTypeError, KimiValueError
from airflow_provider_kimi.batch.limits import (
    IMAGE_MIME_TYPES,
    MAX_FILE_BYTES,
    MEDIA_FILE_REFERENCE_PREFIX,
    MEDIA_HEAD_BYTES,
    MEDIA_PURPOSES,
    MEDIA_SIGNATURES,
    VIDEO_MIME_TYPES,
    MediaKind,
)

MediaSource = bytes | str | os.PathLike[str] | OpenablePath
"""A media file: raw bytes, a local path, or an object-storage path with ``.open("rb")``."""

UploadFn = Callable[[Any, str, str], str]
"""``upload(path_or_bytes, filename, purpose) -> file_id``; the first argument is a local
``Path``, the raw ``bytes``, or the object-storage path as given."""

_ARTICLED = {"image": "an image", "video": "a video"}


class UnsupportedMediaError(KimiValueError):
    """A file whose format Kimi does not read, or whose kind is not the one asked for."""


class MediaTooLargeError(KimiValueError):
    """An inline media file that could never fit in one batch input file."""


def media_type(name: str, kind: MediaKind | None = None) -> tuple[MediaKind, str]:
    """The kind and MIME type of a media file, from its extension."""
    suffix = PurePosixPath(name).suffix.lower()
    found: tuple[MediaKind, str] | None = None
    if suffix in IMAGE_MIME_TYPES:
        found = ("image", IMAGE_MIME_TYPES[suffix])
    elif suffix in VIDEO_MIME_TYPES:
        found = ("video", VIDEO_MIME_TYPES[suffix])
    if found is None:
        known = ", ".join(sorted({*IMAGE_MIME_TYPES, *VIDEO_MIME_TYPES}))
        raise UnsupportedMediaError(f'"{name}": unsupported media format (supported: {known})')
    if kind is not None and found[0] != kind:
        raise UnsupportedMediaError(f'"{name}" is {_ARTICLED[found[0]]}, not {_ARTICLED[kind]}')
    return found


def check_media_content(head: bytes, name: str, kind: MediaKind) -> None:
    """Refuse media whose first bytes are no format Kimi reads for ``kind`` (an empty file too).

    Kimi judges an image or video by its content: a renamed or broken file is refused at upload
    (or fails its request when inline), so it is caught here first, naming the file.
    """
    if not head:
        raise UnsupportedMediaError(f'"{name}" is empty')
    signatures = MEDIA_SIGNATURES[kind]
    if not any(head[offset : offset + len(magic)] == magic for _, offset, magic in signatures):
        formats = ", ".join(dict.fromkeys(fmt for fmt, _, _ in signatures))
        raise UnsupportedMediaError(f'"{name}" is not {_ARTICLED[kind]} Kimi reads: its content is none of {formats}')


def data_url(data: bytes, mime: str) -> str:
    """``data:<mime>;base64,<data>``."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def url_part(url: str, kind: MediaKind) -> dict[str, Any]:
    """A content part holding an ``image_url`` or ``video_url``."""
    key = f"{kind}_url"
    return {"type": key, key: {"url": url}}


def reference_part(file_id: str, kind: MediaKind) -> dict[str, Any]:
    """A content part pointing at an uploaded media file: ``ms://<file_id>``."""
    return url_part(f"{MEDIA_FILE_REFERENCE_PREFIX}{file_id}", kind)


def inline_part(
    source: MediaSource,
    *,
    kind: MediaKind | None = None,
    filename: str | None = None,
    max_bytes: int = MAX_FILE_BYTES,
) -> dict[str, Any]:
    """A content part with the media inline as a base64 data URL.

    ``filename`` names raw bytes (its extension gives the MIME type). Raises
    :class:`MediaTooLargeError` when the encoded part alone exceeds ``max_bytes``, the input
    file limit: such media can only be sent by upload (:class:`MediaUploader`).
    """
    name = filename or _source_name(source)
    found_kind, mime = media_type(name, kind)
    data = _read_bytes(source)
    check_media_content(data[:MEDIA_HEAD_BYTES], name, found_kind)
    encoded = 4 * ((len(data) + 2) // 3) + len(f"data:{mime};base64,")
    if encoded > max_bytes:
        raise MediaTooLargeError(
            f'"{name}" is {encoded} bytes as a data URL, over the {max_bytes}-byte input file limit; '
            "upload it instead (MediaUploader)"
        )
    return url_part(data_url(data, mime), found_kind)


class MediaUploader:
    """Uploads each distinct media file once and hands out ``ms://`` content parts.

    Files are told apart by the SHA-256 of their content, so a picture used by a thousand rows,
    or the same bytes under two names, is uploaded once. Local files are hashed once per
    (path, size, modification time).
    """

    def __init__(self, upload: UploadFn) -> None:
        self._upload = upload
        self._ids: dict[tuple[MediaKind, str], str] = {}
        self._path_digests: dict[tuple[str, int, int], str] = {}
        self.uploads = 0

    @property
    def file_ids(self) -> frozenset[str]:
        """Every file id handed out: pass to ``validate_file(known_file_ids=...)``."""
        return frozenset(self._ids.values())

    def file_id(self, source: MediaSource, *, kind: MediaKind | None = None, filename: str | None = None) -> str:
        """The id of ``source`` on Kimi, uploading it the first time its content is seen."""
        name = filename or _source_name(source)
        found_kind, _mime = media_type(name, kind)
        key = (found_kind, self._digest(source))
        file_id = self._ids.get(key)
        if file_id is None:
            check_media_content(_read_head(source), name, found_kind)
            local = _local_path(source)
            payload = local if local is not None else source
            file_id = self._upload(payload, PurePosixPath(name).name, MEDIA_PURPOSES[found_kind])
            self.uploads += 1
            self._ids[key] = file_id
        return file_id

    def part(
        self, source: MediaSource, *, kind: MediaKind | None = None, filename: str | None = None
    ) -> dict[str, Any]:
        """An ``image_url`` / ``video_url`` part referencing the uploaded file."""
        name = filename or _source_name(source)
        found_kind, _mime = media_type(name, kind)
        return reference_part(self.file_id(source, kind=found_kind, filename=name), found_kind)

    def _digest(self, source: MediaSource) -> str:
        if isinstance(source, bytes):
            return hashlib.sha256(source).hexdigest()
        path = _local_path(source)
        if path is not None:
            stat = path.stat()
            cache_key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
            digest = self._path_digests.get(cache_key)
            if digest is None:
                digest = self._path_digests[cache_key] = sha256_of(path)[0]
            return digest
        return sha256_of(_remote(source))[0]


def _local_path(source: MediaSource) -> Path | None:
    """``source`` as a local ``Path``, or ``None`` for bytes and object-storage paths."""
    if isinstance(source, bytes):
        return None
    if is_local(source):
        return source
    if isinstance(source, str):
        return Path(source)
    if isinstance(source, OpenablePath):
        return None
    return Path(os.fspath(source))


def _remote(source: MediaSource) -> OpenablePath:
    if not isinstance(source, OpenablePath):
        raise KimiTypeError(f"cannot read media from {type(source).__name__}")
    return source


def _source_name(source: MediaSource) -> str:
    if isinstance(source, bytes):
        raise UnsupportedMediaError("raw media bytes need a filename (its extension gives the format)")
    local = _local_path(source)
    return str(local) if local is not None else _remote(source).name


def _read_head(source: MediaSource) -> bytes:
    """The first bytes of a media file, enough to recognise its format."""
    if isinstance(source, bytes):
        return source[:MEDIA_HEAD_BYTES]
    local = _local_path(source)
    if local is not None:
        with local.open("rb") as handle:
            return handle.read(MEDIA_HEAD_BYTES)
    with _remote(source).open("rb") as handle:
        head: bytes = handle.read(MEDIA_HEAD_BYTES)
    return head


def _read_bytes(source: MediaSource) -> bytes:
    if isinstance(source, bytes):
        return source
    local = _local_path(source)
    if local is not None:
        return local.read_bytes()
    with _remote(source).open("rb") as handle:
        data: bytes = handle.read()
    return data
