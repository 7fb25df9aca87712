"""The organization's file quotas and what an upload must hold, as Kimi answers them.

Kimi answers a full quota with **400** ``invalid_request_error`` ("The number of files you have
uploaded exceeded the max file count..."): not a rate limit, so no retry can help; the cure is
deleting files. An empty upload is "File size is zero" for every purpose, and ``image`` /
``video`` uploads must be one of the formats Kimi reads, judged here by their first bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from airflow_provider_kimi.emulator.errors import bad_request
from airflow_provider_kimi.emulator.settings import EmulatorSettings
from airflow_provider_kimi.emulator.store import FileRecord

RESULT_PURPOSE = "batch_output"
MAGIC_BYTES_NEEDED = 16


def _is_ftyp(head: bytes) -> bool:
    return head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free")


IMAGE_FORMATS: dict[str, Callable[[bytes], bool]] = {
    "png": lambda h: h.startswith(b"\x89PNG\r\n\x1a\n"),
    "jpeg": lambda h: h.startswith(b"\xff\xd8\xff"),
    "webp": lambda h: h[:4] == b"RIFF" and h[8:12] == b"WEBP",
    "gif": lambda h: h[:6] in (b"GIF87a", b"GIF89a"),
}
"""Kimi's image formats and how each file begins."""

VIDEO_FORMATS: dict[str, Callable[[bytes], bool]] = {
    "mp4 / mov / 3gpp": _is_ftyp,
    "mpeg / mpg": lambda h: h[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"),
    "avi": lambda h: h[:4] == b"RIFF" and h[8:12] == b"AVI ",
    "x-flv": lambda h: h.startswith(b"FLV"),
    "webm": lambda h: h.startswith(b"\x1a\x45\xdf\xa3"),
    "wmv": lambda h: h.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"),
}
"""Kimi's video formats and how each file begins."""

_FORMATS = {"image": IMAGE_FORMATS, "video": VIDEO_FORMATS}


def check_upload_content(size: int, head: bytes, purpose: str) -> None:
    """Refuse an empty file (any purpose) and a media file in a format Kimi does not read."""
    if size == 0:
        raise bad_request("File size is zero, please confirm and re-upload the file")
    formats = _FORMATS.get(purpose)
    if formats is not None and not any(check(head) for check in formats.values()):
        raise bad_request(
            f"unsupported {purpose} format: a file with purpose {purpose!r} must be one of {', '.join(formats)}"
        )


def _count_message(count: int, limit: int, what: str) -> str:
    return (
        f"The number of files you have uploaded exceeded the max file count ({limit} {what}; "
        f"the organization holds {count}), please delete some files before uploading more"
    )


def check_quota(files: Iterable[FileRecord], new_bytes: int, purpose: str, settings: EmulatorSettings) -> None:
    """Refuse an upload past the file count, batch-file count or total size quota (400)."""
    held = list(files)
    if len(held) + 1 > settings.max_files:
        raise bad_request(_count_message(len(held), settings.max_files, "files"))
    if purpose == "batch":
        counted = ("batch", RESULT_PURPOSE) if settings.result_files_count else ("batch",)
        batch_files = sum(1 for f in held if f.purpose in counted)
        if batch_files + 1 > settings.max_batch_files:
            raise bad_request(_count_message(batch_files, settings.max_batch_files, "batch files"))
    total = sum(f.bytes for f in held)
    if total + new_bytes > settings.max_total_bytes:
        raise bad_request(
            f"The total size of the files you have uploaded exceeded the limit ({settings.max_total_bytes} bytes; "
            f"the organization holds {total} bytes in {len(held)} files), please delete some files"
        )
