"""Replies scripted by the user (``--replies MODULE:FUNCTION``, or a function in the settings).

The function is called for every request a batch runs, as ``function(body, custom_id, answered)``
where ``answered`` is how many times this server answered that custom_id before (across batches).
It returns the reply's ``content`` string, or a dict of message fields (``content``,
``reasoning_content``, ``finish_reason``, ``tool_calls``) and optionally an HTTP ``status_code``:
a status of 400 or more puts the line in the error file, as ``[[fail:CODE]]`` does. A function
that raises or returns anything else gives its line a 500 naming the function, and is logged.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import Any

from airflow_provider_kimi.emulator.responder import Reply, completion_body, error_reply, tokens_of
from airflow_provider_kimi.emulator.settings import ReplyFunction

logger = logging.getLogger(__name__)
MESSAGE_FIELDS = frozenset({"content", "reasoning_content", "finish_reason", "tool_calls"})
REPLY_FIELDS = MESSAGE_FIELDS | {"status_code"}


class BadScriptedReply(Exception):
    """What a replies function returned cannot be a reply."""


def load_replies(spec: str | ReplyFunction) -> tuple[ReplyFunction, str]:
    """The function ``spec`` names (``module:function``, dotted attributes allowed) and its name;
    ``ValueError`` saying what is missing when it cannot be imported or is not callable."""
    if not isinstance(spec, str):
        name = f"{getattr(spec, '__module__', '?')}:{getattr(spec, '__qualname__', repr(spec))}"
        return spec, name
    module_name, _, attribute = spec.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as exc:  # the user's module may fail in any way while it loads
        problem = f"{type(exc).__name__}: {exc}"
        raise ValueError(f"replies {spec}: cannot import module {module_name!r} ({problem})") from None
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ValueError(f"replies {spec}: {module_name!r} has no attribute {attribute!r}")
        target = getattr(target, part)
    if not callable(target):
        raise ValueError(f"replies {spec}: {attribute!r} is not a function")
    return target, spec


def _string_or_none(fields: dict[str, Any], name: str) -> str | None:
    value = fields.get(name)
    if value is not None and not isinstance(value, str):
        raise BadScriptedReply(f"{name} must be a string or None, got {type(value).__name__}")
    return value


def _status(fields: dict[str, Any]) -> int:
    status = fields.get("status_code", 200)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise BadScriptedReply(f"status_code must be an HTTP status (100..599), got {status!r}")
    return status


def _reply_from(result: Any, body: dict[str, Any], created: int, name: str) -> Reply:
    """The reply a function's result stands for; ``BadScriptedReply`` when it stands for none."""
    fields: dict[str, Any] = {"content": result} if isinstance(result, str) else result
    if not isinstance(fields, dict):
        raise BadScriptedReply(f"it returned {type(result).__name__}; expected a string or a dict")
    unknown = sorted(str(key) for key in fields.keys() - REPLY_FIELDS)
    if unknown:
        raise BadScriptedReply(f"unknown fields {unknown}; a reply may set {sorted(REPLY_FIELDS)}")
    status = _status(fields)
    content = _string_or_none(fields, "content")
    reasoning = _string_or_none(fields, "reasoning_content")
    tool_calls = fields.get("tool_calls")
    if tool_calls is not None and not (isinstance(tool_calls, list) and all(isinstance(c, dict) for c in tool_calls)):
        raise BadScriptedReply("tool_calls must be a list of objects")
    if status >= 400:
        asked = f"request failed with status {status} as the replies function {name} asked"
        return error_reply(status, content or asked)
    finish_reason = _string_or_none(fields, "finish_reason") or ("tool_calls" if tool_calls else "stop")
    message: dict[str, Any] = {"role": "assistant", "content": content if content is not None else ""}
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    if tool_calls:
        message["tool_calls"] = tool_calls
    spent = sum(tokens_of(text) for text in (content, reasoning) if text)
    spent += sum(tokens_of(str(call.get("function", ""))) for call in tool_calls or [])
    return Reply(status, completion_body(body, created, message, finish_reason, spent))


@dataclass(frozen=True)
class ScriptedReplies:
    """The user's replies function, called safely: whatever it does, one line's reply comes back."""

    function: ReplyFunction
    name: str

    def reply(self, body: dict[str, Any], custom_id: str, answered: int, created: int) -> Reply:
        """The reply to one request: the function's, or a 500 naming it when it fails."""
        try:
            return _reply_from(self.function(body, custom_id, answered), body, created, self.name)
        except BadScriptedReply as exc:
            logger.error("replies function %s gave custom_id %r no usable reply: %s", self.name, custom_id, exc)
            problem = str(exc)
        except Exception as exc:
            logger.exception("replies function %s raised for custom_id %r", self.name, custom_id)
            problem = f"it raised {type(exc).__name__}: {str(exc)[:200]}"
        return error_reply(500, f"the replies function {self.name} failed: {problem}")
