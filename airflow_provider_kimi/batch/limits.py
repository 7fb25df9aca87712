"""Kimi's rules for a batch input file, as named constants.

Every check in this package takes its limit as a parameter defaulting to these values, because
Kimi's own pages disagree in places (one guide names only ``kimi-k2.5``, a newer one also
``kimi-k2.6``) and may change without notice.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final, Literal

MAX_FILE_BYTES: Final = 100_000_000
"""Largest input file Kimi accepts. Kimi writes "100MB"; the decimal reading is the stricter one,
so a file under it fits whichever reading the server uses."""

MAX_LINES: Final[int | None] = None
"""Kimi documents no limit on requests per file; splitting by lines is optional."""

MAX_JSON_DEPTH: Final = 64
"""How deeply one request line may nest objects and arrays. A chat request needs about ten
levels (tool schemas a few more); thousands of levels only serve to exhaust a parser's stack."""

BATCH_MODELS: Final = frozenset({"kimi-k2.5", "kimi-k2.6"})
"""Models accepted by the Batch API. One file holds one model only."""

DEFAULT_MODEL: Final = "kimi-k2.5"

FIXED_PARAMETERS: Final = ("temperature", "top_p", "n", "presence_penalty", "frequency_penalty")
"""Sampling parameters the batch models fix: a request must leave them out."""

UNBATCHABLE_PARAMETERS: Final = ("stream",)
"""Parameters that make no sense in a batch (a batch answer is never streamed)."""

THINKING_TYPES: Final = frozenset({"enabled", "disabled"})

METHOD: Final = "POST"
ENDPOINT_URL: Final = "/v1/chat/completions"
LINE_FIELDS: Final = ("custom_id", "method", "url", "body")
"""The exact top-level fields of one input line."""

MESSAGE_ROLES: Final = frozenset({"system", "user", "assistant", "tool"})
CONTENT_PART_TYPES: Final = frozenset({"text", "image_url", "video_url"})

MEDIA_FILE_REFERENCE_PREFIX: Final = "ms://"
"""Prefix of a reference to a media file uploaded with purpose ``image`` or ``video``."""

MediaKind = Literal["image", "video"]

IMAGE_MIME_TYPES: Final = MappingProxyType(
    {
        ".png": "image/png",
        ".jpg": "image/jpeg",
        ".jpeg": "image/jpeg",
        ".webp": "image/webp",
        ".gif": "image/gif",
    }
)
"""Image formats Kimi reads, by file extension."""

VIDEO_MIME_TYPES: Final = MappingProxyType(
    {
        ".mp4": "video/mp4",
        ".mpeg": "video/mpeg",
        ".mpg": "video/mpg",
        ".mov": "video/mov",
        ".avi": "video/avi",
        ".flv": "video/x-flv",
        ".webm": "video/webm",
        ".wmv": "video/wmv",
        ".3gp": "video/3gpp",
        ".3gpp": "video/3gpp",
    }
)
"""Video formats Kimi reads, by file extension. The MIME names are the ones Kimi lists
(``video/mov``, ``video/avi``...), not always the IANA ones."""

SUPPORTED_MIME_TYPES: Final = MappingProxyType(
    {
        "image": frozenset(IMAGE_MIME_TYPES.values()),
        "video": frozenset(VIDEO_MIME_TYPES.values()),
    }
)
"""MIME types accepted in a data URL, by media kind."""

MEDIA_PURPOSES: Final = MappingProxyType({"image": "image", "video": "video"})
"""Files API ``purpose`` used to upload each media kind."""

MEDIA_SIGNATURES: Final = MappingProxyType(
    {
        "image": (
            ("png", 0, b"\x89PNG\r\n\x1a\n"),
            ("jpeg", 0, b"\xff\xd8\xff"),
            ("gif", 0, b"GIF8"),
            ("webp", 8, b"WEBP"),
        ),
        "video": (
            ("mp4 / mov / 3gpp", 4, b"ftyp"),
            ("mov", 4, b"moov"),
            ("mov", 4, b"mdat"),
            ("mov", 4, b"wide"),
            ("mov", 4, b"free"),
            ("mpeg", 0, b"\x00\x00\x01\xba"),
            ("mpeg", 0, b"\x00\x00\x01\xb3"),
            ("avi", 8, b"AVI "),
            ("flv", 0, b"FLV"),
            ("webm", 0, b"\x1a\x45\xdf\xa3"),
            ("wmv", 0, b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"),
        ),
    }
)
"""How a file of each format Kimi reads begins: ``(format, offset, bytes)``. Kimi judges an
uploaded image or video by its content, not its name."""

MEDIA_HEAD_BYTES: Final = 16
"""Bytes read from the start of a media file to recognise its format."""
