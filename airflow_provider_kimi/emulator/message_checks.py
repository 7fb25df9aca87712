"""The server's rules for a request body's messages, ``thinking`` and media parts.

Kimi's chat API refuses an unknown role, a content that is neither text nor a list of parts, an
unknown part type, a media URL that is neither a base64 data URL of a supported type nor an
``ms://`` reference, and a ``thinking`` other than enabled/disabled. The emulator checks the same
at ``validating``, in its own words and code (not the client's validator).
"""

from __future__ import annotations

import binascii
from collections.abc import Callable
from typing import Any

ROLES = ("system", "user", "assistant", "tool")
THINKING = ("enabled", "disabled")
MEDIA_PURPOSES = {"image_url": "image", "video_url": "video"}
DATA_TYPES = {
    "image": ("image/png", "image/jpeg", "image/webp", "image/gif"),
    "video": (
        "video/mp4",
        "video/mpeg",
        "video/mpg",
        "video/mov",
        "video/avi",
        "video/x-flv",
        "video/webm",
        "video/wmv",
        "video/3gpp",
    ),
}

# One problem: (code, message, param).
Found = tuple[str, str, str]
PurposeOf = Callable[[str], "str | None"]


def thinking_problems(body: dict[str, Any]) -> list[Found]:
    if "thinking" not in body or body["thinking"] is None:
        return []
    thinking = body["thinking"]
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if isinstance(kind, str) and kind in THINKING:
        return []
    return [("invalid_thinking", 'thinking must be {"type": "enabled"} or {"type": "disabled"}', "body.thinking")]


def message_problems(messages: list[Any], purpose_of: PurposeOf) -> list[Found]:
    """Every broken rule of the messages (an empty or non-list ``messages`` is checked by the caller)."""
    found: list[Found] = []
    for index, message in enumerate(messages):
        where = f"body.messages[{index}]"
        if not isinstance(message, dict):
            found.append(("invalid_message", "a message must be an object", where))
            continue
        role = message.get("role")
        if not (isinstance(role, str) and role in ROLES):
            found.append(("invalid_role", f"role must be one of {list(ROLES)}", f"{where}.role"))
        content = message.get("content")
        if isinstance(content, str):
            continue
        if isinstance(content, list):
            found += _part_problems(content, where, purpose_of)
        elif content is None and role == "assistant" and message.get("tool_calls"):
            continue
        else:
            found.append(("invalid_content", "content must be a string or a list of parts", f"{where}.content"))
    return found


def _part_problems(parts: list[Any], where: str, purpose_of: PurposeOf) -> list[Found]:
    if not parts:
        return [("invalid_content", "content must not be an empty list", f"{where}.content")]
    found: list[Found] = []
    for position, part in enumerate(parts):
        at = f"{where}.content[{position}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if not isinstance(part, dict):
            found.append(("invalid_content", "a content part must be an object", at))
        elif kind == "text":
            if not isinstance(part.get("text"), str):
                found.append(("invalid_content", "a text part needs a string text", f"{at}.text"))
        elif kind in MEDIA_PURPOSES:
            target = part.get(kind)
            url = target.get("url") if isinstance(target, dict) else None
            problem = _url_problem(url, MEDIA_PURPOSES[kind], purpose_of) if isinstance(url, str) else "url is required"
            if problem is not None:
                found.append(("invalid_file_reference", problem, f"{at}.{kind}.url"))
        else:
            found.append(("invalid_content", "a part's type must be text, image_url or video_url", f"{at}.type"))
    return found


def _url_problem(url: str, kind: str, purpose_of: PurposeOf) -> str | None:
    if url.startswith("ms://"):
        file_id = url[len("ms://") :]
        if purpose_of(file_id) != kind:
            return f"ms://{file_id} is not a file uploaded with purpose {kind!r}"
        return None
    if not url.startswith("data:"):
        return "url must be a base64 data URL or ms://<file_id>"
    header, comma, data = url[len("data:") :].partition(",")
    if not comma or not header.endswith(";base64"):
        return "a data URL must be base64 encoded"
    if header.removesuffix(";base64") not in DATA_TYPES[kind]:
        return f"unsupported {kind} type {header.removesuffix(';base64')!r}"
    if not data:
        return "the data URL holds no data"
    try:
        binascii.a2b_base64(data.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError):
        return "the data URL is not valid base64"
    return None
