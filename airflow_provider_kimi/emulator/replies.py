"""What turns a plain answer into a reply shaped like Kimi's, from the request's own parameters.

- Thinking: the thinking models (a setting) think unless ``thinking: {"type": "disabled"}``; the reply
  then carries ``message.reasoning_content``, and its tokens count in ``usage.completion_tokens``.
- ``response_format: {"type": "json_object"}`` makes ``content`` a JSON object: one valid under the
  schema the system message carries in the provider's instruction, else ``{"answer": ...}``.
- ``max_tokens`` caps reasoning plus content: a reply cut there ends ``finish_reason: "length"``.
- ``tools`` with a ``tool_choice`` naming a function answers with ``tool_calls`` (arguments filled
  from the function's parameter schema) and ``finish_reason: "tool_calls"``.
- A prompt that repeats, message for message, a prefix seen earlier in the same batch reports
  those tokens as ``usage.prompt_tokens_details.cached_tokens``.
Everything is derived from the body, so the same request gets the same reply.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection
from typing import Any

from airflow_provider_kimi.emulator.invalid_answers import spoil
from airflow_provider_kimi.emulator.responder import (
    CHARS_PER_TOKEN,
    Reply,
    choose_category,
    digest,
    messages_of,
    role_texts,
    tokens_of,
)
from airflow_provider_kimi.emulator.schema_instruction import schema_in
from airflow_provider_kimi.emulator.schema_values import value_for
from airflow_provider_kimi.emulator.settings import DEFAULT_MODELS

logger = logging.getLogger(__name__)
SHAPING_PARAMS = frozenset({"thinking", "response_format", "max_tokens", "tools", "tool_choice"})
"""Parameters that shape a reply but not the answer in it."""


def answer_body(body: dict[str, Any]) -> dict[str, Any]:
    """The body without the shaping parameters: the same question gets the same answer, however shaped."""
    return {key: value for key, value in body.items() if key not in SHAPING_PARAMS}


def thinks(body: dict[str, Any], thinking_models: Collection[str] = DEFAULT_MODELS) -> bool:
    """Whether this request gets a reasoning part: on by default for the thinking models."""
    thinking = body.get("thinking")
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind == "disabled":
        return False
    return kind == "enabled" or body.get("model") in thinking_models


def _reasoning(content: str, seed: str) -> str:
    return (
        f"The user wants a short answer. Reading the request (reference {seed[:8]}), the key words point "
        f"one way; checking them once more before replying. The answer should be: {content}"
    )


def _truncate(text: str, tokens: int) -> str:
    return text[: max(0, tokens) * CHARS_PER_TOKEN]


def _named_function(body: dict[str, Any]) -> dict[str, Any] | None:
    """The tool ``tool_choice`` names (``{"type": "function", "function": {"name": ...}}``), if any."""
    choice = body.get("tool_choice")
    tools = body.get("tools")
    if not isinstance(choice, dict) or not isinstance(tools, list):
        return None
    wanted = choice.get("function", {}).get("name") if isinstance(choice.get("function"), dict) else None
    for tool in tools:
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and function.get("name") == wanted:
            return function
    return None


def _arguments(function: dict[str, Any], content: str, seed: str) -> dict[str, Any]:
    """Values for the function's parameters, by their JSON schema (enums pick one by the answer)."""
    schema = function.get("parameters")
    properties = schema.get("properties") if isinstance(schema, dict) else None
    arguments: dict[str, Any] = {}
    for name, spec in (properties or {}).items():
        spec = spec if isinstance(spec, dict) else {}
        if isinstance(spec.get("enum"), list) and spec["enum"]:
            options = [str(option) for option in spec["enum"]]
            arguments[name] = choose_category(options, content, seed)
        else:
            kind = spec.get("type")
            arguments[name] = {"integer": 1, "number": 1.0, "boolean": True, "array": [], "object": {}}.get(
                str(kind), content
            )
    return arguments


