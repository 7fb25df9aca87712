"""Deterministic answers to chat-completion bodies: the same request gets the same reply, always.

Built on hashlib (stable across processes, unlike ``hash()``). When the prompt lists categories
as ``A/B/C``, the reply names one of them, chosen by keywords where it can and by hash otherwise,
so classification pipelines get plausible results offline. ``[[fail:CODE]]`` in a user message
makes that request fail with HTTP status CODE.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from airflow_provider_kimi.emulator.schema_instruction import without_instruction

FAIL_MARKER = re.compile(r"\[\[fail:(\d{3})\]\]")
_CATEGORY_LIST = re.compile(r"[A-Za-z][\w&' -]*(?:/[A-Za-z][\w&' -]*)+")
_WORD = re.compile(r"[a-z0-9]+")
CHARS_PER_TOKEN = 4
# Prompt tokens an image or a video adds (once per request, whatever the number of parts).
MEDIA_TOKENS = {"image": 250, "video": 1000}

# Words that point at a category, keyed by the category's lowercase name.
CATEGORY_KEYWORDS: dict[str, frozenset[str]] = {
    name: frozenset(words.split())
    for name, words in {
        "literature": "shakespeare hamlet novel poem poetry tragedy comedy author book literary fiction verse",
        "news": "discover discovers discovered breaking announced today planet report election",
        "academic": "research study paper university journal thesis scientists analysis",
        "technology": "ai artificial intelligence iphone software computer tech launch app digital robot chip",
        "lifestyle": "recipe cook cooking dish pork delicious travel fashion home food fitness",
        "sports": "football soccer match team league goal tennis olympic",
        "food": "dish recipe pork cake meal delicious",
    }.items()
}

ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "invalid_authentication_error",
    403: "permission_denied_error",
    404: "resource_not_found_error",
    429: "rate_limit_reached_error",
}


@dataclass(frozen=True)
class Reply:
    """What one request of a batch came to: an HTTP status and the body it carried."""

    status_code: int
    body: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.status_code < 400


def digest(data: Any) -> str:
    """A stable hex digest of any JSON-able value."""
    encoded = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def error_reply(status_code: int, message: str) -> Reply:
    """A failed request, with Kimi's error body."""
    fallback = "server_error" if status_code >= 500 else "invalid_request_error"
    error_type = ERROR_TYPES.get(status_code, fallback)
    return Reply(status_code, {"error": {"type": error_type, "message": message}})


def role_texts(messages: list[Any], role: str) -> list[str]:
    """Every text of the messages with this role, plain strings and ``text`` parts alike."""
    texts: list[str] = []
    for message in messages:
        if not isinstance(message, dict) or message.get("role") != role:
            continue
        content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts += [p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
    return texts


def _media_kind(messages: list[Any]) -> str | None:
    """``video`` or ``image`` when a user message carries one (video wins), else ``None``."""
    kinds = set()
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        for part in content if isinstance(content, list) else []:
            if isinstance(part, dict) and part.get("type") in ("image_url", "video_url"):
                kinds.add(part["type"].removesuffix("_url"))
    return "video" if "video" in kinds else ("image" if "image" in kinds else None)


def find_categories(texts: list[str]) -> list[str]:
    """The longest ``A/B/C`` list found in the texts, split into names."""
    lists = [m.group(0) for text in texts for m in _CATEGORY_LIST.finditer(text)]
    if not lists:
        return []
    return [name.strip() for name in max(lists, key=lambda s: s.count("/")).split("/") if name.strip()]


def choose_category(categories: list[str], text: str, seed: str) -> str:
    """The category whose keywords (or own name) the text mentions most; ties broken by hash."""
    words = set(_WORD.findall(text.lower()))
    scores = []
    for name in categories:
        keywords = CATEGORY_KEYWORDS.get(name.lower(), frozenset()) | set(_WORD.findall(name.lower()))
        scores.append(len(words & keywords))
    best = max(scores)
    tied = [name for name, score in zip(categories, scores, strict=True) if score == best]
    return tied[int(seed[:8], 16) % len(tied)]


def _answer(body: dict[str, Any], seed: str) -> str:
    messages = messages_of(body)
    system = [without_instruction(text) for text in role_texts(messages, "system")]
    user = role_texts(messages, "user")
    kind = _media_kind(messages)
    categories = find_categories(system) or find_categories(user)
    subject = f"This {kind}" if kind else "This text"
    if categories:
        # Judge by the user's words, leaving out the category list itself.
        text = " ".join(_CATEGORY_LIST.sub(" ", t) for t in user)
        return f"{subject} belongs to the {choose_category(categories, text, seed)} category."
    if kind:
        return f"The {kind} shows a scene summarised under reference {seed[:8]}."
    snippet = " ".join(" ".join(user).split()[:8])
    return f'Answer {seed[:8]}: a short reply to "{snippet}".' if snippet else f"Answer {seed[:8]}."


def messages_of(body: dict[str, Any]) -> list[Any]:
    """The body's messages (an empty list when they are missing or not a list)."""
    messages = body.get("messages")
    return messages if isinstance(messages, list) else []


def tokens_of(text: str) -> int:
    """The emulator's token count of a text (about four characters a token, at least one)."""
    return max(1, len(text) // CHARS_PER_TOKEN)


def prompt_tokens(body: dict[str, Any]) -> int:
    """The prompt tokens of a chat body: what ``usage.prompt_tokens`` reports and what the token
    estimate answers (the texts of system, user and assistant messages, plus one image or video)."""
    messages = messages_of(body)
    texts = sum(tokens_of(t) for role in ("system", "user", "assistant") for t in role_texts(messages, role))
    media = _media_kind(messages)
    return texts + MEDIA_TOKENS.get(media or "", 0)


def completion_body(
    body: dict[str, Any], created: int, message: dict[str, Any], finish_reason: str, completion_tokens: int
) -> dict[str, Any]:
    """A ``chat.completion`` body answering ``body`` with ``message``, usage counted."""
    prompt = prompt_tokens(body)
    return {
        "id": f"chatcmpl-{digest(body)[:24]}",
        "object": "chat.completion",
        "created": created,
        "model": body.get("model"),
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt + completion_tokens,
        },
    }


def respond(body: dict[str, Any], created: int) -> Reply:
    """The reply to one chat-completion body; only ``created`` depends on anything but the body."""
    seed = digest(body)
    user_text = " ".join(role_texts(messages_of(body), "user"))
    marker = FAIL_MARKER.search(user_text)
    if marker is not None:
        code = int(marker.group(1))
        return error_reply(code, f"request failed with status {code} as its [[fail:{code}]] marker asked")
    content = _answer(body, seed)
    message = {"role": "assistant", "content": content}
    return Reply(200, completion_body(body, created, message, "stop", tokens_of(content)))