def _message_tokens(message: Any) -> int:
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return tokens_of(content)
    parts = content if isinstance(content, list) else []
    return sum(tokens_of(p["text"]) for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str))


def cached_prefix_tokens(messages: list[Any], seen: set[str]) -> int:
    """Tokens of the longest message prefix seen earlier (whole messages), remembering this prompt's."""
    cached = 0
    for end in range(1, len(messages) + 1):
        key = digest(messages[:end])
        if key in seen and end < len(messages):
            cached = sum(_message_tokens(message) for message in messages[:end])
        seen.add(key)
    return cached


def json_mode(body: dict[str, Any]) -> bool:
    """Whether the request asks for JSON Mode (``response_format: {"type": "json_object"}``)."""
    response_format = body.get("response_format")
    return isinstance(response_format, dict) and response_format.get("type") == "json_object"


def json_content(body: dict[str, Any], answer: str, seed: str, *, invalid: bool = False) -> str:
    """A JSON-Mode answer: valid under the schema in the system message (if it carries one), else a
    small object; ``invalid`` spoils it (not JSON, a field missing, a value out of range)."""
    messages = messages_of(body)
    schema = schema_in(role_texts(messages, "system"))
    value: Any = {"answer": answer}
    if schema is not None:
        try:
            value = value_for(schema, seed, " ".join(role_texts(messages, "user")), answer)
        except (RecursionError, TypeError, ValueError, KeyError, AttributeError, OverflowError):
            logger.exception("no value could be built for the schema of request %s", seed[:8])
    return spoil(value, schema, seed) if invalid else json.dumps(value, ensure_ascii=False)


def kimi_reply(
    reply: Reply,
    body: dict[str, Any],
    cached_tokens: int = 0,
    *,
    thinking_models: Collection[str] = DEFAULT_MODELS,
    invalid_json: bool = False,
) -> Reply:
    """Reshape a successful plain reply by the request's thinking, format, token cap and tools;
    ``invalid_json`` makes a JSON-Mode answer an invalid one."""
    if not reply.ok:
        return reply
    answer = reply.body["choices"][0]["message"]["content"]
    seed = reply.body["id"].removeprefix("chatcmpl-")
    message: dict[str, Any] = {"role": "assistant"}
    finish_reason = "stop"
    content: str = answer
    function = _named_function(body)
    if json_mode(body):
        content = json_content(body, answer, seed, invalid=invalid_json)
    reasoning = _reasoning(answer, seed) if thinks(body, thinking_models) else None
    limit = body.get("max_tokens")
    limit = limit if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0 else None
    reasoning_tokens = tokens_of(reasoning) if reasoning else 0
    if limit is not None and reasoning is not None and reasoning_tokens >= limit:
        reasoning, reasoning_tokens, content, finish_reason = _truncate(reasoning, limit), limit, "", "length"
    if function is not None and finish_reason == "stop":
        arguments = json.dumps(_arguments(function, answer, seed), ensure_ascii=False)
        message["content"] = ""
        message["tool_calls"] = [
            {
                "id": f"call_{seed[:16]}",
                "type": "function",
                "function": {"name": function["name"], "arguments": arguments},
            }
        ]
        finish_reason = "tool_calls"
        answer_tokens = tokens_of(arguments)
    else:
        room = None if limit is None else limit - reasoning_tokens
        if room is not None and finish_reason == "stop" and tokens_of(content) > room:
            content, finish_reason = _truncate(content, room), "length"
        message["content"] = content
        answer_tokens = tokens_of(content) if content else 0
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    usage = dict(reply.body["usage"])
    usage["completion_tokens"] = answer_tokens + reasoning_tokens
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    if cached_tokens:
        usage["prompt_tokens_details"] = {"cached_tokens": min(cached_tokens, usage["prompt_tokens"])}
    shaped = {**reply.body, "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}]}
    shaped["usage"] = usage
    return Reply(reply.status_code, shaped)
